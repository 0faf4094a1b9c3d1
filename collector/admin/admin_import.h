/* admin_import.h - gs-admin household import and export (docs/IMPORT.md).
 *
 * Households from a spreadsheet go through the engine as the device
 * "server", so they have versions and revs and phones pull them. The store
 * remembers per ext_id (the file's stable key) the household it made and the
 * values the last import wrote (gs_store.h, section gs_store_import.c).
 *
 * Best run with the collector stopped (docs/IMPORT.md, "While the
 * collector runs"): revs are shared safely, status is refreshed late.
 */
#ifndef GS_ADMIN_IMPORT_H
#define GS_ADMIN_IMPORT_H

#include <stdio.h>

#include "gs_engine.h"

typedef struct gs_admin_import_opts {
  int dry_run;  /* validate and count, write nothing */
  int progress; /* a progress line on stderr every 10,000 lines */
} gs_admin_import_opts;

typedef struct gs_admin_import_counts {
  long lines;    /* data lines read */
  long rejected; /* lines rejected (each listed on stderr) */
  long created, updated, unchanged;
} gs_admin_import_counts;

/* Imports path: validates every line first (each bad line is written to
 * report as "FILE: line N: field F: why"); when any line is bad, or with
 * dry_run, writes nothing. Otherwise creates or updates the households in
 * batches through the engine and rebuilds the status aggregates. Returns
 * GS_OK, GS_EINVAL with err set (a bad file, rejected lines), or another
 * gs_err. *c gets the numbers (also on failure, as far as known). */
int gs_admin_household_import(gs_engine *e, const char *path, const gs_admin_import_opts *o, FILE *report,
                              gs_admin_import_counts *c, char *err, size_t errlen);
/* Writes the imported households (current values, those under org only when
 * org is not NULL; deleted ones left out) as CSV that gs_admin_household_import
 * reads back: header ext_id and the household fields of schema/entities.json.
 * *count gets the number of rows. */
int gs_admin_household_export(gs_engine *e, FILE *out, const char *org, long *count, char *err, size_t errlen);

#endif
