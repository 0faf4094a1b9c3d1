/* gs_coap.c - CoAP over DTLS transport (see gs_coap.h and docs/COAP.md).
 *
 * How the pieces fit (libcoap 4.3.1, openssl backend, OpenSSL 3):
 * - libcoap is built with epoll: coap_context_get_coap_fd() is one epoll fd
 *   that becomes readable for socket traffic and for libcoap's own timers
 *   (retransmissions, session timeouts). It is one fd of our poll loop; when
 *   it is readable we call coap_io_process(ctx, COAP_IO_NO_WAIT).
 * - Certificates: libcoap loads our certificate, key and CA per ClientHello
 *   (setup_pki_ssl) and sets X509_V_FLAG_CRL_CHECK when check_cert_revocation
 *   is on, but coap_dtls_pki_t of 4.3.1 has no CRL field and libcoap never
 *   loads a CRL. So additional_tls_setup_call_back (which gets the SSL* of the
 *   handshake) installs our own X509_STORE (CA + current CRL) as the SSL's
 *   verify store. The store is rebuilt when crl.pem changes; handshakes after
 *   that use the new one. allow_no_crl = 0: without a CRL no handshake passes.
 * - validate_cn_call_back runs (depth 0) only after OpenSSL verified the
 *   chain and the CRL; there we require a registered, enabled device and a
 *   free session slot.
 * - Requests are handled by gs_coapreq.c (resources, prologue checks,
 *   bodies, Block1/Block2, status documents), which knows nothing of DTLS:
 *   this file gives it the device identity through session_device(), which
 *   re-derives the id from the session's verified peer certificate (subject
 *   CN), never from the payload, and re-checks the certificate against the
 *   current CRL so a revocation also stops sessions established before it.
 * - Batches: after each round of libcoap I/O, run_coap() hands the batches
 *   that round queued to the engine in one transaction; their answers come
 *   back from the ack releaser (coap_deliver) once durable and leave as
 *   separate responses at the next round (kick), so the loop never waits.
 */
#include "gs_coap.h"
#include "gs_coapreq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <coap3/coap.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "gs_acks.h"
#include "gs_buf.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

#define CRL_CHECK_MS 2000 /* how often crl.pem's mtime is looked at */
#define CHAIN_DEPTH  2    /* device cert directly under the CA (+1 spare) */

struct gs_coap {
  gs_loop *loop;
  gs_engine *engine;
  gs_config cfg; /* paths must stay valid: libcoap keeps pointers to them */
  coap_context_t *ctx;
  int fd;
  int kick;    /* observers to notify: run libcoap before the next poll */
  int stopped; /* loop hooks cannot be removed; they check this */
  /* revocation */
  X509_STORE *verify_store; /* CA + CRL; NULL when the CRL could not be loaded */
  STACK_OF(X509_CRL) * crls;
  struct timespec crl_mtime;
  off_t crl_size;
  ino_t crl_ino;
  int64_t next_crl_check;
  gs_acks *acks;
  const gs_transport *t; /* this adapter, as the owner of its acks */
  gs_coapreq *req;       /* the request handlers */
  gs_coap_stats stats;   /* request counters are read from req */
};

/* ------------------------------------------------------------------------ */
/* logging and errors                                                        */

static void coap_log_to_gs(coap_log_t level, const char *message) {
  char line[512];
  size_t n = strlen(message);
  while (n && (message[n - 1] == '\n' || message[n - 1] == '\r')) n--;
  const char *m = message;
  while (n && *m == ' ') m++, n--;
  snprintf(line, sizeof line, "%.*s", (int)n, m);
  if (level <= LOG_ERR) gs_error("coap: libcoap: %s", line);
  else if (level == LOG_WARNING) gs_warn("coap: libcoap: %s", line);
  else if (level <= LOG_INFO) gs_info("coap: libcoap: %s", line);
  else gs_debug("coap: libcoap: %s", line);
}

static void set_coap_log_level(void) {
  coap_log_t l = gs_log_level() <= GS_LOG_DEBUG ? LOG_INFO : LOG_WARNING;
  coap_set_log_level(l);
  coap_dtls_set_log_level(l);
}

