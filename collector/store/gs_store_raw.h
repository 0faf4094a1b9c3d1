/* gs_store_raw.h - the store's SQLite handle, for the store's own files and
 * for programs that measure SQLite itself (bench/: the ceiling rows write the
 * engine's rows with plain INSERTs on the same connection and pragmas).
 * Server code (engine, status, admin, transports) never includes it: it
 * calls the functions of gs_store.h.
 */
#ifndef GS_STORE_RAW_H
#define GS_STORE_RAW_H

#include <stddef.h>

#include <sqlite3.h>

#include "gs_store.h"

/* The raw handle of an open store (owned by the store). */
sqlite3 *gs_store_raw(gs_store *s);
/* Opens the SQLite file with the store's pragmas and migrations; closed with
 * gs_store_close_db(). Returns GS_OK or an error with a message in err. */
int gs_store_open_db(const char *path, int synchronous, sqlite3 **out, char *err, size_t errlen);
void gs_store_close_db(sqlite3 *db);
/* Maps an SQLite result code to a gs_err (SQLITE_FULL -> GS_EFULL, BUSY -> GS_EBUSY, ...). */
int gs_store_err(int sqlite_rc);
/* Runs SQL without results; logs and translates errors. */
int gs_store_exec(sqlite3 *db, const char *sql);

#endif
