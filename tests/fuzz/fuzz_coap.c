/* fuzz_coap.c - CoAP requests: libcoap's datagram parsing, message layer and
 * block-wise handling (Block2, its Block1 bookkeeping), our request handlers
 * (collector/daemon/gs_coapreq.c: prologue, Block1 bodies, respond, status
 * documents) and the engine behind them, without DTLS.
 *
 * One libcoap context per process gets the collector's handlers (with an
 * identity callback that says every session is dev-a, a registered, enabled
 * device of the fixture store) and status documents for g1 and c1 (the latter
 * needs Block2). Per input, a fresh plain UDP endpoint on 127.0.0.1 (a port
 * picked once) starts with no session: freeing the endpoint after the input
 * frees its session with the Block1/Block2 state (the handlers' Block1
 * bodies go with it through the event handler). An observer holds a
 * reference on its session that only deleting the resource drops, so after
 * an input with an Observe option the whole context is rebuilt instead (the
 * context's OpenSSL setup makes that the slow path, ~1 ms).
 *
 * The input is split at every "~~~~" into at most MAX_DGRAMS datagrams, sent
 * in order from one local UDP socket (one client session), so Block1
 * sequences, Block2 follow-ups and retransmissions (the same datagram twice)
 * are reachable. After each datagram libcoap runs while its epoll fd is
 * readable (at most PUMP_ROUNDS times, never waiting: loopback UDP is queued
 * by sendto itself, and the handlers answer synchronously), then every reply
 * is read.
 *
 * Invariants beyond "no crash, no leak, no hang":
 *  - every datagram the server sends is a CoAP PDU libcoap parses, with an
 *    empty (0.00) or response (2.xx, 4.xx, 5.xx) code, or the 7.03 Pong
 *    libcoap sends itself for a 7.02 Ping;
 *  - a datagram carrying Proxy-Uri, Proxy-Scheme or Hop-Limit, or a Block1
 *    block with the More flag, changes no row of the store
 *    (gs_engine_commits: no batch transaction committed).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "fuzz_common.h"
#include "gs_acks.h"
#include "gs_coapreq.h"
#include "gs_error.h"
#include "gs_transport.h"

#define SEP          "~~~~"
#define SEPLEN       4
#define MAX_DGRAMS   16
#define PUMP_ROUNDS  8
#define MAX_BODY     4096 /* small, so that a few Block1 blocks reach 4.13 */
#define DEVICE       "dev-a"
#define MAX_SESSIONS 4

static struct {
  gs_engine *engine;
  int trace;           /* GS_FUZZ_TRACE set: one line per datagram and reply on stderr */
  coap_context_t *ctx; /* the server: the collector's handlers, no DTLS */
  gs_coapreq *q;
  gs_acks *acks;                          /* the fixture's store syncs at COMMIT: acks come back at once */
  int cli;                                /* the client's UDP socket, bound once */
  struct sockaddr_in srv;                 /* where the endpoint listens */
  coap_session_t *sessions[MAX_SESSIONS]; /* server sessions of this input */
  size_t nsessions;
  char big_status[3000]; /* a status document that needs Block2 */
} g;

static void discard_log(coap_log_t level, const char *message) { (void)level, (void)message; }

/* The identity callback: every session is DEVICE. */
static gs_coapreq_id fixed_device(void *arg, coap_session_t *s, const char *what, char dev[65]) {
  (void)arg, (void)s, (void)what;
  memcpy(dev, DEVICE, sizeof DEVICE);
  return GS_COAPREQ_ID_OK;
}

/* The owner of the handlers' acks, as gs_coap.c is in the collector. */
static void deliver(void *self, void *req, const char *device, gs_buf *reply, int status) {
  (void)self, (void)device;
  gs_coapreq_deliver(g.q, req, reply, status);
}
static const gs_transport_ops fuzz_ops = {.name = "fuzz", .deliver = deliver};
static const gs_transport owner = {&fuzz_ops, NULL};

static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

/* A free UDP port on 127.0.0.1 (bound, read back, closed). */
static uint16_t free_port(void) {
  struct sockaddr_in a = loopback(0);
  socklen_t l = sizeof a;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
    perror("fuzz_coap: free port");
    abort();
  }
  close(fd);
  return ntohs(a.sin_port);
}

/* The context's event handler. libcoap reports a session it reaps (idle,
 * DTLS error) with SERVER_SESSION_DEL, as gs_coap.c relies on, but not one it
 * frees with its endpoint: the sessions of an input are remembered so that
 * their Block1 bodies are dropped before the endpoint goes. */
static int on_event(coap_session_t *s, const coap_event_t ev) {
  if (ev == COAP_EVENT_SERVER_SESSION_NEW) {
    fz_check(g.nsessions < MAX_SESSIONS, "one client socket makes few sessions", (const uint8_t *)"", 0);
    g.sessions[g.nsessions++] = s;
  } else if (ev == COAP_EVENT_SERVER_SESSION_DEL) {
    gs_coapreq_session_closed(g.q, s);
  }
  return 0;
}

