/* gs-collector: the sync server daemon. One event loop owns the transports
 * (every one of gs_transports[] the configuration enables: MQTT, CoAP), the
 * ack releaser they share and the store; status documents go to every
 * transport with a status output. See docs/CONFIG.md. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "gs_acks.h"
#include "gs_check.h"
#include "gs_cli.h"
#include "gs_config.h"
#include "gs_engine.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_loop.h"
#include "gs_notify.h"
#include "gs_statuspub.h"
#include "gs_transport.h"

#define MAX_TRANSPORTS 8

typedef struct app {
  const char *config_path;
  gs_config cfg;
  gs_loop *loop;
  gs_engine *engine;
  gs_acks *acks;        /* the ack releaser of every transport */
  gs_statuspub *status; /* NULL with [status] enabled = false */
  gs_notify *notify;    /* NULL unless systemd's $NOTIFY_SOCKET is set */
  gs_transport_env env;
  gs_transport t[MAX_TRANSPORTS]; /* the running transports, in start order */
  size_t nt;
  int sfd;
} app;

static void engine_config(const gs_config *c, gs_engine_config *ec) {
  gs_engine_config_defaults(ec);
  ec->db_path = c->db;
  ec->synchronous = c->synchronous;
  ec->wal_sync_thread = 1; /* with synchronous = full: the WAL's fsync beside the writer (gs_walsync.h) */
  ec->max_skew_ms = c->max_skew_s * 1000;
  ec->max_batch_bytes = (size_t)c->max_batch_bytes;
  ec->max_changes = (int)c->max_changes;
  ec->max_field_bytes = (size_t)c->max_field_bytes;
  ec->pull_limit_default = (int)c->pull_limit_default;
  ec->pull_limit_max = (int)c->pull_limit_max;
  ec->checkpoint_interval_ms = c->checkpoint_ms;
  ec->wal_restart_frames = c->wal_restart_mb * 256; /* 4 KiB pages */
}

/* SIGHUP: the file again; a file that does not load is refused whole. */
static void reload(app *a) {
  gs_config nc = a->cfg;
  gs_config_defaults(&nc);
  char err[512];
  if (gs_config_load(a->config_path, &nc, err, sizeof err)) {
    gs_error("config: reload refused, keeping the running configuration: %s", err);
    return;
  }
  if (strcmp(nc.db, a->cfg.db) || nc.synchronous != a->cfg.synchronous)
    gs_warn("config: [store] changes take effect after a restart");
  gs_log_set_level(nc.log_level);
  gs_engine_config ec;
  engine_config(&nc, &ec);
  gs_engine_set_limits(a->engine, &ec);
  for (size_t i = 0; i < a->nt; i++) a->t[i].ops->reconfigure(a->t[i].self, &nc);
  if (a->status) gs_statuspub_reconfigure(a->status, &nc);
  a->cfg = nc;
  gs_info("config: reloaded %s", a->config_path);
}

static void on_signal(void *ctx, int fd, short re) {
  app *a = ctx;
  struct signalfd_siginfo si;
  (void)re;
  while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGHUP) {
      gs_notify_reloading(a->notify);
      reload(a);
      gs_notify_send(a->notify, "READY=1"); /* applied or refused, the collector runs on */
    } else {
      gs_info("collector: %s received; finishing the batch in hand and stopping",
              si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
      gs_notify_send(a->notify, "STOPPING=1");
      gs_loop_stop(a->loop);
    }
  }
}

/* The ack releaser, status publication and every enabled transport; each
 * transport with a status output becomes one of status's outputs. */
static int start(app *a, char *err, size_t errlen) {
  int rc = gs_acks_new(&a->acks, a->loop, a->engine);
  if (rc) {
    snprintf(err, errlen, "collector: cannot watch the store's durability: event loop is full");
    return rc;
  }
  if (a->cfg.status_enabled && (rc = gs_statuspub_new(&a->status, a->loop, a->engine, &a->cfg, err, errlen))) return rc;
  a->env = (gs_transport_env){a->loop, a->engine, a->acks, a->status ? gs_statuspub_resync : NULL, a->status};
  for (const gs_transport_ops *const *o = gs_transports; *o; o++) {
    if (!(*o)->enabled(&a->cfg)) continue;
    if (a->nt == MAX_TRANSPORTS) {
      snprintf(err, errlen, "collector: more than %d transports", MAX_TRANSPORTS);
      return GS_EINTERNAL;
    }
    gs_transport *t = &a->t[a->nt];
    *t = (gs_transport){*o, NULL};
    if ((rc = (*o)->start(t, &a->env, &a->cfg, err, errlen))) return rc;
    a->nt++;
    if (a->status && (rc = gs_statuspub_add_output(a->status, t))) {
      snprintf(err, errlen, "status: cannot add the %s output", (*o)->name);
      return rc;
    }
  }
  /* the outputs have every document from the start (GET /v1/status/{org}
   * answers at once; MQTT gets them again when it connects) */
  if (a->status) gs_statuspub_publish_now(a->status);
  return GS_OK;
}

/* After the loop: no more status, the acks whose commit becomes durable
 * still go out, then the transports stop in reverse order. */
