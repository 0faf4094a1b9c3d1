/* gs-bench-echo - the transport floor of publish->ack latency (bench/run).
 *
 * Stands where the collector stands, with the collector's certificate and
 * MQTT client settings, and answers every change batch on gs/v1/dev/+/up
 * with an ack that accounts for each change as applied, at once: no store,
 * no validation. Driven by gs-bench-mqtt at the rate of a latency run, it
 * measures what the broker, TLS, the load generator and the two MQTT hops
 * cost on this machine at that rate: the part of the latency the collector
 * cannot remove. Not product code; never point it at a real broker's
 * devices (it acks what it did not store).
 *
 *   gs-bench-echo --host H --port P --cafile F --certfile F --keyfile F
 *                 [--client-id gs-collector] [--seconds S] [--ready FILE]
 *
 * Runs until SIGTERM/SIGINT or S seconds (600), then prints one JSON object.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "bench_gen.h"

static volatile sig_atomic_t g_stop;
static long g_batches, g_changes, g_bad;
static int g_subscribed;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
  (void)obj;
  if (rc) {
    fprintf(stderr, "gs-bench-echo: broker refused: %s\n", mosquitto_connack_string(rc));
    g_stop = 1;
    return;
  }
  mosquitto_subscribe(m, NULL, "gs/v1/dev/+/up", 1);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q) {
  (void)m, (void)obj, (void)mid;
  g_subscribed = n >= 1 && q[0] <= 2;
}

/* The ack of docs/PROTOCOL.md, "Sync over MQTT" for a batch taken whole. */
static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *mm) {
  (void)obj;
  static const char pre[] = "gs/v1/dev/";
  const char *dev = mm->topic + sizeof pre - 1, *slash;
  cJSON *doc = NULL;
  if (strncmp(mm->topic, pre, sizeof pre - 1) != 0 || !(slash = strchr(dev, '/')) || slash - dev > 64 ||
      !(doc = cJSON_ParseWithLength(mm->payload, (size_t)mm->payloadlen))) {
    g_bad++;
    cJSON_Delete(doc);
    return;
  }
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "batch"), *ch;
  long n = 0;
  double seq = 0;
  cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(doc, "changes")) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(ch, "seq");
    if (cJSON_IsNumber(s) && s->valuedouble > seq) seq = s->valuedouble;
    n++;
  }
  char topic[128], ack[256];
  snprintf(topic, sizeof topic, "gs/v1/dev/%.*s/ack", (int)(slash - dev), dev);
  int len = snprintf(ack, sizeof ack,
                     "{\"v\":1,\"batch\":\"%.64s\",\"acked_seq\":%.0f,\"hlc\":[0,0],\"applied\":%ld,"
                     "\"duplicates\":0,\"rejected\":[],\"conflicts\":[]}",
                     cJSON_IsString(b) ? b->valuestring : "", seq, n);
  mosquitto_publish(m, NULL, topic, len, ack, 1, false);
  g_batches++;
  g_changes += n;
  cJSON_Delete(doc);
}

int main(int argc, char **argv) {
  const char *host = bench_opt(argc, argv, "--host", "127.0.0.1"), *ca = bench_opt(argc, argv, "--cafile", NULL),
             *crt = bench_opt(argc, argv, "--certfile", NULL), *key = bench_opt(argc, argv, "--keyfile", NULL),
             *id = bench_opt(argc, argv, "--client-id", "gs-collector"),
             *ready = bench_opt(argc, argv, "--ready", NULL);
  int port = atoi(bench_opt(argc, argv, "--port", "0")), seconds = atoi(bench_opt(argc, argv, "--seconds", "600"));
  if (!ca || !crt || !key || port <= 0 || seconds <= 0) {
    fprintf(stderr, "usage: gs-bench-echo --host H --port P --cafile F --certfile F --keyfile F "
                    "[--client-id ID] [--seconds S] [--ready FILE]\n");
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  mosquitto_lib_init();
  struct mosquitto *m = mosquitto_new(id, false, NULL);
  if (!m) return 1;
  /* the collector's settings (collector/daemon/gs_mqtt.c) */
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(m, 1000);
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_subscribe_callback_set(m, on_subscribe);
  mosquitto_message_callback_set(m, on_message);
  int rc = mosquitto_tls_set(m, ca, NULL, crt, key, NULL);
  if (!rc) rc = mosquitto_tls_opts_set(m, 1, "tlsv1.2", NULL);
  if (!rc) rc = mosquitto_connect(m, host, port, 60);
  if (rc) {
    fprintf(stderr, "gs-bench-echo: connect %s:%d: %s\n", host, port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    return 1;
  }
  int64_t end = bench_ns() + (int64_t)seconds * 1000000000LL;
  int said_ready = 0;
  while (!g_stop && bench_ns() < end) {
    struct pollfd p = {mosquitto_socket(m), (short)(POLLIN | (mosquitto_want_write(m) ? POLLOUT : 0)), 0};
    if (p.fd < 0) break;
    poll(&p, 1, 100);
    rc = MOSQ_ERR_SUCCESS;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) rc = mosquitto_loop_read(m, 64);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(m)) rc = mosquitto_loop_write(m, 64);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(m);
    if (rc != MOSQ_ERR_SUCCESS) {
      fprintf(stderr, "gs-bench-echo: connection lost: %s\n", mosquitto_strerror(rc));
      break;
    }
    if (g_subscribed && !said_ready && ready) {
      FILE *f = fopen(ready, "w");
      if (f) fclose(f);
      said_ready = 1;
    }
  }
  printf("{\"mode\":\"echo\",\"batches\":%ld,\"changes\":%ld,\"bad\":%ld}\n", g_batches, g_changes, g_bad);
  mosquitto_disconnect(m);
  mosquitto_loop_write(m, 1);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return 0;
}
