/* rollup_mqtt.c - libmosquitto on the collector's poll loop (see rollup_mqtt.h).
 * Same shape as collector/daemon/gs_mqtt.c: the loop polls the client's
 * socket, a prepare hook (re)connects with exponential backoff, a timer runs
 * keepalive. */
#include "rollup_mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct gs_rmqtt {
  gs_loop *loop;
  struct mosquitto *mosq;
  char *host, *client_id;
  int port, keepalive, settle_ms;
  char **topics;
  size_t ntopics;
  int fd;
  int connected;
  size_t subacks;   /* SUBACKs received on this connection */
  int64_t ready_at; /* monotonic ms; 0 = not yet known */
  int ready;
  int64_t next_try, backoff;
  gs_rmqtt_message_cb on_message;
  gs_rmqtt_ready_cb on_ready;
  void *ctx;
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

static void drop_socket(gs_rmqtt *m) {
  if (m->fd >= 0) gs_loop_fd_del(m->loop, m->fd);
  m->fd = -1;
  m->connected = 0;
  m->ready = 0;
  m->ready_at = 0;
  m->next_try = gs_mono_ms() + m->backoff;
  m->backoff = m->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : m->backoff * 2;
}

static int readable_now(gs_rmqtt *m) {
  SSL *ssl = mosquitto_ssl_get(m->mosq);
  if (ssl && SSL_pending(ssl) > 0) return 1; /* TLS may hold decrypted bytes poll cannot see */
  struct pollfd p = {mosquitto_socket(m->mosq), POLLIN, 0};
  return p.fd >= 0 && poll(&p, 1, 0) > 0;
}

static void on_io(void *ctx, int fd, short re) {
  gs_rmqtt *m = ctx;
  int rc = MOSQ_ERR_SUCCESS;
  (void)fd;
  if (re & (POLLIN | POLLHUP | POLLERR)) {
    for (int i = 0; i < 4096 && rc == MOSQ_ERR_SUCCESS; i++) {
      rc = mosquitto_loop_read(m->mosq, 1);
      if (rc != MOSQ_ERR_SUCCESS || !readable_now(m)) break;
    }
  }
  if (rc == MOSQ_ERR_SUCCESS && (re & POLLOUT)) rc = mosquitto_loop_write(m->mosq, 1);
  if (rc != MOSQ_ERR_SUCCESS) {
    gs_warn("mqtt: connection to %s:%d lost: %s; reconnecting", m->host, m->port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    drop_socket(m);
  }
}

static void on_connect_cb(struct mosquitto *mosq, void *obj, int rc) {
  gs_rmqtt *m = obj;
  if (rc != 0) {
    gs_error("mqtt: broker %s:%d refused %s: %s; check the certificate (CN must equal the client id)", m->host, m->port,
             m->client_id, mosquitto_connack_string(rc));
    return;
  }
  m->connected = 1;
  m->subacks = 0;
  m->backoff = BACKOFF_MIN_MS;
  gs_info("mqtt: connected to %s:%d as %s; subscribing to %zu topics", m->host, m->port, m->client_id, m->ntopics);
  for (size_t i = 0; i < m->ntopics; i++) {
    int src = mosquitto_subscribe(mosq, NULL, m->topics[i], 1);
    if (src != MOSQ_ERR_SUCCESS) gs_error("mqtt: subscribe %s failed: %s", m->topics[i], mosquitto_strerror(src));
  }
}

static void on_subscribe_cb(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted) {
  gs_rmqtt *m = obj;
  (void)mosq;
  (void)mid;
  for (int i = 0; i < n; i++)
    if (granted[i] > 2) gs_error("mqtt: the broker refused a subscription (granted 0x%02x); check its ACL", granted[i]);
  /* retained messages follow their SUBACK; give them settle_ms to arrive */
  if (++m->subacks == m->ntopics) m->ready_at = gs_mono_ms() + m->settle_ms;
}

static void on_message_cb(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg) {
  gs_rmqtt *m = obj;
  (void)mosq;
  m->on_message(m->ctx, msg->topic, msg->payload, (size_t)(msg->payloadlen > 0 ? msg->payloadlen : 0));
}

static void on_disconnect_cb(struct mosquitto *mosq, void *obj, int rc) {
  gs_rmqtt *m = obj;
  (void)mosq;
  if (m->connected) gs_warn("mqtt: disconnected from %s:%d (%s)", m->host, m->port, rc ? "unexpected" : "requested");
  m->connected = 0;
  m->ready = 0;
}

static void try_connect(gs_rmqtt *m) {
  int rc = mosquitto_connect(m->mosq, m->host, m->port, m->keepalive);
  if (rc != MOSQ_ERR_SUCCESS) {
    gs_warn("mqtt: cannot connect to %s:%d: %s; retrying in %lld ms", m->host, m->port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), (long long)m->backoff);
    m->fd = -1;
    m->next_try = gs_mono_ms() + m->backoff;
    m->backoff = m->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : m->backoff * 2;
    return;
  }
  m->fd = mosquitto_socket(m->mosq);
  gs_loop_fd(m->loop, m->fd, POLLIN, on_io, m);
}

