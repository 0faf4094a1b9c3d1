/* dev_coap.c - the CoAP transport of the reference device (libcoap 4.3.1,
 * openssl backend): coaps:// with the home's ca.crt/device.crt/device.key.
 *
 * One DTLS client session per connect. The collector's certificate must chain
 * to ca.crt and name the [coap] host (IP SAN for an address, DNS name
 * otherwise), as the MQTT adapter requires of the broker. The device id is
 * the CN of device.crt; nothing in a request names the device.
 *
 * push = POST /v1/up, pull = POST /v1/pull, Content-Format and Accept 50
 * (application/json). libcoap does Block1/Block2 (COAP_BLOCK_USE_LIBCOAP |
 * COAP_BLOCK_SINGLE_BODY): a large batch goes out in blocks, a large page
 * comes back reassembled. The response is the reply: its body goes through
 * the engine's accept callback like an MQTT ack or page. Mapping of the
 * answers (docs/COAP.md, docs/DEVICE.md):
 *   2.04 / 2.05       the ack / page
 *   5.03, 4.08        transient: GS_ENET after waiting Max-Age (at most the
 *                     request's time left); the engine resends the same batch
 *   no answer         GS_ETIMEOUT; the engine reconnects and resends
 *   4.13 on push      handed to the engine as a too_large batch ack, so it
 *                     splits the batch as it does for the MQTT ack
 *   4.01, 4.03        GS_ETLS / GS_EUNKNOWN_DEVICE with the collector's error
 *   other 4.xx, 5.xx  GS_EPROTO with the code and the collector's error
 * No threads: every wait runs coap_io_process() until a deadline. libcoap's
 * log handler is process-wide; its messages go to the debug log and the last
 * DTLS one is kept for error messages (one transport per process at a time
 * gives exact messages; several only mix up the detail).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <coap3/coap.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dev_int.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

#define COAP_FMT_JSON   COAP_MEDIATYPE_APPLICATION_JSON /* 50 */
#define BUSY_WAIT_MAX_S 30                              /* cap on a 5.03's Max-Age */

typedef struct coapt {
  gs_dev *dev;
  coap_context_t *ctx;
  coap_session_t *s;
  char ca[PATH_MAX + 16], crt[PATH_MAX + 16], key[PATH_MAX + 16];
  char host[256];
  /* handshake */
  int up;                        /* DTLS established */
  int failed;                    /* DTLS closed or failed */
  char peer_err[PATH_MAX + 512]; /* why we refused the collector's certificate */
  /* the one request in flight */
  int waiting;
  int done; /* response received */
  int nacked;
  coap_nack_reason_t nack;
  unsigned code; /* class * 100 + detail, e.g. 204 */
  unsigned max_age;
  char *body;
  size_t blen;
} coapt;

static int lib_ready;
static char last_dtls[256];  /* last libcoap DTLS line or warning, for messages */
static char last_alert[128]; /* last fatal alert received from the collector */

static void on_coap_log(coap_log_t level, const char *message) {
  size_t n = strlen(message);
  while (n && (message[n - 1] == '\n' || message[n - 1] == '\r')) n--;
  while (n && *message == ' ') message++, n--;
  gs_debug("coap: libcoap: %.*s", (int)n, message);
  /* "*  127.0.0.1:5 <-> 127.0.0.1:6 DTLS: SSL3 alert read:fatal:unknown CA":
   * keep what follows "DTLS: "; a received fatal alert wins over what follows */
  const char *d = strstr(message, "DTLS: "), *end = message + n;
  if (d && d < end) {
    d += 6;
    const char *a = strstr(d, "alert read:fatal:");
    if (a && a < end) snprintf(last_alert, sizeof(last_alert), "%.*s", (int)(end - a - 17), a + 17);
    else if (!last_alert[0]) snprintf(last_dtls, sizeof(last_dtls), "%.*s", (int)(end - d), d);
  } else if (level <= LOG_WARNING) {
    snprintf(last_dtls, sizeof(last_dtls), "%.*s", (int)n, message);
  }
}

