/* gs_engine.c - applies change batches and answers pulls (docs/PROTOCOL.md, "Data model" and "Sync over MQTT").
 *
 * Per change: idempotency by id (digest of the canonical change), validation
 * against the schema, authorisation by grid, clock-skew clamping, per-field
 * last-writer-wins merge ordered by (hlc, device), conflict detection from the
 * changes' own versions and bases, and the device's seq watermark. All of a
 * batch (or of a group of batches) is one transaction; the ack is built only
 * for the caller to publish after the commit.
 *
 * This file only orchestrates: the codec (gs_codec.h) reads the documents
 * and writes the replies, the merge (gs_merge.h) computes an entity's new
 * stored texts, the store (gs_store.h, "gs_store_sync.c") holds the rows;
 * here are the batch loop, the transaction and its durability, and the
 * status hooks.
 */
#include "gs_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gs_checkpoint.h"
#include "gs_codec.h"
#include "gs_walsync.h"
#include "gs_error.h"
#include "gs_hlc.h"
#include "gs_json.h"
#include "gs_log.h"
#include "gs_merge.h"
#include "gs_mem.h"
#include "gs_schema.h"
#include "gs_store.h"
#include "gs_util.h"

struct gs_engine {
  gs_store *store;
  gs_schema *schema;
  gs_engine_config cfg;
  gs_hlc hlc;
  int64_t rev;
  gs_engine_hooks hooks;
  gs_checkpointer *ckpt;
  gs_walsync *ws;   /* NULL: SQLite syncs inside COMMIT */
  uint64_t commits; /* number of the last commit of apply_group */
  /* scratch reused across changes (capacity kept, no malloc per change) */
  gs_merge *merge;
  gs_store_entity ent; /* the entity row being merged (buffers reused) */
  gs_buf body;         /* a stored change's body (conflicts) */
  gs_buf canon;        /* the current change's canonical text (gs_codec_change_parse) */
};

/* Per-batch accounting, turned into the ack. */
typedef struct batch_ctx {
  const char *device;
  int64_t now;
  int64_t acked_seq;
  gs_codec_ack ack; /* counts, rejections and conflicts for the ack */
  /* grids this batch asked about, with the answer (device_grid lookups) */
  struct {
    char grid[65];
    int allowed;
  } grids[8];
  int ngrids;
  int gaps; /* -1 unknown, 0 none, 1 device_seq may hold seqs of this device */
} batch_ctx;

/* One validated change. */
typedef struct change {
  gs_codec_change d; /* as the codec read it */
  int clamped;       /* the hlc was too far ahead and was replaced (stored with the change) */
} change;

static int64_t now_ms(const gs_engine *e) { return e->cfg.clock ? e->cfg.clock(e->cfg.clock_ctx) : gs_now_ms(); }

void gs_engine_config_defaults(gs_engine_config *c) {
  memset(c, 0, sizeof *c);
  c->synchronous = 2;
  c->max_skew_ms = 5 * 60 * 1000;
  c->max_batch_bytes = 1048576;
  c->max_changes = 1000;
  c->max_field_bytes = 16384;
  c->pull_limit_default = 500;
  c->pull_limit_max = 2000;
}

gs_store *gs_engine_store(gs_engine *e) { return e->store; }
void gs_engine_set_fast_create(gs_engine *e, int on) { gs_merge_set_fast_create(e->merge, on); }
int64_t gs_engine_rev(const gs_engine *e) { return e->rev; }

int64_t gs_engine_now(const gs_engine *e) { return now_ms(e); }

uint64_t gs_engine_commits(const gs_engine *e) { return e->commits; }

uint64_t gs_engine_durable(gs_engine *e) {
  if (!e->ws) return e->commits;
  gs_walsync_drain(e->ws);
  return gs_walsync_durable(e->ws);
}

int gs_engine_durable_fd(const gs_engine *e) { return e->ws ? gs_walsync_fd(e->ws) : -1; }