static int64_t prepare(void *ctx) {
  gs_rmqtt *m = ctx;
  int64_t now = gs_mono_ms();
  if (m->fd < 0) {
    if (now >= m->next_try) try_connect(m);
    return m->fd < 0 ? m->next_try - gs_mono_ms() : 0;
  }
  gs_loop_fd_events(m->loop, m->fd, (short)(POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0)));
  if (m->connected && !m->ready && m->ready_at) {
    if (now >= m->ready_at) {
      m->ready = 1;
      gs_info("mqtt: subscriptions settled; publishing");
      if (m->on_ready) m->on_ready(m->ctx);
    } else {
      return m->ready_at - now;
    }
  }
  return 1000;
}

static void tick(void *ctx) {
  gs_rmqtt *m = ctx;
  if (m->fd < 0) return;
  int rc = mosquitto_loop_misc(m->mosq); /* keepalive pings, timeouts */
  if (rc != MOSQ_ERR_SUCCESS) {
    gs_warn("mqtt: connection check failed: %s; reconnecting", mosquitto_strerror(rc));
    drop_socket(m);
  }
}

int gs_rmqtt_new(gs_rmqtt **out, gs_loop *loop, const gs_rmqtt_config *cfg, const char *const *topics, size_t ntopics,
                 gs_rmqtt_message_cb on_message, gs_rmqtt_ready_cb on_ready, void *ctx, char *err, size_t errlen) {
  mosquitto_lib_init();
  int rc = GS_ENOMEM;
  gs_rmqtt *m = gs_calloc(1, sizeof *m);
  if (!m) goto fail;
  m->loop = loop;
  m->fd = -1;
  m->port = cfg->port;
  m->keepalive = cfg->keepalive;
  m->settle_ms = cfg->settle_ms;
  m->backoff = BACKOFF_MIN_MS;
  m->on_message = on_message;
  m->on_ready = on_ready;
  m->ctx = ctx;
  m->host = gs_strdup(cfg->host);
  m->client_id = gs_strdup(cfg->client_id);
  m->topics = gs_calloc(ntopics ? ntopics : 1, sizeof *m->topics);
  if (!m->host || !m->client_id || !m->topics) goto fail;
  for (size_t i = 0; i < ntopics; i++, m->ntopics++)
    if (!(m->topics[i] = gs_strdup(topics[i]))) goto fail;
  m->mosq = mosquitto_new(cfg->client_id, true, m);
  if (!m->mosq) {
    snprintf(err, errlen, "mqtt: cannot create client: %s", strerror(errno));
    goto fail;
  }
  mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  /* small acks and PUBACKs must not wait for Nagle + delayed ACK (~40-90 ms each) */
  mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(m->mosq, 100);
  mosquitto_connect_callback_set(m->mosq, on_connect_cb);
  mosquitto_disconnect_callback_set(m->mosq, on_disconnect_cb);
  mosquitto_subscribe_callback_set(m->mosq, on_subscribe_cb);
  mosquitto_message_callback_set(m->mosq, on_message_cb);
  int mrc = mosquitto_tls_set(m->mosq, cfg->cafile, NULL, cfg->certfile, cfg->keyfile, NULL);
  if (mrc == MOSQ_ERR_SUCCESS) mrc = mosquitto_tls_opts_set(m->mosq, 1, "tlsv1.2", NULL);
  if (mrc != MOSQ_ERR_SUCCESS) {
    rc = GS_ETLS;
    snprintf(err, errlen, "mqtt: TLS files cafile=%s certfile=%s keyfile=%s: %s; check paths and permissions",
             cfg->cafile, cfg->certfile, cfg->keyfile, mosquitto_strerror(mrc));
    goto fail;
  }
  if ((rc = gs_loop_prepare(loop, prepare, m)) || (rc = gs_loop_timer(loop, 500, tick, m))) {
    snprintf(err, errlen, "mqtt: cannot register with the loop");
    goto fail;
  }
  *out = m;
  return GS_OK;
fail:
  gs_rmqtt_free(m);
  return rc;
}

void gs_rmqtt_free(gs_rmqtt *m) {
  if (!m) return;
  if (m->mosq && m->fd >= 0) {
    /* let queued publications reach the broker before leaving (bounded) */
    int64_t end = gs_mono_ms() + 1000;
    while (mosquitto_want_write(m->mosq) && gs_mono_ms() < end) {
      if (mosquitto_loop_write(m->mosq, 1) != MOSQ_ERR_SUCCESS) break;
      struct pollfd p = {m->fd, POLLOUT, 0};
      poll(&p, 1, 10);
    }
    mosquitto_disconnect(m->mosq);
    mosquitto_loop_write(m->mosq, 1);
    gs_loop_fd_del(m->loop, m->fd);
  }
  mosquitto_destroy(m->mosq);
  for (size_t i = 0; i < m->ntopics; i++) gs_free(m->topics[i]);
  gs_free(m->topics);
  gs_free(m->host);
  gs_free(m->client_id);
  gs_free(m);
  mosquitto_lib_cleanup();
}

int gs_rmqtt_ready(const gs_rmqtt *m) { return m->connected && m->ready; }

int gs_rmqtt_publish(gs_rmqtt *m, const char *topic, const void *payload, size_t len) {
  if (!m->connected) return GS_ENET;
  return mosq_err(mosquitto_publish(m->mosq, NULL, topic, (int)len, payload, 1, true));
}
