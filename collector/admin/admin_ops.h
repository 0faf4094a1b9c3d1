/* admin_ops.h - administrators' operations on the store (org tree, devices,
 * conflicts, demo seed). Used by gs-admin and by tests. Every operation is
 * all-or-nothing: one transaction, rolled back on the first error, with a
 * message in err that names the input line or object and what to do.
 */
#ifndef GS_ADMIN_OPS_H
#define GS_ADMIN_OPS_H

#include <stdio.h>

#include <sqlite3.h>

#include "gs_engine.h"

/* Imports FILE.csv with header id,parent,level,name (UTF-8, RFC 4180 quoting).
 * Existing units are updated. *count gets the number of rows. */
int gs_admin_org_import(sqlite3 *db, const char *path, int *count, char *err, size_t errlen);
/* [bridge] Writes the org tree as CSV (header id,parent,level,name, parents
 * before children) to out, or only the subtree of root when root is not NULL
 * (GS_ENOTFOUND when root does not exist). The output imports unchanged with
 * gs_admin_org_import. *count gets the number of rows. */
int gs_admin_org_export(sqlite3 *db, FILE *out, const char *root, int *count, char *err, size_t errlen);
/* Registers (or updates) a device with the grids it may write (comma list). */
int gs_admin_device_add(sqlite3 *db, const char *device, const char *grids, const char *worker, char *err,
                        size_t errlen);
int gs_admin_device_enable(sqlite3 *db, const char *device, int enabled, char *err, size_t errlen);
int gs_admin_device_list(sqlite3 *db, FILE *out, int csv);
int gs_admin_conflicts(sqlite3 *db, FILE *out, int all);
/* Seeds a demo city: org tree, households (Chinese names and addresses),
 * devices dev-0001.. with one grid each. Writes through the engine. */
int gs_admin_seed(gs_engine *e, int streets, int communities, int grids, int households, char *err, size_t errlen);
/* [bridge] The same for district N (1..99) of the demo city: district 1 is
 * what gs_admin_seed makes; N >= 2 gets ids d-0N, s-N-01, cm-N-0101, g-N-0001,
 * dev-N-0001, so two districts seeded into two stores never collide. */
int gs_admin_seed_district(gs_engine *e, int district, int streets, int communities, int grids, int households,
                           char *err, size_t errlen);

#endif
