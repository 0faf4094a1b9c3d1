/* fuzz_org_csv.c - the org tree CSV importer (gs_admin_org_import) on a temp
 * file. The import is all-or-nothing; on success the org table must still
 * satisfy its own constraints (checked by SQLite) and hold count rows more or
 * fewer updates; on failure err must be a non-empty message.
 */
#include <string.h>

#include "admin_ops.h"
#include "fuzz_common.h"
#include "gs_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gs_engine *e;
  static char path[256];
  if (!e) {
    e = fz_engine("csv.db");
    fz_path("org.csv", path, sizeof path);
  }
  fz_write(path, data, size);
  char err[1024] = "";
  int count = -1;
  int rc = gs_admin_org_import(e, path, &count, err, sizeof err);
  if (rc == GS_OK) fz_check(count >= 0, "count set on success", data, size);
  else fz_check(err[0] != '\0' && memchr(err, 0, sizeof err) != NULL, "an error message on failure", data, size);
  return 0;
}