int gs_engine_wait_durable(gs_engine *e, uint64_t n) { return e->ws ? gs_walsync_wait(e->ws, n) : GS_OK; }

void gs_engine_set_hooks(gs_engine *e, const gs_engine_hooks *h) {
  if (h) e->hooks = *h;
  else memset(&e->hooks, 0, sizeof e->hooks);
}

static int64_t meta_get(gs_store *s, const char *key) {
  int64_t v = 0;
  if (gs_store_meta_get(s, key, &v)) v = 0;
  return v;
}

int gs_engine_open(gs_engine **out, const gs_engine_config *cfg, char *err, size_t errlen) {
  int rc;
  /* cJSON allocates through the project's wrapper, so OOM paths are testable. */
  static cJSON_Hooks hooks = {gs_malloc, gs_free};
  cJSON_InitHooks(&hooks);
  gs_engine *e = gs_calloc(1, sizeof *e);
  if (!e) return GS_ENOMEM;
  e->cfg = *cfg;
  if ((rc = gs_merge_new(&e->merge))) goto fail;
  if ((rc = gs_schema_load_builtin(&e->schema, err, errlen))) goto fail;
  int ws = cfg->wal_sync_thread && cfg->synchronous == 2;
  if ((rc = gs_store_open(&e->store, cfg->db_path, ws ? 1 : cfg->synchronous, err, errlen))) goto fail;
  /* the store is open in WAL mode and was read, so its -wal file exists */
  if (ws && (rc = gs_walsync_start(&e->ws, cfg->db_path))) {
    snprintf(err, errlen, "%s: cannot start the WAL sync thread: %s", cfg->db_path, gs_strerror(rc));
    goto fail;
  }
  if (cfg->checkpoint_interval_ms > 0) {
    if ((rc = gs_store_wal_autocheckpoint_off(e->store))) goto fail;
    if ((rc = gs_checkpointer_start(&e->ckpt, cfg->db_path, cfg->checkpoint_interval_ms, cfg->wal_restart_frames))) {
      snprintf(err, errlen, "%s: cannot start the background checkpointer: %s", cfg->db_path, gs_strerror(rc));
      goto fail;
    }
  }
  e->rev = meta_get(e->store, "rev");
  e->hlc.ms = meta_get(e->store, "hlc_ms");
  e->hlc.c = (int32_t)meta_get(e->store, "hlc_c");
  gs_store_end_reads(e->store); /* no statement keeps a read open past open */
  *out = e;
  return GS_OK;
fail:
  gs_engine_close(e);
  return rc;
}

void gs_engine_set_limits(gs_engine *e, const gs_engine_config *c) {
  e->cfg.max_skew_ms = c->max_skew_ms;
  e->cfg.max_batch_bytes = c->max_batch_bytes;
  e->cfg.max_changes = c->max_changes;
  e->cfg.max_field_bytes = c->max_field_bytes;
  e->cfg.pull_limit_default = c->pull_limit_default;
  e->cfg.pull_limit_max = c->pull_limit_max;
}

void gs_engine_close(gs_engine *e) {
  if (!e) return;
  gs_walsync_stop(e->ws);
  gs_checkpointer_stop(e->ckpt);
  gs_merge_free(e->merge);
  gs_buf_free(&e->ent.grid);
  gs_buf_free(&e->ent.fields);
  gs_buf_free(&e->ent.ver);
  gs_buf_free(&e->ent.hist);
  gs_buf_free(&e->body);
  gs_buf_free(&e->canon);
  gs_store_close(e->store);
  gs_schema_free(e->schema);
  gs_free(e);
}

/* ------------------------------------------------------------------ */
/* Watermark                                                            */

