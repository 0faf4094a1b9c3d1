/* gs-bench-mqtt - load generator for the end-to-end benchmark (bench/run).
 *
 * Many devices, one thread: every device is its own libmosquitto client with
 * its own certificate (mutual TLS, client id = CN = device id), publishes
 * pre-generated change batches QoS 1 to gs/v1/dev/{id}/up and counts the acks
 * on gs/v1/dev/{id}/ack. All sockets are driven from one poll() loop, so ten
 * thousand sessions cost file descriptors, not threads.
 *
 *   gs-bench-mqtt --host H --port P --pki DIR --devices FILE [options]
 *     FILE: lines "device,grid" (the devices must be registered and have
 *           DIR/device.crt and DIR/device.key; DIR/ca.crt is the CA)
 *     --batches R    batches per device (10)       --changes N  changes per batch (100)
 *     --window W     batches in flight per device (2)
 *     --rate C       pace at C changes/s in total (0 = as fast as acks come back)
 *     --timeout S    give up after S seconds (120)
 *     --ids 7|4      change and new entity ids: UUIDv7 like the reference
 *                    device (7), or random v4 (bench_gen.h)
 *     --clock burst|live
 *                    the devices' clocks (hlc, and the time in v7 ids):
 *                    burst (default) stand at the start, as for work made
 *                    offline and pushed at once; live (with --rate) move to
 *                    each batch's planned send time, as for phones that
 *                    sync as they go
 *     --sessions-only --hold S --ready FILE
 *                    connect every device, write FILE when all are connected,
 *                    keep the sessions S seconds, publish nothing
 *
 * Prints one JSON object on stdout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "bench_gen.h"
#include "gs_mem.h"
#include "gs_util.h"

typedef struct client {
  struct mosquitto *m;
  bench_dev dev;
  char **payload;
  size_t *len;
  int64_t *sent_ns;
  int nb, next, acked, inflight;
  int connected, subscribed, failed;
} client;

static int g_changes_per_batch = 100;
static long g_acked_changes, g_rejected, g_duplicates, g_errors, g_acks;
static double *g_lat;
static size_t g_nlat;
static int64_t g_last_ack;

static int flag(int argc, char **argv, const char *name) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
  client *c = obj;
  if (rc) {
    fprintf(stderr, "gs-bench-mqtt: %s refused: %s\n", c->dev.id, mosquitto_connack_string(rc));
    c->failed = 1;
    return;
  }
  c->connected = 1;
  char t[128];
  snprintf(t, sizeof t, "gs/v1/dev/%s/ack", c->dev.id);
  mosquitto_subscribe(m, NULL, t, 1);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q) {
  client *c = obj;
  (void)m, (void)mid;
  if (n >= 1 && q[0] <= 2) c->subscribed = 1;
  else c->failed = 1;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc) {
  client *c = obj;
  (void)m;
  if (c->connected && rc) fprintf(stderr, "gs-bench-mqtt: %s disconnected (%d)\n", c->dev.id, rc);
  c->connected = c->subscribed = 0;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *mm) {
  client *c = obj;
  (void)m;
  int64_t now = bench_ns();
  cJSON *doc = cJSON_ParseWithLength(mm->payload, (size_t)mm->payloadlen);
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "batch");
  const char *p = cJSON_IsString(b) ? strrchr(b->valuestring, 'b') : NULL;
  int idx = p ? atoi(p + 1) - 1 : -1;
  if (!doc || idx < 0 || idx >= c->nb || cJSON_GetObjectItemCaseSensitive(doc, "error")) {
    g_errors++;
    fprintf(stderr, "gs-bench-mqtt: %s: unexpected ack %.200s\n", c->dev.id, (const char *)mm->payload);
  } else if (c->sent_ns[idx]) {
    int ap = cJSON_GetObjectItemCaseSensitive(doc, "applied")->valueint;
    int du = cJSON_GetObjectItemCaseSensitive(doc, "duplicates")->valueint;
    int rj = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "rejected"));
    g_acked_changes += ap + du + rj;
    g_duplicates += du;
    g_rejected += rj;
    g_lat[g_nlat++] = (double)(now - c->sent_ns[idx]) / 1e6;
    c->sent_ns[idx] = 0;
    c->acked++;
    c->inflight--;
    g_acks++;
    g_last_ack = now;
  }
  cJSON_Delete(doc);
}

static int start_client(client *c, const char *host, int port, const char *pki) {
  char ca[1024], crt[1024], key[1024];
  snprintf(ca, sizeof ca, "%s/ca.crt", pki);
  snprintf(crt, sizeof crt, "%s/%s.crt", pki, c->dev.id);
  snprintf(key, sizeof key, "%s/%s.key", pki, c->dev.id);
  c->m = mosquitto_new(c->dev.id, true, c);
  if (!c->m) return -1;
  mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  /* small acks and PUBACKs must not wait for Nagle + delayed ACK (~40-90 ms each) */
  mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(c->m, 0);
  mosquitto_connect_callback_set(c->m, on_connect);
  mosquitto_subscribe_callback_set(c->m, on_subscribe);
  mosquitto_disconnect_callback_set(c->m, on_disconnect);
  mosquitto_message_callback_set(c->m, on_message);
  int rc = mosquitto_tls_set(c->m, ca, NULL, crt, key, NULL);
  if (!rc) rc = mosquitto_tls_opts_set(c->m, 1, "tlsv1.2", NULL);
  if (!rc) rc = mosquitto_connect(c->m, host, port, 120);
  if (rc) {
    fprintf(stderr, "gs-bench-mqtt: %s: connect: %s\n", c->dev.id,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    c->failed = 1;
    return -1;
  }
  return 0;
}

