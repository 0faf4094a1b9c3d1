#include "gs_mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "gs_buf.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"
#include "gs_acks.h"

#define MQTT_FLUSH_MS 2000 /* at stop: how long queued acks may take to reach the broker */

enum { KIND_UP, KIND_PULL };

typedef struct msg {
  int kind;
  char device[65];
  char *payload;
  size_t len;
} msg;

struct gs_mqtt {
  struct mosquitto *mosq;
  gs_loop *loop;
  gs_engine *engine;
  gs_config cfg;
  int fd; /* registered socket, -1 when none */
  int connected;
  int64_t next_try;   /* monotonic ms of the next (re)connect attempt */
  int64_t connect_at; /* monotonic ms of the last attempt that got a socket */
  int backoff;
  msg *queue;
  size_t nq, capq;
  const gs_transport *t; /* this adapter, as the owner of its acks */
  gs_acks *acks;
  void (*resync)(void *); /* status documents again after a (re)connection */
  void *resync_ctx;
  gs_mqtt_stats stats;
};

static int mosq_err(int rc) {
  switch (rc) {
  case MOSQ_ERR_SUCCESS: return GS_OK;
  case MOSQ_ERR_NOMEM: return GS_ENOMEM;
  case MOSQ_ERR_TLS: return GS_ETLS;
  case MOSQ_ERR_INVAL: return GS_EINVAL;
  default: return GS_ENET;
  }
}

/* gs/v1/dev/{device}/up|pull -> device, kind. */
static int parse_topic(const char *topic, char dev[65], int *kind) {
  static const char pre[] = "gs/v1/dev/";
  if (strncmp(topic, pre, sizeof pre - 1) != 0) return 0;
  const char *d = topic + sizeof pre - 1, *slash = strchr(d, '/');
  if (!slash || slash - d > 64 || slash == d) return 0;
  memcpy(dev, d, (size_t)(slash - d));
  dev[slash - d] = '\0';
  if (!gs_valid_device_id(dev)) return 0;
  if (strcmp(slash, "/up") == 0) *kind = KIND_UP;
  else if (strcmp(slash, "/pull") == 0) *kind = KIND_PULL;
  else return 0;
  return 1;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *mm) {
  gs_mqtt *m = obj;
  msg q;
  memset(&q, 0, sizeof q);
  if (!parse_topic(mm->topic, q.device, &q.kind)) {
    gs_warn("mqtt: message on unexpected topic '%.120s' dropped", mm->topic);
    m->stats.dropped++;
    return;
  }
  if (m->nq == m->capq) {
    size_t ncap = m->capq ? m->capq * 2 : 64;
    msg *nqp = gs_realloc(m->queue, ncap * sizeof *nqp);
    if (!nqp) goto oom;
    m->queue = nqp;
    m->capq = ncap;
  }
  q.len = (size_t)(mm->payloadlen > 0 ? mm->payloadlen : 0);
  q.payload = gs_malloc(q.len + 1);
  if (!q.payload) goto oom;
  if (q.len) memcpy(q.payload, mm->payload, q.len);
  q.payload[q.len] = '\0';
  m->queue[m->nq++] = q;
  return;
oom:
  /* the device gets no ack and will resend */
  gs_error("mqtt: out of memory queueing a message from %s; dropped (device will retry)", q.device);
  m->stats.dropped++;
}

static void publish_reply(gs_mqtt *m, const char *device, const char *what, const gs_buf *b) {
  char topic[128];
  snprintf(topic, sizeof topic, "gs/v1/dev/%s/%s", device, what);
  int rc = mosquitto_publish(m->mosq, NULL, topic, (int)b->len, b->data, 1, false);
  if (rc != MOSQ_ERR_SUCCESS)
    gs_warn("mqtt: publish %s to %s failed: %s; the device will retry", what, device, mosquitto_strerror(rc));
  else if (what[0] == 'a') m->stats.acks++;
}