static void stop(app *a) {
  gs_statuspub_free(a->status);
  a->status = NULL;
  gs_acks_flush(a->acks);
  while (a->nt > 0) {
    gs_transport *t = &a->t[--a->nt];
    t->ops->stop(t->self);
  }
  gs_acks_free(a->acks);
  a->acks = NULL;
}

static const char *const prog = "gs-collector";

static void usage(FILE *f) {
  fprintf(f, "usage: gs-collector -c CONFIG [--check]\n"
             "  -c, --config CONFIG  configuration file (INI; keys in docs/CONFIG.md)\n"
             "      --check          validate the configuration, the TLS files, the time zone and\n"
             "                       the store without changing anything, then exit\n"
             "  -h, --help           this text\n"
             "      --version        print the version\n"
             "Exit status: 0 fine, 1 the environment is wrong (files, store), 2 bad command line\n"
             "or configuration.\n");
}

/* The command line (gs_cli.h): nothing is opened or created before it is
 * all parsed, so a typo can do no harm. */
static int parse_args(app *a, int *check, int argc, char **argv) {
  enum { OPT_CHECK = 256, OPT_VERSION };
  static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
                                     {"check", no_argument, NULL, OPT_CHECK},
                                     {"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, OPT_VERSION},
                                     {NULL, 0, NULL, 0}};
  int c;
  while ((c = gs_cli_getopt(prog, argc, argv, "c:h", lo)) != -1) {
    switch (c) {
    case 'c': a->config_path = optarg; break;
    case OPT_CHECK: *check = 1; break;
    case 'h': usage(stdout); return -1;
    case OPT_VERSION: gs_cli_version(prog); return -1;
    default: return GS_CLI_EXIT_USAGE;
    }
  }
  if (optind < argc) return gs_cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
  if (!a->config_path) return gs_cli_usage_error(prog, "no configuration file (-c CONFIG)");
  return GS_CLI_EXIT_OK;
}

int main(int argc, char **argv) {
  app a;
  memset(&a, 0, sizeof a);
  a.sfd = -1;
  int check = 0, rc = GS_CLI_EXIT_FAIL;
  int prc = parse_args(&a, &check, argc, argv);
  if (prc < 0) return GS_CLI_EXIT_OK; /* --help, --version */
  if (prc) return prc;
  gs_config_defaults(&a.cfg);
  char err[512];
  if (gs_config_load(a.config_path, &a.cfg, err, sizeof err)) {
    fprintf(stderr, "gs-collector: %s\n", err);
    return GS_CLI_EXIT_USAGE; /* a configuration error, like a command line one: fix the text */
  }
  gs_log_init("gs-collector", a.cfg.log_level);
  if (check) {
    /* read-only: the store is neither created nor migrated (gs_check.h) */
    int problems = gs_check_run(&a.cfg, a.config_path, stdout, stderr);
    if (problems) {
      fprintf(stderr, "gs-collector: %s: %d problem%s; the collector would not run as configured\n", a.config_path,
              problems, problems == 1 ? "" : "s");
      return GS_CLI_EXIT_FAIL;
    }
    printf("gs-collector: configuration %s is fine (store %s)\n", a.config_path, a.cfg.db);
    return GS_CLI_EXIT_OK;
  }
  if (gs_check_store_dir(a.cfg.db, err, sizeof err)) {
    gs_error("store: %s", err);
    return GS_CLI_EXIT_FAIL;
  }
  if (gs_notify_new(&a.notify, err, sizeof err)) { /* before the store: a bad environment changes nothing */
    gs_error("collector: %s", err);
    return GS_CLI_EXIT_FAIL;
  }
  gs_engine_config ec;
  engine_config(&a.cfg, &ec);
  if (gs_engine_open(&a.engine, &ec, err, sizeof err)) {
    gs_error("store: %s", err);
    gs_notify_free(a.notify);
    return GS_CLI_EXIT_FAIL;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  /* A disposition of SIG_IGN inherited from the parent (a shell in a
   * non-interactive script ignores SIGINT/SIGQUIT for background jobs; nohup
   * and some supervisors ignore SIGHUP) makes the kernel discard the signal
   * before it reaches the signalfd, so reset them before blocking. */
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  a.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  a.loop = gs_loop_new();
  if (a.sfd < 0 || !a.loop || gs_loop_fd(a.loop, a.sfd, POLLIN, on_signal, &a)) {
    gs_error("collector: cannot set up the event loop: %s", strerror(errno));
    goto out;
  }
  if (start(&a, err, sizeof err)) {
    gs_error("%s", err);
    goto out;
  }
  if (gs_notify_watchdog(a.notify, a.loop)) {
    gs_error("collector: cannot start the watchdog timer: event loop is full");
    goto out;
  }
  /* transports started, first status handed to its outputs (start) */
  gs_notify_send(a.notify, "READY=1");
  gs_info("collector: running (store %s, broker %s:%d)", a.cfg.db, a.cfg.mqtt_host, a.cfg.mqtt_port);
  gs_loop_run(a.loop);
  rc = 0;
out:
  stop(&a);
  gs_engine_close(a.engine);
  gs_loop_free(a.loop);
  gs_notify_free(a.notify);
  if (a.sfd >= 0) close(a.sfd);
  return rc;
}
