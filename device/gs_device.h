/* gs_device.h - the reference device: local store, outbox, HLC and sync.
 *
 * This is the client side of the sync protocol (docs/PROTOCOL.md, "Data model" and "Sync over MQTT",
 * docs/DEVICE.md). A device lives in a home directory holding:
 *   device.conf   INI: [device] id=  [mqtt] host= port=  [coap] host= port=
 *   ca.crt, device.crt, device.key   its TLS identity (copied in by init)
 *   device.db     SQLite store (WAL, synchronous=FULL): entity copies, outbox,
 *                 rejected changes, meta (next seq, cursor, HLC, inflight batch)
 *
 * Every function that changes state commits to device.db before it returns,
 * so a crash at any point loses nothing; the outbox is trimmed only after the
 * collector acknowledged a batch.
 *
 * Errors: every function returns GS_OK (0) or a positive gs_err code
 * (gs_error.h); gs_dev_errmsg() gives a one-line message with context for the
 * last error on a handle.
 *
 * Thread-safety: a gs_dev handle is used by one thread at a time. Separate
 * handles (even on the same home, though that is not useful) are independent.
 */
#ifndef GS_DEVICE_H
#define GS_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gs_dev gs_dev;

/* ---- Identity and configuration --------------------------------------- */

/* What init writes to DIR/device.conf. Strings are borrowed by gs_dev_init. */
typedef struct gs_dev_conf {
  const char *id;   /* device id, [a-z0-9-]{3,64}; must equal the cert CN */
  const char *ca;   /* path of the CA certificate (PEM) to copy in */
  const char *cert; /* path of the device certificate (PEM) to copy in */
  const char *key;  /* path of the device private key (PEM) to copy in */
  const char *host; /* broker / collector host name or address */
  int mqtt_port;    /* 1..65535 */
  int coap_port;    /* 0 = none */
} gs_dev_conf;

/* Creates (or re-initialises) the device home DIR: copies the three PEM files
 * in (key with mode 0600), writes device.conf and creates device.db.
 * Re-initialising a home that already has a store with another device id is
 * refused (GS_EEXISTS) so that no pending change is lost.
 * Returns GS_OK, GS_EINVAL (bad id/port/host), GS_EIO (file copy), GS_EEXISTS,
 * GS_ESTORE. On error a message is written to errbuf (may be NULL). */
int gs_dev_init(const char *home, const gs_dev_conf *conf, char *errbuf, size_t errlen);

/* Like gs_dev_init from a bundle directory holding device.crt, device.key,
 * ca.crt and device.conf ([device] id, [mqtt] host/port, [coap] host/port). */
int gs_dev_init_bundle(const char *home, const char *bundle, char *errbuf, size_t errlen);

/* Opens an initialised home. *out is owned by the caller: gs_dev_close().
 * Returns GS_OK, GS_ECONFIG (no or bad device.conf: run init), GS_ESTORE,
 * GS_ENOMEM. On error a message is written to errbuf (may be NULL). */
int gs_dev_open(const char *home, gs_dev **out, char *errbuf, size_t errlen);

/* Closes the store and any transport. NULL-safe. */
void gs_dev_close(gs_dev *dev);

/* Device id (borrowed, valid until gs_dev_close). */
const char *gs_dev_id(const gs_dev *dev);

/* The message of the last failed call on dev ("" when none). Borrowed. */
const char *gs_dev_errmsg(const gs_dev *dev);

/* ---- Local edits (work offline; durable before return) ---------------- */

/* Records one change: writes `fields` (a JSON object, borrowed) to entity
 * (type, entity_id), or to a new entity when entity_id is NULL (then `fields`
 * must contain "grid"). The change gets a fresh UUID v4 id, the next seq, an
 * HLC tick and, per written field, the version the device holds (base). It is
 * applied to the local copy with version [hlc, device id] and appended to the
 * outbox in one transaction.
 * out_id (may be NULL, >= 65 bytes) receives the entity id.
 * An entity_id the device has never seen is allowed (the entity may exist on
 * the server only); all its fields then have no base.
 * Returns GS_OK, GS_EINVAL (bad type, id, field name, empty object, no grid on
 * create; nothing written), GS_ESTORE, GS_ENOMEM. */
int gs_dev_set(gs_dev *dev, const char *type, const char *entity_id, const cJSON *fields, char *out_id);

/* Deletes an entity: gs_dev_set with {"_deleted": true}. GS_ENOTFOUND when the
 * entity is not in the local copy. */
int gs_dev_delete(gs_dev *dev, const char *type, const char *entity_id);

/* Local copy of one entity as {"type","id","rev","fields":{..},"ver":{..}}.
 * *out is owned by the caller (cJSON_Delete). GS_ENOTFOUND when absent. */
int gs_dev_get(gs_dev *dev, const char *type, const char *entity_id, cJSON **out);

/* Array of local entities of `type` (each as gs_dev_get returns), filtered by
 * grid when grid is not NULL, deleted ones excluded. Caller owns *out. */
int gs_dev_list(gs_dev *dev, const char *type, const char *grid, cJSON **out);

/* Array of rejected changes {"id","seq","type","entity","error","detail",
 * "change":{..}} in seq order. Caller owns *out. */
int gs_dev_rejected(gs_dev *dev, cJSON **out);

typedef struct gs_dev_status {
  char id[65];
  int64_t outbox;    /* pending changes */
  int64_t next_seq;  /* seq the next change will get */
  int64_t acked_seq; /* highest seq the collector acknowledged */
  int64_t cursor;    /* pull cursor (server rev) */
  int64_t hlc_ms;    /* HLC state */
  int hlc_c;
  int64_t rejected; /* rows in the rejected table */
} gs_dev_status;

