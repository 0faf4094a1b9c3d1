/* gs_store.h - the server's SQLite store: the only code that speaks SQL to
 * the server's tables (schema/migrations).
 *
 * One writer (the collector's event loop, or one admin tool). WAL mode,
 * synchronous FULL by default. Migrations from schema/migrations are applied
 * at open, each in one transaction; a database newer than this binary is
 * refused (GS_ETOO_NEW).
 *
 * The functions are grouped by the tables they serve, one file each:
 *   gs_store.c         open, migrations, transactions, meta
 *   gs_store_device.c  the device registry as the transports and the engine read it
 *   gs_store_sync.c    change log, entities, watermarks, conflicts, skew log, pulls (the engine)
 *   gs_store_status.c  the status tables (collector/status)
 *   gs_store_admin.c   what gs-admin, the CoAP handlers and the tools read and write
 * Internals (the statement cache, the raw handle) are in gs_store_int.h,
 * which only the files of this folder include.
 *
 * Errors: every function returns GS_OK or a gs_err (gs_error.h); SQLite's code
 * and message are logged where they are translated. Threading: a gs_store is
 * used by one thread.
 */
#ifndef GS_STORE_H
#define GS_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct gs_store gs_store;

/* How long a statement waits for another connection's lock (busy handler). */
#define GS_STORE_BUSY_MS 5000

/* ---- gs_store.c ---------------------------------------------------------- */

/* Opens (creating and migrating) the store at path. synchronous: 0 OFF,
 * 1 NORMAL, 2 FULL, 3 EXTRA. Returns GS_OK or an error with a one-line message
 * in err. *out is freed with gs_store_close() (NULL-safe). */
int gs_store_open(gs_store **out, const char *path, int synchronous, char *err, size_t errlen);
void gs_store_close(gs_store *s);
/* The path the store was opened with (valid until close). */
const char *gs_store_path(const gs_store *s);
/* Opens the store at path read-only, neither creating nor migrating it (for
 * gs-rollup, which only reads the org tree). Free with gs_store_close(). */
int gs_store_open_readonly(gs_store **out, const char *path, char *err, size_t errlen);
/* SQLite's message for the last failed call on s, for the one-line error an
 * administrator reads (owned by SQLite; valid until the next call on s). */
const char *gs_store_errmsg(gs_store *s);
/* The PRAGMA synchronous the store's connection runs at (0 OFF .. 3 EXTRA):
 * what gs_store_open() set, or NORMAL under the engine's WAL sync thread. A
 * setting of this connection, which another connection cannot read. */
int gs_store_synchronous(gs_store *s, int *level);
/* Highest migration version this binary knows. */
int gs_store_schema_version(void);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback is a no-op outside a transaction).
 * Commit and rollback first end every read (gs_store_end_reads). */
int gs_store_begin(gs_store *s);
int gs_store_commit(gs_store *s);
void gs_store_rollback(gs_store *s);
/* Resets every cached statement. A SELECT stepped to a row but not to its
 * end keeps the connection reading: SQLite then skips the checkpoint it runs
 * at COMMIT (the WAL only grows), and between transactions the snapshot holds
 * other connections' checkpoints back. Called by commit and rollback; call it
 * after reads outside a transaction (a pull). */
void gs_store_end_reads(gs_store *s);
/* meta(key, value) integers; a missing key reads 0. */
int gs_store_meta_get(gs_store *s, const char *key, int64_t *v);

/* ---- gs_store_device.c --------------------------------------------------- */

/* The registry row of a device: GS_OK with *enabled (0/1) and *acked_seq
 * (the seq watermark), GS_ENOTFOUND when the device is not registered. */
int gs_store_device_get(gs_store *s, const char *device, int *enabled, int64_t *acked_seq);
/* 1 when device may write grid, 0 when not; < 0 is a negated gs_err. */
int gs_store_device_has_grid(gs_store *s, const char *device, const char *grid);

/* ---- gs_store_sync.c (the engine) ---------------------------------------- */
/* The engine's tables (docs/PROTOCOL.md, "Data model" and "Sync over MQTT").
 * Every function is meant to run inside the engine's transaction
 * (gs_store_begin .. gs_store_commit), except gs_store_entity_pull. Pointers
 * passed in are only read during the call (SQLite binds them static). Writes
 * return GS_EINTERNAL for a constraint violation: the engine checks keys
 * first, so one is a bug. */