/* One pass over every socket: reads, writes, keepalive. */
static void service(client *cs, int n, struct pollfd *pf, int timeout_ms) {
  for (int i = 0; i < n; i++) {
    pf[i].fd = cs[i].m && !cs[i].failed ? mosquitto_socket(cs[i].m) : -1;
    pf[i].events = (short)(POLLIN | (pf[i].fd >= 0 && mosquitto_want_write(cs[i].m) ? POLLOUT : 0));
    pf[i].revents = 0;
  }
  poll(pf, (nfds_t)n, timeout_ms);
  for (int i = 0; i < n; i++) {
    if (pf[i].fd < 0) continue;
    int rc = MOSQ_ERR_SUCCESS;
    if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) rc = mosquitto_loop_read(cs[i].m, 64);
    if (rc == MOSQ_ERR_SUCCESS && (pf[i].revents & POLLOUT)) rc = mosquitto_loop_write(cs[i].m, 64);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(cs[i].m);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
      fprintf(stderr, "gs-bench-mqtt: %s: %s\n", cs[i].dev.id,
              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
      cs[i].failed = 1;
    }
  }
}

/* Disconnects every client and frees everything main allocated. */
static void free_all(client *cs, int n, struct pollfd *pf) {
  for (int i = 0; i < n; i++) {
    client *c = &cs[i];
    if (c->m) {
      mosquitto_disconnect(c->m);
      mosquitto_loop_write(c->m, 1);
      mosquitto_destroy(c->m);
    }
    for (int b = 0; c->payload && b < c->nb; b++) gs_free(c->payload[b]);
    gs_free(c->payload);
    gs_free(c->len);
    gs_free(c->sent_ns);
    bench_dev_free(&c->dev);
  }
  gs_free(cs);
  gs_free(pf);
  gs_free(g_lat);
  g_lat = NULL;
  mosquitto_lib_cleanup();
}

