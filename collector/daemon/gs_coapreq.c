/* gs_coapreq.c - CoAP request handlers (see gs_coapreq.h and docs/COAP.md).
 *
 * Every handler starts with prologue(): proxy options refused (CVE-2023-30362
 * analysis in docs/COAP.md), the session's device from the identity callback,
 * the device registered and enabled in the store, Accept and Content-Format.
 * Large responses go out with Block2, done by libcoap
 * (coap_add_data_large_response). Block1 request bodies are collected here,
 * not by libcoap: its reassembly (COAP_BLOCK_SINGLE_BODY) in 4.3.1
 * dereferences a NULL body when a body sent without Size1 gets a block twice
 * (a retransmitted last block: the collector crashed, found by
 * tests/fuzz/fuzz_coap.c), hands a block over as the whole body when it has
 * no buffer, and allocates whatever Size1 announces (up to 4 GiB) before any
 * size check.
 *
 * A batch is not applied in its handler: its answer is deferred (see
 * struct deferred), the batches of one I/O round go to the engine together
 * (gs_coapreq_apply), and each 2.04 leaves as a separate response once the
 * ack releaser (gs_acks.h) says its commit is durable. The loop thread never
 * waits for an fsync (docs/ARCHITECTURE.md, "One batch").
 */
#include "gs_coapreq.h"

#include <stdio.h>
#include <string.h>

#include "gs_acks.h"
#include "gs_buf.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

#define RETRY_AFTER_S 5      /* Max-Age of a 5.03 after a transient store error */
#define UPLOAD_TTL_MS 247000 /* EXCHANGE_LIFETIME (RFC 7252 4.8.2): an unfinished Block1 body is dropped after it */
/* All unfinished Block1 bodies together may hold at most this much (or 16
 * bodies of max_body_bytes, if more): max_sessions devices each sending a
 * body of max_body_bytes must not take the collector's memory. Beyond it a
 * new block gets 5.03 + Max-Age and the device sends the batch again later. */
#define UPLOADS_MAX_BYTES (64 << 20)

/* A request body arriving in Block1 blocks (RFC 7959 2.5), at most one per
 * session and resource. Blocks come in order (the client waits for the 2.31
 * of each); the last block appended may come again when its 2.31 was lost.
 * Dropped with its session (gs_coapreq_session_closed). */
typedef struct upload {
  struct upload *next;
  coap_session_t *s; /* only compared, never dereferenced */
  char dev[65];      /* must match too: a new session may get a freed one's address */
  coap_resource_t *res;
  gs_buf body;
  unsigned szx;    /* block size 2^(szx+4), the same for every block */
  size_t last_off; /* offset of the last block appended */
  int64_t last_ms; /* when a block last came */
} upload;

/* A batch (POST /v1/up) whose answer goes out as a separate response
 * (RFC 7252 5.2.2): the request is registered with libcoap's async state
 * (coap_register_async, no delay), which sends the empty ACK now and, once
 * coap_async_trigger() is called, hands a copy of the request to hnd_up
 * again, which answers it from here with a CON (or NON) response carrying
 * the request's token. Between the two the batch is queued, applied with the
 * others of the same I/O round in one transaction (gs_coapreq_apply), and
 * its ack waits in the ack releaser (gs_acks.h) until the commit is durable.
 * The async state holds a reference on the session, so the session outlives
 * the wait. Listed in gs_coapreq.deferred until answered. */
typedef struct deferred {
  struct deferred *next;
  coap_async_t *async;
  char dev[65];
  gs_buf body;  /* the batch, until applied */
  int queued;   /* waiting for gs_coapreq_apply() */
  int done;     /* answer ready: code and reply */
  int code;     /* 204, or 503 with err */
  int err;      /* gs_err of a 503 */
  gs_buf reply; /* the ack */
} deferred;

typedef struct status_doc {
  gs_coapreq *q;
  char org[65];
  char *json;
  size_t len;
  coap_resource_t *res;
} status_doc;

