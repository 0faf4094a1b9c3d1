/* gs_mqtt.h - the MQTT transport adapter of gs-collector (docs/PROTOCOL.md, "Sync over MQTT").
 *
 * Owns one libmosquitto client (mutual TLS, persistent session, QoS 1) in the
 * collector's event loop. Subscribes gs/v1/dev/+/up and gs/v1/dev/+/pull;
 * the device id is taken from the topic only (the broker's ACL, keyed on the
 * certificate CN, guarantees a device can publish only under its own id).
 * Batches that arrive together are applied in one transaction (group commit)
 * and each ack is published once that commit is durable (gs_acks.h).
 * Reconnects with exponential backoff when the broker goes away; after each
 * (re)connection every status document is published again (env->resync).
 * Status output: retained QoS 1 on gs/v1/status/{org} while connected.
 *
 * Used only through gs_transport_ops (gs_transport.h); start errors are
 * GS_ENOMEM or GS_ETLS (unreadable TLS files); connecting is retried, never
 * an error.
 */
#ifndef GS_MQTT_H
#define GS_MQTT_H

#include "gs_transport.h"

typedef struct gs_mqtt gs_mqtt;

/* Counters, logged at stop. */
typedef struct gs_mqtt_stats {
  unsigned long batches, pulls, acks, groups, dropped, reconnects;
} gs_mqtt_stats;

extern const gs_transport_ops gs_mqtt_transport;

#endif
