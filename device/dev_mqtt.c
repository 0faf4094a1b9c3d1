/* dev_mqtt.c - the MQTT transport of the reference device (libmosquitto).
 *
 * Mutual TLS with the home's ca.crt/device.crt/device.key; client id = device
 * id; clean_session=false so the broker keeps our subscriptions and queues
 * QoS 1 acks and pages published while we were away; QoS 1 both ways.
 * No threads: every wait runs mosquitto_loop() until a deadline.
 *
 * Replies (acks on gs/v1/dev/{id}/ack, pages on .../down) are queued as they
 * arrive; push/pull hand each queued one to the engine's accept callback and
 * drop the ones it does not want (stale replies of earlier sessions).
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>

#include "dev_int.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

enum { CH_ACK = 0, CH_DOWN = 1 };

typedef struct msg {
  struct msg *next;
  int ch;
  char *data;
  size_t len;
} msg;

typedef struct mqtt {
  gs_dev *dev;
  struct mosquitto *m;
  char topic[2][128]; /* ack, down */
  char up[128], pull[128];
  char ca[PATH_MAX + 16], crt[PATH_MAX + 16], key[PATH_MAX + 16];
  int connected;  /* CONNACK accepted */
  int connack_rc; /* -1 until a CONNACK */
  int sub_mid, suback, sub_refused;
  msg *head, *tail;
} mqtt;

static int lib_ready;

static int mosq_err(mqtt *q, const char *op, int rc) {
  int e = rc == MOSQ_ERR_TLS ? GS_ETLS : rc == MOSQ_ERR_NOMEM ? GS_ENOMEM : GS_ENET;
  return dev__fail(q->dev, e, "mqtt %s to %s:%d as %s failed: %s (mosquitto %d)", op, q->dev->host, q->dev->mqtt_port,
                   q->dev->id, mosquitto_strerror(rc), rc);
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
  mqtt *q = obj;
  q->connack_rc = rc;
  q->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc) { ((mqtt *)obj)->connected = 0; }

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted) {
  mqtt *q = obj;
  if (mid != q->sub_mid) return;
  q->suback = 1;
  for (int i = 0; i < n; i++)
    if (granted[i] > 2) q->sub_refused = 1;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *mm) {
  mqtt *q = obj;
  int ch = !strcmp(mm->topic, q->topic[CH_ACK]) ? CH_ACK : !strcmp(mm->topic, q->topic[CH_DOWN]) ? CH_DOWN : -1;
  if (ch < 0 || mm->payloadlen <= 0) return;
  msg *n = gs_calloc(1, sizeof(*n));
  char *d = n ? gs_strndup(mm->payload, (size_t)mm->payloadlen) : NULL;
  if (!d) {
    gs_free(n);
    gs_warn("mqtt: out of memory queueing a reply on %s; it will be re-requested", mm->topic);
    return;
  }
  n->ch = ch;
  n->data = d;
  n->len = (size_t)mm->payloadlen;
  if (q->tail) q->tail->next = n;
  else q->head = n;
  q->tail = n;
}

static void queue_clear(mqtt *q) {
  while (q->head) {
    msg *n = q->head;
    q->head = n->next;
    gs_free(n->data);
    gs_free(n);
  }
  q->tail = NULL;
}

/* Takes the first queued reply on ch that accept() wants; drops those before
 * it on ch that it does not want. Returns 1 with *out set, else 0. */
static int queue_take(mqtt *q, int ch, gs_dev_accept_fn accept, void *arg, char **out, size_t *len) {
  msg **pp = &q->head, *prev = NULL;
  while (*pp) {
    msg *n = *pp;
    if (n->ch != ch) {
      prev = n;
      pp = &n->next;
      continue;
    }
    int ok = accept(n->data, n->len, arg);
    *pp = n->next;
    if (q->tail == n) q->tail = prev;
    if (ok) {
      *out = n->data;
      *len = n->len;
      gs_free(n);
      return 1;
    }
    gs_debug("mqtt: dropping a stale reply: %.120s", n->data);
    gs_free(n->data);
    gs_free(n);
  }
  return 0;
}