static int record_seq(gs_engine *e, batch_ctx *b, int64_t seq) {
  if (seq <= b->acked_seq) return GS_OK;
  if (seq > b->acked_seq + 1) {
    int rc = gs_store_seq_add(e->store, b->device, seq);
    b->gaps = 1;
    return rc;
  }
  b->acked_seq = seq;
  if (b->gaps < 0) { /* once per batch: does the device have early seqs at all? */
    int any = 0, rc = gs_store_seq_any(e->store, b->device, &any);
    if (rc) return rc;
    b->gaps = any;
  }
  if (!b->gaps) return GS_OK;
  for (;;) { /* absorb seqs that arrived early */
    int taken = 0, rc = gs_store_seq_take(e->store, b->device, b->acked_seq + 1, &taken);
    if (rc) return rc;
    if (!taken) return GS_OK;
    b->acked_seq++;
  }
}

/* ------------------------------------------------------------------ */
/* Change log                                                           */

static int store_change(gs_engine *e, batch_ctx *b, const change *c, int status, const char *detail) {
  /* the canonical text the codec digested is the stored body */
  const gs_buf *body = c->d.canon;
  gs_store_change row = {.id = c->d.id,
                         .device = b->device,
                         .seq = c->d.seq,
                         .type = c->d.type,
                         .entity = c->d.entity,
                         .has_hlc = c->d.ver.present,
                         .hlc_ms = c->d.ver.ms,
                         .hlc_c = c->d.ver.c,
                         .clamped = c->clamped,
                         .digest = c->d.digest,
                         .status = status,
                         .detail = detail,
                         .received_ms = b->now,
                         .body = body->data,
                         .body_len = body->len};
  return gs_store_change_put(e->store, &row);
}

/* Rejects a change permanently: recorded (when it has an id) so that a resend
 * gets the same answer, its seq accounted, listed in the ack. */