#include "gs_buf.h"

/* A text that is not NUL-terminated: p[0..len). */
typedef struct gs_store_text {
  const char *p;
  size_t len;
} gs_store_text;

/* Looks change id up in the change log. GS_OK when found, with *same (1 when
 * its stored digest is digest), *status (0 applied, else the gs_err it was
 * rejected with) and its detail copied into detail[0..dl) ("" when none);
 * GS_ENOTFOUND when the id is new; else an error. */
int gs_store_change_find(gs_store *s, const char *id, const unsigned char digest[32], int *same, int *status,
                         char *detail, size_t dl);

/* One row of the change log. NULL / 0 members are stored as NULL: seq <= 0,
 * type, entity, detail; the hlc when has_hlc is 0. */
typedef struct gs_store_change {
  const char *id, *device;
  int64_t seq;
  const char *type, *entity;
  int has_hlc;
  int64_t hlc_ms;
  int32_t hlc_c;
  int clamped;
  const unsigned char *digest; /* 32 bytes */
  int status;                  /* 0 applied, else the rejection's gs_err */
  const char *detail;
  int64_t received_ms;
  const char *body; /* the canonical change, body_len bytes */
  size_t body_len;
} gs_store_change;
int gs_store_change_put(gs_store *s, const gs_store_change *c);
/* The stored body (canonical text) of change id into body (replaced; the
 * caller owns and frees the buffer). GS_ENOTFOUND when there is none. */
int gs_store_change_body(gs_store *s, const char *id, gs_buf *body);

/* An entity row as stored; the buffers belong to the caller, who keeps them
 * across calls (their capacity is reused) and frees them with gs_buf_free. */
typedef struct gs_store_entity {
  int64_t rowid;
  int64_t rev;
  gs_buf grid, fields, ver, hist; /* NUL-terminated texts */
} gs_store_entity;
/* Reads entity (type, id) into e. GS_OK, GS_ENOTFOUND, or an error. */
int gs_store_entity_get(gs_store *s, const char *type, const char *id, gs_store_entity *e);
int gs_store_entity_insert(gs_store *s, const char *type, const char *id, const char *grid, int64_t rev,
                           const gs_store_text *fields, const gs_store_text *ver, const gs_store_text *hist);
/* rowid: from gs_store_entity_get in the same transaction. */
int gs_store_entity_update(gs_store *s, int64_t rowid, const char *grid, int64_t rev, const gs_store_text *fields,
                           const gs_store_text *ver, const gs_store_text *hist);

/* One entity of a pull; the pointers are valid during the callback only. */
typedef struct gs_store_pull_row {
  const char *type, *id;
  int64_t rev;
  gs_store_text fields, ver; /* stored canonical JSON */
} gs_store_pull_row;
/* A pull callback returns GS_OK for the next row, GS_STORE_STOP to end the
 * pull without an error, or an error that gs_store_entity_pull returns. */
#define GS_STORE_STOP (-1)
typedef int (*gs_store_pull_fn)(void *ctx, const gs_store_pull_row *r);
/* Calls fn for up to limit entities of device's grids with rev > since, in
 * rev order. Runs outside a transaction (one statement, one snapshot). */
int gs_store_entity_pull(gs_store *s, const char *device, int64_t since, int64_t limit, gs_store_pull_fn fn, void *ctx);

/* Sets the device's seq watermark and last-seen time. */
int gs_store_device_seen(gs_store *s, const char *device, int64_t acked_seq, int64_t now_ms);
/* Early seqs (above the watermark + 1): add one; take one out (*taken 1 when
 * it was there); *any 1 when the device has any. */
int gs_store_seq_add(gs_store *s, const char *device, int64_t seq);
int gs_store_seq_take(gs_store *s, const char *device, int64_t seq, int *taken);
int gs_store_seq_any(gs_store *s, const char *device, int *any);

/* Saves the engine's rev and server HLC in meta (read back with
 * gs_store_meta_get: "rev", "hlc_ms", "hlc_c"). */
int gs_store_sync_meta_save(gs_store *s, int64_t rev, int64_t hlc_ms, int64_t hlc_c);

/* A conflict between two writes of one field; side[0] is the write whose
 * change id sorts first (a row is the same whichever came second). value is
 * canonical JSON text or NULL (unknown). */
