/* gs-rollup: publishes the status of the org units above the district roots
 * (the city, and any level above what the districts publish) on a city
 * broker, as the sum of the districts' status documents that broker bridges
 * carry up. One poll loop (the collector's gs_loop), one MQTT client.
 * docs/DEPLOYMENT.md explains the layout; rollup.h the roles of the units.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs_buf.h"
#include "gs_cli.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_loop.h"
#include "gs_mem.h"
#include "gs_util.h"
#include "rollup.h"
#include "rollup_mqtt.h"

#define TICK_MS 200

typedef struct pub_state {
  char *sig;       /* document without as_of at the last publication */
  int64_t last_ms; /* monotonic ms of the last publication, 0 = never */
} pub_state;

typedef struct app {
  gs_loop *loop;
  gs_rollup *rollup;
  gs_rmqtt *mqtt;
  const char *const *owned;
  size_t nowned;
  pub_state *pub;
  int64_t interval_ms, heartbeat_ms;
  int force; /* publish every owned unit at the next chance (new connection) */
  unsigned long published;
} app;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(FILE *f) {
  fprintf(f, "usage: gs-rollup --db CITY.db --host H --port P --cafile F --certfile F --keyfile F [options]\n"
             "       gs-rollup --help | --version\n"
             "options take \"--opt VALUE\" or \"--opt=VALUE\":\n"
             "  --db FILE            store with the whole org tree (gs-admin --db FILE org import tree.csv)\n"
             "  --client-id ID       default bridge-rollup; must equal the certificate's CN\n"
             "                       (gs-certs --pki CITY_PKI issue-service bridge-rollup)\n"
             "  --inputs-level L     level the bridges carry up (default district); units above it are published\n"
             "  --stale-after S      an input whose as_of is older than S seconds and whose bridge is not\n"
             "                       connected is listed in \"stale\" (default 300)\n"
             "  --interval-ms N      at most one publication per unit per N ms (default 1000)\n"
             "  --heartbeat S        republish unchanged units every S seconds so as_of stays fresh (default 60)\n"
             "  --keepalive S        MQTT keepalive (default 30)\n"
             "  --timezone TZ        as_of and period (default Asia/Shanghai)\n"
             "  --log-level L        debug, info, warn, error (default info)\n");
}

static const char prog[] = "gs-rollup";

/* Option o's value v as a whole number in [min, max] into *out; 0, or
 * GS_CLI_EXIT_USAGE after naming the option (gs_cli_usage_error). */
static int num_opt(const char *o, const char *v, int64_t min, int64_t max, int64_t *out) {
  if (gs_parse_i64(v, min, max, out))
    return gs_cli_usage_error(prog, "%s must be a whole number from %lld to %lld, got '%s'", o, (long long)min,
                              (long long)max, v);
  return 0;
}

static void on_message(void *ctx, const char *topic, const void *payload, size_t len) {
  app *a = ctx;
  int rc = gs_rollup_message(a->rollup, topic, payload, len, gs_now_ms());
  if (rc == GS_ENOTFOUND) gs_debug("rollup: %s is not an input; ignored", topic);
}

static void on_ready(void *ctx) {
  app *a = ctx;
  a->force = 1;
}

/* Debounce: every TICK_MS, render each owned unit without as_of; publish it
 * when that text changed (a number, the period or the stale list), when the
 * heartbeat is due, or after a (re)connection; never more often than
 * interval_ms per unit. */
