/* gs_coapreq.h - the CoAP request handlers of gs-collector (docs/COAP.md,
 * "Resources"), on a libcoap 4.3 context owned by the caller.
 *
 *   POST /v1/up            change batch  -> empty ACK, then 2.04 Changed + ack as a
 *                                           separate response once the commit is durable
 *   POST /v1/pull          pull request  -> 2.05 Content + down page
 *   GET  /v1/status/{org}  2.05 Content + the org's status document, Observe
 *   anything else          the same prologue checks, then 4.04
 *
 * This module knows nothing of DTLS or certificates: the device a session
 * speaks for comes from an identity callback. gs_coap.c supplies the
 * production one (the verified peer certificate, checked against the CRL);
 * tests/fuzz/fuzz_coap.c supplies a fixed device over plain UDP. Everything
 * else a request goes through (proxy options, device registered and enabled,
 * Accept, Content-Format, body size, Block1 bodies, Block2 responses) is
 * here, the same for both.
 *
 * Threading: every function must be called from the thread that runs the
 * libcoap context (the collector's loop thread).
 */
#ifndef GS_COAPREQ_H
#define GS_COAPREQ_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "gs_buf.h"
#include "gs_engine.h"

struct gs_acks;
struct gs_transport;
struct gs_coapreq;
typedef struct gs_coapreq gs_coapreq;

/* What an identity callback found for a session (a status, not an error). */
typedef enum gs_coapreq_id {
  GS_COAPREQ_ID_OK = 0,  /* dev holds the device id ([a-z0-9-]{3,64}) */
  GS_COAPREQ_ID_UNKNOWN, /* the session proves no device identity: 4.01 */
  GS_COAPREQ_ID_REFUSED  /* dev holds the id but its credential is no longer good (revoked): 4.03 */
} gs_coapreq_id;

/* Derives the device id of session s for one request. what names the request
 * for log lines ("POST /v1/up"); the callback logs why it refuses. dev is
 * written on GS_COAPREQ_ID_OK and GS_COAPREQ_ID_REFUSED. arg is the id_arg
 * given to gs_coapreq_new(). Called once per request that passed the proxy
 * check, before any store access. */
typedef gs_coapreq_id (*gs_coapreq_identity_fn)(void *arg, coap_session_t *s, const char *what, char dev[65]);

typedef struct gs_coapreq_stats {
  unsigned long ups;         /* POST /v1/up answered with an ack (after its commit is durable) */
  unsigned long pulls;       /* POST /v1/pull answered with a page */
  unsigned long status_gets; /* GET /v1/status/{org} answered (incl. notifications) */
  unsigned long refused;     /* requests refused with a 4.xx/5.xx by our handlers */
  unsigned long transient;   /* 5.03: nothing committed, device retries */
} gs_coapreq_stats;

typedef struct gs_coapreq_config {
  gs_engine *engine;
  int64_t max_body_bytes; /* larger request bodies get 4.13 */
  int group_max;          /* batches per transaction (at most 64 here) */
  gs_coapreq_identity_fn identity;
  void *id_arg;
  /* the ack releaser, and the transport it hands the acks back to: its
   * ops->deliver must call gs_coapreq_deliver() */
  struct gs_acks *acks;
  const struct gs_transport *owner;
} gs_coapreq_config;

/* Registers /v1/up, /v1/pull and the catch-all resource on ctx and sets its
 * block mode to COAP_BLOCK_USE_LIBCOAP (libcoap sends Block2 responses; the
 * handlers collect Block1 request bodies themselves, so the mode must not be
 * changed to COAP_BLOCK_SINGLE_BODY). Status resources are added by
 * gs_coapreq_status_changed(). Request bodies over max_body_bytes get 4.13,
 * an unfinished Block1 body is dropped with its session (see
 * gs_coapreq_session_closed()) or after EXCHANGE_LIFETIME (247 s) idle.
 *
 * Batches (POST /v1/up) are not applied in the handler: it queues the batch
 * and defers the answer (libcoap's async state: an empty ACK now for a CON
 * request, the response later as its own message with the request's token,
 * RFC 7252 5.2.2). The caller runs gs_coapreq_apply() after each round of
 * libcoap I/O (one transaction for the batches of that round); the acks go
 * to cfg->acks, and come back through cfg->owner's deliver, which calls
 * gs_coapreq_deliver(); then libcoap I/O must run again soon
 * (gs_coapreq_take_triggered() says so) to send the answers.
 *
 * Returns GS_OK, or GS_ENOMEM (nothing usable registered; free ctx).
 * Ownership: *out is freed with gs_coapreq_free() after ctx is freed (the
 * resources point into it); cfg's engine, acks and owner must outlive it.
 * Does not use ctx's app data. */
int gs_coapreq_new(gs_coapreq **out, coap_context_t *ctx, const gs_coapreq_config *cfg);

/* Applies new limits to the following requests. */
void gs_coapreq_set_limits(gs_coapreq *q, int64_t max_body_bytes, int group_max);

/* Applies the batches queued by POST /v1/up since the last call, up to
 * group_max per transaction. A transient engine error answers them 5.03
 * (nothing committed); committed ones wait in the ack releaser. NULL-safe. */
void gs_coapreq_apply(gs_coapreq *q);

/* The ack releaser's answer for req (a request queued by gs_coapreq_apply):
 * status GS_OK sends 2.04 + reply (its buffer is taken), anything else 5.03.
 * The response goes out at the next libcoap I/O. */
void gs_coapreq_deliver(gs_coapreq *q, void *req, gs_buf *reply, int status);

/* 1 when answers were made ready since the last call (run libcoap I/O so
 * that libcoap sends them), then 0 until the next. NULL-safe. */
int gs_coapreq_take_triggered(gs_coapreq *q);

/* Batches whose answer is not sent yet (queued, or waiting for
 * durability). */
size_t gs_coapreq_deferred(const gs_coapreq *q);

/* org's status document changed: keeps a copy (json is copied; the caller
 * keeps ownership), creating the observable resource v1/status/{org} on the
 * first call for org. Returns 1 when observers of an existing resource were
 * told (run libcoap's I/O soon to send the notifications), else 0. An invalid
 * org id or out of memory is logged and ignored (0). NULL-safe. */
int gs_coapreq_status_changed(gs_coapreq *q, const char *org, const char *json, size_t len);

/* Session s is being freed (COAP_EVENT_SERVER_SESSION_DEL): drops the Block1
 * bodies it was sending. Must be called from the context's event handler,
 * which belongs to the caller. NULL-safe. */
void gs_coapreq_session_closed(gs_coapreq *q, coap_session_t *s);

/* Counters since gs_coapreq_new(). NULL gives zeros. */
gs_coapreq_stats gs_coapreq_get_stats(const gs_coapreq *q);

/* 1 when dev is a registered, enabled device of engine's store, 0 when not,
 * -1 on a store error (logged). Used per request and at the DTLS handshake. */
int gs_coapreq_device_enabled(gs_engine *engine, const char *dev);

/* Frees q, the status documents and the batches not answered (their async
 * state goes with the context). Call after coap_free_context() of the
 * context given to gs_coapreq_new(), and after the ack releaser delivered
 * what it held for q (gs_acks_flush). NULL-safe. */
void gs_coapreq_free(gs_coapreq *q);

#endif
