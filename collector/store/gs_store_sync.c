/* gs_store_sync.c - the engine's tables: change log, entities, the seq
 * watermark, conflicts, the skew log, pulls and the engine's meta keys
 * (docs/PROTOCOL.md, "Data model" and "Sync over MQTT"). See gs_store.h. */
#include "gs_store_int.h"

#include <stdio.h>
#include <string.h>

#include "gs_checkpoint.h"
#include "gs_error.h"
#include "gs_log.h"

/* Steps a write once and resets it. The engine checks keys before it writes
 * (change ids, entity rows), so a constraint violation here is a bug:
 * GS_EINTERNAL, not GS_EEXISTS. */
static int write_done(gs_store *s, sqlite3_stmt *st) {
  int rc = store__done(s, st);
  sqlite3_reset(st);
  return rc == GS_EEXISTS ? GS_EINTERNAL : rc;
}

/* Copies column i (text, possibly NULL) into out. */
static int column_to_buf(sqlite3_stmt *st, int i, gs_buf *out) {
  gs_buf_reset(out);
  const unsigned char *p = sqlite3_column_text(st, i);
  int rc = gs_buf_append(out, p ? (const char *)p : "", p ? (size_t)sqlite3_column_bytes(st, i) : 0);
  if (!rc && !out->data) rc = gs_buf_reserve(out, 1); /* an empty text is still a string */
  return rc;
}

int gs_store_change_find(gs_store *s, const char *id, const unsigned char digest[32], int *same, int *status,
                         char *detail, size_t dl) {
  static const char sql[] = "SELECT digest, status, detail FROM change WHERE id=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st), rc = GS_OK;
  if (src == SQLITE_ROW) {
    *same = sqlite3_column_bytes(st, 0) == 32 && memcmp(sqlite3_column_blob(st, 0), digest, 32) == 0;
    *status = sqlite3_column_int(st, 1);
    const char *d = (const char *)sqlite3_column_text(st, 2);
    if (dl) snprintf(detail, dl, "%s", d ? d : "");
  } else if (src == SQLITE_DONE) {
    rc = GS_ENOTFOUND;
  } else {
    rc = store__fail(s, src, "reading the change log");
  }
  sqlite3_reset(st);
  return rc;
}

int gs_store_change_put(gs_store *s, const gs_store_change *c) {
  static const char sql[] = "INSERT INTO change(id,device,seq,type,entity,hlc_ms,hlc_c,clamped,digest,status,detail,"
                            "received_ms,body) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->device, -1, SQLITE_STATIC);
  if (c->seq > 0) sqlite3_bind_int64(st, 3, c->seq);
  if (c->type) sqlite3_bind_text(st, 4, c->type, -1, SQLITE_STATIC);
  if (c->entity) sqlite3_bind_text(st, 5, c->entity, -1, SQLITE_STATIC);
  if (c->has_hlc) {
    sqlite3_bind_int64(st, 6, c->hlc_ms);
    sqlite3_bind_int(st, 7, c->hlc_c);
  }
  sqlite3_bind_int(st, 8, c->clamped);
  sqlite3_bind_blob(st, 9, c->digest, 32, SQLITE_STATIC);
  sqlite3_bind_int(st, 10, c->status);
  if (c->detail) sqlite3_bind_text(st, 11, c->detail, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 12, c->received_ms);
  sqlite3_bind_text(st, 13, c->body, (int)c->body_len, SQLITE_STATIC);
  return write_done(s, st);
}

int gs_store_change_body(gs_store *s, const char *id, gs_buf *body) {
  static const char sql[] = "SELECT body FROM change WHERE id=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st), rc;
  if (src == SQLITE_ROW) rc = column_to_buf(st, 0, body);
  else if (src == SQLITE_DONE) rc = GS_ENOTFOUND;
  else rc = store__fail(s, src, "reading a change's body");
  sqlite3_reset(st);
  return rc;
}

int gs_store_entity_get(gs_store *s, const char *type, const char *id, gs_store_entity *e) {
  static const char sql[] = "SELECT rowid, grid, rev, fields, ver, hist FROM entity WHERE type=?1 AND id=?2";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st), rc;
  if (src == SQLITE_ROW) {
    e->rowid = sqlite3_column_int64(st, 0);
    e->rev = sqlite3_column_int64(st, 2);
    rc = column_to_buf(st, 1, &e->grid);
    if (!rc) rc = column_to_buf(st, 3, &e->fields);
    if (!rc) rc = column_to_buf(st, 4, &e->ver);
    if (!rc) rc = column_to_buf(st, 5, &e->hist);
  } else if (src == SQLITE_DONE) {
    rc = GS_ENOTFOUND;
  } else {
    rc = store__fail(s, src, "reading an entity");
  }
  sqlite3_reset(st);
  return rc;
}

int gs_store_entity_insert(gs_store *s, const char *type, const char *id, const char *grid, int64_t rev,
                           const gs_store_text *fields, const gs_store_text *ver, const gs_store_text *hist) {
  static const char sql[] = "INSERT INTO entity(type,id,grid,rev,fields,ver,hist) VALUES(?1,?2,?3,?4,?5,?6,?7)";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, grid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, rev);
  sqlite3_bind_text(st, 5, fields->p, (int)fields->len, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, ver->p, (int)ver->len, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, hist->p, (int)hist->len, SQLITE_STATIC);
  return write_done(s, st);
}