static void sessions_closed(void) {
  for (size_t i = 0; i < g.nsessions; i++) gs_coapreq_session_closed(g.q, g.sessions[i]);
  g.nsessions = 0;
}

static void server_start(void) {
  static const char small[] = "{\"v\":1,\"org\":\"g1\",\"devices\":2,\"pending\":0}";
  gs_coapreq_config cfg = {g.engine, MAX_BODY, 16, fixed_device, NULL, g.acks, &owner};
  if (!(g.ctx = coap_new_context(NULL)) || gs_coapreq_new(&g.q, g.ctx, &cfg) != GS_OK) {
    fprintf(stderr, "fuzz_coap: cannot create the libcoap context\n");
    abort();
  }
  coap_register_event_handler(g.ctx, on_event);
  gs_coapreq_status_changed(g.q, "g1", small, sizeof small - 1);
  gs_coapreq_status_changed(g.q, "c1", g.big_status, strlen(g.big_status));
}

static void server_stop(void) {
  coap_free_context(g.ctx); /* first: its resources point into g.q */
  gs_coapreq_free(g.q);
  g.ctx = NULL;
  g.q = NULL;
}

static void teardown(void) {
  server_stop();
  gs_acks_free(g.acks);
  coap_cleanup();
  close(g.cli);
}

