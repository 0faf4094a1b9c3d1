/* gs_store.h - the SQLite file: open, pragmas, migrations, error translation.
 *
 * One writer (the collector's event loop). WAL mode, synchronous FULL by
 * default. Migrations from schema/migrations are applied at open, each in
 * one transaction; a database newer than this binary is refused (GS_ETOO_NEW).
 */
#ifndef GS_STORE_H
#define GS_STORE_H

#include <stddef.h>

#include <sqlite3.h>

/* How long a statement waits for another connection's lock (busy handler). */
#define GS_STORE_BUSY_MS 5000

/* synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. Returns GS_OK or an error with
 * a message in err. *out is closed with gs_store_close(). */
int gs_store_open(const char *path, int synchronous, sqlite3 **out, char *err, size_t errlen);
void gs_store_close(sqlite3 *db);
/* Highest migration version this binary knows. */
int gs_store_schema_version(void);
/* Maps an SQLite result code to a gs_err (SQLITE_FULL -> GS_EFULL, BUSY -> GS_EBUSY, ...). */
int gs_store_err(int sqlite_rc);
/* Runs SQL without results; logs and translates errors. */
int gs_store_exec(sqlite3 *db, const char *sql);

#endif
