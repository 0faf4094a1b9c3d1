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

static int num_opt(const char *name, const char *v, int64_t min, int64_t max, int64_t *out) {
  if (gs_parse_i64(v, min, max, out)) {
    fprintf(stderr, "gs-rollup: %s must be a whole number from %lld to %lld\n", name, (long long)min, (long long)max);
    return 0;
  }
  return 1;
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
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "gs-rollup: %s needs a value\n", o);
      usage(stderr);
      return 2;
    }
    i++;
    int ok = 1;
    if (strcmp(o, "--db") == 0) db = v;
    else if (strcmp(o, "--host") == 0) host = v;
    else if (strcmp(o, "--port") == 0) ok = num_opt(o, v, 1, 65535, &port);
    else if (strcmp(o, "--cafile") == 0) cafile = v;
    else if (strcmp(o, "--certfile") == 0) certfile = v;
    else if (strcmp(o, "--keyfile") == 0) keyfile = v;
    else if (strcmp(o, "--client-id") == 0) client_id = v;
    else if (strcmp(o, "--inputs-level") == 0) inputs_level = v;
    else if (strcmp(o, "--stale-after") == 0) ok = num_opt(o, v, 1, 86400 * 30, &stale_s);
    else if (strcmp(o, "--interval-ms") == 0) ok = num_opt(o, v, 100, 3600000, &interval_ms);
    else if (strcmp(o, "--heartbeat") == 0) ok = num_opt(o, v, 1, 86400, &heartbeat_s);
    else if (strcmp(o, "--keepalive") == 0) ok = num_opt(o, v, 5, 3600, &keepalive);
    else if (strcmp(o, "--timezone") == 0) tz = v;
    else if (strcmp(o, "--log-level") == 0) {
      int lv = gs_log_level_parse(v);
      if (lv < 0) {
        fprintf(stderr, "gs-rollup: --log-level must be debug, info, warn or error\n");
        return 2;
      }
      gs_log_set_level(lv);
    } else {
      fprintf(stderr, "gs-rollup: unknown option %s\n", o);
      usage(stderr);
      return 2;
    }
    if (!ok) return 2;
  }
  if (!db || !host || !port || !cafile || !certfile || !keyfile) {
    fprintf(stderr, "gs-rollup: --db, --host, --port, --cafile, --certfile and --keyfile are required\n");
    usage(stderr);
    return 2;
  }

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