struct gs_coapreq {
  coap_context_t *ctx;
  gs_engine *engine;
  int64_t max_body_bytes;
  int group_max;
  gs_coapreq_identity_fn identity;
  void *id_arg;
  gs_acks *acks;
  const struct gs_transport *owner;
  deferred *deferred; /* batches not answered yet, in arrival order */
  size_t nqueued;     /* of them, not applied yet */
  int triggered;      /* answers made ready since the last gs_coapreq_take_triggered() */
  /* status documents per org, for GET /v1/status/{org} */
  status_doc **docs;
  size_t ndocs, capdocs;
  upload *uploads;     /* Block1 bodies being received */
  size_t upload_bytes; /* their bodies' bytes together */
  gs_coapreq_stats stats;
};

static const char *peer_str(coap_session_t *s) {
  const char *p = s ? coap_session_str(s) : NULL;
  return p ? p : "?";
}

int gs_coapreq_device_enabled(gs_engine *engine, const char *dev) {
  gs_store *st = gs_engine_store(engine);
  int enabled = 0;
  int rc = gs_store_device_get(st, dev, &enabled, NULL);
  if (rc == GS_OK) return enabled != 0;
  if (rc == GS_ENOTFOUND) return 0;
  gs_error("coap: device lookup of %s failed: %s", dev, gs_strerror(rc));
  return -1;
}

/* The buffer respond() is handing to libcoap at this moment. libcoap 4.3.1
 * frees it (through release_buf) on some failure paths of
 * coap_add_data_large_response() and not on others (an out-of-range Block2
 * number did the first: respond() freed it again, found by the fuzz target),
 * so release_buf clears this and respond() frees only what is left. Loop
 * thread only, like the whole module. */
static const void *handing_over;

static void release_buf(coap_session_t *s, void *p) {
  (void)s;
  if (p == handing_over) handing_over = NULL;
  gs_free(p);
}

/* Sets an error response with a small JSON diagnostic. */
static void refuse(gs_coapreq *q, coap_pdu_t *resp, int code, const char *error) {
  uint8_t buf[4];
  char body[128];
  int n = snprintf(body, sizeof body, "{\"v\":1,\"error\":\"%s\"}", error);
  coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(code));
  coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
                  coap_encode_var_safe(buf, sizeof buf, COAP_MEDIATYPE_APPLICATION_JSON), buf);
  if (code == 503) coap_add_option(resp, COAP_OPTION_MAXAGE, coap_encode_var_safe(buf, sizeof buf, RETRY_AFTER_S), buf);
  coap_add_data(resp, (size_t)n, (const uint8_t *)body);
  q->stats.refused++;
}

static int opt_uint(const coap_pdu_t *pdu, coap_option_num_t num, unsigned *v) {
  coap_opt_iterator_t it;
  coap_opt_t *o = coap_check_option(pdu, num, &it);
  if (!o) return 0;
  *v = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
  return 1;
}

/* Checks common to every request. Returns 1 and fills dev when the handler
 * may go on; otherwise the response is set and 0 is returned. */
static int prologue(gs_coapreq *q, coap_session_t *s, const coap_pdu_t *req, coap_pdu_t *resp, const char *what,
                    int with_body, char dev[65]) {
  coap_opt_iterator_t it;
  unsigned v;
  /* We are no proxy (CVE-2023-30362 analysis in docs/COAP.md). */
  if (coap_check_option(req, COAP_OPTION_PROXY_URI, &it) || coap_check_option(req, COAP_OPTION_PROXY_SCHEME, &it) ||
      coap_check_option(req, COAP_OPTION_HOP_LIMIT, &it)) {
    gs_warn("coap: %s from %s refused: proxy option (Proxy-Uri/Proxy-Scheme/Hop-Limit) on a non-proxy", what,
            peer_str(s));
    refuse(q, resp, 505, "proxying_not_supported");
    return 0;
  }
  switch (q->identity(q->id_arg, s, what, dev)) {
  case GS_COAPREQ_ID_OK: break;
  case GS_COAPREQ_ID_UNKNOWN: refuse(q, resp, 401, "unknown_device"); return 0;
  default: refuse(q, resp, 403, "unknown_device"); return 0;
  }
  int en = gs_coapreq_device_enabled(q->engine, dev);
  if (en < 0) {
    refuse(q, resp, 503, "busy");
    q->stats.transient++;
    return 0;
  }
  if (!en) {
    gs_warn("coap: %s from %s refused: device %s not registered or disabled", what, peer_str(s), dev);
    refuse(q, resp, 403, "unknown_device");
    return 0;
  }
  if (opt_uint(req, COAP_OPTION_ACCEPT, &v) && v != COAP_MEDIATYPE_APPLICATION_JSON) {
    refuse(q, resp, 406, "bad_request");
    return 0;
  }
  if (with_body) {
    if (!opt_uint(req, COAP_OPTION_CONTENT_FORMAT, &v) || v != COAP_MEDIATYPE_APPLICATION_JSON) {
      gs_info("coap: %s from %s refused: Content-Format must be 50 (application/json)", what, dev);
      refuse(q, resp, 415, "bad_request");
      return 0;
    }
  }
  return 1;
}