typedef struct gs_store_conflict {
  const char *type, *entity, *field;
  struct {
    const char *change, *device, *ver, *value;
  } side[2];
  const char *winner; /* change id */
  int64_t logged_ms;
} gs_store_conflict;
int gs_store_conflict_add(gs_store *s, const gs_store_conflict *c);
/* Logs a change whose hlc was clamped (too far ahead of server_ms). */
int gs_store_skew_log(gs_store *s, const char *change, const char *device, int64_t hlc_ms, int64_t server_ms,
                      int64_t logged_ms);

/* Turns SQLite's automatic checkpoints off (the background checkpointer of
 * gs_checkpoint.h runs them). */
int gs_store_wal_autocheckpoint_off(gs_store *s);
/* gs_checkpointer_writer_turn() with the store's connection (NULL-safe c). */
struct gs_checkpointer;
void gs_store_writer_turn(gs_store *s, struct gs_checkpointer *c);

/* ---- gs_store_status.c (collector/status) -------------------------------- */

/* The status aggregates (docs/PROTOCOL.md, "Status"). The writes run inside
 * the caller's transaction (the engine's batch, or gs_store_status_begin_wait).
 * Strings are borrowed for the call. Every function returns GS_OK or a gs_err. */

/* BEGIN IMMEDIATE waiting at most wait_ms for another connection's write
 * lock (then GS_EBUSY); finish with gs_store_commit / gs_store_rollback. */
int gs_store_status_begin_wait(gs_store *s, int wait_ms);

/* Calls fn for each org unit (ordered by id); parent is NULL for a root. The
 * strings are valid during the call. A non-zero return of fn stops and is returned. */
typedef int (*gs_store_status_org_fn)(void *ctx, const char *id, const char *parent, const char *level,
                                      const char *name);
int gs_store_status_orgs(gs_store *s, gs_store_status_org_fn fn, void *ctx);
/* Calls fn for each stored entity (for a recount); fields is its JSON text. */
typedef int (*gs_store_entity_fn)(void *ctx, const char *type, const char *id, const char *fields);
int gs_store_status_entities(gs_store *s, gs_store_entity_fn fn, void *ctx);
/* Calls fn for each entity of type in rev order, under org (every grid of its
 * subtree) or everywhere when org is NULL; fields and ver are JSON text. */
typedef int (*gs_store_export_fn)(void *ctx, const char *id, int64_t rev, const char *fields, const char *ver);
int gs_store_status_export(gs_store *s, const char *type, const char *org, gs_store_export_fn fn, void *ctx);
/* Deletes every aggregate and per-entity status row (a recount starts here). */
int gs_store_status_clear(gs_store *s);

/* org_stat: one row per org unit, one column per STAT field of
 * collector/status/gs_status_fields.h; col is a GS_STAT_* index there.
 * add adds n (creating the row), set stores v, get reads one column and
 * read all GS_STAT_NCOLS of them (zeros when the unit has no row). */
int gs_store_status_stat_add(gs_store *s, int col, const char *org, int64_t n);
int gs_store_status_stat_set(gs_store *s, int col, const char *org, int64_t v);
int gs_store_status_stat_get(gs_store *s, int col, const char *org, int64_t *v);
int gs_store_status_stat_read(gs_store *s, const char *org, int64_t *v);
/* org_period.visited (households visited in period) and org_day.visits;
 * add adds n, get reads 0 when there is no row. */
int gs_store_status_period_add(gs_store *s, const char *org, const char *period, int64_t n);
int gs_store_status_period_get(gs_store *s, const char *org, const char *period, int64_t *v);
int gs_store_status_day_add(gs_store *s, const char *org, const char *day, int64_t n);
int gs_store_status_day_get(gs_store *s, const char *org, const char *day, int64_t *v);

/* hh_period: visits of a household in a period at a grid. inc adds one and
 * reads the new count; dec removes one, reads the count left and deletes
 * the row when none is left. */
int gs_store_status_hh_period_inc(gs_store *s, const char *hh, const char *period, const char *grid, int64_t *left);
int gs_store_status_hh_period_dec(gs_store *s, const char *hh, const char *period, const char *grid, int64_t *left);
/* hh_day: visits of a household on a day. dec sets *emptied when the day
 * lost its last visit (the row was deleted); has tells whether a row exists. */