static void tick(void *ctx) {
  app *a = ctx;
  if (!gs_rmqtt_ready(a->mqtt)) return;
  int64_t now = gs_now_ms(), mono = gs_mono_ms();
  int force = a->force;
  a->force = 0;
  gs_buf sig = GS_BUF_INIT, doc = GS_BUF_INIT;
  for (size_t i = 0; i < a->nowned; i++) {
    pub_state *p = &a->pub[i];
    gs_buf_reset(&sig);
    if (gs_rollup_doc(a->rollup, a->owned[i], now, 0, &sig)) continue;
    int changed = !p->sig || strcmp(p->sig, sig.data) != 0;
    int due = force || changed || !p->last_ms || mono - p->last_ms >= a->heartbeat_ms;
    if (!due) continue;
    if (p->last_ms && mono - p->last_ms < a->interval_ms) {
      if (force) a->force = 1; /* keep the obligation for the next tick */
      continue;
    }
    gs_buf_reset(&doc);
    if (gs_rollup_doc(a->rollup, a->owned[i], now, 1, &doc)) continue;
    char topic[128];
    snprintf(topic, sizeof topic, "gs/v1/status/%s", a->owned[i]);
    int rc = gs_rmqtt_publish(a->mqtt, topic, doc.data, doc.len);
    if (rc) {
      gs_warn("rollup: publish %s failed: %s; retrying", topic, gs_strerror(rc));
      continue;
    }
    char *s = gs_buf_steal(&sig);
    if (s) {
      gs_free(p->sig);
      p->sig = s;
    }
    p->last_ms = mono;
    a->published++;
    gs_debug("rollup: published %s", topic);
  }
  gs_buf_free(&sig);
  gs_buf_free(&doc);
}

static void check_stop(void *ctx) {
  app *a = ctx;
  if (g_stop) gs_loop_stop(a->loop);
}

