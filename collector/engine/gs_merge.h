/* gs_merge.h - per-field merge of a change into an entity (docs/PROTOCOL.md, "Data model").
 *
 * Pure: no SQLite, no I/O. The engine reads an entity's stored texts, hands
 * them here with a validated change, and writes back the texts this module
 * produces. Every field carries a version (hlc ms, counter, device); the
 * higher version wins the field (last writer wins, ties broken by the device
 * id bytewise, gs_ver_cmp). Every accepted write of a field is remembered in
 * the entity's history so that later writes can be checked for conflicts:
 * writes X and Y of one field conflict when X's version > Y's base and Y's
 * version > X's base, they come from different devices and carry different
 * values (gs_merge_conflict).
 *
 * Stored texts (all canonical JSON, gs_json.h):
 *   fields  {"field": value, ...}
 *   ver     {"field": [ms, counter, "device"], ...}
 *   hist    {"field": ["<entry>", ...], ...}   entries: gs_merge_hist_format
 * One encoder (gs_merge_apply) writes all three for a new entity and for a
 * merge alike, so both give the same bytes.
 *
 * Threading: a gs_merge is used by one thread.
 */
#ifndef GS_MERGE_H
#define GS_MERGE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "gs_hlc.h"
#include "gs_json.h"

/* Parses [ms, counter, "device"] (ms in 0..GS_HLC_MAX_MS, counter in
 * 0..GS_HLC_MAX_COUNTER, a valid device id) into v. Returns 1, or 0 (v left
 * as it was) when a is not such an array. */
int gs_merge_ver_parse(const cJSON *a, gs_ver *v);
/* Writes v as canonical JSON [ms,counter,"device"] into out (replaced). */
int gs_merge_ver_text(const gs_ver *v, gs_buf *out);

/* One accepted write of a field, as the history keeps it. */
typedef struct gs_merge_hist {
  gs_ver ver;      /* the writer's version of the field */
  gs_ver base;     /* the version the writer had seen (present 0: none) */
  char change[65]; /* change id */
  char vh[17];     /* FNV-1a of the value's canonical text, 16 hex digits */
} gs_merge_hist;

/* A history entry is one string (one JSON node, cheap to parse and print):
 *   "ms:c:dev:base_ms:base_c:base_dev:change:valhash"
 * base_dev is empty when the writer had no version of the field. Device and
 * change ids are [A-Za-z0-9_-], so ':' never occurs inside a part. */
#define GS_MERGE_HIST_MAX 288
/* Formats h into out (n >= GS_MERGE_HIST_MAX). Returns 1, or 0 when n is too
 * small or a part is longer than the ids the protocol admits. */
int gs_merge_hist_format(char *out, size_t n, const gs_merge_hist *h);
/* Parses an entry made by gs_merge_hist_format. Returns 1, or 0 when s is
 * not one (h is then undefined). */
int gs_merge_hist_parse(const char *s, gs_merge_hist *h);

/* 1 when writes x and y of one field conflict (the rule above; symmetric). */
int gs_merge_conflict(const gs_merge_hist *x, const gs_merge_hist *y);

/* A validated change, as the merge needs it (pointers owned by the caller). */
typedef struct gs_merge_change {
  const char *id;
  gs_ver ver;               /* the change's version (its device is the writer) */
  const cJSON *base;        /* field -> [ms, counter, "device"], or NULL */
  const cJSON *set;         /* field -> value: a non-empty object without repeated keys */
  const char *canon;        /* the change's canonical text (gs_json_canon_spans) */
  const gs_canon_spans *sp; /* where "set" and its values lie in canon */
} gs_merge_change;

/* An entity's stored texts (NUL-terminated canonical JSON). */
typedef struct gs_merge_stored {
  const char *fields, *ver, *hist;
} gs_merge_stored;

/* Called for every earlier write the change conflicts with, before the
 * change is merged: field, the change's value for it, and the earlier write.
 * Returns GS_OK or an error, which gs_merge_apply returns. */
typedef int (*gs_merge_conflict_fn)(void *ctx, const char *field, const cJSON *value, const gs_merge_hist *theirs);

/* What gs_merge_apply produced; valid until the next gs_merge_apply or
 * gs_merge_free on the same gs_merge. */
typedef struct gs_merge_result {
  const char *fields, *ver, *hist; /* the texts to store */
  size_t fields_len, ver_len, hist_len;
  int changed;        /* a field took the change's value: the entity's rev advances */
  const cJSON *after; /* the fields now, as an object (for the status hooks) */
  const char *grid;   /* the "grid" field now, or NULL when it is not a string */
} gs_merge_result;

typedef struct gs_merge gs_merge;
/* A merge context: scratch buffers kept across calls (no allocation per
 * change once warm). Free with gs_merge_free (NULL-safe). */
int gs_merge_new(gs_merge **out);
void gs_merge_free(gs_merge *m);
/* For tests: 0 sends new entities through the general path rather than the
 * direct one from the change's canonical spans (same bytes). Default 1. */
void gs_merge_set_fast_create(gs_merge *m, int on);

/* Merges c into the entity stored as st (NULL: a new entity). Conflicts are
 * reported through fn (may be NULL) before the result is made. Returns GS_OK,
 * GS_ENOMEM, GS_EINVAL when a stored text is not JSON, GS_EINTERNAL when a
 * history entry cannot be formatted, or fn's error. */
int gs_merge_apply(gs_merge *m, const gs_merge_change *c, const gs_merge_stored *st, gs_merge_conflict_fn fn, void *ctx,
                   gs_merge_result *res);

#endif