static void upload_drop(gs_coapreq *q, upload *u) {
  for (upload **pp = &q->uploads; *pp; pp = &(*pp)->next) {
    if (*pp == u) {
      *pp = u->next;
      break;
    }
  }
  q->upload_bytes -= u->body.len;
  gs_buf_free(&u->body);
  gs_free(u);
}

/* The upload of session s (device dev) to r; drops uploads idle for longer
 * than UPLOAD_TTL_MS. */
static upload *upload_find(gs_coapreq *q, coap_session_t *s, const char *dev, coap_resource_t *r, int64_t now) {
  upload *found = NULL;
  for (upload *u = q->uploads, *next; u; u = next) {
    next = u->next;
    if (now - u->last_ms > UPLOAD_TTL_MS) upload_drop(q, u);
    else if (u->s == s && u->res == r && strcmp(u->dev, dev) == 0) found = u;
    else if (u->s == s && u->res == r) upload_drop(q, u);
  }
  return found;
}

void gs_coapreq_session_closed(gs_coapreq *q, coap_session_t *s) {
  if (!q) return;
  for (upload *u = q->uploads, *next; u; u = next) {
    next = u->next;
    if (u->s == s) upload_drop(q, u);
  }
}

/* One Block1 block of a body (see body()). Returns 1 with the whole body in
 * *whole after its last block, 0 with the response set otherwise (2.31 for
 * a block with more to come). */
static int body_block(gs_coapreq *q, coap_session_t *s, coap_resource_t *r, const coap_pdu_t *req, coap_pdu_t *resp,
                      const char *what, const char *dev, const coap_block_t *b1, const uint8_t *d, size_t n,
                      gs_buf *whole) {
  int64_t now = gs_mono_ms();
  upload *u = upload_find(q, s, dev, r, now);
  unsigned size1 = 0;
  if (b1->szx > 6) { /* 7 is BERT, for reliable transports only */
    if (u) upload_drop(q, u);
    refuse(q, resp, 400, "bad_request");
    return 0;
  }
  size_t off = (size_t)b1->num << (b1->szx + 4);
  if ((opt_uint(req, COAP_OPTION_SIZE1, &size1) && size1 > (uint64_t)q->max_body_bytes) ||
      off + n > (size_t)q->max_body_bytes) {
    gs_warn("coap: %s from %s (%s) refused: body of %zu bytes is over max_body_bytes %lld", what, dev, peer_str(s),
            size1 > off + n ? (size_t)size1 : off + n, (long long)q->max_body_bytes);
    if (u) upload_drop(q, u);
    refuse(q, resp, 413, "too_large");
    return 0;
  }
  if (b1->num == 0) { /* a new body (or the client restarted it) */
    if (u) upload_drop(q, u);
    if (!(u = gs_calloc(1, sizeof *u))) {
      refuse(q, resp, 503, "nomem");
      q->stats.transient++;
      return 0;
    }
    u->s = s;
    snprintf(u->dev, sizeof u->dev, "%s", dev);
    u->res = r;
    u->szx = b1->szx;
    u->next = q->uploads;
    q->uploads = u;
  } else if (u && b1->szx == u->szx && b1->m && off == u->last_off && off + n == u->body.len &&
             memcmp(u->body.data + off, d, n) == 0) {
    u->last_ms = now; /* the last block again: its 2.31 was lost */
    coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(231));
    return 0;
  } else if (!u || b1->szx != u->szx || off != u->body.len) {
    gs_warn("coap: %s from %s (%s): got a body fragment (Block1 block %u of %u bytes) that does not continue a "
            "body (%zu bytes so far); refused, the client must send the body again from block 0",
            what, dev, peer_str(s), b1->num, 1u << (b1->szx + 4), u ? u->body.len : 0);
    if (u) upload_drop(q, u);
    refuse(q, resp, 408, "bad_request");
    return 0;
  }
  size_t cap = (size_t)q->max_body_bytes * 16 > UPLOADS_MAX_BYTES ? (size_t)q->max_body_bytes * 16 : UPLOADS_MAX_BYTES;
  if (q->upload_bytes + n > cap) {
    gs_warn("coap: %s from %s (%s): unfinished Block1 bodies already hold %zu bytes (limit %zu); answered 5.03, "
            "the device sends the batch again later",
            what, dev, peer_str(s), q->upload_bytes, cap);
    upload_drop(q, u);
    refuse(q, resp, 503, "busy");
    q->stats.transient++;
    return 0;
  }
  if (gs_buf_append(&u->body, n ? d : (const uint8_t *)"", n) != GS_OK) {
    upload_drop(q, u);
    refuse(q, resp, 503, "nomem");
    q->stats.transient++;
    return 0;
  }
  q->upload_bytes += n;
  u->last_off = off;
  u->last_ms = now;
  if (b1->m) {
    coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(231)); /* libcoap adds the Block1 option */
    return 0;
  }
  *whole = u->body;
  q->upload_bytes -= u->body.len;
  u->body = (gs_buf)GS_BUF_INIT;
  upload_drop(q, u);
  return 1;
}