/* The last OpenSSL error as text (for one-line logs). */
static const char *ssl_err(char *buf, size_t n) {
  unsigned long e = ERR_get_error();
  if (!e) snprintf(buf, n, "no detail from OpenSSL");
  else ERR_error_string_n(e, buf, n);
  ERR_clear_error();
  return buf;
}

static const char *peer_str(coap_session_t *s) {
  const char *p = s ? coap_session_str(s) : NULL;
  return p ? p : "?";
}

/* ------------------------------------------------------------------------ */
/* certificates and revocation                                               */

/* Subject CN of x as a device id (exactly one CN, [a-z0-9-]{3,64}). */
static int cert_device(X509 *x, char dev[65]) {
  X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
  if (!name) return 0;
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0) return 0;
  ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  int len = s ? ASN1_STRING_length(s) : 0;
  const unsigned char *d = s ? ASN1_STRING_get0_data(s) : NULL;
  if (!d || len <= 0 || len > 64 || memchr(d, 0, (size_t)len)) return 0;
  memcpy(dev, d, (size_t)len);
  dev[len] = '\0';
  return gs_valid_device_id(dev);
}

/* 1 when x is listed in one of the loaded CRLs. */
static int cert_revoked(gs_coap *c, X509 *x) {
  for (int i = 0; c->crls && i < sk_X509_CRL_num(c->crls); i++) {
    X509_REVOKED *rev = NULL;
    if (X509_CRL_get0_by_cert(sk_X509_CRL_value(c->crls, i), &rev, x) == 1) return 1;
  }
  return 0;
}

/* Builds a verify store from the CA file and the CRL file. The CRLs must be
 * signed by one of the CAs. On success the old store is replaced. */
static int load_trust(gs_coap *c, char *err, size_t errlen) {
  X509_STORE *st = NULL;
  STACK_OF(X509) *cas = sk_X509_new_null();
  STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
  BIO *b = NULL;
  char e[256];
  int rc = GS_ETLS;
  if (!cas || !crls || !(st = X509_STORE_new())) {
    snprintf(err, errlen, "coap: out of memory building the certificate store");
    rc = GS_ENOMEM;
    goto out;
  }
  /* CA certificates */
  if (!(b = BIO_new_file(c->cfg.coap_cafile, "r"))) {
    snprintf(err, errlen, "coap: cannot read CA file '%s': %s", c->cfg.coap_cafile, ssl_err(e, sizeof e));
    goto out;
  }
  for (X509 *x; (x = PEM_read_bio_X509(b, NULL, NULL, NULL));) {
    if (!sk_X509_push(cas, x) || !X509_STORE_add_cert(st, x)) {
      snprintf(err, errlen, "coap: cannot use CA certificate from '%s': %s", c->cfg.coap_cafile, ssl_err(e, sizeof e));
      goto out;
    }
  }
  ERR_clear_error();
  BIO_free(b);
  b = NULL;
  if (sk_X509_num(cas) == 0) {
    snprintf(err, errlen, "coap: CA file '%s' holds no certificate", c->cfg.coap_cafile);
    goto out;
  }
  /* CRLs */
  if (!c->cfg.coap_crlfile[0]) {
    snprintf(err, errlen, "coap: [coap] crlfile is not set; the listener refuses to run without a CRL");
    rc = GS_ECONFIG;
    goto out;
  }
  if (!(b = BIO_new_file(c->cfg.coap_crlfile, "r"))) {
    snprintf(err, errlen, "coap: cannot read CRL file '%s': %s", c->cfg.coap_crlfile, ssl_err(e, sizeof e));
    goto out;
  }
  for (X509_CRL *crl; (crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL));) {
    if (!sk_X509_CRL_push(crls, crl)) {
      X509_CRL_free(crl);
      snprintf(err, errlen, "coap: out of memory reading '%s'", c->cfg.coap_crlfile);
      rc = GS_ENOMEM;
      goto out;
    }
  }
  ERR_clear_error();
  if (sk_X509_CRL_num(crls) == 0) {
    snprintf(err, errlen, "coap: CRL file '%s' holds no CRL (not PEM or truncated)", c->cfg.coap_crlfile);
    goto out;
  }
  for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
    X509_CRL *crl = sk_X509_CRL_value(crls, i);
    int ok = 0;
    for (int j = 0; j < sk_X509_num(cas) && !ok; j++) {
      X509 *ca = sk_X509_value(cas, j);
      ok = X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) == 0 &&
           X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
    }
    ERR_clear_error();
    if (!ok) {
      snprintf(err, errlen, "coap: CRL %d in '%s' is not signed by a CA of '%s'", i + 1, c->cfg.coap_crlfile,
               c->cfg.coap_cafile);
      goto out;
    }
    if (!X509_STORE_add_crl(st, crl)) {
      snprintf(err, errlen, "coap: cannot use the CRL of '%s': %s", c->cfg.coap_crlfile, ssl_err(e, sizeof e));
      goto out;
    }
  }
  /* leaf revocation (the CA is the trust anchor); no expired CRL either */
  X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
  X509_STORE_free(c->verify_store);
  c->verify_store = st;
  st = NULL;
  sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
  c->crls = crls;
  crls = NULL;
  rc = GS_OK;
