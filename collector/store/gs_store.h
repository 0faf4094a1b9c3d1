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

#include <sqlite3.h>

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
/* Highest migration version this binary knows. */
int gs_store_schema_version(void);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback is a no-op outside a transaction). */
int gs_store_begin(gs_store *s);
int gs_store_commit(gs_store *s);
void gs_store_rollback(gs_store *s);
/* meta(key, value) integers; a missing key reads 0. */
int gs_store_meta_get(gs_store *s, const char *key, int64_t *v);

/* ---- gs_store_device.c --------------------------------------------------- */

/* The registry row of a device: GS_OK with *enabled (0/1) and *acked_seq
 * (the seq watermark), GS_ENOTFOUND when the device is not registered. */
int gs_store_device_get(gs_store *s, const char *device, int *enabled, int64_t *acked_seq);
/* 1 when device may write grid, 0 when not; < 0 is a negated gs_err. */
int gs_store_device_has_grid(gs_store *s, const char *device, const char *grid);

/* ---- gs_store_sync.c (the engine) ---------------------------------------- */

/* ---- gs_store_status.c (collector/status) -------------------------------- */

/* ---- gs_store_admin.c (gs-admin, tools) ---------------------------------- */

/* ---- transitional: raw handle functions, removed once every caller uses
 * the functions above (issue 14). ------------------------------------------- */
/* The raw handle of an open store. */
sqlite3 *gs_store_raw(gs_store *s);
int gs_store_open_db(const char *path, int synchronous, sqlite3 **out, char *err, size_t errlen);
void gs_store_close_db(sqlite3 *db);
/* Maps an SQLite result code to a gs_err (SQLITE_FULL -> GS_EFULL, BUSY -> GS_EBUSY, ...). */
int gs_store_err(int sqlite_rc);
/* Runs SQL without results; logs and translates errors. */
int gs_store_exec(sqlite3 *db, const char *sql);

#endif