/* The request body: the payload of a request without Block1 (or with Block1
 * 0 and no More), or the body its Block1 blocks (RFC 7959) built up, returned
 * with its last block. Returns 1 with *data, *len set: they point into req,
 * or into *whole, which the caller frees with gs_buf_free() (it stays
 * GS_BUF_INIT for a one-PDU body). Returns 0 with the response set
 * otherwise: 2.31 for a block with more to come, 4.13 for a body over
 * max_body_bytes, 4.08 for a block that does not continue the body collected
 * so far (a late retransmission of a last block, a lost block), which drops
 * that body. */
static int body(gs_coapreq *q, coap_session_t *s, coap_resource_t *r, const coap_pdu_t *req, coap_pdu_t *resp,
                const char *what, const char *dev, gs_buf *whole, const uint8_t **data, size_t *len) {
  coap_block_t b1;
  const uint8_t *d = NULL;
  size_t n = 0;
  if (!coap_get_data(req, &n, &d)) {
    d = (const uint8_t *)"";
    n = 0;
  }
  if (coap_get_block(req, COAP_OPTION_BLOCK1, &b1) && (b1.num != 0 || b1.m)) {
    if (!body_block(q, s, r, req, resp, what, dev, &b1, d, n, whole)) return 0;
    *data = (const uint8_t *)whole->data;
    *len = whole->len;
    return 1;
  }
  if (n > (size_t)q->max_body_bytes) {
    gs_warn("coap: %s from %s (%s) refused: body of %zu bytes is over max_body_bytes %lld", what, dev, peer_str(s), n,
            (long long)q->max_body_bytes);
    refuse(q, resp, 413, "too_large");
    return 0;
  }
  *data = d;
  *len = n;
  return 1;
}

/* Sends buf (stolen) as the response body, Block2 when it does not fit. */
static void respond(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *qs,
                    coap_pdu_t *resp, int code, gs_buf *buf) {
  size_t n = buf->len;
  char *data = gs_buf_steal(buf);
  coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(code));
  handing_over = data;
  if (!data || !coap_add_data_large_response(r, s, req, resp, qs, COAP_MEDIATYPE_APPLICATION_JSON, -1, 0, n,
                                             (const uint8_t *)data, release_buf, data)) {
    if (handing_over) gs_free(data); /* not released by libcoap */
    gs_error("coap: cannot attach a %zu-byte response for %s", n, peer_str(s));
    coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(500));
  }
  handing_over = NULL;
}

static void deferred_free(gs_coapreq *q, deferred *d) {
  for (deferred **pp = &q->deferred; *pp; pp = &(*pp)->next) {
    if (*pp == d) {
      *pp = d->next;
      break;
    }
  }
  if (d->queued) q->nqueued--;
  gs_buf_free(&d->body);
  gs_buf_free(&d->reply);
  gs_free(d);
}