out:
  BIO_free(b);
  X509_STORE_free(st);
  sk_X509_pop_free(cas, X509_free);
  sk_X509_CRL_pop_free(crls, X509_CRL_free);
  return rc;
}

static int crl_stat(gs_coap *c, struct stat *sb) { return stat(c->cfg.coap_crlfile, sb); }

static void remember_crl_stat(gs_coap *c, const struct stat *sb) {
  c->crl_mtime = sb->st_mtim;
  c->crl_size = sb->st_size;
  c->crl_ino = sb->st_ino;
}

/* Reloads the CRL when the file changed (or when the last load failed).
 * A changed file that does not load leaves NO verify store: handshakes fail
 * until a good CRL is in place (fail closed), sessions get 4.03. */
static void check_crl(gs_coap *c, int force) {
  struct stat sb;
  if (crl_stat(c, &sb) != 0) {
    if (c->verify_store) {
      gs_error("coap: CRL '%s' disappeared (%s); refusing every handshake until it is back", c->cfg.coap_crlfile,
               strerror(errno));
      X509_STORE_free(c->verify_store);
      c->verify_store = NULL;
    }
    return;
  }
  int changed = sb.st_mtim.tv_sec != c->crl_mtime.tv_sec || sb.st_mtim.tv_nsec != c->crl_mtime.tv_nsec ||
                sb.st_size != c->crl_size || sb.st_ino != c->crl_ino;
  if (!changed && !force && c->verify_store) return;
  char err[512];
  int rc = load_trust(c, err, sizeof err);
  remember_crl_stat(c, &sb);
  if (rc != GS_OK) {
    if (c->verify_store || changed) gs_error("%s; refusing every handshake until a valid CRL is in place", err);
    X509_STORE_free(c->verify_store);
    c->verify_store = NULL;
    return;
  }
  c->stats.crl_reloads++;
  int nrev = 0;
  for (int i = 0; i < sk_X509_CRL_num(c->crls); i++) {
    STACK_OF(X509_REVOKED) *r = X509_CRL_get_REVOKED(sk_X509_CRL_value(c->crls, i));
    nrev += r ? sk_X509_REVOKED_num(r) : 0;
  }
  gs_info("coap: reloaded CRL %s (%d revoked certificate(s)); new handshakes use it", c->cfg.coap_crlfile, nrev);
}

/* additional_tls_setup_call_back: called from libcoap's ClientHello callback
 * with the handshake's SSL*. Installs the CA+CRL store for peer verification. */
static int on_tls_setup(void *tls_session, coap_dtls_pki_t *setup) {
  gs_coap *c = setup->cn_call_back_arg;
  SSL *ssl = tls_session;
  if (!ssl || !c || c->stopped) return 0;
  if (!c->verify_store) {
    gs_warn("coap: handshake refused: no valid CRL loaded from %s (fail closed)", c->cfg.coap_crlfile);
    c->stats.handshakes_refused++;
    return 0;
  }
  if (!SSL_set1_verify_cert_store(ssl, c->verify_store)) {
    char e[256];
    gs_error("coap: handshake refused: cannot install the verify store: %s", ssl_err(e, sizeof e));
    c->stats.handshakes_refused++;
    return 0;
  }
  return 1;
}

/* validate_cn_call_back: called per chain depth after OpenSSL's checks
 * (incl. the CRL) passed. Depth 0 is the device certificate. */
