/* gs_transport.c - the transports this build has (see gs_transport.h). The
 * one place that knows whether libcoap was found (GS_HAVE_COAP). */
#include "gs_transport.h"

#include "gs_log.h"
#include "gs_mqtt.h"
#ifdef GS_HAVE_COAP
#include "gs_coap.h"
#else
/* [coap] enabled in a build without libcoap: said once, not started. */
static int coap_missing(const gs_config *cfg) {
  if (cfg->coap_enabled) gs_warn("coap: enabled in the configuration but this build has no libcoap; not started");
  return 0;
}
static const gs_transport_ops gs_coap_transport = {.name = "coap", .enabled = coap_missing};
#endif

const gs_transport_ops *const gs_transports[] = {&gs_mqtt_transport, &gs_coap_transport, NULL};
