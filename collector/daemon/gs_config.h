/* gs_config.h - gs-collector's configuration file (INI, parsed with inih).
 *
 * Every key, its default and meaning is listed in docs/CONFIG.md and in
 * collector/gs-collector.conf.example. An unknown section or key, or a bad
 * value, is an error naming the key and the line.
 */
#ifndef GS_CONFIG_H
#define GS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define GS_CFG_STR 512

typedef struct gs_config {
  /* [store] */
  char db[GS_CFG_STR];
  int synchronous;    /* 0 off, 1 normal, 2 full, 3 extra */
  int group_max;      /* batches per transaction (group commit) */
  int checkpoint_ms;  /* background WAL checkpoint interval (0 = SQLite's automatic checkpoints) */
  int wal_restart_mb; /* WAL size past which the writer finishes a checkpoint and starts the WAL over */
  /* [mqtt] */
  char mqtt_host[GS_CFG_STR];
  int mqtt_port;
  char mqtt_cafile[GS_CFG_STR], mqtt_certfile[GS_CFG_STR], mqtt_keyfile[GS_CFG_STR];
  char mqtt_client_id[128];
  int mqtt_keepalive;
  int reconnect_min_ms, reconnect_max_ms;
  /* [limits] */
  int64_t max_batch_bytes, max_changes, max_field_bytes, max_skew_s, pull_limit_default, pull_limit_max;
  /* [status] */
  int status_enabled;
  char timezone[64];
  int care_days;
  int publish_interval_ms;
  int refresh_s;
  int heartbeat_s; /* republish every unit this often, so an idle unit's as_of stays fresh (0 = never) */
  /* [coap] */
  int coap_enabled;
  char coap_bind[64];
  int coap_port;
  char coap_cafile[GS_CFG_STR], coap_certfile[GS_CFG_STR], coap_keyfile[GS_CFG_STR], coap_crlfile[GS_CFG_STR];
  int coap_max_sessions, coap_idle_timeout_s;
  int64_t coap_max_body_bytes;
  /* [log] */
  int log_level;
} gs_config;

void gs_config_defaults(gs_config *c);
/* Parses path over the defaults. On error returns GS_ECONFIG with a message
 * "FILE:LINE: key 'k': what is wrong" in err. */
int gs_config_load(const char *path, gs_config *c, char *err, size_t errlen);

#endif