static int on_validate_cn(const char *cn, const uint8_t *der, size_t der_len, coap_session_t *s, unsigned depth,
                          int validated, void *arg) {
  gs_coap *c = arg;
  char dev[65];
  (void)cn;
  if (!validated || !c || c->stopped) return 0;
  if (depth > 0) return 1; /* the CA: verified against our store */
  const unsigned char *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)der_len);
  int ok = x && cert_device(x, dev);
  X509_free(x);
  if (!ok) {
    gs_warn("coap: handshake from %s refused: certificate CN is not a device id", peer_str(s));
    c->stats.handshakes_refused++;
    return 0;
  }
  int en = gs_coapreq_device_enabled(c->engine, dev);
  if (en != 1) {
    gs_warn("coap: handshake from %s refused: device %s is %s", peer_str(s), dev,
            en == 0 ? "not registered or disabled" : "unknown (store error)");
    c->stats.handshakes_refused++;
    return 0;
  }
  if (c->stats.sessions > (unsigned)c->cfg.coap_max_sessions) {
    gs_warn("coap: handshake from %s (%s) refused: %u sessions, max_sessions is %d", peer_str(s), dev,
            c->stats.sessions, c->cfg.coap_max_sessions);
    c->stats.handshakes_refused++;
    return 0;
  }
  gs_debug("coap: device %s authenticated from %s", dev, peer_str(s));
  return 1;
}

static int on_event(coap_session_t *s, const coap_event_t ev) {
  gs_coap *c = coap_get_app_data(coap_session_get_context(s));
  if (!c) return 0;
  switch (ev) {
  case COAP_EVENT_SERVER_SESSION_NEW: c->stats.sessions++; break;
  case COAP_EVENT_SERVER_SESSION_DEL:
    if (c->stats.sessions) c->stats.sessions--;
    gs_coapreq_session_closed(c->req, s);
    break;
  case COAP_EVENT_DTLS_ERROR: gs_info("coap: DTLS error with %s; session dropped", peer_str(s)); break;
  default: break;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* identity of a request (gs_coapreq_identity_fn)                            */

/* The device of session s: the CN of its verified peer certificate, which
 * must not be revoked by the CRL loaded now. */
static gs_coapreq_id session_device(void *arg, coap_session_t *s, const char *what, char dev[65]) {
  gs_coap *c = arg;
  coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
  SSL *ssl = coap_session_get_tls(s, &lib);
  X509 *peer = (ssl && lib == COAP_TLS_LIBRARY_OPENSSL) ? SSL_get0_peer_certificate(ssl) : NULL;
  if (!peer || SSL_get_verify_result(ssl) != X509_V_OK || !cert_device(peer, dev)) {
    gs_warn("coap: %s from %s refused: no verified device certificate", what, peer_str(s));
    return GS_COAPREQ_ID_UNKNOWN;
  }
  if (!c->verify_store || cert_revoked(c, peer)) {
    gs_warn("coap: %s from %s (%s) refused: certificate revoked or no valid CRL", what, dev, peer_str(s));
    return GS_COAPREQ_ID_REFUSED;
  }
  return GS_COAPREQ_ID_OK;
}

/* ------------------------------------------------------------------------ */
/* loop integration                                                          */

/* One round of libcoap I/O, then the batches that round queued, applied in
 * one transaction (gs_coapreq_apply). Their answers (and those the ack
 * releaser delivered meanwhile) go out at the next round: kick. */
static void run_coap(gs_coap *c) {
  if (c->stopped || !c->ctx) return;
  if (coap_io_process(c->ctx, COAP_IO_NO_WAIT) < 0)
    gs_error("coap: libcoap I/O processing failed (%s); continuing", strerror(errno));
  gs_coapreq_apply(c->req);
  if (gs_coapreq_take_triggered(c->req)) c->kick = 1;
}

static void on_io(void *ctx, int fd, short re) {
  (void)fd, (void)re;
  run_coap(ctx);
}

static int64_t on_prepare(void *ctx) {
  gs_coap *c = ctx;
  /* sends pending Observe notifications and answers of deferred batches
   * (bounded: an answer made ready by the last round waits for the next
   * poll, whose timeout is then 0) */
  for (int i = 0; i < 4 && c->kick && !c->stopped; i++) {
    c->kick = 0;
    run_coap(c);
  }
  return c->kick ? 0 : -1;
}

static void on_timer(void *ctx) {
  gs_coap *c = ctx;
  if (c->stopped) return;
  run_coap(c); /* session timeouts, in case no fd event came */
  int64_t now = gs_mono_ms();
  if (now >= c->next_crl_check) {
    c->next_crl_check = now + CRL_CHECK_MS;
    check_crl(c, 0);
  }
}

/* ------------------------------------------------------------------------ */
/* setup                                                                     */

/* Fail closed at start: libcoap reads certificate and key only at the first
 * handshake, so check them here. */
static int check_own_cert(gs_coap *c, char *err, size_t errlen) {
  char e[256];
  int rc = GS_ETLS;
  SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());
  if (!ctx) {
    snprintf(err, errlen, "coap: out of memory creating a DTLS context");
    return GS_ENOMEM;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, c->cfg.coap_certfile) != 1)
    snprintf(err, errlen, "coap: cannot load certificate '%s': %s", c->cfg.coap_certfile, ssl_err(e, sizeof e));
  else if (SSL_CTX_use_PrivateKey_file(ctx, c->cfg.coap_keyfile, SSL_FILETYPE_PEM) != 1)
    snprintf(err, errlen, "coap: cannot load key '%s': %s", c->cfg.coap_keyfile, ssl_err(e, sizeof e));
  else if (SSL_CTX_check_private_key(ctx) != 1)
    snprintf(err, errlen, "coap: key '%s' does not match certificate '%s'", c->cfg.coap_keyfile, c->cfg.coap_certfile);
  else rc = GS_OK;
  SSL_CTX_free(ctx);
  return rc;
}

