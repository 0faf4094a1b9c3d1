/* gs_statuspub.h - publishes status documents (docs/PROTOCOL.md, "Status").
 *
 * Retained QoS 1 on gs/v1/status/{org} for every org unit whose numbers
 * changed, at most once per publish interval (1 s by default) per unit; all
 * of them at start, after every broker reconnection and at day and period
 * rollovers. Time-driven numbers are refreshed every [status] refresh_s.
 * Each published document is also handed to an optional listener (the CoAP
 * module notifies its observers).
 */
#ifndef GS_STATUSPUB_H
#define GS_STATUSPUB_H

#include <stddef.h>

#include "gs_config.h"
#include "gs_engine.h"
#include "gs_loop.h"
#include "gs_mqtt.h"

typedef struct gs_statuspub gs_statuspub;
typedef void (*gs_statuspub_listener)(void *ctx, const char *org, const char *json, size_t len);

int gs_statuspub_new(gs_statuspub **out, gs_loop *loop, gs_engine *e, gs_mqtt *m, const gs_config *cfg, char *err,
                     size_t errlen);
void gs_statuspub_set_listener(gs_statuspub *p, gs_statuspub_listener cb, void *ctx);
void gs_statuspub_reconfigure(gs_statuspub *p, const gs_config *cfg);
void gs_statuspub_free(gs_statuspub *p);

#endif
