/* gs_coapreq.h - the CoAP request handlers of gs-collector (docs/COAP.md,
 * "Resources"), on a libcoap 4.3 context owned by the caller.
 *
 *   POST /v1/up            change batch  -> 2.04 Changed + ack (after commit)
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

#include "gs_engine.h"

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
  unsigned long ups;         /* POST /v1/up answered with an ack */
  unsigned long pulls;       /* POST /v1/pull answered with a page */
  unsigned long status_gets; /* GET /v1/status/{org} answered (incl. notifications) */
  unsigned long refused;     /* requests refused with a 4.xx/5.xx by our handlers */
  unsigned long transient;   /* 5.03: nothing committed, device retries */
} gs_coapreq_stats;

/* Registers /v1/up, /v1/pull and the catch-all resource on ctx and sets its
 * block mode to COAP_BLOCK_USE_LIBCOAP (libcoap sends Block2 responses; the
 * handlers collect Block1 request bodies themselves, so the mode must not be
 * changed to COAP_BLOCK_SINGLE_BODY). Status resources are added by
 * gs_coapreq_status_changed(). Request bodies over max_body_bytes get 4.13,
 * an unfinished Block1 body is dropped with its session (see
 * gs_coapreq_session_closed()) or after EXCHANGE_LIFETIME (247 s) idle.
 * Returns GS_OK, or GS_ENOMEM (nothing usable registered; free ctx).
 * Ownership: *out is freed with gs_coapreq_free() after ctx is freed (the
 * resources point into it); engine must outlive it. Does not use ctx's app
 * data. */
int gs_coapreq_new(gs_coapreq **out, coap_context_t *ctx, gs_engine *engine, int64_t max_body_bytes,
                   gs_coapreq_identity_fn identity, void *id_arg);

/* Applies a new max_body_bytes to the following requests. */
void gs_coapreq_set_max_body(gs_coapreq *q, int64_t max_body_bytes);

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

/* Frees q and the status documents. Call after coap_free_context() of the
 * context given to gs_coapreq_new(). NULL-safe. */
void gs_coapreq_free(gs_coapreq *q);

#endif