int gs_store_status_hh_day_inc(gs_store *s, const char *hh, const char *day);
int gs_store_status_hh_day_dec(gs_store *s, const char *hh, const char *day, int *emptied);
int gs_store_status_hh_day_has(gs_store *s, const char *hh, const char *day, int *yes);

/* care_household: households with a care tag, their grid and latest visit
 * day (NULL/"" for none). get: *found 0 when hh is none (grid and last ""). */
int gs_store_status_care_get(gs_store *s, const char *hh, char grid[65], char last[11], int *found);
int gs_store_status_care_put(gs_store *s, const char *hh, const char *grid, const char *last);
int gs_store_status_care_move(gs_store *s, const char *hh, const char *grid);
int gs_store_status_care_delete(gs_store *s, const char *hh);
int gs_store_status_care_set_last(gs_store *s, const char *hh, const char *last);
/* Raises last_day to each household's latest hh_day on or after day from ("" = all). */
int gs_store_status_care_raise_last(gs_store *s, const char *from);

/* open_report: open reports with their grid and due time (0 = none). */
int gs_store_status_report_open(gs_store *s, const char *report, const char *grid, int64_t due_ms);
int gs_store_status_report_close(gs_store *s, const char *report);

/* Per-grid counts for the time-driven refresh: fn(ctx, grid, n) once per grid
 * with a non-zero count. overdue: open reports due before now_ms; care_due:
 * care households with no visit on or after day cutoff; devices: enabled
 * devices seen since since_ms, counted at each of their grids. */
typedef int (*gs_store_count_fn)(void *ctx, const char *grid, int64_t n);
int gs_store_status_count_overdue(gs_store *s, int64_t now_ms, gs_store_count_fn fn, void *ctx);
int gs_store_status_count_care_due(gs_store *s, const char *cutoff, gs_store_count_fn fn, void *ctx);
int gs_store_status_count_devices(gs_store *s, int64_t since_ms, gs_store_count_fn fn, void *ctx);

/* ---- gs_store_admin.c (gs-admin, tools) ---------------------------------- */

/* What gs-admin reads and writes (collector/admin/admin_ops.c). Writes that
 * belong together run between gs_store_begin() and gs_store_commit(); the
 * caller rolls back with gs_store_rollback() on the first error. Listings
 * call back once per row: the strings of a row are owned by the store and
 * valid only during that call (copy what you keep); a callback returning
 * non-zero stops the listing, which then returns that value. */

/* Begins an org import: BEGIN IMMEDIATE with foreign keys checked at COMMIT
 * (PRAGMA defer_foreign_keys), so units may arrive in any order. Ends with
 * gs_store_commit() or gs_store_rollback(). */
int gs_store_admin_org_begin(gs_store *s);
/* Inserts unit id or updates its parent, level and name (parent NULL: a city). */
int gs_store_admin_org_put(gs_store *s, const char *id, const char *parent, const char *level, const char *name);
/* Inserts unit id, deleting any unit of that id first (INSERT OR REPLACE: the demo seed). */
int gs_store_admin_org_replace(gs_store *s, const char *id, const char *parent, const char *level, const char *name);
/* Copies the level of unit id into level (n bytes, NUL-terminated, truncated);
 * GS_ENOTFOUND when there is no such unit. */
int gs_store_admin_org_level(gs_store *s, const char *id, char *level, size_t n);

typedef struct gs_store_org_row {
  const char *id, *parent, *level, *name; /* parent NULL for a city */
} gs_store_org_row;
typedef int (*gs_store_org_fn)(void *ctx, const gs_store_org_row *row);
/* Lists the org tree, or root's subtree when root is not NULL, parents before
 * children (by depth, then id). No row when root does not exist. */
int gs_store_admin_org_each(gs_store *s, const char *root, gs_store_org_fn fn, void *ctx);

/* Registers device (created_ms on first registration); a registered device
 * keeps its row and gets worker when worker is not NULL. */
int gs_store_admin_device_put(gs_store *s, const char *device, const char *worker, int64_t created_ms);
/* Takes every grid away from device. */
int gs_store_admin_device_grids_clear(gs_store *s, const char *device);
/* Lets device write grid. GS_ENOTFOUND when grid is not an org unit of level
 * grid or device already has it. */
int gs_store_admin_device_grid_add(gs_store *s, const char *device, const char *grid);
/* Enables (1) or disables (0) device; GS_ENOTFOUND when it is not registered. */
int gs_store_admin_device_set_enabled(gs_store *s, const char *device, int enabled);

