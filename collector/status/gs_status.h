/* gs_status.h - status aggregates of every org unit (docs/PROTOCOL.md, "Status").
 *
 * Counts only, so a parent is the sum of its children. Maintained
 * incrementally through the engine's hooks inside each batch transaction:
 * the cost of a batch is (entities it writes) x (depth of the tree), never a
 * function of the database size. Time-driven numbers (overdue reports,
 * care-due households, devices active in 24 h) are refreshed by
 * gs_status_refresh() on a timer; "today" and "this period" are read for the
 * current day and month in the configured time zone, so rollovers need no
 * rewrite. gs_status_recount() rebuilds everything from the entities.
 *
 * Threading: the engine's thread only.
 */
#ifndef GS_STATUS_H
#define GS_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "gs_buf.h"
#include "gs_engine.h"
#include "gs_status_fields.h"

typedef struct gs_status gs_status;

typedef struct gs_status_config {
  const char *timezone; /* IANA name, e.g. "Asia/Shanghai", read from the zoneinfo database (gs_tz.h);
                           NULL or "" is the system's zone. The process's TZ is left alone. */
  int care_days;        /* a care household is due when not visited for this many days */
} gs_status_config;

/* Installs the engine hooks and loads the org tree. Free with gs_status_close
 * (which removes the hooks). GS_ECONFIG with err set for an unknown time zone. */
int gs_status_open(gs_status **out, gs_engine *e, const gs_status_config *cfg, char *err, size_t errlen);
void gs_status_close(gs_status *s);
void gs_status_set_care_days(gs_status *s, int days);

/* Recomputes the time-driven numbers for every org unit in one transaction;
 * units whose numbers changed become dirty. */
int gs_status_refresh(gs_status *s, int64_t now_ms);
/* Recomputes only devices_active_24h (cheap; after batches). */
int gs_status_refresh_devices(gs_status *s, int64_t now_ms);
/* Rebuilds every aggregate from the stored entities, then refreshes. */
int gs_status_recount(gs_status *s, int64_t now_ms);

/* The status document of org (JSON, appended to out). GS_ENOTFOUND for an unknown org. */
int gs_status_doc(gs_status *s, const char *org, int64_t now_ms, gs_buf *out);

/* Numbers of one org unit, for tables and tests: one member per row of
 * GS_STATUS_FIELDS (gs_status_fields.h), an array for a map row. */
#define GS_STATUS_NUM_C_(name, key, store, sums, head, width, dash)               int64_t name;
#define GS_STATUS_NUM_M_(name, key, SUBS, prefix, store, sums, head, width, dash) int64_t name[GS_STATUS_NSUBS(SUBS)];
typedef struct gs_status_numbers {
  GS_STATUS_FIELDS(GS_STATUS_NUM_C_, GS_STATUS_NUM_M_)
} gs_status_numbers;
int gs_status_numbers_of(gs_status *s, const char *org, int64_t now_ms, gs_status_numbers *n);

/* Org units whose numbers changed since the last call (ids valid until the
 * next call or close). Returns the count; *ids gets an internal array. */
size_t gs_status_take_dirty(gs_status *s, const char *const **ids);
/* Marks every org unit dirty (start, reconnect, day or period rollover). */
void gs_status_mark_all(gs_status *s);
/* Every org unit id, in tree order (parents before children). */
size_t gs_status_orgs(gs_status *s, const char *const **ids);
/* Children of org (or the roots when org is NULL); returns the count. */
size_t gs_status_children(gs_status *s, const char *org, const char **out, size_t max);

/* "2026-11" and "2026-11-23" of a time in the zone of the most recently
 * opened gs_status (UTC when none is open). */
void gs_status_period(int64_t ms, char out[8]);
void gs_status_day(int64_t ms, char out[11]);

#endif