static int reject(gs_engine *e, batch_ctx *b, const change *c, int err, const char *detail) {
  int rc = GS_OK;
  if (c->d.id) rc = store_change(e, b, c, err, detail);
  if (!rc && c->d.seq > 0) rc = record_seq(e, b, c->d.seq);
  if (!rc) rc = gs_codec_ack_rejected(&b->ack, c->d.id, c->d.seq, err, detail);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Merge                                                                */

/* Whether the batch's device may write grid (1 or 0; < 0 a negated gs_err);
 * answers are kept for the batch (a device writes few grids, and
 * device_grid does not change inside it). */
static int grid_allowed(gs_engine *e, batch_ctx *b, const char *grid) {
  for (int i = 0; i < b->ngrids; i++)
    if (strcmp(b->grids[i].grid, grid) == 0) return b->grids[i].allowed;
  int ok = gs_store_device_has_grid(e->store, b->device, grid);
  if (ok < 0) return ok;
  if (b->ngrids < (int)(sizeof b->grids / sizeof b->grids[0]) && strlen(grid) < sizeof b->grids[0].grid) {
    snprintf(b->grids[b->ngrids].grid, sizeof b->grids[0].grid, "%s", grid);
    b->grids[b->ngrids++].allowed = ok;
  }
  return ok;
}

/* Value a stored change wrote to a field, as canonical JSON text (caller
 * frees), or NULL when it cannot be read. */
static char *stored_value(gs_engine *e, const char *chg, const char *field) {
  gs_buf b = GS_BUF_INIT;
  char *out = NULL;
  if (gs_store_change_body(e->store, chg, &e->body) == GS_OK && gs_codec_change_value(e->body.data, field, &b) == GS_OK)
    out = gs_buf_steal(&b);
  gs_buf_free(&b);
  return out;
}

static int log_conflict(gs_engine *e, batch_ctx *b, const change *c, const char *field, const cJSON *val,
                        const gs_ver *hver, const char *hchg) {
  int rc = GS_ENOMEM;
  gs_buf mine = GS_BUF_INIT, myver = GS_BUF_INIT, hv = GS_BUF_INIT;
  char *theirs = stored_value(e, hchg, field);
  if (gs_merge_ver_text(&c->d.ver, &myver) || gs_merge_ver_text(hver, &hv) || gs_json_canon(val, &mine)) goto out;
  int mine_first = strcmp(c->d.id, hchg) < 0;
  const char *winner = gs_ver_cmp(&c->d.ver, hver) > 0 ? c->d.id : hchg;
  gs_store_conflict row = {
      .type = c->d.type, .entity = c->d.entity, .field = field, .winner = winner, .logged_ms = b->now};
  int m = mine_first ? 0 : 1;
  row.side[m].change = c->d.id;
  row.side[m].device = c->d.ver.dev;
  row.side[m].ver = myver.data;
  row.side[m].value = mine.data;
  row.side[1 - m].change = hchg;
  row.side[1 - m].device = hver->dev;
  row.side[1 - m].ver = hv.data;
  row.side[1 - m].value = theirs;
  rc = gs_store_conflict_add(e->store, &row);
out:
  gs_free(theirs);
  gs_buf_free(&myver);
  gs_buf_free(&hv);
  gs_buf_free(&mine);
  return rc;
}

/* Authorisation and required-on-create: errors here are rejections. grid:
 * the stored entity's grid, NULL when the entity is new. */
static int check_against_state(gs_engine *e, batch_ctx *b, const change *c, const char *grid, char *detail, size_t dl) {
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(c->d.set, "grid");
  int ok = grid ? grid_allowed(e, b, grid) : 1;
  if (ok < 0) return -ok;
  if (!ok) {
    snprintf(detail, dl, "%s %s belongs to grid %s, which this device may not write", c->d.type, c->d.entity, grid);
    return GS_EFORBIDDEN_GRID;
  }
  if (g && cJSON_IsNull(g)) {
    snprintf(detail, dl, "field grid cannot be cleared");
    return GS_EBAD_VALUE;
  }
  ok = g ? grid_allowed(e, b, g->valuestring) : 1;
  if (ok < 0) return -ok;
  if (!ok) {
    snprintf(detail, dl, "grid %.64s is not one of this device's grids", g->valuestring);
    return GS_EFORBIDDEN_GRID;
  }
  if (!grid) {
    for (size_t i = 0; i < c->d.tdef->nfields; i++) {
      const gs_field_def *fd = &c->d.tdef->fields[i];
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->d.set, fd->name);
      if (fd->required && (!v || cJSON_IsNull(v))) {
        snprintf(detail, dl, "creating %s %s needs field %s", c->d.type, c->d.entity, fd->name);
        return GS_EMISSING_FIELD;
      }
    }
  }
  return GS_OK;
}

struct conflict_ctx {
  gs_engine *e;
  batch_ctx *b;
  const change *c;
  int *conflicted;
};

static int on_conflict(void *ctx, const char *field, const cJSON *value, const gs_merge_hist *theirs) {
  struct conflict_ctx *x = ctx;
  int rc = log_conflict(x->e, x->b, x->c, field, value, &theirs->ver, theirs->change);
  if (!rc) *x->conflicted = 1;
  return rc;
}

/* Merges a validated change into the entity (gs_merge.h) and writes it back.
 * *conflicted is set when this change conflicts with an earlier one. Returns
 * a rejection code (with detail), or a local error, or GS_OK. */
