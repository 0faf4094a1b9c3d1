/* gs_store_device.c - the device registry as the engine and the transports
 * read it (one place for "is this device registered and enabled"). */
#include "gs_store_int.h"

#include "gs_error.h"

int gs_store_device_get(gs_store *s, const char *device, int *enabled, int64_t *acked_seq) {
  static const char sql[] = "SELECT enabled, acked_seq FROM device WHERE id=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_DONE) return GS_ENOTFOUND;
  if (src != SQLITE_ROW) return store__fail(s, src, "reading the device registry");
  if (enabled) *enabled = sqlite3_column_int(st, 0);
  if (acked_seq) *acked_seq = sqlite3_column_int64(st, 1);
  sqlite3_reset(st); /* a statement left on a row keeps a read transaction open */
  return GS_OK;
}

int gs_store_device_has_grid(gs_store *s, const char *device, const char *grid) {
  static const char sql[] = "SELECT 1 FROM device_grid WHERE device=?1 AND grid=?2";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return -GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, grid, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  sqlite3_reset(st); /* a statement left on a row keeps a read transaction open */
  if (src == SQLITE_ROW) return 1;
  if (src == SQLITE_DONE) return 0;
  return -store__fail(s, src, "reading a device's grids");
}
