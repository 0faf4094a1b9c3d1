/* Wiring of the collector's optional modules: status publication and the
 * CoAP listener (built when libcoap-3-openssl is present: GS_HAVE_COAP). */
#include "gs_daemon.h"

#include "gs_error.h"
#include "gs_log.h"
#include "gs_statuspub.h"
#ifdef GS_HAVE_COAP
#include "gs_coap.h"

static void status_to_coap(void *ctx, const char *org, const char *json, size_t len) {
  gs_coap_status_changed(ctx, org, json, len);
}
#endif

int gs_daemon_ext_start(gs_daemon_ext *x, gs_loop *loop, gs_engine *e, gs_mqtt *m, const gs_config *cfg, char *err,
                        size_t errlen) {
  int rc;
#ifdef GS_HAVE_COAP
  if (cfg->coap_enabled && (rc = gs_coap_new(&x->coap, loop, e, cfg, err, errlen))) return rc;
#else
  if (cfg->coap_enabled) gs_warn("coap: enabled in the configuration but this build has no libcoap; not started");
#endif
  if (cfg->status_enabled && (rc = gs_statuspub_new(&x->status, loop, e, m, cfg, err, errlen))) return rc;
#ifdef GS_HAVE_COAP
  if (x->status && x->coap) gs_statuspub_set_listener(x->status, status_to_coap, x->coap);
#endif
  return GS_OK;
}

void gs_daemon_ext_reconfigure(gs_daemon_ext *x, const gs_config *cfg) {
  if (x->status) gs_statuspub_reconfigure(x->status, cfg);
#ifdef GS_HAVE_COAP
  if (x->coap) gs_coap_reconfigure(x->coap, cfg);
#endif
}

void gs_daemon_ext_stop(gs_daemon_ext *x) {
  gs_statuspub_free(x->status);
  x->status = NULL;
#ifdef GS_HAVE_COAP
  gs_coap_free(x->coap);
  x->coap = NULL;
#endif
}