int gs_store_entity_update(gs_store *s, int64_t rowid, const char *grid, int64_t rev, const gs_store_text *fields,
                           const gs_store_text *ver, const gs_store_text *hist) {
  static const char sql[] = "UPDATE entity SET grid=?1, rev=?2, fields=?3, ver=?4, hist=?5 WHERE rowid=?6";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, grid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, rev);
  sqlite3_bind_text(st, 3, fields->p, (int)fields->len, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, ver->p, (int)ver->len, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, hist->p, (int)hist->len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, rowid);
  return write_done(s, st);
}

int gs_store_entity_pull(gs_store *s, const char *device, int64_t since, int64_t limit, gs_store_pull_fn fn,
                         void *ctx) {
  static const char sql[] = "SELECT type, id, rev, fields, ver FROM entity "
                            "WHERE grid IN (SELECT grid FROM device_grid WHERE device=?1) AND rev>?2 "
                            "ORDER BY rev LIMIT ?3";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, since);
  sqlite3_bind_int64(st, 3, limit);
  int rc = GS_OK, src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    gs_store_pull_row r;
    r.type = (const char *)sqlite3_column_text(st, 0);
    r.id = (const char *)sqlite3_column_text(st, 1);
    r.rev = sqlite3_column_int64(st, 2);
    r.fields.p = (const char *)sqlite3_column_text(st, 3);
    r.fields.len = (size_t)sqlite3_column_bytes(st, 3);
    r.ver.p = (const char *)sqlite3_column_text(st, 4);
    r.ver.len = (size_t)sqlite3_column_bytes(st, 4);
    if ((rc = fn(ctx, &r)) != GS_OK) break;
  }
  if (rc == GS_OK && src != SQLITE_DONE) rc = store__fail(s, src, "reading entities for a pull");
  else if (rc == GS_STORE_STOP) rc = GS_OK;
  sqlite3_reset(st);
  return rc;
}

int gs_store_device_seen(gs_store *s, const char *device, int64_t acked_seq, int64_t now_ms) {
  static const char sql[] = "UPDATE device SET acked_seq=?2, last_seen_ms=?3 WHERE id=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, acked_seq);
  sqlite3_bind_int64(st, 3, now_ms);
  return write_done(s, st);
}

int gs_store_seq_add(gs_store *s, const char *device, int64_t seq) {
  static const char sql[] = "INSERT OR IGNORE INTO device_seq(device, seq) VALUES(?1, ?2)";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, seq);
  return write_done(s, st);
}

int gs_store_seq_take(gs_store *s, const char *device, int64_t seq, int *taken) {
  static const char sql[] = "DELETE FROM device_seq WHERE device=?1 AND seq=?2";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, seq);
  int rc = write_done(s, st);
  *taken = !rc && sqlite3_changes(store__db(s)) > 0;
  return rc;
}

int gs_store_seq_any(gs_store *s, const char *device, int *any) {
  static const char sql[] = "SELECT 1 FROM device_seq WHERE device=?1 LIMIT 1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  int src = sqlite3_step(st), rc = GS_OK;
  if (src == SQLITE_ROW || src == SQLITE_DONE) *any = src == SQLITE_ROW;
  else rc = store__fail(s, src, "reading a device's early seqs");
  sqlite3_reset(st);
  return rc;
}

int gs_store_sync_meta_save(gs_store *s, int64_t rev, int64_t hlc_ms, int64_t hlc_c) {
  static const char sql[] = "UPDATE meta SET value=?2 WHERE key=?1";
  const struct {
    const char *k;
    int64_t v;
  } kv[] = {{"rev", rev}, {"hlc_ms", hlc_ms}, {"hlc_c", hlc_c}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
    sqlite3_stmt *st = store__stmt(s, sql);
    if (!st) return GS_ESTORE;
    sqlite3_bind_text(st, 1, kv[i].k, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, kv[i].v);
    int rc = write_done(s, st);
    if (rc) return rc;
  }
  return GS_OK;
}

int gs_store_conflict_add(gs_store *s, const gs_store_conflict *c) {
  static const char sql[] = "INSERT OR IGNORE INTO conflict(type,entity,field,a_change,a_device,a_ver,a_value,"
                            "b_change,b_device,b_ver,b_value,winner,logged_ms) "
                            "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, c->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->entity, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, c->field, -1, SQLITE_STATIC);
  for (int k = 0; k < 2; k++) {
    int at = 4 + 4 * k;
    sqlite3_bind_text(st, at, c->side[k].change, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, at + 1, c->side[k].device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, at + 2, c->side[k].ver, -1, SQLITE_STATIC);
    if (c->side[k].value) sqlite3_bind_text(st, at + 3, c->side[k].value, -1, SQLITE_STATIC);
  }
  sqlite3_bind_text(st, 12, c->winner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 13, c->logged_ms);
  return write_done(s, st);
}

int gs_store_skew_log(gs_store *s, const char *change, const char *device, int64_t hlc_ms, int64_t server_ms,
                      int64_t logged_ms) {
  static const char sql[] = "INSERT INTO skew_log(change,device,hlc_ms,server_ms,logged_ms) VALUES(?1,?2,?3,?4,?5)";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, change, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, hlc_ms);
  sqlite3_bind_int64(st, 4, server_ms);
  sqlite3_bind_int64(st, 5, logged_ms);
  return write_done(s, st);
}

int gs_store_wal_autocheckpoint_off(gs_store *s) { return gs_store_exec(store__db(s), "PRAGMA wal_autocheckpoint=0"); }

void gs_store_writer_turn(gs_store *s, gs_checkpointer *c) { gs_checkpointer_writer_turn(c, store__db(s)); }