/* Fills *st. Returns GS_OK or GS_ESTORE. */
int gs_dev_get_status(gs_dev *dev, gs_dev_status *st);

/* ---- Transport (variation point: MQTT here, CoAP in dev_coap.c) ------- */

/* Called by a transport for each reply candidate; returns 1 when `msg` is
 * the reply the engine waits for (e.g. an ack whose batch matches). */
typedef int (*gs_dev_accept_fn)(const char *msg, size_t len, void *arg);

/* A transport moves opaque JSON documents; it knows nothing of batches.
 * Every op returns GS_OK, GS_ETIMEOUT (no accepted reply in time), GS_ENET
 * (connection lost/refused: the engine reconnects and resends), GS_ETLS,
 * GS_ENOMEM. A reply is a gs_malloc'd NUL-terminated string the engine frees
 * with gs_free. */
typedef struct gs_dev_transport_ops {
  const char *name;
  /* Connects (and subscribes) within timeout_ms. */
  int (*connect)(void *ctx, int timeout_ms);
  /* Sends a change batch; waits for an accepted ack. */
  int (*push)(void *ctx, const char *batch, size_t len, gs_dev_accept_fn accept, void *arg, int timeout_ms,
              char **reply, size_t *reply_len);
  /* Sends a pull request; waits for an accepted page. */
  int (*pull)(void *ctx, const char *req, size_t len, gs_dev_accept_fn accept, void *arg, int timeout_ms, char **reply,
              size_t *reply_len);
  /* Disconnects; the context stays usable for connect. */
  void (*close)(void *ctx);
  /* Frees the context. NULL-safe on ctx. */
  void (*destroy)(void *ctx);
} gs_dev_transport_ops;

typedef struct gs_dev_transport {
  const gs_dev_transport_ops *ops;
  void *ctx;
} gs_dev_transport;

/* Makes the MQTT transport for dev (TLS with the home's certificates, client
 * id = device id, persistent session, QoS 1). The transport is owned by the
 * caller: t->ops->destroy(t->ctx), before gs_dev_close(dev) (it borrows dev).
 * The first call in a process runs mosquitto_lib_init(): make it from one
 * thread. Returns GS_OK, GS_ECONFIG, GS_ENOMEM. */
int gs_dev_mqtt_transport(gs_dev *dev, gs_dev_transport *t);

/* Makes the CoAP transport for dev (dev_coap.c; only in builds with
 * libcoap-3-openssl, which define GS_DEVICE_HAVE_COAP): coaps:// to the
 * [coap] host and port of device.conf, a DTLS session per connect with the
 * home's device.crt/device.key; the collector's certificate must chain to
 * ca.crt and name that host. push = POST /v1/up, pull = POST /v1/pull
 * (Content-Format 50, Block1/Block2 by libcoap); the 2.04/2.05 body is the
 * reply. A 5.03 (after waiting its Max-Age) or 4.08 gives GS_ENET, no answer
 * GS_ETIMEOUT: the engine resends the same batch. 4.13 on a push becomes a
 * too_large ack (the engine splits the batch); 4.03 gives GS_EUNKNOWN_DEVICE,
 * 4.01 and a refused handshake GS_ETLS, other errors GS_EPROTO, each with the
 * code and the collector's error in gs_dev_errmsg(). Owned by the caller like
 * the MQTT transport; the first call in a process runs coap_startup() and
 * installs a process-wide libcoap log handler: make it from one thread.
 * Returns GS_OK, GS_ECONFIG (no [coap] port), GS_ENOMEM. */
int gs_dev_coap_transport(gs_dev *dev, gs_dev_transport *t);

/* ---- Sync ------------------------------------------------------------- */

typedef struct gs_dev_sync_opts {
  int timeout_ms;         /* whole sync budget; default 30000 */
  int request_timeout_ms; /* wait for one ack/page; default 10000 */
  int max_changes;        /* per batch; default 200 */
  size_t max_bytes;       /* per batch; default 200 KiB */
  int pull_limit;         /* entities per page; default 500 */
  int no_pull;            /* 1: push only */
} gs_dev_sync_opts;

typedef struct gs_dev_sync_stats {
  int64_t pushed;  /* changes acknowledged this sync */
  int64_t applied; /* sums of the ack counters */
  int64_t duplicates;
  int64_t rejected;
  int64_t conflicts;
  int64_t batches; /* acks received */
  int64_t retries; /* resends after timeout or disconnect */
  int64_t pulled;  /* entities merged from pages */
  int64_t pages;
} gs_dev_sync_stats;

/* Pushes the whole outbox in seq order and then pulls until more=false, over
 * transport t (borrowed; connected by this call). opts may be NULL for the
 * defaults; st (may be NULL) is zeroed and filled.
 * Resends after a timeout or disconnect reuse the batch id and the stored
 * change bodies byte for byte, so the collector dedups them.
 * Returns GS_OK when the outbox is empty and the pull completed; GS_ETIMEOUT
 * when the budget ran out (nothing lost: retry later); GS_ENET/GS_ETLS when
 * the collector could not be reached; GS_EPROTO on an unusable reply;
 * GS_ESTORE. gs_dev_errmsg() says what happened. */
int gs_dev_sync(gs_dev *dev, gs_dev_transport *t, const gs_dev_sync_opts *opts, gs_dev_sync_stats *st);

/* ---- Versions (exposed for apps and tests) ---------------------------- */

/* Compares versions [ms, counter, "device"] (cJSON arrays, borrowed):
 * ms, then counter, then device id bytewise. NULL or malformed sorts lowest.
 * Returns <0, 0, >0. */
int gs_dev_ver_cmp(const cJSON *a, const cJSON *b);

#ifdef __cplusplus
}
#endif
#endif