static const char *ssl_err(char *buf, size_t n) {
  unsigned long e = ERR_get_error();
  if (!e) snprintf(buf, n, "no detail from OpenSSL");
  else ERR_error_string_n(e, buf, n);
  ERR_clear_error();
  return buf;
}

static coapt *of_session(coap_session_t *s) { return s ? coap_session_get_app_data(s) : NULL; }

/* ---- callbacks ---------------------------------------------------------- */

static int on_event(coap_session_t *s, const coap_event_t ev) {
  coapt *c = of_session(s);
  if (!c || s != c->s) return 0;
  switch (ev) {
  case COAP_EVENT_DTLS_CONNECTED: c->up = 1; break;
  case COAP_EVENT_DTLS_CLOSED:
  case COAP_EVENT_DTLS_ERROR:
  case COAP_EVENT_SESSION_FAILED:
  case COAP_EVENT_SESSION_CLOSED:
    c->failed = 1;
    c->up = 0;
    break;
  default: break;
  }
  return 0;
}

/* Checks the collector's certificate (depth 0) against the configured host. */
static int on_server_cert(const char *cn, const uint8_t *der, size_t der_len, coap_session_t *s, unsigned depth,
                          int validated, void *arg) {
  coapt *c = arg;
  if (!validated) {
    snprintf(c->peer_err, sizeof(c->peer_err),
             "the collector's certificate (CN '%.80s', depth %u) does not verify against %s", cn ? cn : "?", depth,
             c->ca);
    return 0;
  }
  if (depth > 0) return 1;
  const unsigned char *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)der_len);
  int ok = 0;
  if (x) {
    unsigned char bin[16];
    int is_ip = inet_pton(AF_INET, c->host, bin) == 1 || inet_pton(AF_INET6, c->host, bin) == 1;
    ok = is_ip ? X509_check_ip_asc(x, c->host, 0) == 1 : X509_check_host(x, c->host, 0, 0, NULL) == 1;
  }
  X509_free(x);
  if (!ok)
    snprintf(c->peer_err, sizeof(c->peer_err), "the collector's certificate (CN '%.80s') is not issued for host %s",
             cn ? cn : "?", c->host);
  return ok;
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *recv,
                                   const coap_mid_t mid) {
  coapt *c = of_session(s);
  const uint8_t *data = NULL;
  size_t len = 0, off = 0, total = 0;
  (void)sent, (void)mid;
  if (!c || s != c->s || !c->waiting || c->done)
    return COAP_RESPONSE_OK; /* nothing asked: ignore (an ACK'd duplicate) */
  coap_pdu_code_t code = coap_pdu_get_code(recv);
  c->code = (unsigned)(code >> 5) * 100 + (unsigned)(code & 0x1f);
  coap_opt_iterator_t it;
  coap_opt_t *o = coap_check_option(recv, COAP_OPTION_MAXAGE, &it);
  c->max_age = o ? coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) : 0;
  if (!coap_get_data_large(recv, &len, &data, &off, &total)) len = 0;
  if (off != 0 || (total && len != total)) {
    /* cannot happen with COAP_BLOCK_SINGLE_BODY: never hand on a fragment */
    gs_warn("coap: got a response fragment (%zu+%zu of %zu); treated as lost", off, len, total);
    return COAP_RESPONSE_OK;
  }
  c->body = gs_strndup(len ? (const char *)data : "", len);
  c->blen = c->body ? len : 0;
  c->done = 1;
  return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason, const coap_mid_t mid) {
  coapt *c = of_session(s);
  (void)sent, (void)mid;
  if (!c || s != c->s) return;
  if (reason == COAP_NACK_TLS_FAILED) c->failed = 1;
  if (c->waiting && !c->done) {
    c->nacked = 1;
    c->nack = reason;
  }
}

/* ---- connect / close ---------------------------------------------------- */

static void co_close(void *ctx) {
  coapt *c = ctx;
  if (c->s) {
    coap_session_set_app_data(c->s, NULL);
    coap_session_release(c->s); /* sends close_notify */
    c->s = NULL;
  }
  if (c->ctx) {
    coap_free_context(c->ctx);
    c->ctx = NULL;
  }
  c->up = c->failed = 0;
  c->waiting = c->done = c->nacked = 0;
  gs_free(c->body);
  c->body = NULL;
}

