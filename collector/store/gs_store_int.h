/* gs_store_int.h - internals of the store, for the files of collector/store/
 * only (as SQLite's btreeInt.h is to btree.h).
 *
 * One prepared-statement style: a file defines its SQL as string literals
 * (or static const arrays) and asks store__stmt() for the statement each
 * time it runs it. The first call prepares it (SQLITE_PREPARE_PERSISTENT),
 * later calls reset it and clear its bindings. Statements are finalized by
 * gs_store_close().
 */
#ifndef GS_STORE_INT_H
#define GS_STORE_INT_H

#include <limits.h>
#include <stdint.h>

#include <sqlite3.h>

#include "gs_store.h"
#include "gs_store_raw.h"

/* distinct statements a store can cache; store__stmt() says when it is too few */
#define STORE_STMT_SLOTS 256

struct store_stmt {
  const char *sql; /* the literal's address is the key */
  sqlite3_stmt *st;
};

struct gs_store {
  sqlite3 *db;
  char path[PATH_MAX];
  struct store_stmt stmt[STORE_STMT_SLOTS];
};

/* The cached statement for sql, reset and with its bindings cleared, or NULL
 * when it cannot be prepared (logged with the path and SQLite's message).
 * sql must stay valid for the life of the store (a literal). */
sqlite3_stmt *store__stmt(gs_store *s, const char *sql);
/* Steps st once; GS_OK on SQLITE_DONE or SQLITE_ROW, else logs and translates. */
int store__done(gs_store *s, sqlite3_stmt *st);
/* Logs "what" with SQLite's message for src and returns the translated gs_err. */
int store__fail(gs_store *s, int src, const char *what);
/* The raw handle, for the files of this folder. */
sqlite3 *store__db(gs_store *s);

#endif