typedef struct gs_store_device_row {
  const char *id, *worker; /* worker "" when unknown */
  int enabled;
  int64_t acked_seq, last_seen_ms; /* last_seen_ms 0: never */
  const char *grids;               /* sorted, ';'-separated, "" when none */
} gs_store_device_row;
typedef int (*gs_store_device_fn)(void *ctx, const gs_store_device_row *row);
/* Lists the device registry by id. */
int gs_store_admin_device_each(gs_store *s, gs_store_device_fn fn, void *ctx);

typedef struct gs_store_conflict_row {
  const char *type, *entity, *field;
  const char *a_device, *a_value, *a_change; /* values as stored (JSON text), NULL when none */
  const char *b_device, *b_value, *b_change;
  const char *winner; /* the change kept: a_change or b_change */
} gs_store_conflict_row;
typedef int (*gs_store_conflict_fn)(void *ctx, const gs_store_conflict_row *row);
/* Lists the logged conflicts, oldest first: all of them, or (all 0) those not reviewed. */
int gs_store_admin_conflict_each(gs_store *s, int all, gs_store_conflict_fn fn, void *ctx);

/* ---- gs_store_backup.c (gs-admin backup) -------------------------------- */
typedef struct gs_store_backup_stats {
  int64_t pages; /* pages in the copy */
  int64_t bytes; /* size of the copy's file */
  int64_t ms;    /* wall time of the copy, check and sync */
  int steps;     /* sqlite3_backup_step calls */
  int restarts;  /* copies started over after a commit by another connection */
} gs_store_backup_stats;
/* Copies the open store s to the file path while other connections (a
 * running collector) keep writing: SQLite's online backup in short steps,
 * into path.tmp (mode 0600), checked with PRAGMA quick_check, fsynced, then
 * renamed to path. The copy is one consistent snapshot taken during the call:
 * it holds every change committed before the call. Without force, an
 * existing path (or path.tmp) is left alone: GS_EEXISTS. *stats (may be
 * NULL) gets the numbers. Returns GS_OK; GS_EEXISTS; GS_EBUSY (the store
 * stayed locked); GS_ESTORE (the copy failed its check); GS_EIO, GS_EFULL or
 * another gs_err of a failed copy or write; err gets one line naming the file.
 * On failure path is untouched and path.tmp removed. Uses s's connection:
 * call on s's thread. */
int gs_store_backup_write(gs_store *s, const char *path, int force, gs_store_backup_stats *stats, char *err,
                          size_t errlen);

/* ---- gs_store_import.c (gs-admin household import/export) ---------------- */
/* import_household (schema/migrations/0004_import.sql): per ext_id of an
 * imported file, the household it made and the values the last import wrote
 * (docs/IMPORT.md). Strings passed in are only read during the call. */

/* BEGIN DEFERRED: a read transaction for many lookups (one snapshot, no
 * write lock); end it with gs_store_rollback. */
int gs_store_import_read_begin(gs_store *s);
/* An import row with the entity's current state; the buffers belong to the
 * caller (reused across calls, freed with gs_buf_free). */
typedef struct gs_store_import_row {
  gs_buf entity, grid, fields; /* fields: the last imported values (JSON object text) */
  int has_entity;              /* 1 when the entity exists; then: */
  gs_buf cur, ver;             /* its current fields and versions (JSON object texts) */
} gs_store_import_row;
/* Reads ext_id's row into r: GS_OK, GS_ENOTFOUND when ext_id was never
 * imported, or an error. Leaves no read open. */
int gs_store_import_get(gs_store *s, const char *ext_id, gs_store_import_row *r);
/* Inserts or replaces ext_id's row (inside the caller's transaction, or on its own). */
int gs_store_import_put(gs_store *s, const char *ext_id, const char *entity, const char *grid, const char *fields);
/* Calls fn for every imported household whose entity exists, under org (the
 * grids of its subtree; everywhere when org is NULL), ordered by ext_id.
 * fields is the entity's current fields (JSON text). A non-zero return of fn
 * stops the listing and is returned. */
typedef int (*gs_store_import_fn)(void *ctx, const char *ext_id, const char *entity, const char *fields);
int gs_store_import_each(gs_store *s, const char *org, gs_store_import_fn fn, void *ctx);

#endif