/* Runs the network loop until *flag is set or the deadline passes. */
static int loop_until(mqtt *q, const int *flag, int64_t deadline, const char *what) {
  while (!*flag) {
    int64_t left = deadline - gs_mono_ms();
    if (left <= 0)
      return dev__fail(q->dev, GS_ETIMEOUT, "mqtt: timed out waiting for %s from %s:%d", what, q->dev->host,
                       q->dev->mqtt_port);
    int rc = mosquitto_loop(q->m, left < 100 ? (int)left : 100, 1);
    if (rc == MOSQ_ERR_CONN_LOST && q->connack_rc < 0)
      return dev__fail(q->dev, GS_ENET,
                       "mqtt: broker %s:%d closed the connection before accepting device %s: "
                       "check that device.crt is issued by the broker's CA, not revoked, and "
                       "that ca.crt is the broker's CA",
                       q->dev->host, q->dev->mqtt_port, q->dev->id);
    if (rc != MOSQ_ERR_SUCCESS) return mosq_err(q, what, rc);
    if (q->connack_rc > 0)
      return dev__fail(q->dev, GS_ETLS, "mqtt: broker %s:%d refused device %s: %s", q->dev->host, q->dev->mqtt_port,
                       q->dev->id, mosquitto_connack_string(q->connack_rc));
  }
  return GS_OK;
}

static void mq_close(void *ctx) {
  mqtt *q = ctx;
  if (q->m) {
    if (q->connected) {
      mosquitto_disconnect(q->m);
      mosquitto_loop(q->m, 50, 1);
    }
    mosquitto_destroy(q->m);
    q->m = NULL;
  }
  q->connected = 0;
}

