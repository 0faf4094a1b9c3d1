/* rollup.h - the city rollup's state: the org tree, the last status document
 * of every input unit (a district root carried up by a broker bridge), and
 * the documents of the units above them (docs/PROTOCOL.md, "Status": a parent is the
 * sum of its children). No network here: gs-rollup's MQTT adapter feeds
 * messages in and publishes what gs_rollup_doc renders, so the unit tests
 * drive this module directly.
 *
 * Roles of the units of the tree (levels city > district > street > ...):
 *   owned  level above inputs_level: computed and published by the rollup;
 *   input  level == inputs_level and parent owned: read from the broker;
 *   other  below the inputs: passed through by the bridges, ignored here.
 *
 * Threading: one thread (the loop's).
 */
#ifndef GS_ROLLUP_H
#define GS_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "gs_buf.h"

typedef struct gs_rollup gs_rollup;

typedef struct gs_rollup_config {
  const char *db_path;      /* SQLite store holding the org tree (gs-admin org import), opened read-only */
  const char *inputs_level; /* level of the units the bridges carry up, e.g. "district" */
  int64_t stale_after_ms;   /* an input whose as_of is older than this (and whose link is not up) is stale */
  const char *timezone;     /* IANA zone of as_of and period (gs_tz.h); NULL or "" is the system's zone */
} gs_rollup_config;

/* Loads the time zone and the org tree. *out is freed with gs_rollup_free.
 * Errors: GS_EIO (the store cannot be opened), GS_ESTORE, GS_ECONFIG (an
 * unknown time zone, or no unit of inputs_level below an owned unit),
 * GS_ENOMEM; err gets one line saying what to do. */
int gs_rollup_new(gs_rollup **out, const gs_rollup_config *cfg, char *err, size_t errlen);
void gs_rollup_free(gs_rollup *r);

/* Input units (ids valid until gs_rollup_free): what the adapter subscribes to. */
size_t gs_rollup_inputs(const gs_rollup *r, const char *const **ids);
/* Owned units, parents before children. */
size_t gs_rollup_owned(const gs_rollup *r, const char *const **ids);

/* Feeds one message of topic gs/v1/status/{input} (a status document; an
 * empty payload clears it) or gs/v1/status/{input}/link ("1" or "0", the
 * bridge's connection state). Returns GS_OK when the message was used;
 * GS_ENOTFOUND when it is not about an input (the rollup's own units, units
 * below the inputs, unknown ids: ignored, which is also what keeps the
 * rollup from reading its own publications); GS_EBAD_JSON, GS_EBAD_VERSION
 * or GS_EBAD_REQUEST (org differs from the topic, bad link payload) when it
 * was refused, keeping the previous document. */
int gs_rollup_message(gs_rollup *r, const char *topic, const void *payload, size_t len, int64_t now_ms);

/* Renders the status document of owned unit `id` for time now_ms (as_of and
 * period in the configured time zone) and appends it to out. With
 * with_as_of == 0 the as_of member is left empty: the text then changes only
 * when a number, the period or the stale list changes (the debounce compares
 * it). GS_ENOTFOUND when id is not owned. */
int gs_rollup_doc(gs_rollup *r, const char *id, int64_t now_ms, int with_as_of, gs_buf *out);

/* Parses "YYYY-MM-DDTHH:MM:SS" followed by "Z" or "+HH:MM"/"-HH:MM" into ms
 * since the epoch. Returns 0 and sets *ms, or GS_EINVAL. */
int gs_rollup_parse_time(const char *s, int64_t *ms);

#endif