/* Loads device.crt/device.key/ca.crt the way the DTLS client will, so that a
 * missing or broken file is reported by name instead of as a failed session. */
static int check_files(coapt *c) {
  char e[256];
  int err = GS_OK;
  SSL_CTX *x = SSL_CTX_new(DTLS_client_method());
  if (!x) return dev__fail(c->dev, GS_ENOMEM, "coap: cannot create a DTLS context");
  if (SSL_CTX_use_certificate_chain_file(x, c->crt) != 1)
    err = dev__fail(c->dev, GS_ETLS, "coap: cannot load the device certificate %s: %s", c->crt, ssl_err(e, sizeof(e)));
  else if (SSL_CTX_use_PrivateKey_file(x, c->key, SSL_FILETYPE_PEM) != 1)
    err = dev__fail(c->dev, GS_ETLS, "coap: cannot load the device key %s: %s", c->key, ssl_err(e, sizeof(e)));
  else if (SSL_CTX_check_private_key(x) != 1)
    err = dev__fail(c->dev, GS_ETLS, "coap: %s does not match the certificate %s", c->key, c->crt);
  else if (SSL_CTX_load_verify_locations(x, c->ca, NULL) != 1)
    err = dev__fail(c->dev, GS_ETLS, "coap: cannot load the CA certificate %s: %s", c->ca, ssl_err(e, sizeof(e)));
  SSL_CTX_free(x);
  ERR_clear_error();
  return err;
}

static int resolve(coapt *c, coap_address_t *a) {
  struct addrinfo hints, *res = NULL, *r;
  char port[16];
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(port, sizeof(port), "%d", c->dev->coap_port);
  int rc = getaddrinfo(c->host, port, &hints, &res);
  if (rc != 0 || !res) return dev__fail(c->dev, GS_ENET, "coap: cannot resolve %s: %s", c->host, gai_strerror(rc));
  for (r = res; r; r = r->ai_next) /* prefer IPv4 (the devstack binds 127.0.0.1) */
    if (r->ai_family == AF_INET) break;
  if (!r) r = res;
  coap_address_init(a);
  a->size = (socklen_t)r->ai_addrlen;
  memcpy(&a->addr, r->ai_addr, r->ai_addrlen);
  freeaddrinfo(res);
  return GS_OK;
}

/* The DTLS failure as a message; GS_ETLS when the collector (or we) refused
 * the handshake, GS_ENET otherwise. */
static int handshake_failed(coapt *c) {
  if (c->peer_err[0])
    return dev__fail(c->dev, GS_ETLS, "coap: refusing collector %s:%d: %s", c->host, c->dev->coap_port, c->peer_err);
  if (last_alert[0])
    return dev__fail(c->dev, GS_ETLS,
                     "coap: collector %s:%d refused the DTLS handshake of device %s (alert: %s): "
                     "check that device.crt is issued by the collector's CA and not revoked, that "
                     "ca.crt is the collector's CA and that the device is registered and enabled",
                     c->host, c->dev->coap_port, c->dev->id, last_alert);
  return dev__fail(c->dev, GS_ENET, "coap: DTLS handshake with %s:%d failed%s%s", c->host, c->dev->coap_port,
                   last_dtls[0] ? ": " : "", last_dtls);
}