static int bind_address(const char *host, int port, coap_address_t *a) {
  struct addrinfo hints, *res = NULL;
  char ps[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  snprintf(ps, sizeof ps, "%d", port);
  if (getaddrinfo(host, ps, &hints, &res) != 0 || !res) return GS_ECONFIG;
  coap_address_init(a);
  a->size = (socklen_t)res->ai_addrlen;
  memcpy(&a->addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return GS_OK;
}

static void coap_stop(void *self);

static int coap_start(gs_transport *t, const gs_transport_env *env, const gs_config *cfg, char *err, size_t errlen) {
  int rc = GS_ENOMEM;
  coap_address_t addr;
  coap_dtls_pki_t pki;
  gs_loop *loop = env->loop;
  gs_coap *c = gs_calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "coap: out of memory");
    return GS_ENOMEM;
  }
  c->loop = loop;
  c->engine = env->engine;
  c->acks = env->acks;
  c->t = t;
  c->cfg = *cfg;
  c->fd = -1;
  coap_startup();
  coap_set_log_handler(coap_log_to_gs);
  set_coap_log_level();
  if (!coap_dtls_is_supported()) {
    snprintf(err, errlen, "coap: this libcoap has no DTLS support (install libcoap3 with openssl)");
    rc = GS_ETLS;
    goto fail;
  }
  if (!c->cfg.coap_cafile[0] || !c->cfg.coap_certfile[0] || !c->cfg.coap_keyfile[0]) {
    snprintf(err, errlen, "coap: [coap] cafile, certfile and keyfile must all be set");
    rc = GS_ECONFIG;
    goto fail;
  }
  if ((rc = check_own_cert(c, err, errlen)) != GS_OK) goto fail;
  if ((rc = load_trust(c, err, errlen)) != GS_OK) goto fail;
  struct stat sb;
  if (crl_stat(c, &sb) == 0) remember_crl_stat(c, &sb);
  if (bind_address(c->cfg.coap_bind, c->cfg.coap_port, &addr) != GS_OK) {
    snprintf(err, errlen, "coap: [coap] bind '%s' is not a numeric IPv4/IPv6 address", c->cfg.coap_bind);
    rc = GS_ECONFIG;
    goto fail;
  }
  rc = GS_ENOMEM;
  if (!(c->ctx = coap_new_context(NULL))) {
    snprintf(err, errlen, "coap: cannot create the libcoap context");
    goto fail;
  }
  coap_set_app_data(c->ctx, c);
  /* registers the resources and sets the block mode */
  gs_coapreq_config rc_cfg = {c->engine, c->cfg.coap_max_body_bytes, c->cfg.group_max, session_device, c, c->acks, t};
  if (gs_coapreq_new(&c->req, c->ctx, &rc_cfg) != GS_OK) {
    snprintf(err, errlen, "coap: out of memory adding resources");
    goto fail;
  }
  coap_context_set_session_timeout(c->ctx, (unsigned)c->cfg.coap_idle_timeout_s);
  coap_context_set_max_handshake_sessions(c->ctx, (unsigned)c->cfg.coap_max_sessions);
  coap_register_event_handler(c->ctx, on_event);

  memset(&pki, 0, sizeof pki);
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.verify_peer_cert = 1; /* client certificate required */
  pki.check_common_ca = 1;  /* ... issued by our CA (libcoap also sends the CA list) */
  pki.allow_self_signed = 0;
  pki.allow_expired_certs = 0;
  pki.cert_chain_validation = 1;
  pki.cert_chain_verify_depth = CHAIN_DEPTH;
  pki.check_cert_revocation = 1; /* X509_V_FLAG_CRL_CHECK; the CRL comes from on_tls_setup */
  pki.allow_no_crl = 0;          /* fail closed */
  pki.allow_expired_crl = 0;
  pki.allow_bad_md_hash = 0;
  pki.allow_short_rsa_length = 0;
  pki.validate_cn_call_back = on_validate_cn;
  pki.cn_call_back_arg = c;
  pki.additional_tls_setup_call_back = on_tls_setup;
  pki.pki_key.key_type = COAP_PKI_KEY_PEM;
  pki.pki_key.key.pem.ca_file = c->cfg.coap_cafile;
  pki.pki_key.key.pem.public_cert = c->cfg.coap_certfile;
  pki.pki_key.key.pem.private_key = c->cfg.coap_keyfile;
  if (!coap_context_set_pki(c->ctx, &pki)) {
    snprintf(err, errlen, "coap: libcoap refused the PKI setup (certificate %s, key %s, CA %s)", c->cfg.coap_certfile,
             c->cfg.coap_keyfile, c->cfg.coap_cafile);
    rc = GS_ETLS;
    goto fail;
  }
  if (!coap_new_endpoint(c->ctx, &addr, COAP_PROTO_DTLS)) {
    snprintf(err, errlen, "coap: cannot listen on udp %s:%d (coaps): see the libcoap message above", c->cfg.coap_bind,
             c->cfg.coap_port);
    rc = GS_ENET;
    goto fail;
  }
  c->fd = coap_context_get_coap_fd(c->ctx);
  if (c->fd < 0) {
    snprintf(err, errlen, "coap: libcoap was built without epoll; cannot join the event loop");
    rc = GS_EINTERNAL;
    goto fail;
  }
  /* hooks last: they cannot be unregistered */
  if (gs_loop_fd(loop, c->fd, POLLIN, on_io, c) != GS_OK) {
    snprintf(err, errlen, "coap: event loop is full");
    c->fd = -1;
    goto fail;
  }
  if (gs_loop_prepare(loop, on_prepare, c) != GS_OK || gs_loop_timer(loop, 1000, on_timer, c) != GS_OK) {
    /* the loop keeps pointers to c: leave c allocated but inert */
    snprintf(err, errlen, "coap: event loop has no free hook slot");
    gs_loop_fd_del(loop, c->fd);
    c->stopped = 1;
    coap_free_context(c->ctx);
    c->ctx = NULL;
    return GS_ENOMEM;
  }
  c->next_crl_check = gs_mono_ms() + CRL_CHECK_MS;
  gs_info("coap: listening on coaps://%s:%d (client certificates from %s, CRL %s, max_sessions %d, idle %d s, "
          "max_body_bytes %lld)",
          c->cfg.coap_bind, c->cfg.coap_port, c->cfg.coap_cafile, c->cfg.coap_crlfile, c->cfg.coap_max_sessions,
          c->cfg.coap_idle_timeout_s, (long long)c->cfg.coap_max_body_bytes);
  t->self = c;
  return GS_OK;
fail:
  coap_stop(c);
  return rc;
}

