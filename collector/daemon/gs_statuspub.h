/* gs_statuspub.h - publishes status documents (docs/PROTOCOL.md, "Status")
 * to a list of outputs.
 *
 * Every org unit whose numbers changed, at most once per publish interval
 * (1 s by default) per unit; all of them at start, when an output asks for
 * them again (gs_statuspub_resync: the MQTT output after every broker
 * reconnection) and at day and period rollovers. Time-driven numbers are
 * refreshed every [status] refresh_s.
 *
 * The outputs are the transports with a status output (gs_transport.h,
 * publish_status): the MQTT adapter publishes retained on
 * gs/v1/status/{org}, the CoAP adapter keeps the document for
 * GET /v1/status/{org} and notifies its observers. Each output gets every
 * document whatever the others' state: a broker that is down does not stop
 * the CoAP notifications. Changes wait (the dirty flags are kept) only while
 * no output is connected.
 */
#ifndef GS_STATUSPUB_H
#define GS_STATUSPUB_H

#include <stddef.h>

#include "gs_config.h"
#include "gs_engine.h"
#include "gs_loop.h"
#include "gs_transport.h"

typedef struct gs_statuspub gs_statuspub;

/* Opens the status module on e and starts the publish timer. GS_OK or an
 * error with a one-line message in err. Free with gs_statuspub_free(). */
int gs_statuspub_new(gs_statuspub **out, gs_loop *loop, gs_engine *e, const gs_config *cfg, char *err, size_t errlen);
/* Adds t as an output (ignored when t has no publish_status). t must stay
 * valid until gs_statuspub_free(). GS_OK or GS_ENOMEM. */
int gs_statuspub_add_output(gs_statuspub *p, const gs_transport *t);
/* Publishes what is dirty now, to every output (after the outputs were
 * added at start, so that GET /v1/status/{org} answers from the first
 * request on). */
void gs_statuspub_publish_now(gs_statuspub *p);
/* Every document again at the next tick (an output lost what it held).
 * Signature of gs_transport_env.resync; ctx is the gs_statuspub. */
void gs_statuspub_resync(void *ctx);
void gs_statuspub_reconfigure(gs_statuspub *p, const gs_config *cfg);
/* NULL-safe. */
void gs_statuspub_free(gs_statuspub *p);

#endif