static int co_connect(void *ctx, int timeout_ms) {
  coapt *c = ctx;
  int64_t deadline = gs_mono_ms() + timeout_ms;
  coap_address_t addr;
  coap_dtls_pki_t pki;
  int err;
  co_close(c);
  c->peer_err[0] = 0;
  last_dtls[0] = last_alert[0] = 0;
  if ((err = check_files(c)) || (err = resolve(c, &addr))) return err;
  if (!(c->ctx = coap_new_context(NULL))) return dev__fail(c->dev, GS_ENOMEM, "coap: cannot create a libcoap context");
  coap_context_set_block_mode(c->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(c->ctx, on_response);
  coap_register_nack_handler(c->ctx, on_nack);
  coap_register_event_handler(c->ctx, on_event);

  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.verify_peer_cert = 1; /* the collector's certificate ... */
  pki.check_common_ca = 1;  /* ... issued by ca.crt */
  pki.allow_self_signed = 0;
  pki.allow_expired_certs = 0;
  pki.cert_chain_validation = 1;
  pki.cert_chain_verify_depth = 2;
  pki.check_cert_revocation = 0; /* the device has no CRL of server certificates */
  pki.allow_bad_md_hash = 0;
  pki.allow_short_rsa_length = 0;
  pki.validate_cn_call_back = on_server_cert;
  pki.cn_call_back_arg = c;
  unsigned char bin[16];
  if (inet_pton(AF_INET, c->host, bin) != 1 && inet_pton(AF_INET6, c->host, bin) != 1)
    pki.client_sni = c->host; /* SNI carries host names only */
  pki.pki_key.key_type = COAP_PKI_KEY_PEM;
  pki.pki_key.key.pem.ca_file = c->ca;
  pki.pki_key.key.pem.public_cert = c->crt;
  pki.pki_key.key.pem.private_key = c->key;
  c->s = coap_new_client_session_pki(c->ctx, NULL, &addr, COAP_PROTO_DTLS, &pki);
  if (!c->s) {
    err = dev__fail(c->dev, GS_ETLS, "coap: cannot start a DTLS session to %s:%d with %s%s%s", c->host,
                    c->dev->coap_port, c->crt, last_dtls[0] ? ": " : "", last_dtls);
    co_close(c);
    return err;
  }
  coap_session_set_app_data(c->s, c);
  while (!c->up && !c->failed) {
    if (coap_session_get_state(c->s) == COAP_SESSION_STATE_ESTABLISHED) {
      c->up = 1;
      break;
    }
    int64_t left = deadline - gs_mono_ms();
    if (left <= 0)
      return dev__fail(c->dev, GS_ETIMEOUT,
                       "coap: no DTLS handshake with %s:%d within %d ms (collector down or UDP "
                       "port %d blocked?)",
                       c->host, c->dev->coap_port, timeout_ms, c->dev->coap_port);
    if (coap_io_process(c->ctx, left < 100 ? (uint32_t)left : 100) < 0)
      return dev__fail(c->dev, GS_ENET, "coap: I/O error talking to %s:%d", c->host, c->dev->coap_port);
    if (c->s && coap_session_get_state(c->s) == COAP_SESSION_STATE_NONE) c->failed = 1;
  }
  if (!c->up) return handshake_failed(c);
  gs_debug("coap: DTLS session to %s:%d as %s established", c->host, c->dev->coap_port, c->dev->id);
  return GS_OK;
}

/* ---- requests ----------------------------------------------------------- */

static void release_copy(coap_session_t *s, void *p) {
  (void)s;
  gs_free(p);
}

/* The "error" member of a JSON error body, or "". */
static void body_error(const char *body, size_t len, char *out, size_t n) {
  cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
  snprintf(out, n, "%s", cJSON_IsString(e) ? e->valuestring : "");
  cJSON_Delete(j);
}

/* Waits while keeping the session serviced (after a 5.03). */
static void pause_ms(coapt *c, int64_t ms) {
  int64_t until = gs_mono_ms() + ms;
  for (int64_t left; (left = until - gs_mono_ms()) > 0;) coap_io_process(c->ctx, left < 100 ? (uint32_t)left : 100);
}

static int request(coapt *c, const char *path, int is_push, const char *doc, size_t len, gs_dev_accept_fn accept,
                   void *arg, int timeout_ms, char **reply, size_t *rlen) {
  int64_t deadline = gs_mono_ms() + timeout_ms;
  const char *what = is_push ? "ack" : "page";
  uint8_t tok[8], buf[4];
  size_t toklen = 0;
  *reply = NULL;
  *rlen = 0;
  if (!c->s || !c->up || c->failed) return dev__fail(c->dev, GS_ENET, "coap: not connected");
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(c->s),
                                  coap_session_max_pdu_size(c->s));
  char *copy = gs_malloc(len ? len : 1);
  if (!pdu || !copy) {
    coap_delete_pdu(pdu);
    gs_free(copy);
    return dev__fail(c->dev, GS_ENOMEM, "coap: out of memory building POST %s", path);
  }
  memcpy(copy, doc, len);
  coap_session_new_token(c->s, &toklen, tok);
  /* options in number order: Uri-Path (11), Content-Format (12), Accept (17) */
  int ok =
      coap_add_token(pdu, toklen, tok) && coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"v1") &&
      coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path), (const uint8_t *)path) &&
      coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(buf, sizeof(buf), COAP_FMT_JSON), buf) &&
      coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(buf, sizeof(buf), COAP_FMT_JSON), buf);
  /* Block1 when the body does not fit one PDU; libcoap frees the copy when
   * the transfer ends (or the session goes). */
  if (!ok || !coap_add_data_large_request(c->s, pdu, len, (const uint8_t *)copy, release_copy, copy)) {
    gs_free(copy); /* libcoap 4.3.1 calls release_copy only on success */
    coap_delete_pdu(pdu);
    return dev__fail(c->dev, GS_ENOMEM, "coap: cannot build POST /v1/%s (%zu bytes)", path, len);
  }
  c->waiting = 1;
  c->done = c->nacked = 0;
  c->code = c->max_age = 0;
  gs_free(c->body);
  c->body = NULL;
  if (coap_send(c->s, pdu) == COAP_INVALID_MID) {
    c->waiting = 0;
    return dev__fail(c->dev, GS_ENET, "coap: cannot send POST /v1/%s to %s:%d", path, c->host, c->dev->coap_port);
  }
  while (!c->done && !c->nacked && !c->failed) {
    int64_t left = deadline - gs_mono_ms();
    if (left <= 0) {
      c->waiting = 0;
      return dev__fail(c->dev, GS_ETIMEOUT, "coap: no %s for POST /v1/%s from %s:%d within %d ms", what, path, c->host,
                       c->dev->coap_port, timeout_ms);
    }
    if (coap_io_process(c->ctx, left < 100 ? (uint32_t)left : 100) < 0) {
      c->waiting = 0;
      return dev__fail(c->dev, GS_ENET, "coap: I/O error waiting for the %s of POST /v1/%s", what, path);
    }
  }
  c->waiting = 0;
  if (!c->done) {
    const char *why = c->nacked && c->nack == COAP_NACK_TOO_MANY_RETRIES ? "no answer after retransmissions"
                      : c->nacked && c->nack == COAP_NACK_RST            ? "reset by the collector"
                      : c->nacked && c->nack == COAP_NACK_ICMP_ISSUE     ? "ICMP error (port closed?)"
                                                                         : "DTLS session lost";
    return dev__fail(c->dev, GS_ENET, "coap: POST /v1/%s to %s:%d failed: %s%s%s", path, c->host, c->dev->coap_port,
                     why, last_dtls[0] ? "; " : "", last_dtls);
  }
  if (!c->body) return dev__fail(c->dev, GS_ENOMEM, "coap: out of memory keeping the %s", what);
  char ecode[64];
  unsigned cl = c->code / 100, dt = c->code % 100;
  gs_debug("coap: POST /v1/%s: %u.%02u, %zu bytes", path, cl, dt, c->blen);
  if (cl == 2) {
    if (!accept(c->body, c->blen, arg))
      return dev__fail(c->dev, GS_EPROTO, "coap: the %u.%02u answer to POST /v1/%s is not the expected %s: %.120s", cl,
                       dt, path, what, c->body);
    *reply = c->body;
    *rlen = c->blen;
    c->body = NULL;
    return GS_OK;
  }
  body_error(c->body, c->blen, ecode, sizeof(ecode));
  if (c->code == 503 || c->code == 408) {
    /* transient: nothing committed (5.03) or a stale fragment (4.08) */
    int64_t wait = c->code == 503 ? (c->max_age ? c->max_age : 1) * 1000LL : 0;
    int64_t left = deadline - gs_mono_ms();
    if (wait > BUSY_WAIT_MAX_S * 1000LL) wait = BUSY_WAIT_MAX_S * 1000LL;
    if (wait > left) wait = left;
    if (wait > 0) pause_ms(c, wait);
    return dev__fail(c->dev, GS_ENET, "coap: collector answered %u.%02u (%s) to POST /v1/%s; retry", cl, dt,
                     ecode[0] ? ecode : "transient", path);
  }
  if (c->code == 413 && is_push) {
    /* the body is over the collector's max_body_bytes: the same outcome as a
     * too_large ack, so the engine splits the batch */
    static const char tl[] =
        "{\"v\":1,\"error\":\"too_large\",\"detail\":\"coap 4.13: request body over max_body_bytes\"}";
    char *r = gs_strndup(tl, sizeof(tl) - 1);
    if (!r) return dev__fail(c->dev, GS_ENOMEM, "coap: out of memory");
    if (!accept(r, sizeof(tl) - 1, arg)) {
      gs_free(r);
      return dev__fail(c->dev, GS_EPROTO, "coap: collector answered 4.13 (too_large) to POST /v1/%s", path);
    }
    *reply = r;
    *rlen = sizeof(tl) - 1;
    return GS_OK;
  }
  if (c->code == 403)
    return dev__fail(c->dev, GS_EUNKNOWN_DEVICE,
                     "coap: collector answered 4.03 (%s) to POST /v1/%s: device %s is disabled, "
                     "unregistered or its certificate was revoked; ask an administrator",
                     ecode[0] ? ecode : "forbidden", path, c->dev->id);
  if (c->code == 401)
    return dev__fail(c->dev, GS_ETLS,
                     "coap: collector answered 4.01 (%s) to POST /v1/%s: it saw no verified device certificate",
                     ecode[0] ? ecode : "unauthorized", path);
  return dev__fail(c->dev, GS_EPROTO, "coap: collector answered %u.%02u (%s) to POST /v1/%s", cl, dt,
                   ecode[0] ? ecode : "no detail", path);
}

