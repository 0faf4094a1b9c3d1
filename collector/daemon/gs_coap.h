/* gs_coap.h - the CoAP transport of gs-collector (docs/PROTOCOL.md, "Sync over CoAP",
 * docs/COAP.md).
 *
 * A coaps:// (DTLS 1.2, PKI) listener on libcoap 4.3 (openssl flavour) that
 * runs inside the collector's single poll loop: libcoap's epoll descriptor is
 * one more fd of the gs_loop, so the engine and the store are only ever
 * touched by the loop thread.
 *
 *   POST /v1/up            change batch  -> 2.04 Changed + ack (a separate response,
 *                                           once the commit is durable)
 *   POST /v1/pull          pull request  -> 2.05 Content + down page
 *   GET  /v1/status/{org}  2.05 Content + the org's status document, Observe
 *
 * The device id is the CN of the client certificate, verified against
 * [coap] cafile with revocation checked against [coap] crlfile (reloaded
 * when the file changes). Nothing in a payload names the device.
 *
 * Threading: every function must be called from the loop thread.
 */
#ifndef GS_COAP_H
#define GS_COAP_H

#include <stddef.h>
#include <stdint.h>

#include "gs_transport.h"

struct gs_coap;
typedef struct gs_coap gs_coap;

typedef struct gs_coap_stats {
  unsigned long ups;                /* POST /v1/up answered with an ack */
  unsigned long pulls;              /* POST /v1/pull answered with a page */
  unsigned long status_gets;        /* GET /v1/status/{org} answered (incl. notifications) */
  unsigned long refused;            /* requests refused with a 4.xx/5.xx by our handlers */
  unsigned long transient;          /* 5.03: nothing committed, device retries */
  unsigned long handshakes_refused; /* unknown/disabled device, over max_sessions, no CRL */
  unsigned long crl_reloads;        /* CRL loads after the first */
  unsigned sessions;                /* server sessions alive now */
} gs_coap_stats;

/* The CoAP transport (gs_transport.h), enabled by [coap] enabled.
 *
 * start: the listener on [coap] bind:port with the [coap] certificate, key,
 * CA and CRL. Fails closed: a missing or unreadable certificate, key, CA or
 * CRL, a CRL not signed by the CA, or a port that cannot be bound is an
 * error (GS_ETLS, GS_ECONFIG, GS_ENET or GS_ENOMEM) with a one-line message
 * in err; nothing is left registered in the loop.
 * reconfigure: max_body_bytes, max_sessions, idle_timeout_s and [store]
 * group_max take effect at once; bind, port and certificate paths need a
 * restart (a warning says so). Also re-checks the CRL file now.
 * deliver: the answer of a deferred POST /v1/up (gs_coapreq.h).
 * publish_status: keeps a copy of the latest document per org (for
 * GET /v1/status/{org}) and notifies the observers of /v1/status/{org}.
 * stop: sends the answers made ready at shutdown once, stops listening,
 * drops every session and frees. */
extern const gs_transport_ops gs_coap_transport;

#endif
