/* gs_mqtt.h - the MQTT transport adapter of gs-collector (docs/PROTOCOL.md, "Sync over MQTT").
 *
 * Owns one libmosquitto client (mutual TLS, persistent session, QoS 1) in the
 * collector's event loop. Subscribes gs/v1/dev/+/up and gs/v1/dev/+/pull;
 * the device id is taken from the topic only (the broker's ACL, keyed on the
 * certificate CN, guarantees a device can publish only under its own id).
 * Batches that arrive together are applied in one transaction (group commit)
 * and each ack is published only after that commit. Reconnects with
 * exponential backoff when the broker goes away.
 */
#ifndef GS_MQTT_H
#define GS_MQTT_H

#include <stddef.h>

#include "gs_config.h"
#include "gs_engine.h"
#include "gs_loop.h"

typedef struct gs_mqtt gs_mqtt;

/* Creates the adapter and starts connecting (errors connecting are retried,
 * not returned). Returns GS_OK, GS_ENOMEM or GS_ETLS (unreadable TLS files). */
int gs_mqtt_new(gs_mqtt **out, gs_loop *loop, gs_engine *e, const gs_config *cfg, char *err, size_t errlen);
/* Flushes queued publishes for up to flush_ms, disconnects and frees. */
void gs_mqtt_free(gs_mqtt *m, int flush_ms);
/* Applies changed settings (SIGHUP); reconnects when broker or TLS settings changed. */
void gs_mqtt_reconfigure(gs_mqtt *m, const gs_config *cfg);
/* QoS 1 publish (retained or not). GS_ENET when not connected. */
int gs_mqtt_publish(gs_mqtt *m, const char *topic, const void *payload, size_t len, int retain);
int gs_mqtt_connected(const gs_mqtt *m);
/* Called after every successful (re)connection, e.g. to republish status. */
void gs_mqtt_on_connect(gs_mqtt *m, void (*cb)(void *ctx), void *ctx);
/* Counters for logs and tests. */
typedef struct gs_mqtt_stats {
  unsigned long batches, pulls, acks, groups, dropped, reconnects;
} gs_mqtt_stats;
gs_mqtt_stats gs_mqtt_get_stats(const gs_mqtt *m);

#endif
