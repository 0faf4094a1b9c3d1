/* gs_transport.h - the one interface of the collector's server transports.
 *
 * The MQTT adapter (gs_mqtt.c) and the CoAP adapter (gs_coap.c) are two
 * implementations of gs_transport_ops over one engine that knows neither
 * (docs/ARCHITECTURE.md): main.c starts every transport of gs_transports[]
 * that the configuration enables, hands each the same environment (the
 * event loop, the engine, the ack releaser), and otherwise talks to them
 * only through these operations. Status documents go to every transport
 * that has a status output (gs_statuspub.h).
 *
 * A request that changed the store (a batch) is answered through the ack
 * releaser (gs_acks.h): the adapter queues the reply with the number of the
 * commit that holds the batch and gets it back through ops->deliver once
 * that commit is durable, so no adapter waits for an fsync on the loop
 * thread.
 *
 * Threading: everything runs on the loop thread.
 */
#ifndef GS_TRANSPORT_H
#define GS_TRANSPORT_H

#include <stddef.h>

#include "gs_buf.h"
#include "gs_config.h"
#include "gs_engine.h"
#include "gs_loop.h"

struct gs_acks;
typedef struct gs_transport gs_transport;

/* What every transport gets at start; must outlive the transport. */
typedef struct gs_transport_env {
  gs_loop *loop;
  gs_engine *engine;
  struct gs_acks *acks; /* the shared ack releaser (gs_acks.h) */
  /* A transport calls resync(resync_ctx) when the status documents it
   * published are gone (a fresh broker after a reconnection has no retained
   * messages): every document is published again. NULL when status is off. */
  void (*resync)(void *ctx);
  void *resync_ctx;
} gs_transport_env;

typedef struct gs_transport_ops {
  const char *name; /* "mqtt", "coap": for log lines */
  /* 1 when cfg asks for this transport. May log why not (e.g. not built). */
  int (*enabled)(const gs_config *cfg);
  /* Starts the transport and registers it with env->loop; on success sets
   * t->self (freed by stop). Errors: a gs_err with a one-line message in err;
   * then nothing of it is left running. t stays valid until stop (the
   * adapter hands it to gs_acks_add as the owner of its requests). */
  int (*start)(gs_transport *t, const gs_transport_env *env, const gs_config *cfg, char *err, size_t errlen);
  /* Applies a reloaded configuration (SIGHUP); what needs a restart is logged. */
  void (*reconfigure)(void *self, const gs_config *cfg);
  /* 1 when the transport can reach devices now (MQTT: connected to the
   * broker; CoAP: listening). */
  int (*connected)(const void *self);
  /* The reply to request req of device, queued with gs_acks_add(): status
   * GS_OK when its commit is durable (send it), otherwise the commit will
   * never be (GS_EIO: a failed WAL sync): answer as for a transient error
   * (MQTT: nothing, the device resends; CoAP: 5.03). The adapter may steal
   * reply's buffer; the caller frees what is left. */
  void (*deliver)(void *self, void *req, const char *device, gs_buf *reply, int status);
  /* Status output (docs/PROTOCOL.md, "Status"): org's document changed.
   * json is the caller's. GS_OK, or an error when it could not be handed on
   * now (the caller logs nothing for GS_ENET: not connected). NULL when the
   * transport has no status output. */
  int (*publish_status)(void *self, const char *org, const char *json, size_t len);
  /* Logs the counters, stops and frees self. After gs_loop_run() returned
   * and after gs_acks_flush(). NULL-safe for self. */
  void (*stop)(void *self);
} gs_transport_ops;

/* One running transport: its operations and their state. */
struct gs_transport {
  const gs_transport_ops *ops;
  void *self;
};

/* Every transport this build has, in the order they start (MQTT first: the
 * status outputs publish to it before CoAP), NULL-terminated. */
extern const gs_transport_ops *const gs_transports[];

#endif