static void setup(void) {
  g.engine = fz_engine("coap.db");
  g.trace = getenv("GS_FUZZ_TRACE") != NULL;
  if (gs_acks_new(&g.acks, NULL, g.engine) != GS_OK) {
    fprintf(stderr, "fuzz_coap: cannot create the ack releaser\n");
    abort();
  }
  coap_startup();
  coap_set_log_handler(discard_log);
  coap_set_log_level(LOG_EMERG);
  coap_dtls_set_log_level(LOG_EMERG);
  struct sockaddr_in a = loopback(0);
  g.cli = socket(AF_INET, SOCK_DGRAM, 0);
  if (g.cli < 0 || bind(g.cli, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("fuzz_coap: client socket");
    abort();
  }
  g.srv = loopback(free_port());
  /* {"v":1,"org":"c1","items":[0,1,...]}: about three 1024-byte blocks */
  size_t n = (size_t)snprintf(g.big_status, sizeof g.big_status, "{\"v\":1,\"org\":\"c1\",\"items\":[0");
  for (int i = 1; n < sizeof g.big_status - 16; i++)
    n += (size_t)snprintf(g.big_status + n, sizeof g.big_status - n, ",%d", i);
  snprintf(g.big_status + n, sizeof g.big_status - n, "]}");
  server_start();
  atexit(teardown);
}

/* The endpoint of one input, listening at g.srv. */
static coap_endpoint_t *endpoint(void) {
  for (int attempt = 0; attempt < 20; attempt++) {
    coap_address_t addr;
    coap_address_init(&addr);
    addr.size = sizeof g.srv;
    memcpy(&addr.addr.sin, &g.srv, sizeof g.srv);
    coap_endpoint_t *ep = coap_new_endpoint(g.ctx, &addr, COAP_PROTO_UDP);
    if (ep) return ep;
    g.srv = loopback(free_port()); /* someone took the port meanwhile */
  }
  fprintf(stderr, "fuzz_coap: cannot bind a UDP endpoint on 127.0.0.1\n");
  abort();
}

/* Runs libcoap while it has something to do, without waiting, bounded, each
 * round followed by the batches it queued, as gs_coap.c does. A batch's
 * answer (a separate response) goes out at the round after the one that
 * applied it. */
static void pump(void) {
  struct pollfd p = {coap_context_get_coap_fd(g.ctx), POLLIN, 0};
  int triggered = 0;
  for (int i = 0; i < PUMP_ROUNDS && (triggered || poll(&p, 1, 0) > 0); i++) {
    coap_io_process(g.ctx, COAP_IO_NO_WAIT);
    gs_coapreq_apply(g.q);
    triggered = gs_coapreq_take_triggered(g.q);
  }
}

/* Reads every pending reply and checks it. */
static void drain(const uint8_t *data, size_t size) {
  static uint8_t buf[65536];
  ssize_t r;
  while ((r = recv(g.cli, buf, sizeof buf, MSG_DONTWAIT)) >= 0) {
    coap_pdu_t *pdu = coap_pdu_init(0, 0, 0, (size_t)r + 16);
    fz_check(pdu != NULL, "coap_pdu_init for a reply", data, size);
    fz_check(coap_pdu_parse(COAP_PROTO_UDP, buf, (size_t)r, pdu) == 1, "every reply is a parseable CoAP PDU", data,
             size);
    unsigned code = coap_pdu_get_code(pdu), cls = code >> 5;
    if (g.trace) {
      size_t dl = 0;
      const uint8_t *dd = NULL;
      coap_get_data(pdu, &dl, &dd);
      coap_block_t b1 = {0, 0, 0}, b2 = {0, 0, 0};
      int h1 = coap_get_block(pdu, COAP_OPTION_BLOCK1, &b1), h2 = coap_get_block(pdu, COAP_OPTION_BLOCK2, &b2);
      fprintf(stderr, "  <- type %d code %u.%02u mid %u", (int)coap_pdu_get_type(pdu), cls, code & 31,
              (unsigned)coap_pdu_get_mid(pdu));
      if (h1) fprintf(stderr, ", Block1 %u/%u/%u", b1.num, (unsigned)b1.m, 16u << b1.szx);
      if (h2) fprintf(stderr, ", Block2 %u/%u/%u", b2.num, (unsigned)b2.m, 16u << b2.szx);
      fprintf(stderr, ", %zu bytes: %.*s\n", dl, (int)(dl > 80 ? 80 : dl), dd ? (const char *)dd : "");
    }
    /* class 7 is signalling (RFC 8323): libcoap answers a 7.02 Ping with a
     * 7.03 Pong itself, over UDP too (found by this target: harmless) */
    fz_check(code == 0 || cls == 2 || cls == 4 || cls == 5 || code == COAP_SIGNALING_CODE_PONG,
             "a reply has an empty, response or Pong code", data, size);
    /* a confirmable reply (a separate response) is acknowledged, as a
     * client does, so that it does not wait in libcoap's send queue */
    if (coap_pdu_get_type(pdu) == COAP_MESSAGE_CON) {
      coap_mid_t mid = coap_pdu_get_mid(pdu);
      uint8_t ack[4] = {0x60, 0, (uint8_t)(mid >> 8), (uint8_t)mid}; /* version 1, ACK, no token, 0.00 */
      (void)!sendto(g.cli, ack, sizeof ack, 0, (struct sockaddr *)&g.srv, sizeof g.srv);
    }
    coap_delete_pdu(pdu);
  }
}

/* What the server will see in a datagram (parsed the way it parses it). */
typedef struct dgram_info {
  int proxy;    /* Proxy-Uri, Proxy-Scheme or Hop-Limit */
  int observe;  /* an Observe option */
  int fragment; /* Block1 with the More flag: not the end of a body */
} dgram_info;

static dgram_info inspect(const uint8_t *d, size_t n) {
  coap_pdu_t *pdu = coap_pdu_init(0, 0, 0, n + 16);
  coap_opt_iterator_t it;
  coap_block_t b1;
  dgram_info i = {0, 0, 0};
  if (pdu && coap_pdu_parse(COAP_PROTO_UDP, d, n, pdu) == 1) {
    i.proxy = coap_check_option(pdu, COAP_OPTION_PROXY_URI, &it) ||
              coap_check_option(pdu, COAP_OPTION_PROXY_SCHEME, &it) ||
              coap_check_option(pdu, COAP_OPTION_HOP_LIMIT, &it);
    i.observe = coap_check_option(pdu, COAP_OPTION_OBSERVE, &it) != NULL;
    i.fragment = coap_get_block(pdu, COAP_OPTION_BLOCK1, &b1) && b1.m;
  }
  coap_delete_pdu(pdu);
  return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g.engine) setup();
  coap_endpoint_t *ep = endpoint();
  int observed = 0;
  size_t off = 0;
  for (int i = 0; i < MAX_DGRAMS && off <= size; i++) {
    const uint8_t *d = data + off;
    const uint8_t *sep = size - off >= SEPLEN ? memmem(d, size - off, SEP, SEPLEN) : NULL;
    size_t len = sep ? (size_t)(sep - d) : size - off;
    off += len + SEPLEN;
    if (len == 0 && !sep && i > 0) break; /* nothing after the last separator */
    dgram_info in = inspect(d, len);
    observed |= in.observe;
    uint64_t before = gs_engine_commits(g.engine);
    if (g.trace)
      fprintf(stderr, "-> datagram %d: %zu bytes%s%s\n", i, len, in.proxy ? " (proxy option)" : "",
              in.fragment ? " (Block1, more)" : "");
    if (sendto(g.cli, len ? (const void *)d : "", len, 0, (struct sockaddr *)&g.srv, sizeof g.srv) < 0 &&
        errno != EMSGSIZE) {
      perror("fuzz_coap: sendto");
      abort();
    }
    pump();
    drain(data, size);
    if (in.proxy)
      fz_check(gs_engine_commits(g.engine) == before, "nothing stored for a request with a proxy option", data, size);
    if (in.fragment)
      fz_check(gs_engine_commits(g.engine) == before, "nothing stored for a Block1 block with more to come", data, size);
  }
  pump(); /* the acknowledgements of separate responses */
  drain(data, size);
  sessions_closed();
  /* A confirmable message the server sent itself (libcoap answers a 7.02
   * Ping with a CON 7.03 Pong, even over UDP) waits in the context's send
   * queue holding a reference on the session: freeing only the endpoint
   * would trip libcoap's assertion. coap_free_context() drops the queue
   * first, as the collector's own shutdown does. */
  /* A batch whose answer is still deferred holds its session too (libcoap's
   * async state): only freeing the context drops it. */
  if (observed || !coap_can_exit(g.ctx) || gs_coapreq_deferred(g.q) > 0) {
    server_stop(); /* frees ep and the observers and queued messages with it */
    server_start();
  } else {
    coap_free_endpoint(ep);
  }
  drain(data, size); /* anything libcoap sent while closing */
  return 0;
}