static int merge(gs_engine *e, batch_ctx *b, const change *c, int *conflicted, char *detail, size_t dl) {
  gs_store_entity *se = &e->ent;
  int rc = gs_store_entity_get(e->store, c->d.type, c->d.entity, se);
  int exists = rc == GS_OK;
  if (rc && rc != GS_ENOTFOUND) return rc;
  if ((rc = check_against_state(e, b, c, exists ? se->grid.data : NULL, detail, dl))) return rc;
  gs_merge_change mc = {
      .id = c->d.id, .ver = c->d.ver, .base = c->d.base, .set = c->d.set, .canon = c->d.canon->data, .sp = &c->d.sp};
  gs_merge_stored st = {se->fields.data, se->ver.data, se->hist.data};
  struct conflict_ctx x = {e, b, c, conflicted};
  gs_merge_result r;
  if ((rc = gs_merge_apply(e->merge, &mc, exists ? &st : NULL, on_conflict, &x, &r))) return rc;
  if (!r.grid) return GS_EINTERNAL; /* check_against_state and the schema guarantee a grid */
  int64_t rev = exists ? se->rev : 0;
  if (r.changed || !exists) rev = ++e->rev;
  gs_store_text ft = {r.fields, r.fields_len}, vt = {r.ver, r.ver_len}, ht = {r.hist, r.hist_len};
  if (exists) rc = gs_store_entity_update(e->store, se->rowid, r.grid, rev, &ft, &vt, &ht);
  else rc = gs_store_entity_insert(e->store, c->d.type, c->d.entity, r.grid, rev, &ft, &vt, &ht);
  if (!rc && (r.changed || !exists) && e->hooks.write)
    rc = e->hooks.write(e->hooks.ctx, c->d.type, c->d.entity, exists ? se->fields.data : NULL, r.after);
  return rc;
}

/* ------------------------------------------------------------------ */
/* One change, one batch                                                */

static int apply_change_in(gs_engine *e, batch_ctx *b, const cJSON *cj, change *c) {
  char detail[256] = "";
  int rc =
      gs_codec_change_parse(cj, e->schema, b->device, e->cfg.max_field_bytes, &e->canon, &c->d, detail, sizeof detail);
  if (rc == GS_ENOMEM || rc == GS_ECRYPTO) return rc;
  if (c->d.id) { /* idempotency first: a resend gets the first answer */
    int same = 0, status = 0;
    char prev[256];
    int src = gs_store_change_find(e->store, c->d.id, c->d.digest, &same, &status, prev, sizeof prev);
    if (src == GS_OK) {
      if (c->d.seq > 0 && (rc = record_seq(e, b, c->d.seq))) return rc;
      if (!same) {
        snprintf(detail, sizeof detail, "change id %s was already used for a different change", c->d.id);
        return gs_codec_ack_rejected(&b->ack, c->d.id, c->d.seq, GS_EID_REUSED, detail);
      }
      if (status == 0) {
        b->ack.duplicates++;
        return GS_OK;
      }
      return gs_codec_ack_rejected(&b->ack, c->d.id, c->d.seq, status, prev[0] ? prev : NULL);
    }
    if (src != GS_ENOTFOUND) return src;
  }
  if (rc) return reject(e, b, c, rc, detail);

  /* a clock too far ahead must not win every later edit */
  if (c->d.ver.ms > b->now + e->cfg.max_skew_ms) {
    gs_hlc t = gs_hlc_tick(&e->hlc, b->now);
    gs_warn("engine: device %s change %s: hlc %lld is %llds ahead of the server; clamped to %lld", b->device, c->d.id,
            (long long)c->d.ver.ms, (long long)((c->d.ver.ms - b->now) / 1000), (long long)t.ms);
    if ((rc = gs_store_skew_log(e->store, c->d.id, b->device, c->d.ver.ms, b->now, b->now))) return rc;
    c->d.ver.ms = t.ms;
    c->d.ver.c = t.c;
    c->clamped = 1;
  } else {
    gs_hlc_recv(&e->hlc, (gs_hlc){c->d.ver.ms, c->d.ver.c}, b->now);
  }
  int conflicted = 0;
  rc = merge(e, b, c, &conflicted, detail, sizeof detail);
  if (rc == GS_EFORBIDDEN_GRID || rc == GS_EMISSING_FIELD || rc == GS_EBAD_VALUE) return reject(e, b, c, rc, detail);
  if (rc) return rc;
  if ((rc = store_change(e, b, c, 0, NULL))) return rc;
  if ((rc = record_seq(e, b, c->d.seq))) return rc;
  b->ack.applied++;
  if (conflicted) rc = gs_codec_ack_conflict(&b->ack, c->d.id);
  return rc;
}