static int mq_connect(void *ctx, int timeout_ms) {
  mqtt *q = ctx;
  int64_t deadline = gs_mono_ms() + timeout_ms;
  int rc, err;
  mq_close(q);
  q->connack_rc = -1;
  q->suback = q->sub_refused = 0;
  q->m = mosquitto_new(q->dev->id, false, q);
  if (!q->m) return dev__fail(q->dev, GS_ENOMEM, "mqtt: cannot create a client");
  mosquitto_int_option(q->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  /* small acks and PUBACKs must not wait for Nagle + delayed ACK (~40-90 ms each) */
  mosquitto_int_option(q->m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_callback_set(q->m, on_connect);
  mosquitto_disconnect_callback_set(q->m, on_disconnect);
  mosquitto_subscribe_callback_set(q->m, on_subscribe);
  mosquitto_message_callback_set(q->m, on_message);
  rc = mosquitto_tls_set(q->m, q->ca, NULL, q->crt, q->key, NULL);
  if (rc != MOSQ_ERR_SUCCESS) {
    err = mosq_err(q, "TLS setup (ca.crt, device.crt, device.key)", rc);
    return err == GS_ENET ? GS_ETLS : err;
  }
  rc = mosquitto_connect(q->m, q->dev->host, q->dev->mqtt_port, 30);
  if (rc != MOSQ_ERR_SUCCESS) return mosq_err(q, "connect", rc);
  if ((err = loop_until(q, &q->connected, deadline, "CONNACK"))) return err;
  const char *subs[2] = {q->topic[CH_ACK], q->topic[CH_DOWN]};
  rc = mosquitto_subscribe_multiple(q->m, &q->sub_mid, 2, (char *const *)subs, 1, 0, NULL);
  if (rc != MOSQ_ERR_SUCCESS) return mosq_err(q, "subscribe", rc);
  if ((err = loop_until(q, &q->suback, deadline, "SUBACK"))) return err;
  if (q->sub_refused)
    return dev__fail(q->dev, GS_EPROTO, "mqtt: broker refused subscriptions %s and %s (check its ACL for %s)", subs[0],
                     subs[1], q->dev->id);
  gs_debug("mqtt: connected to %s:%d as %s", q->dev->host, q->dev->mqtt_port, q->dev->id);
  return GS_OK;
}

static int request(mqtt *q, const char *topic, int ch, const char *doc, size_t len, gs_dev_accept_fn accept, void *arg,
                   int timeout_ms, char **reply, size_t *rlen) {
  int64_t deadline = gs_mono_ms() + timeout_ms;
  *reply = NULL;
  if (!q->m || !q->connected) return dev__fail(q->dev, GS_ENET, "mqtt: not connected");
  int rc = mosquitto_publish(q->m, NULL, topic, (int)len, doc, 1, false);
  if (rc != MOSQ_ERR_SUCCESS) return mosq_err(q, "publish", rc);
  for (;;) {
    if (queue_take(q, ch, accept, arg, reply, rlen)) return GS_OK;
    int64_t left = deadline - gs_mono_ms();
    if (left <= 0)
      return dev__fail(q->dev, GS_ETIMEOUT, "mqtt: no %s on %s within %d ms", ch == CH_ACK ? "ack" : "page",
                       q->topic[ch], timeout_ms);
    rc = mosquitto_loop(q->m, left < 100 ? (int)left : 100, 1);
    if (rc != MOSQ_ERR_SUCCESS) return mosq_err(q, ch == CH_ACK ? "wait for ack" : "wait for page", rc);
  }
}

static int mq_push(void *ctx, const char *doc, size_t len, gs_dev_accept_fn accept, void *arg, int timeout_ms,
                   char **reply, size_t *rlen) {
  mqtt *q = ctx;
  return request(q, q->up, CH_ACK, doc, len, accept, arg, timeout_ms, reply, rlen);
}

static int mq_pull(void *ctx, const char *doc, size_t len, gs_dev_accept_fn accept, void *arg, int timeout_ms,
                   char **reply, size_t *rlen) {
  mqtt *q = ctx;
  return request(q, q->pull, CH_DOWN, doc, len, accept, arg, timeout_ms, reply, rlen);
}

static void mq_destroy(void *ctx) {
  mqtt *q = ctx;
  if (!q) return;
  mq_close(q);
  queue_clear(q);
  gs_free(q);
}

static const gs_dev_transport_ops mqtt_ops = {"mqtt", mq_connect, mq_push, mq_pull, mq_close, mq_destroy};

int gs_dev_mqtt_transport(gs_dev *dev, gs_dev_transport *t) {
  t->ops = NULL;
  t->ctx = NULL;
  if (!dev->host[0] || dev->mqtt_port <= 0)
    return dev__fail(dev, GS_ECONFIG, "%s/device.conf has no [mqtt] host and port", dev->home);
  mqtt *q = gs_calloc(1, sizeof(*q));
  if (!q) return dev__fail(dev, GS_ENOMEM, "out of memory");
  if (!lib_ready) {
    mosquitto_lib_init();
    lib_ready = 1;
  }
  q->dev = dev;
  snprintf(q->topic[CH_ACK], sizeof(q->topic[CH_ACK]), "gs/v1/dev/%s/ack", dev->id);
  snprintf(q->topic[CH_DOWN], sizeof(q->topic[CH_DOWN]), "gs/v1/dev/%s/down", dev->id);
  snprintf(q->up, sizeof(q->up), "gs/v1/dev/%s/up", dev->id);
  snprintf(q->pull, sizeof(q->pull), "gs/v1/dev/%s/pull", dev->id);
  snprintf(q->ca, sizeof(q->ca), "%s/ca.crt", dev->home);
  snprintf(q->crt, sizeof(q->crt), "%s/device.crt", dev->home);
  snprintf(q->key, sizeof(q->key), "%s/device.key", dev->home);
  t->ops = &mqtt_ops;
  t->ctx = q;
  return GS_OK;
}