static void coap_reconfigure(void *self, const gs_config *cfg) {
  gs_coap *c = self;
  if (!c) return;
  if (strcmp(cfg->coap_bind, c->cfg.coap_bind) || cfg->coap_port != c->cfg.coap_port ||
      strcmp(cfg->coap_cafile, c->cfg.coap_cafile) || strcmp(cfg->coap_certfile, c->cfg.coap_certfile) ||
      strcmp(cfg->coap_keyfile, c->cfg.coap_keyfile) || strcmp(cfg->coap_crlfile, c->cfg.coap_crlfile) ||
      cfg->coap_enabled != c->cfg.coap_enabled)
    gs_warn("coap: [coap] enabled, bind, port and file paths take effect after a restart");
  c->cfg.coap_max_body_bytes = cfg->coap_max_body_bytes;
  c->cfg.group_max = cfg->group_max;
  gs_coapreq_set_limits(c->req, cfg->coap_max_body_bytes, cfg->group_max);
  c->cfg.coap_max_sessions = cfg->coap_max_sessions;
  c->cfg.coap_idle_timeout_s = cfg->coap_idle_timeout_s;
  if (c->ctx) {
    coap_context_set_session_timeout(c->ctx, (unsigned)cfg->coap_idle_timeout_s);
    coap_context_set_max_handshake_sessions(c->ctx, (unsigned)cfg->coap_max_sessions);
  }
  set_coap_log_level();
  check_crl(c, 0);
}