/* Applies queued batches in groups (one transaction each) and answers pulls. */
static void process_queue(gs_mqtt *m) {
  size_t i = 0;
  while (i < m->nq) {
    if (m->queue[i].kind == KIND_PULL) {
      gs_buf page = GS_BUF_INIT;
      int rc = gs_engine_pull(m->engine, m->queue[i].device, m->queue[i].payload, m->queue[i].len, &page);
      if (rc == GS_OK) publish_reply(m, m->queue[i].device, "down", &page);
      else gs_warn("mqtt: pull from %s failed: %s; not answered", m->queue[i].device, gs_strerror(rc));
      gs_buf_free(&page);
      m->stats.pulls++;
      i++;
      continue;
    }
    /* a run of consecutive batches, up to group_max */
    size_t j = i;
    while (j < m->nq && m->queue[j].kind == KIND_UP && j - i < (size_t)m->cfg.group_max) j++;
    size_t n = j - i;
    gs_batch_in *in = gs_malloc(n * sizeof *in);
    gs_buf *acks = gs_calloc(n, sizeof *acks);
    if (!in || !acks) {
      gs_error("mqtt: out of memory applying %zu batch(es); no ack sent, devices will retry", n);
      gs_free(in);
      gs_free(acks);
      i = j;
      continue;
    }
    for (size_t k = 0; k < n; k++) {
      in[k] = (gs_batch_in){m->queue[i + k].device, m->queue[i + k].payload, m->queue[i + k].len};
      acks[k] = (gs_buf)GS_BUF_INIT;
    }
    int rc = gs_engine_apply_group(m->engine, in, n, acks);
    if (rc == GS_OK) {
      /* each ack leaves when its commit is durable (gs_acks.h): no wait here */
      uint64_t commit = gs_engine_commits(m->engine);
      for (size_t k = 0; k < n; k++) {
        if (gs_acks_add(m->acks, commit, m->t, NULL, in[k].device, &acks[k]) != GS_OK)
          gs_error("mqtt: out of memory holding the ack for %s until its commit is durable; dropped, the device "
                   "will retry",
                   in[k].device);
      }
    } else {
      gs_error("store: %zu batch(es) not committed: %s; no ack sent, devices will retry", n, gs_strerror(rc));
    }
    for (size_t k = 0; k < n; k++) gs_buf_free(&acks[k]);
    gs_free(in);
    gs_free(acks);
    m->stats.batches += n;
    m->stats.groups++;
    i = j;
  }
  for (i = 0; i < m->nq; i++) gs_free(m->queue[i].payload);
  m->nq = 0;
}

static void drop_socket(gs_mqtt *m) {
  if (m->fd >= 0) gs_loop_fd_del(m->loop, m->fd);
  m->fd = -1;
  if (m->connected) m->stats.reconnects++;
  m->connected = 0;
  m->next_try = gs_mono_ms() + m->backoff;
  m->backoff = m->backoff * 2 > m->cfg.reconnect_max_ms ? m->cfg.reconnect_max_ms : m->backoff * 2;
}

static int readable_now(gs_mqtt *m) {
  SSL *ssl = mosquitto_ssl_get(m->mosq);
  if (ssl && SSL_pending(ssl) > 0) return 1;
  struct pollfd p = {mosquitto_socket(m->mosq), POLLIN, 0};
  return p.fd >= 0 && poll(&p, 1, 0) > 0;
}

static void on_io(void *ctx, int fd, short re) {
  gs_mqtt *m = ctx;
  int rc = MOSQ_ERR_SUCCESS;
  if (re & (POLLIN | POLLHUP | POLLERR)) {
    /* read everything that is there, then commit it as one group */
    for (int i = 0; i < 4096 && rc == MOSQ_ERR_SUCCESS; i++) {
      rc = mosquitto_loop_read(m->mosq, 1);
      if (rc != MOSQ_ERR_SUCCESS || !readable_now(m)) break;
    }
    if (m->nq) process_queue(m);
  }
  if (rc == MOSQ_ERR_SUCCESS && (re & POLLOUT)) rc = mosquitto_loop_write(m->mosq, 1);
  if (rc != MOSQ_ERR_SUCCESS) {
    gs_warn("mqtt: connection to %s:%d lost: %s; reconnecting", m->cfg.mqtt_host, m->cfg.mqtt_port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    drop_socket(m);
  }
  (void)fd;
}

static void on_connect_cb(struct mosquitto *mosq, void *obj, int rc) {
  gs_mqtt *m = obj;
  if (rc != 0) {
    gs_error("mqtt: broker %s:%d refused the connection: %s", m->cfg.mqtt_host, m->cfg.mqtt_port,
             mosquitto_connack_string(rc));
    return;
  }
  const char *subs[] = {"gs/v1/dev/+/up", "gs/v1/dev/+/pull"};
  for (int i = 0; i < 2; i++) {
    int src = mosquitto_subscribe(mosq, NULL, subs[i], 1);
    if (src != MOSQ_ERR_SUCCESS) gs_error("mqtt: subscribe %s failed: %s", subs[i], mosquitto_strerror(src));
  }
  m->connected = 1;
  m->backoff = m->cfg.reconnect_min_ms;
  gs_info("mqtt: connected to %s:%d as %s", m->cfg.mqtt_host, m->cfg.mqtt_port, m->cfg.mqtt_client_id);
  if (m->resync) m->resync(m->resync_ctx); /* retained status may be gone with a fresh broker */
}

static void on_disconnect_cb(struct mosquitto *mosq, void *obj, int rc) {
  gs_mqtt *m = obj;
  (void)mosq;
  if (m->connected) gs_warn("mqtt: disconnected (%s)", rc ? "unexpected" : "requested");
  m->connected = 0;
}

static void try_connect(gs_mqtt *m) {
  int rc = mosquitto_connect(m->mosq, m->cfg.mqtt_host, m->cfg.mqtt_port, m->cfg.mqtt_keepalive);
  if (rc != MOSQ_ERR_SUCCESS) {
    gs_warn("mqtt: cannot connect to %s:%d: %s; retrying in %d ms", m->cfg.mqtt_host, m->cfg.mqtt_port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), m->backoff);
    m->fd = -1;
    m->next_try = gs_mono_ms() + m->backoff;
    m->backoff = m->backoff * 2 > m->cfg.reconnect_max_ms ? m->cfg.reconnect_max_ms : m->backoff * 2;
    return;
  }
  m->fd = mosquitto_socket(m->mosq);
  m->connect_at = gs_mono_ms();
  gs_loop_fd(m->loop, m->fd, POLLIN, on_io, m);
}