static int apply_change(gs_engine *e, batch_ctx *b, const cJSON *cj) {
  change c;
  memset(&c, 0, sizeof c);
  return apply_change_in(e, b, cj, &c);
}

/* 1 when device is registered (with *enabled and *acked), 0 when not, < 0 a
 * negated gs_err. */
static int device_row(gs_engine *e, const char *device, int *enabled, int64_t *acked) {
  int rc = gs_store_device_get(e->store, device, enabled, acked);
  if (rc == GS_ENOTFOUND) return 0;
  return rc ? -rc : 1;
}

/* Applies one batch inside an open transaction; fills ack. */
static int apply_batch(gs_engine *e, const gs_batch_in *in, gs_buf *ack) {
  int rc = GS_OK;
  gs_codec_batch doc = {0};
  batch_ctx b;
  memset(&b, 0, sizeof b);
  b.device = in->device;
  b.now = now_ms(e);
  b.gaps = -1;
  char detail[256];
  int enabled = 0;
  int found = gs_valid_device_id(in->device) ? device_row(e, in->device, &enabled, &b.acked_seq) : 0;
  if (found < 0) return -found;
  if ((rc = gs_codec_batch_size(in->len, e->cfg.max_batch_bytes, detail, sizeof detail)))
    return gs_codec_ack_error(ack, NULL, b.acked_seq, e->hlc, rc, detail);
  if (!found || !enabled) {
    snprintf(detail, sizeof detail, "device %.64s is not registered or is disabled; ask an administrator", in->device);
    return gs_codec_ack_error(ack, NULL, 0, e->hlc, GS_EUNKNOWN_DEVICE, detail);
  }
  if ((rc = gs_codec_batch_parse(in->payload, in->len, e->cfg.max_changes, &doc, detail, sizeof detail))) {
    rc = gs_codec_ack_error(ack, doc.batch, b.acked_seq, e->hlc, rc, detail);
    goto out;
  }
  const cJSON *cj;
  cJSON_ArrayForEach(cj, doc.changes) {
    if ((rc = apply_change(e, &b, cj))) goto out;
  }
  if ((rc = gs_store_device_seen(e->store, b.device, b.acked_seq, b.now))) goto out;
  if (e->hooks.device && (rc = e->hooks.device(e->hooks.ctx, b.device, b.now))) goto out;
  rc = gs_codec_ack_write(ack, doc.batch, b.acked_seq, e->hlc, &b.ack);
out:
  gs_codec_ack_free(&b.ack);
  gs_codec_batch_free(&doc);
  return rc;
}

static int save_meta(gs_engine *e) { return gs_store_sync_meta_save(e->store, e->rev, e->hlc.ms, e->hlc.c); }