/* The answer of d is ready: libcoap calls hnd_up again with the request. */
static void finish(gs_coapreq *q, deferred *d, int code, int err, gs_buf *reply) {
  d->done = 1;
  d->code = code;
  d->err = err;
  if (reply) {
    d->reply = *reply;
    *reply = (gs_buf)GS_BUF_INIT;
  }
  coap_async_trigger(d->async);
  q->triggered = 1;
}

/* hnd_up called again by libcoap for a triggered async request: the answer
 * of d goes out (a separate response; Block2 when large, as any response). */
static void answer(gs_coapreq *q, coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *qs,
                   coap_pdu_t *resp, deferred *d) {
  if (!d->done) { /* cannot happen: no delay was set, only finish() triggers */
    refuse(q, resp, 503, "busy");
    q->stats.transient++;
  } else if (d->code != 204) {
    gs_warn("coap: batch from %s not committed: %s; answered 5.03, the device retries", d->dev, gs_strerror(d->err));
    refuse(q, resp, 503, gs_errname(d->err));
    q->stats.transient++;
  } else {
    q->stats.ups++;
    respond(r, s, req, qs, resp, 204, &d->reply);
  }
  deferred_free(q, d); /* libcoap frees the async state after this handler */
}

static void hnd_up(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *qs,
                   coap_pdu_t *resp) {
  gs_coapreq *q = coap_resource_get_userdata(r);
  char dev[65];
  const uint8_t *data;
  size_t len;
  gs_buf whole = GS_BUF_INIT;
  coap_async_t *as = coap_find_async(s, coap_pdu_get_token(req));
  if (as) { /* the second call: the answer is ready */
    deferred *d = coap_async_get_app_data(as);
    if (d) answer(q, r, s, req, qs, resp, d);
    else refuse(q, resp, 503, "busy");
    return;
  }
  if (!prologue(q, s, req, resp, "POST /v1/up", 1, dev)) return;
  if (!body(q, s, r, req, resp, "POST /v1/up", dev, &whole, &data, &len)) return;
  deferred *d = gs_calloc(1, sizeof *d);
  if (d && whole.data) d->body = whole; /* a Block1 body: taken, not copied */
  else if (d && gs_buf_append(&d->body, len ? data : (const uint8_t *)"", len) != GS_OK) {
    gs_free(d);
    d = NULL;
  }
  /* the empty ACK goes out when this handler returns without a code; the
   * answer follows once the batch is applied and durable. NULL: a request
   * with this token is already waiting (the client reused it) */
  if (d) d->async = coap_register_async(s, req, 0);
  if (!d || !d->async) {
    gs_warn("coap: POST /v1/up from %s (%s): cannot defer the answer (%s); answered 5.03, the device retries", dev,
            peer_str(s), d ? "token already waiting" : "out of memory");
    if (d) gs_buf_free(&d->body);
    else gs_buf_free(&whole);
    gs_free(d);
    refuse(q, resp, 503, "busy");
    q->stats.transient++;
    return;
  }
  coap_async_set_app_data(d->async, d);
  snprintf(d->dev, sizeof d->dev, "%s", dev);
  d->queued = 1;
  q->nqueued++;
  deferred **pp = &q->deferred;
  while (*pp) pp = &(*pp)->next;
  *pp = d;
  gs_debug("coap: POST /v1/up from %s (%s) mid %d, %zu bytes: queued", dev, peer_str(s), coap_pdu_get_mid(req), len);
}

/* Applies up to group_max queued batches in one transaction. */
static void apply_group(gs_coapreq *q) {
  deferred *grp[64];
  size_t n = 0, max = q->group_max < 1 ? 1 : q->group_max > 64 ? 64 : (size_t)q->group_max;
  for (deferred *d = q->deferred; d && n < max; d = d->next)
    if (d->queued) grp[n++] = d;
  if (n == 0) { /* cannot happen while nqueued > 0; keeps the loop below finite */
    q->nqueued = 0;
    return;
  }
  gs_batch_in in[64] = {{0}};
  gs_buf acks[64];
  for (size_t k = 0; k < n; k++) {
    in[k] = (gs_batch_in){grp[k]->dev, grp[k]->body.data ? grp[k]->body.data : "", grp[k]->body.len};
    acks[k] = (gs_buf)GS_BUF_INIT;
  }
  int rc = gs_engine_apply_group(q->engine, in, n, acks);
  uint64_t commit = gs_engine_commits(q->engine);
  for (size_t k = 0; k < n; k++) {
    deferred *d = grp[k];
    d->queued = 0;
    q->nqueued--;
    gs_buf_free(&d->body);
    if (rc != GS_OK) finish(q, d, 503, rc, NULL);
    else if (gs_acks_add(q->acks, commit, q->owner, d, d->dev, &acks[k]) != GS_OK) finish(q, d, 503, GS_ENOMEM, NULL);
    gs_buf_free(&acks[k]);
  }
  if (rc != GS_OK) gs_warn("coap: %zu batch(es) not committed: %s", n, gs_strerror(rc));
  else gs_debug("coap: %zu batch(es) committed in commit %llu", n, (unsigned long long)commit);
}