/* Status output: keeps the document for GET /v1/status/{org} and notifies
 * the resource's observers (sent by the next libcoap I/O). */
static int coap_publish_status(void *self, const char *org, const char *json, size_t len) {
  gs_coap *c = self;
  if (c->stopped || !c->ctx) return GS_ENET;
  if (gs_coapreq_status_changed(c->req, org, json, len)) c->kick = 1;
  return GS_OK;
}

/* The ack releaser's answer for a deferred POST /v1/up. */
static void coap_deliver(void *self, void *req, const char *device, gs_buf *reply, int status) {
  gs_coap *c = self;
  (void)device;
  gs_coapreq_deliver(c->req, req, reply, status);
  c->kick = 1;
}

static int coap_connected(const void *self) {
  const gs_coap *c = self;
  return !c->stopped && c->ctx != NULL;
}

static int coap_enabled(const gs_config *cfg) { return cfg->coap_enabled; }

static gs_coap_stats get_stats(const gs_coap *c) {
  gs_coap_stats s;
  memset(&s, 0, sizeof s);
  if (!c) return s;
  s = c->stats;
  gs_coapreq_stats r = gs_coapreq_get_stats(c->req);
  s.ups = r.ups;
  s.pulls = r.pulls;
  s.status_gets = r.status_gets;
  s.refused = r.refused;
  s.transient = r.transient;
  return s;
}

static void coap_stop(void *self) {
  gs_coap *c = self;
  if (!c) return;
  /* answers the ack releaser delivered at shutdown (gs_acks_flush) go out
   * once; libcoap drops what is still unacknowledged with the context */
  for (int i = 0; i < 4 && c->kick && c->ctx && !c->stopped; i++) {
    c->kick = 0;
    run_coap(c);
  }
  c->stopped = 1;
  if (c->fd >= 0) gs_loop_fd_del(c->loop, c->fd);
  c->fd = -1;
  if (c->ctx) {
    gs_coap_stats st = get_stats(c);
    gs_info("coap: stopping after %lu batches, %lu pulls, %lu status reads, %lu refused requests, %lu refused "
            "handshakes",
            st.ups, st.pulls, st.status_gets, st.refused, st.handshakes_refused);
    coap_free_context(c->ctx); /* resources (and their URIs) go with it */
  }
  c->ctx = NULL;
  gs_coapreq_free(c->req); /* after the context: its resources point into req */
  c->req = NULL;
  X509_STORE_free(c->verify_store);
  sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
  /* The loop may still hold c in its prepare/timer hooks (they cannot be
   * removed), so coap_stop() must only run after gs_loop_run() returned. */
  gs_free(c);
}

const gs_transport_ops gs_coap_transport = {
    .name = "coap",
    .enabled = coap_enabled,
    .start = coap_start,
    .reconfigure = coap_reconfigure,
    .connected = coap_connected,
    .deliver = coap_deliver,
    .publish_status = coap_publish_status,
    .stop = coap_stop,
};