/* How long a connection may wait for the broker's CONNACK. A path that
 * drops packets without closing (a middlebox, a relay in a blackout) would
 * otherwise hold the attempt until the keepalive expires, and the status
 * and acks with it (tests/fault/test_network.sh restarts the collector
 * behind such a relay). */
#define CONNACK_TIMEOUT_MS 5000

static int64_t prepare(void *ctx) {
  gs_mqtt *m = ctx;
  if (m->fd < 0) {
    int64_t now = gs_mono_ms();
    if (now >= m->next_try) try_connect(m);
    return m->fd < 0 ? m->next_try - gs_mono_ms() : 0;
  }
  gs_loop_fd_events(m->loop, m->fd, (short)(POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0)));
  return 1000;
}

static void tick(void *ctx) {
  gs_mqtt *m = ctx;
  if (m->fd < 0) return;
  if (!m->connected && gs_mono_ms() - m->connect_at > CONNACK_TIMEOUT_MS) {
    gs_warn("mqtt: no CONNACK from %s:%d within %d ms; reconnecting", m->cfg.mqtt_host, m->cfg.mqtt_port,
            CONNACK_TIMEOUT_MS);
    drop_socket(m);
    return;
  }
  int rc = mosquitto_loop_misc(m->mosq); /* keepalive pings, timeouts */
  if (rc != MOSQ_ERR_SUCCESS) {
    gs_warn("mqtt: connection check failed: %s; reconnecting", mosquitto_strerror(rc));
    drop_socket(m);
  }
}