void gs_coapreq_apply(gs_coapreq *q) {
  while (q && q->nqueued) apply_group(q);
}

void gs_coapreq_deliver(gs_coapreq *q, void *req, gs_buf *reply, int status) {
  deferred *d = req;
  if (status == GS_OK) finish(q, d, 204, GS_OK, reply);
  else finish(q, d, 503, status, NULL);
}

int gs_coapreq_take_triggered(gs_coapreq *q) {
  int t = q ? q->triggered : 0;
  if (q) q->triggered = 0;
  return t;
}

size_t gs_coapreq_deferred(const gs_coapreq *q) {
  size_t n = 0;
  for (const deferred *d = q ? q->deferred : NULL; d; d = d->next) n++;
  return n;
}

static void hnd_pull(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *qs,
                     coap_pdu_t *resp) {
  gs_coapreq *q = coap_resource_get_userdata(r);
  char dev[65];
  const uint8_t *data;
  size_t len;
  gs_buf whole = GS_BUF_INIT;
  if (!prologue(q, s, req, resp, "POST /v1/pull", 1, dev)) return;
  if (!body(q, s, r, req, resp, "POST /v1/pull", dev, &whole, &data, &len)) return;
  gs_buf page = GS_BUF_INIT;
  int rc = gs_engine_pull(q->engine, dev, (const char *)data, len, &page);
  gs_buf_free(&whole);
  if (rc != GS_OK) {
    gs_warn("coap: pull from %s failed: %s; answered 5.03, the device retries", dev, gs_strerror(rc));
    gs_buf_free(&page);
    refuse(q, resp, 503, gs_errname(rc));
    q->stats.transient++;
    return;
  }
  q->stats.pulls++;
  respond(r, s, req, qs, resp, 205, &page);
}

static void hnd_status(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *qs,
                       coap_pdu_t *resp) {
  status_doc *d = coap_resource_get_userdata(r);
  char dev[65];
  if (!d || !d->q) {
    coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(404));
    return;
  }
  gs_coapreq *q = d->q;
  if (!prologue(q, s, req, resp, "GET /v1/status", 0, dev)) return;
  gs_buf b = GS_BUF_INIT;
  if (gs_buf_append(&b, d->json, d->len) != GS_OK) {
    refuse(q, resp, 503, "nomem");
    q->stats.transient++;
    return;
  }
  q->stats.status_gets++;
  respond(r, s, req, qs, resp, 205, &b);
}

/* Any path we do not serve (an org without a status document yet, a typo)
 * still goes through the prologue, so proxy options and unverified peers get
 * the same refusal whatever the Uri-Path; then 4.04. */
static void hnd_unknown(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *qs,
                        coap_pdu_t *resp) {
  (void)qs;
  gs_coapreq *q = coap_resource_get_userdata(r);
  char dev[65];
  if (!q) {
    coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(404));
    return;
  }
  if (!prologue(q, s, req, resp, "request", 0, dev)) return;
  refuse(q, resp, 404, "not_found");
}

static coap_resource_t *add_resource(gs_coapreq *q, const char *path, coap_request_t method, coap_method_handler_t h,
                                     void *userdata) {
  coap_str_const_t *p = coap_new_str_const((const uint8_t *)path, strlen(path));
  coap_resource_t *r = p ? coap_resource_init(p, COAP_RESOURCE_FLAGS_RELEASE_URI) : NULL;
  if (!r) {
    coap_delete_str_const(p);
    return NULL;
  }
  coap_register_request_handler(r, method, h);
  coap_resource_set_userdata(r, userdata);
  coap_add_resource(q->ctx, r);
  return r;
}