int main(int argc, char **argv) {
  gs_log_init("gs-rollup", GS_LOG_INFO);
  const char *db = NULL, *host = NULL, *cafile = NULL, *certfile = NULL, *keyfile = NULL;
  const char *client_id = "bridge-rollup", *inputs_level = "district", *tz = "Asia/Shanghai";
  int64_t port = 0, stale_s = 300, interval_ms = 1000, heartbeat_s = 60, keepalive = 30;
  enum {
    O_DB = 256,
    O_HOST,
    O_PORT,
    O_CAFILE,
    O_CERTFILE,
    O_KEYFILE,
    O_CLIENT_ID,
    O_INPUTS_LEVEL,
    O_STALE_AFTER,
    O_INTERVAL_MS,
    O_HEARTBEAT,
    O_KEEPALIVE,
    O_TIMEZONE,
    O_LOG_LEVEL,
    O_VERSION
  };
  static const struct option lo[] = {{"db", required_argument, NULL, O_DB},
                                     {"host", required_argument, NULL, O_HOST},
                                     {"port", required_argument, NULL, O_PORT},
                                     {"cafile", required_argument, NULL, O_CAFILE},
                                     {"certfile", required_argument, NULL, O_CERTFILE},
                                     {"keyfile", required_argument, NULL, O_KEYFILE},
                                     {"client-id", required_argument, NULL, O_CLIENT_ID},
                                     {"inputs-level", required_argument, NULL, O_INPUTS_LEVEL},
                                     {"stale-after", required_argument, NULL, O_STALE_AFTER},
                                     {"interval-ms", required_argument, NULL, O_INTERVAL_MS},
                                     {"heartbeat", required_argument, NULL, O_HEARTBEAT},
                                     {"keepalive", required_argument, NULL, O_KEEPALIVE},
                                     {"timezone", required_argument, NULL, O_TIMEZONE},
                                     {"log-level", required_argument, NULL, O_LOG_LEVEL},
                                     {"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, O_VERSION},
                                     {NULL, 0, NULL, 0}};
  int opt, bad = 0, lv;
  while (!bad && (opt = gs_cli_getopt(prog, argc, argv, "h", lo)) != -1) {
    switch (opt) {
    case O_DB: db = optarg; break;
    case O_HOST: host = optarg; break;
    case O_PORT: bad = num_opt("--port", optarg, 1, 65535, &port); break;
    case O_CAFILE: cafile = optarg; break;
    case O_CERTFILE: certfile = optarg; break;
    case O_KEYFILE: keyfile = optarg; break;
    case O_CLIENT_ID: client_id = optarg; break;
    case O_INPUTS_LEVEL: inputs_level = optarg; break;
    case O_STALE_AFTER: bad = num_opt("--stale-after", optarg, 1, 86400 * 30, &stale_s); break;
    case O_INTERVAL_MS: bad = num_opt("--interval-ms", optarg, 100, 3600000, &interval_ms); break;
    case O_HEARTBEAT: bad = num_opt("--heartbeat", optarg, 1, 86400, &heartbeat_s); break;
    case O_KEEPALIVE: bad = num_opt("--keepalive", optarg, 5, 3600, &keepalive); break;
    case O_TIMEZONE: tz = optarg; break;
    case O_LOG_LEVEL:
      lv = gs_log_level_parse(optarg);
      if (lv < 0) bad = gs_cli_usage_error(prog, "--log-level must be debug, info, warn or error, got '%s'", optarg);
      else gs_log_set_level(lv);
      break;
    case 'h': usage(stdout); return GS_CLI_EXIT_OK;
    case O_VERSION: gs_cli_version(prog); return GS_CLI_EXIT_OK;
    default: return GS_CLI_EXIT_USAGE;
    }
  }
  if (bad) return GS_CLI_EXIT_USAGE;
  if (optind < argc) return gs_cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
  if (!db || !host || !port || !cafile || !certfile || !keyfile)
    return gs_cli_usage_error(prog, "--db, --host, --port, --cafile, --certfile and --keyfile are required");

  int rc = 1;
  char err[512] = "";
  app a;
  memset(&a, 0, sizeof a);
  a.interval_ms = interval_ms;
  a.heartbeat_ms = heartbeat_s * 1000;
  gs_rollup_config rcfg = {db, inputs_level, stale_s * 1000, tz};
  if (gs_rollup_new(&a.rollup, &rcfg, err, sizeof err)) {
    gs_error("start: %s", err);
    goto out;
  }
  const char *const *inputs;
  size_t nin = gs_rollup_inputs(a.rollup, &inputs);
  a.nowned = gs_rollup_owned(a.rollup, &a.owned);
  a.pub = gs_calloc(a.nowned, sizeof *a.pub);
  char **topics = gs_calloc(2 * nin, sizeof *topics);
  if (!a.pub || !topics) {
    gs_error("start: out of memory");
    gs_free(topics);
    goto out;
  }
  int oom = 0;
  for (size_t i = 0; i < nin; i++) {
    gs_buf t = GS_BUF_INIT;
    oom |= gs_buf_printf(&t, "gs/v1/status/%s", inputs[i]) != 0;
    topics[2 * i] = gs_buf_steal(&t);
    oom |= gs_buf_printf(&t, "gs/v1/status/%s/link", inputs[i]) != 0;
    topics[2 * i + 1] = gs_buf_steal(&t);
  }
  a.loop = gs_loop_new();
  gs_rmqtt_config mcfg = {host, (int)port, cafile, certfile, keyfile, client_id, (int)keepalive, 1000};
  if (!oom && a.loop)
    rc = gs_rmqtt_new(&a.mqtt, a.loop, &mcfg, (const char *const *)topics, 2 * nin, on_message, on_ready, &a, err,
                      sizeof err);
  for (size_t i = 0; i < 2 * nin; i++) gs_free(topics[i]);
  gs_free(topics);
  if (oom || !a.loop || rc) {
    gs_error("start: %s", err[0] ? err : "out of memory");
    rc = 1;
    goto out;
  }
  rc = 1;
  if (gs_loop_timer(a.loop, TICK_MS, tick, &a) || gs_loop_timer(a.loop, 100, check_stop, &a)) goto out;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  gs_info("start: %zu inputs (%s level), %zu units to publish, stale after %llds, %s:%lld as %s", nin, inputs_level,
          a.nowned, (long long)stale_s, host, (long long)port, client_id);
  gs_loop_run(a.loop);
  gs_info("stop: %lu documents published", a.published);
  rc = 0;
out:
  gs_rmqtt_free(a.mqtt);
  gs_loop_free(a.loop);
  for (size_t i = 0; a.pub && i < a.nowned; i++) gs_free(a.pub[i].sig);
  gs_free(a.pub);
  gs_rollup_free(a.rollup);
  return rc;
}
