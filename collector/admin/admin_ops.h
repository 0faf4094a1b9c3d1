/* admin_ops.h - administrators' operations on the store (org tree, devices,
 * conflicts, demo seed). Used by gs-admin (through gs_admin_cmds[],
 * admin_cli.h) and by tests. Every operation is all-or-nothing: one
 * transaction, rolled back on the first error, with a message in err that
 * names the input line or object and what to do. The SQL is the store's
 * (gs_store.h, section gs_store_admin.c); e is an open engine, used on its
 * thread.
 */
#ifndef GS_ADMIN_OPS_H
#define GS_ADMIN_OPS_H

#include <stdio.h>

#include "gs_engine.h"

/* Imports FILE.csv with header id,parent,level,name (UTF-8, RFC 4180 quoting).
 * Existing units are updated. *count gets the number of rows. */
int gs_admin_org_import(gs_engine *e, const char *path, int *count, char *err, size_t errlen);
/* [bridge] Writes the org tree as CSV (header id,parent,level,name, parents
 * before children) to out, or only the subtree of root when root is not NULL
 * (GS_ENOTFOUND when root does not exist). The output imports unchanged with
 * gs_admin_org_import. *count gets the number of rows. */
int gs_admin_org_export(gs_engine *e, FILE *out, const char *root, int *count, char *err, size_t errlen);
/* Registers (or updates) a device with the grids it may write (comma list). */
int gs_admin_device_add(gs_engine *e, const char *device, const char *grids, const char *worker, char *err,
                        size_t errlen);
/* Enables (1) or disables (0) a device; GS_ENOTFOUND when it is not registered. */
int gs_admin_device_enable(gs_engine *e, const char *device, int enabled, char *err, size_t errlen);
/* Writes the device registry to out, as a table or (csv) as CSV. */
int gs_admin_device_list(gs_engine *e, FILE *out, int csv);
/* Writes the logged conflicts to out: all, or (all 0) those not reviewed. */
int gs_admin_conflicts(gs_engine *e, FILE *out, int all);
/* Seeds a demo city: org tree, households (Chinese names and addresses),
 * devices dev-0001.. with one grid each. Writes through the engine. */
int gs_admin_seed(gs_engine *e, int streets, int communities, int grids, int households, char *err, size_t errlen);
/* [bridge] The same for district N (1..99) of the demo city: district 1 is
 * what gs_admin_seed makes; N >= 2 gets ids d-0N, s-N-01, cm-N-0101, g-N-0001,
 * dev-N-0001, so two districts seeded into two stores never collide. */
int gs_admin_seed_district(gs_engine *e, int district, int streets, int communities, int grids, int households,
                           char *err, size_t errlen);

#endif
