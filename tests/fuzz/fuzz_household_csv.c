/* fuzz_household_csv.c - gs-admin household import (gs_admin_household_import,
 * docs/IMPORT.md) on a temp file, through the engine into the fixture store.
 * The first byte picks a dry run (odd) or a real import (even); the rest is
 * the file. The import is all-or-nothing: on success every data line is
 * counted as created, updated or unchanged and none rejected; on failure err
 * must be a non-empty message and a dry run must have written nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_import.h"
#include "fuzz_common.h"
#include "gs_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gs_engine *e;
  static char path[256];
  static FILE *sink;
  if (!e) {
    e = fz_engine("households.db");
    fz_path("households.csv", path, sizeof path);
    sink = fopen("/dev/null", "w");
    if (!sink) abort();
  }
  if (size == 0) return 0;
  gs_admin_import_opts o = {.dry_run = data[0] & 1, .progress = 0};
  fz_write(path, data + 1, size - 1);
  int64_t rev0 = gs_engine_rev(e);
  gs_admin_import_counts c;
  memset(&c, 0, sizeof c);
  char err[1024] = "";
  int rc = gs_admin_household_import(e, path, &o, sink, &c, err, sizeof err);
  if (rc == GS_OK) {
    fz_check(c.rejected == 0, "no line rejected on success", data, size);
    if (!o.dry_run)
      fz_check(c.created + c.updated + c.unchanged == c.lines, "every line accounted for", data, size);
  } else {
    fz_check(err[0] != '\0' && memchr(err, 0, sizeof err) != NULL, "an error message on failure", data, size);
  }
  if (o.dry_run) fz_check(gs_engine_rev(e) == rev0, "a dry run writes nothing", data, size);
  return 0;
}