static int setup_client(gs_mqtt *m, char *err, size_t errlen) {
  m->mosq = mosquitto_new(m->cfg.mqtt_client_id, false, m);
  if (!m->mosq) {
    snprintf(err, errlen, "mqtt: cannot create client: %s", strerror(errno));
    return GS_ENOMEM;
  }
  mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  /* small acks and PUBACKs must not wait for Nagle + delayed ACK (~40-90 ms each) */
  mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(m->mosq, 1000);
  mosquitto_connect_callback_set(m->mosq, on_connect_cb);
  mosquitto_disconnect_callback_set(m->mosq, on_disconnect_cb);
  mosquitto_message_callback_set(m->mosq, on_message);
  if (m->cfg.mqtt_cafile[0]) {
    int rc = mosquitto_tls_set(m->mosq, m->cfg.mqtt_cafile, NULL, m->cfg.mqtt_certfile[0] ? m->cfg.mqtt_certfile : NULL,
                               m->cfg.mqtt_keyfile[0] ? m->cfg.mqtt_keyfile : NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(m->mosq, 1, "tlsv1.2", NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
      snprintf(err, errlen, "mqtt: TLS files cafile=%s certfile=%s keyfile=%s: %s; check paths and permissions",
               m->cfg.mqtt_cafile, m->cfg.mqtt_certfile, m->cfg.mqtt_keyfile, mosquitto_strerror(rc));
      return GS_ETLS;
    }
  } else {
    gs_warn("mqtt: no [mqtt] cafile: connecting WITHOUT TLS (only for local experiments)");
  }
  return GS_OK;
}

static void mqtt_stop(void *self);

static int mqtt_start(gs_transport *t, const gs_transport_env *env, const gs_config *cfg, char *err, size_t errlen) {
  mosquitto_lib_init();
  gs_mqtt *m = gs_calloc(1, sizeof *m);
  if (!m) {
    mosquitto_lib_cleanup();
    snprintf(err, errlen, "mqtt: out of memory");
    return GS_ENOMEM;
  }
  m->loop = env->loop;
  m->engine = env->engine;
  m->acks = env->acks;
  m->t = t;
  m->resync = env->resync;
  m->resync_ctx = env->resync_ctx;
  m->cfg = *cfg;
  m->fd = -1;
  m->backoff = cfg->reconnect_min_ms;
  int rc = setup_client(m, err, errlen);
  if (!rc && ((rc = gs_loop_prepare(env->loop, prepare, m)) || (rc = gs_loop_timer(env->loop, 500, tick, m))))
    snprintf(err, errlen, "mqtt: event loop has no free hook slot");
  if (rc) { /* the loop, which may hold hooks to m, is not run after a failed start */
    mqtt_stop(m);
    return rc;
  }
  t->self = m;
  gs_info("mqtt: connecting to %s:%d as %s", cfg->mqtt_host, cfg->mqtt_port, cfg->mqtt_client_id);
  return GS_OK;
}

static void mqtt_stop(void *self) {
  gs_mqtt *m = self;
  if (!m) return;
  gs_info("mqtt: stopping after %lu batches in %lu transactions, %lu pulls, %lu acks", m->stats.batches,
          m->stats.groups, m->stats.pulls, m->stats.acks);
  if (m->mosq && m->fd >= 0) {
    /* let queued acks reach the broker before leaving */
    int64_t end = gs_mono_ms() + MQTT_FLUSH_MS;
    while (mosquitto_want_write(m->mosq) && gs_mono_ms() < end) {
      if (mosquitto_loop_write(m->mosq, 1) != MOSQ_ERR_SUCCESS) break;
      struct pollfd p = {m->fd, POLLOUT, 0};
      poll(&p, 1, 10);
    }
    mosquitto_disconnect(m->mosq);
    mosquitto_loop_write(m->mosq, 1);
    gs_loop_fd_del(m->loop, m->fd);
  }
  for (size_t i = 0; i < m->nq; i++) gs_free(m->queue[i].payload);
  gs_free(m->queue);
  mosquitto_destroy(m->mosq);
  /* the loop's prepare and timer hooks still point at m; stop runs after
   * gs_loop_run() returned, and the loop is freed right after */
  gs_free(m);
  mosquitto_lib_cleanup();
}

static void mqtt_reconfigure(void *self, const gs_config *cfg) {
  gs_mqtt *m = self;
  int reconnect = strcmp(m->cfg.mqtt_host, cfg->mqtt_host) || m->cfg.mqtt_port != cfg->mqtt_port ||
                  strcmp(m->cfg.mqtt_cafile, cfg->mqtt_cafile) || strcmp(m->cfg.mqtt_certfile, cfg->mqtt_certfile) ||
                  strcmp(m->cfg.mqtt_keyfile, cfg->mqtt_keyfile) ||
                  strcmp(m->cfg.mqtt_client_id, cfg->mqtt_client_id) || m->cfg.mqtt_keepalive != cfg->mqtt_keepalive;
  m->cfg = *cfg;
  if (!reconnect) return;
  gs_info("mqtt: broker settings changed; reconnecting to %s:%d", cfg->mqtt_host, cfg->mqtt_port);
  if (m->fd >= 0) {
    mosquitto_disconnect(m->mosq);
    gs_loop_fd_del(m->loop, m->fd);
    m->fd = -1;
  }
  mosquitto_destroy(m->mosq);
  m->mosq = NULL;
  m->connected = 0;
  char err[512];
  if (setup_client(m, err, sizeof err)) gs_error("%s", err);
  m->next_try = 0;
  m->backoff = cfg->reconnect_min_ms;
}

static int mqtt_connected(const void *self) { return ((const gs_mqtt *)self)->connected; }

/* An ack whose commit is durable (gs_acks.h). A commit that will never be
 * durable gets no ack: the device resends. */
static void mqtt_deliver(void *self, void *req, const char *device, gs_buf *reply, int status) {
  (void)req;
  if (status == GS_OK) publish_reply(self, device, "ack", reply);
}

/* Status output: retained QoS 1 on gs/v1/status/{org}. While the broker is
 * away the document is not kept: the reconnection asks for every document
 * again (resync). */
static int mqtt_publish_status(void *self, const char *org, const char *json, size_t len) {
  gs_mqtt *m = self;
  char topic[128];
  if (!m->connected) return GS_ENET;
  snprintf(topic, sizeof topic, "gs/v1/status/%s", org);
  int rc = mosq_err(mosquitto_publish(m->mosq, NULL, topic, (int)len, json, 1, true));
  if (rc) gs_warn("status: publish %s failed: %s", topic, gs_strerror(rc));
  return rc;
}

static int mqtt_enabled(const gs_config *cfg) {
  (void)cfg;
  return 1; /* the devices' main transport: always on */
}

const gs_transport_ops gs_mqtt_transport = {
    .name = "mqtt",
    .enabled = mqtt_enabled,
    .start = mqtt_start,
    .reconfigure = mqtt_reconfigure,
    .connected = mqtt_connected,
    .deliver = mqtt_deliver,
    .publish_status = mqtt_publish_status,
    .stop = mqtt_stop,
};