static int co_push(void *ctx, const char *doc, size_t len, gs_dev_accept_fn accept, void *arg, int timeout_ms,
                   char **reply, size_t *rlen) {
  return request(ctx, "up", 1, doc, len, accept, arg, timeout_ms, reply, rlen);
}

static int co_pull(void *ctx, const char *doc, size_t len, gs_dev_accept_fn accept, void *arg, int timeout_ms,
                   char **reply, size_t *rlen) {
  return request(ctx, "pull", 0, doc, len, accept, arg, timeout_ms, reply, rlen);
}

static void co_destroy(void *ctx) {
  coapt *c = ctx;
  if (!c) return;
  co_close(c);
  gs_free(c);
}

static const gs_dev_transport_ops coap_ops = {"coap", co_connect, co_push, co_pull, co_close, co_destroy};

int gs_dev_coap_transport(gs_dev *dev, gs_dev_transport *t) {
  t->ops = NULL;
  t->ctx = NULL;
  const char *host = dev->coap_host[0] ? dev->coap_host : dev->host;
  if (!host[0] || dev->coap_port <= 0)
    return dev__fail(dev, GS_ECONFIG, "%s/device.conf has no [coap] host and port (re-run init with --coap-port)",
                     dev->home);
  coapt *c = gs_calloc(1, sizeof(*c));
  if (!c) return dev__fail(dev, GS_ENOMEM, "out of memory");
  if (!lib_ready) {
    coap_startup();
    coap_set_log_handler(on_coap_log);
    coap_set_log_level(LOG_INFO);
    coap_dtls_set_log_level(LOG_INFO);
    lib_ready = 1;
  }
  c->dev = dev;
  snprintf(c->host, sizeof(c->host), "%s", host);
  snprintf(c->ca, sizeof(c->ca), "%s/ca.crt", dev->home);
  snprintf(c->crt, sizeof(c->crt), "%s/device.crt", dev->home);
  snprintf(c->key, sizeof(c->key), "%s/device.key", dev->home);
  t->ops = &coap_ops;
  t->ctx = c;
  return GS_OK;
}
