/* rollup_mqtt.h - gs-rollup's MQTT adapter: one mutual-TLS libmosquitto
 * client driven by the collector's poll loop (gs_loop), with backoff
 * reconnection. It subscribes to a fixed list of topics at every connection
 * and reports when the retained messages of that list have had time to
 * arrive ("ready"), so that the rollup never publishes sums made before it
 * heard from its children.
 *
 * Threading: the loop's thread only.
 */
#ifndef GS_ROLLUP_MQTT_H
#define GS_ROLLUP_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "gs_loop.h"

typedef struct gs_rmqtt gs_rmqtt;

typedef struct gs_rmqtt_config {
  const char *host;
  int port;
  const char *cafile, *certfile, *keyfile; /* all three: mutual TLS (the broker requires it) */
  const char *client_id;                   /* must equal the certificate's CN (broker plugin) */
  int keepalive;                           /* seconds */
  int settle_ms;                           /* after the last SUBACK, wait this long before "ready" */
} gs_rmqtt_config;

/* Called for every message received (topic and payload valid during the call). */
typedef void (*gs_rmqtt_message_cb)(void *ctx, const char *topic, const void *payload, size_t len);
/* Called once per connection when it becomes ready. */
typedef void (*gs_rmqtt_ready_cb)(void *ctx);

/* Creates the client; it connects from the loop. The config strings and the
 * topics array are copied. GS_ETLS when the TLS files cannot be used,
 * GS_ENOMEM. Free with gs_rmqtt_free (disconnects cleanly). */
int gs_rmqtt_new(gs_rmqtt **out, gs_loop *loop, const gs_rmqtt_config *cfg, const char *const *topics, size_t ntopics,
                 gs_rmqtt_message_cb on_message, gs_rmqtt_ready_cb on_ready, void *ctx, char *err, size_t errlen);
void gs_rmqtt_free(gs_rmqtt *m);
/* Connected, subscribed and settled. */
int gs_rmqtt_ready(const gs_rmqtt *m);
/* Publishes QoS 1, retained. GS_ENET when not connected, GS_ENOMEM. */
int gs_rmqtt_publish(gs_rmqtt *m, const char *topic, const void *payload, size_t len);

#endif
