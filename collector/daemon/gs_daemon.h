/* gs_daemon.h - the collector's optional modules, started after the MQTT
 * transport: status publication (gs_statuspub) and the CoAP listener
 * (gs_coap). main.c knows only this interface. */
#ifndef GS_DAEMON_H
#define GS_DAEMON_H

#include <stddef.h>

#include "gs_config.h"
#include "gs_engine.h"
#include "gs_loop.h"
#include "gs_mqtt.h"

typedef struct gs_daemon_ext {
  struct gs_statuspub *status;
  struct gs_coap *coap;
} gs_daemon_ext;

int gs_daemon_ext_start(gs_daemon_ext *x, gs_loop *loop, gs_engine *e, gs_mqtt *m, const gs_config *cfg, char *err,
                        size_t errlen);
void gs_daemon_ext_reconfigure(gs_daemon_ext *x, const gs_config *cfg);
void gs_daemon_ext_stop(gs_daemon_ext *x);

#endif