int gs_engine_apply_group(gs_engine *e, const gs_batch_in *in, size_t n, gs_buf *acks) {
  int64_t rev0 = e->rev;
  gs_hlc hlc0 = e->hlc;
  size_t *len0 = gs_malloc((n ? n : 1) * sizeof *len0);
  if (!len0) return GS_ENOMEM;
  for (size_t i = 0; i < n; i++) len0[i] = acks[i].len;
  if (e->ws && gs_walsync_failed(e->ws)) { /* logged by the walsync */
    gs_free(len0);
    return GS_EIO;
  }
  gs_store_writer_turn(e->store, e->ckpt);
  int rc = gs_store_begin(e->store);
  if (rc) {
    gs_free(len0);
    return rc;
  }
  /* Another writer on the same file (gs-admin household import or seed while
   * the collector runs) may have committed since this engine's last
   * transaction: go on from its rev and clock, or phones whose cursor passed
   * its revs would never pull the rows written under a reused rev. */
  int64_t mrev = meta_get(e->store, "rev");
  gs_hlc mh = {meta_get(e->store, "hlc_ms"), (int32_t)meta_get(e->store, "hlc_c")};
  if (mrev > e->rev) e->rev = rev0 = mrev;
  if (mh.ms > e->hlc.ms || (mh.ms == e->hlc.ms && mh.c > e->hlc.c)) e->hlc = hlc0 = mh;
  for (size_t i = 0; !rc && i < n; i++) rc = apply_batch(e, &in[i], &acks[i]);
  if (!rc) rc = save_meta(e);
  if (!rc && e->hooks.precommit) rc = e->hooks.precommit(e->hooks.ctx);
  if (!rc) rc = gs_store_commit(e->store); /* ends every read first (gs_store.h) */
  if (rc) {
    gs_warn("engine: batch transaction of %zu batch(es) rolled back: %s; no ack sent, devices will retry", n,
            gs_strerror(rc));
    gs_store_rollback(e->store);
    e->rev = rev0;
    e->hlc = hlc0;
    for (size_t i = 0; i < n; i++) {
      acks[i].len = len0[i];
      if (acks[i].data) acks[i].data[len0[i]] = '\0';
    }
    if (!gs_err_transient(rc) && rc != GS_ESTORE && rc != GS_EINTERNAL) rc = GS_EIO;
  }
  if (!rc) {
    e->commits++;
    if (e->ws) gs_walsync_committed(e->ws, e->commits);
  }
  if (e->hooks.end) e->hooks.end(e->hooks.ctx, rc == GS_OK);
  gs_free(len0);
  return rc;
}

int gs_engine_apply(gs_engine *e, const char *device, const char *payload, size_t len, gs_buf *ack) {
  gs_batch_in in = {device, payload, len};
  return gs_engine_apply_group(e, &in, 1, ack);
}

/* ------------------------------------------------------------------ */
/* Pull                                                                 */

struct pull_ctx {
  gs_codec_page page;
  int64_t limit, next;
  int more;
};

static int pull_row(void *ctx, const gs_store_pull_row *r) {
  struct pull_ctx *p = ctx;
  if (p->page.n == p->limit) {
    p->more = 1;
    return GS_STORE_STOP;
  }
  p->next = r->rev;
  return gs_codec_page_entity(&p->page, r->type, r->id, r->rev, r->fields.p, r->fields.len, r->ver.p, r->ver.len);
}

int gs_engine_pull(gs_engine *e, const char *device, const char *payload, size_t len, gs_buf *page) {
  int enabled = 0;
  int64_t acked = 0;
  int found = gs_valid_device_id(device) ? device_row(e, device, &enabled, &acked) : 0;
  gs_store_end_reads(e->store); /* a pull runs outside a transaction: keep no snapshot */
  if (found < 0) return -found;
  char detail[256];
  gs_codec_pull req;
  int rc = gs_codec_pull_parse(payload, len, e->cfg.pull_limit_default, &req, detail, sizeof detail);
  if (rc) return gs_codec_pull_error(page, -1, NULL, rc, detail);
  if (!found || !enabled)
    return gs_codec_pull_error(page, req.since, req.req[0] ? req.req : NULL, GS_EUNKNOWN_DEVICE,
                               "device is not registered or is disabled; ask an administrator");
  int64_t limit = req.limit > e->cfg.pull_limit_max ? e->cfg.pull_limit_max : req.limit;
  struct pull_ctx p = {.page = GS_CODEC_PAGE_INIT, .limit = limit, .next = req.since};
  rc = gs_store_entity_pull(e->store, device, req.since, limit + 1, pull_row, &p);
  if (!rc) rc = gs_codec_page_write(page, req.since, req.req, p.next, p.more, &p.page);
  gs_codec_page_free(&p.page);
  return rc;
}