int gs_coapreq_new(gs_coapreq **out, coap_context_t *ctx, const gs_coapreq_config *cfg) {
  *out = NULL;
  gs_coapreq *q = gs_calloc(1, sizeof *q);
  if (!q) return GS_ENOMEM;
  q->ctx = ctx;
  q->engine = cfg->engine;
  q->max_body_bytes = cfg->max_body_bytes;
  q->group_max = cfg->group_max;
  q->identity = cfg->identity;
  q->id_arg = cfg->id_arg;
  q->acks = cfg->acks;
  q->owner = cfg->owner;
  /* libcoap does Block2; Block1 bodies are collected by body() */
  coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP);
  if (!add_resource(q, "v1/up", COAP_REQUEST_POST, hnd_up, q) ||
      !add_resource(q, "v1/pull", COAP_REQUEST_POST, hnd_pull, q))
    goto fail;
  coap_resource_t *unknown = coap_resource_unknown_init(hnd_unknown);
  if (!unknown) goto fail;
  coap_register_request_handler(unknown, COAP_REQUEST_GET, hnd_unknown);
  coap_register_request_handler(unknown, COAP_REQUEST_POST, hnd_unknown);
  coap_resource_set_userdata(unknown, q);
  coap_add_resource(ctx, unknown);
  *out = q;
  return GS_OK;
fail:
  /* resources already added belong to ctx; their userdata q must not be
   * reached: the caller frees ctx without serving a request */
  gs_free(q);
  return GS_ENOMEM;
}

void gs_coapreq_set_limits(gs_coapreq *q, int64_t max_body_bytes, int group_max) {
  if (!q) return;
  q->max_body_bytes = max_body_bytes;
  q->group_max = group_max;
}

static status_doc *find_doc(gs_coapreq *q, const char *org) {
  for (size_t i = 0; i < q->ndocs; i++)
    if (strcmp(q->docs[i]->org, org) == 0) return q->docs[i];
  return NULL;
}

int gs_coapreq_status_changed(gs_coapreq *q, const char *org, const char *json, size_t len) {
  if (!q || !org || !json) return 0;
  if (!gs_valid_org_id(org)) {
    gs_warn("coap: status for invalid org id '%.70s' ignored", org);
    return 0;
  }
  char *copy = gs_malloc(len + 1);
  if (!copy) goto oom;
  memcpy(copy, json, len);
  copy[len] = '\0';
  status_doc *d = find_doc(q, org);
  if (d) {
    gs_free(d->json);
    d->json = copy;
    d->len = len;
    coap_resource_notify_observers(d->res, NULL);
    return 1;
  }
  if (q->ndocs == q->capdocs) {
    size_t ncap = q->capdocs ? q->capdocs * 2 : 64;
    status_doc **nd = gs_realloc(q->docs, ncap * sizeof *nd);
    if (!nd) goto oom_copy;
    q->docs = nd;
    q->capdocs = ncap;
  }
  if (!(d = gs_calloc(1, sizeof *d))) goto oom_copy;
  d->q = q;
  snprintf(d->org, sizeof d->org, "%s", org);
  d->json = copy;
  d->len = len;
  char path[96];
  snprintf(path, sizeof path, "v1/status/%s", org);
  if (!(d->res = add_resource(q, path, COAP_REQUEST_GET, hnd_status, d))) {
    gs_free(d);
    goto oom_copy;
  }
  coap_resource_set_get_observable(d->res, 1);
  q->docs[q->ndocs++] = d;
  return 0;
oom_copy:
  gs_free(copy);
oom:
  gs_error("coap: out of memory keeping the status of %s; GET /v1/status/%s serves the previous one", org, org);
  return 0;
}

gs_coapreq_stats gs_coapreq_get_stats(const gs_coapreq *q) {
  gs_coapreq_stats s;
  memset(&s, 0, sizeof s);
  return q ? q->stats : s;
}

void gs_coapreq_free(gs_coapreq *q) {
  if (!q) return;
  while (q->uploads) upload_drop(q, q->uploads);
  while (q->deferred) deferred_free(q, q->deferred);
  for (size_t i = 0; i < q->ndocs; i++) {
    gs_free(q->docs[i]->json);
    gs_free(q->docs[i]);
  }
  gs_free(q->docs);
  gs_free(q);
}