int main(int argc, char **argv) {
  const char *host = bench_opt(argc, argv, "--host", "127.0.0.1"), *pki = bench_opt(argc, argv, "--pki", NULL),
             *devfile = bench_opt(argc, argv, "--devices", NULL), *ready = bench_opt(argc, argv, "--ready", NULL);
  int port = atoi(bench_opt(argc, argv, "--port", "0")), nbatches = atoi(bench_opt(argc, argv, "--batches", "10")),
      window = atoi(bench_opt(argc, argv, "--window", "2")), timeout = atoi(bench_opt(argc, argv, "--timeout", "120")),
      hold = atoi(bench_opt(argc, argv, "--hold", "10")), sessions_only = flag(argc, argv, "--sessions-only");
  double rate = atof(bench_opt(argc, argv, "--rate", "0"));
  g_changes_per_batch = atoi(bench_opt(argc, argv, "--changes", "100"));
  bench_id_version = atoi(bench_opt(argc, argv, "--ids", "7"));
  const char *clock = bench_opt(argc, argv, "--clock", "burst");
  int live = strcmp(clock, "live") == 0;
  if (!live && strcmp(clock, "burst") != 0) {
    fprintf(stderr, "gs-bench-mqtt: --clock must be burst or live, not '%s'\n", clock);
    return 2;
  }
  if (!pki || !devfile || port <= 0 || nbatches < 1 || window < 1 || (bench_id_version != 4 && bench_id_version != 7)) {
    fprintf(stderr,
            "usage: gs-bench-mqtt --host H --port P --pki DIR --devices FILE [--batches R] [--changes N] "
            "[--window W] [--rate C] [--ids 7|4] [--clock burst|live] [--sessions-only --hold S --ready FILE]\n");
    return 2;
  }
  FILE *f = fopen(devfile, "r");
  if (!f) {
    perror(devfile);
    return 2;
  }
  int cap = 1024, n = 0;
  client *cs = gs_calloc((size_t)cap, sizeof *cs);
  char line[256];
  int64_t now_ms = gs_now_ms();
  while (fgets(line, sizeof line, f)) {
    char *comma = strchr(line, ',');
    line[strcspn(line, "\r\n")] = '\0';
    if (!comma || !line[0]) continue;
    *comma = '\0';
    if (n == cap) {
      cs = gs_realloc(cs, (size_t)cap * 2 * sizeof *cs);
      memset(cs + cap, 0, (size_t)cap * sizeof *cs);
      cap *= 2;
    }
    bench_dev_init(&cs[n].dev, line, comma + 1, (uint64_t)n + 1 + (uint64_t)now_ms, now_ms - 1000);
    n++;
  }
  fclose(f);
  mosquitto_lib_init();
  /* pre-generate every batch: the clock measures the system, not the generator */
  long total_changes = 0;
  size_t payload_bytes = 0;
  if (!sessions_only)
    for (int i = 0; i < n; i++) {
      client *c = &cs[i];
      c->nb = nbatches;
      c->payload = gs_calloc((size_t)nbatches, sizeof *c->payload);
      c->len = gs_calloc((size_t)nbatches, sizeof *c->len);
      c->sent_ns = gs_calloc((size_t)nbatches, sizeof *c->sent_ns);
      for (int b = 0; b < nbatches; b++) {
        gs_buf buf = GS_BUF_INIT;
        if (live && rate > 0) { /* sends go round-robin: batch b of device i is about send b*n+i */
          int64_t at = now_ms + 1000 + (int64_t)(((double)b * n + i) * g_changes_per_batch * 1000.0 / rate);
          if (at > c->dev.hlc_ms) {
            c->dev.hlc_ms = at;
            c->dev.hlc_c = 0;
          }
        }
        bench_gen_batch(&c->dev, g_changes_per_batch, &buf);
        c->len[b] = buf.len;
        payload_bytes += buf.len;
        c->payload[b] = gs_buf_steal(&buf);
        total_changes += g_changes_per_batch;
      }
    }
  g_lat = gs_calloc((size_t)n * (size_t)nbatches + 1, sizeof *g_lat);
  struct pollfd *pf = gs_calloc((size_t)n, sizeof *pf);
  /* connect everyone (TLS handshake each), servicing the ones already up */
  int64_t t_conn0 = bench_ns();
  for (int i = 0; i < n; i++) {
    start_client(&cs[i], host, port, pki);
    if (i % 32 == 31) service(cs, i + 1, pf, 0);
  }
  int64_t deadline = bench_ns() + (int64_t)timeout * 1000000000LL;
  int up = 0, failed = 0;
  while (bench_ns() < deadline) {
    service(cs, n, pf, 20);
    up = failed = 0;
    for (int i = 0; i < n; i++) {
      up += cs[i].subscribed;
      failed += cs[i].failed;
    }
    if (up + failed >= n) break;
  }
  double connect_s = (double)(bench_ns() - t_conn0) / 1e9;
  fprintf(stderr, "gs-bench-mqtt: %d/%d sessions up (%d failed) in %.1f s\n", up, n, failed, connect_s);
  if (sessions_only) {
    if (ready) {
      FILE *r = fopen(ready, "w");
      if (r) {
        fprintf(r, "%d\n", up);
        fclose(r);
      }
    }
    int64_t end = bench_ns() + (int64_t)hold * 1000000000LL;
    int still = up;
    while (bench_ns() < end) service(cs, n, pf, 100);
    still = 0;
    for (int i = 0; i < n; i++) still += cs[i].subscribed;
    printf("{\"mode\":\"sessions\",\"devices\":%d,\"connected\":%d,\"failed\":%d,\"still_connected\":%d,"
           "\"connect_s\":%.2f,\"handshakes_per_s\":%.0f,\"loadgen_rss_kb\":%ld}\n",
           n, up, failed, still, connect_s, connect_s > 0 ? up / connect_s : 0, bench_rss_kb("VmRSS"));
    free_all(cs, n, pf);
    return up == n ? 0 : 1;
  }
  /* load */
  int64_t t0 = bench_ns();
  long sent_changes = 0;
  int rr = 0;
  g_last_ack = t0;
  while (g_acked_changes < total_changes && bench_ns() < deadline) {
    int64_t now = bench_ns();
    double allowed = rate > 0 ? rate * (double)(now - t0) / 1e9 + g_changes_per_batch : 1e18;
    /* round-robin so that no device starves the others */
    for (int k = 0; k < n && (double)sent_changes < allowed; k++) {
      client *c = &cs[(rr + k) % n];
      if (!c->subscribed || c->next >= c->nb || c->inflight >= window) continue;
      char t[128];
      snprintf(t, sizeof t, "gs/v1/dev/%s/up", c->dev.id);
      c->sent_ns[c->next] = bench_ns();
      int rc = mosquitto_publish(c->m, NULL, t, (int)c->len[c->next], c->payload[c->next], 1, false);
      if (rc) {
        c->sent_ns[c->next] = 0;
        continue;
      }
      c->next++;
      c->inflight++;
      sent_changes += g_changes_per_batch;
    }
    rr = (rr + 1) % n;
    service(cs, n, pf, rate > 0 ? 1 : 5);
  }
  double secs = (double)(g_last_ack - t0) / 1e9;
  double p50 = bench_quantile(g_lat, g_nlat, 0.5), p95 = bench_quantile(g_lat, g_nlat, 0.95),
         p99 = bench_quantile(g_lat, g_nlat, 0.99), mx = bench_quantile(g_lat, g_nlat, 1.0);
  printf("{\"mode\":\"load\",\"ids\":%d,\"clock\":\"%s\",\"devices\":%d,\"connected\":%d,\"batches\":%ld,\"acks\":%ld,"
         "\"changes\":%ld,"
         "\"changes_acked\":%ld,\"rejected\":%ld,\"duplicates\":%ld,\"errors\":%ld,\"seconds\":%.3f,"
         "\"changes_per_s\":%.0f,\"target_rate\":%.0f,\"window\":%d,\"changes_per_batch\":%d,\"avg_change_bytes\":%.0f,"
         "\"lat_ms_p50\":%.2f,\"lat_ms_p95\":%.2f,\"lat_ms_p99\":%.2f,\"lat_ms_max\":%.2f,\"connect_s\":%.2f}\n",
         bench_id_version, live && rate > 0 ? "live" : "burst", n, up, (long)n * nbatches, g_acks, total_changes,
         g_acked_changes, g_rejected, g_duplicates, g_errors, secs, secs > 0 ? (double)g_acked_changes / secs : 0, rate,
         window, g_changes_per_batch, total_changes ? (double)payload_bytes / (double)total_changes : 0, p50, p95, p99,
         mx, connect_s);
  free_all(cs, n, pf);
  return g_acked_changes == total_changes && g_errors == 0 ? 0 : 1;
}
