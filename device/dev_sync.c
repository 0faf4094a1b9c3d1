/* dev_sync.c - the sync engine: push the outbox, then pull pages.
 *
 * Knows the protocol documents (docs/PROTOCOL.md, "Sync over MQTT") but not the transport:
 * it talks to a gs_dev_transport (dev_mqtt.c or dev_coap.c).
 *
 * Push. The batch being sent is recorded in meta before the first send
 * (inflight_batch, inflight_first, inflight_last). A resend after a timeout,
 * a disconnect or a crash rebuilds the same batch from the same stored change
 * bodies with the same batch id, so the collector sees byte-identical changes
 * and dedups them by change id. An ack trims, in one transaction, every change
 * with seq <= acked_seq, moves the listed rejections to the rejected table,
 * merges the collector's HLC and clears the inflight record.
 *
 * Pull. {"v":1,"since":cursor,"limit":L} until a page says more=false; each
 * page is merged (per-field LWW, dev_merge.c) and the cursor advanced in one
 * transaction, so an interrupted pull resumes where it stopped.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dev_int.h"
#include "gs_buf.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

typedef struct batch {
  char id[64];
  int64_t first, last;
  int n;
  gs_buf json;
} batch;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int64_t num(const cJSON *o, const char *k, int64_t dflt) {
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(n) ? (int64_t)n->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* Appends outbox rows with seq in [from, to] (to < 0: open) to b, at most
 * max_n changes and about max_bytes (always at least one change). */
static int batch_fill(gs_dev *dev, batch *b, int64_t from, int64_t to, int max_n, size_t max_bytes) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(dev->db,
                              "SELECT seq, body FROM outbox WHERE seq >= ?1"
                              " AND (?2 < 0 OR seq <= ?2) ORDER BY seq LIMIT ?3",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return dev__fail(dev, GS_ESTORE, "read outbox: %s", sqlite3_errmsg(dev->db));
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  sqlite3_bind_int(st, 3, max_n);
  int err = GS_OK;
  gs_buf_reset(&b->json);
  b->n = 0;
  /* The batch id goes in after the loop; reserve the prefix layout. */
  gs_buf body = GS_BUF_INIT;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *c = (const char *)sqlite3_column_text(st, 1);
    size_t clen = (size_t)sqlite3_column_bytes(st, 1);
    if (b->n > 0 && body.len + clen + 64 > max_bytes) break;
    if ((b->n && gs_buf_puts(&body, ",")) || gs_buf_append(&body, c, clen)) {
      err = GS_ENOMEM;
      break;
    }
    if (b->n == 0) b->first = sqlite3_column_int64(st, 0);
    b->last = sqlite3_column_int64(st, 0);
    b->n++;
  }
  if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
    err = dev__fail(dev, GS_ESTORE, "read outbox: %s", sqlite3_errmsg(dev->db));
  sqlite3_finalize(st);
  if (!err && b->n) {
    if (gs_buf_puts(&b->json, "{\"v\":1,\"batch\":") || gs_buf_json_str(&b->json, b->id) ||
        gs_buf_puts(&b->json, ",\"changes\":[") || gs_buf_append(&b->json, body.data, body.len) ||
        gs_buf_puts(&b->json, "]}"))
      err = GS_ENOMEM;
  }
  gs_buf_free(&body);
  return err;
}

/* Loads the inflight batch, or starts a new one and records it durably.
 * b->n == 0 means the outbox is empty. */
static int batch_next(gs_dev *dev, batch *b, int max_n, size_t max_bytes) {
  char *id = NULL;
  int64_t first = 0, last = 0;
  int err = dev__meta_get_text(dev, "inflight_batch", &id);
  if (err) return err;
  if (id) {
    snprintf(b->id, sizeof(b->id), "%s", id);
    gs_free(id);
    if ((err = dev__meta_get_i64(dev, "inflight_first", 0, &first)) ||
        (err = dev__meta_get_i64(dev, "inflight_last", 0, &last)))
      return err == GS_ENOTFOUND ? dev__fail(dev, GS_ESTORE, "inflight batch record is corrupt") : err;
    /* No byte limit on a resend: it must be the same batch. */
    if ((err = batch_fill(dev, b, first, last, (int)(last - first + 1), SIZE_MAX))) return err;
    if (b->n > 0) return GS_OK;
    /* Every change of it is gone (acked by an earlier session): drop it. */
    if ((err = dev__meta_set_text(dev, "inflight_batch", NULL))) return err;
  }
  b->id[0] = 0;
  if ((err = batch_fill(dev, b, 0, -1, max_n, max_bytes)) || b->n == 0) return err;
  char rnd[37];
  gs_uuid4(rnd);
  snprintf(b->id, sizeof(b->id), "b-%lld-%.8s", (long long)b->first, rnd);
  /* Rebuild with the id in place (batch_fill writes b->id into the JSON). */
  if ((err = batch_fill(dev, b, b->first, b->last, b->n, SIZE_MAX))) return err;
  if ((err = dev__store_begin(dev))) return err;
  if ((err = dev__meta_set_text(dev, "inflight_batch", b->id)) ||
      (err = dev__meta_set_i64(dev, "inflight_first", b->first)) ||
      (err = dev__meta_set_i64(dev, "inflight_last", b->last)) || (err = dev__store_commit(dev)))
    dev__store_rollback(dev);
  return err;
}

static int ack_accept(const char *msg, size_t len, void *arg) {
  const char *want = arg;
  cJSON *j = cJSON_ParseWithLength(msg, len);
  int ok = 0;
  if (cJSON_IsObject(j)) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "batch");
    if (cJSON_IsString(b)) ok = strcmp(b->valuestring, want) == 0;
    else /* a batch-level error on a batch the collector could not read */
      ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error"));
  }
  cJSON_Delete(j);
  return ok;
}

/* Applies an ack document to the store. *progress is set when the outbox shrank. */
static int apply_ack(gs_dev *dev, batch *b, const char *msg, gs_dev_sync_stats *st, int *max_n, int *progress) {
  cJSON *a = cJSON_Parse(msg);
  int err = GS_OK, unknown_device = 0;
  int64_t before = dev__outbox_count(dev);
  *progress = 0;
  if (!cJSON_IsObject(a) || num(a, "v", 0) != 1) {
    err = dev__fail(dev, GS_EPROTO, "ack for batch %s is not a v1 JSON object", b->id);
    goto out;
  }
  if ((err = dev__store_begin(dev))) goto out;
  const char *e = str(a, "error");
  if (e) {
    const char *detail = str(a, "detail");
    gs_warn("batch %s (%d changes, seq %lld..%lld) refused: %s %s", b->id, b->n, (long long)b->first,
            (long long)b->last, e, detail ? detail : "");
    if (!strcmp(e, "too_large") && b->n > 1) {
      *max_n = b->n / 2; /* split in halves and retry with new batch ids */
    } else if (!strcmp(e, "unknown_device")) {
      /* not the changes' fault: an administrator has yet to register (or
       * re-enable) this phone. Keep everything typed and stop this sync. */
      unknown_device = 1;
    } else {
      err = dev__outbox_reject_range(dev, b->first, b->last, e, detail);
      st->rejected += b->n;
    }
  } else {
    int64_t acked = num(a, "acked_seq", -1), old = 0;
    if (acked < 0) {
      err = dev__fail(dev, GS_EPROTO, "ack for batch %s has no acked_seq", b->id);
      goto rollback;
    }
    const cJSON *r, *rej = cJSON_GetObjectItemCaseSensitive(a, "rejected");
    cJSON_ArrayForEach(r, rej) {
      const char *id = str(r, "id"), *re = str(r, "error");
      if (!id) continue;
      gs_info("change %s (seq %lld) rejected: %s %s", id, (long long)num(r, "seq", 0), re ? re : "?",
              str(r, "detail") ? str(r, "detail") : "");
      if ((err = dev__outbox_reject(dev, id, re ? re : "rejected", str(r, "detail")))) goto rollback;
    }
    if ((err = dev__outbox_trim(dev, acked))) goto rollback;
    err = dev__meta_get_i64(dev, "acked_seq", 0, &old);
    if (err && err != GS_ENOTFOUND) goto rollback;
    if (acked > old && (err = dev__meta_set_i64(dev, "acked_seq", acked))) goto rollback;
    dev_hlc h, rh;
    if ((err = dev__hlc_load(dev, &h))) goto rollback;
    if (dev__hlc_parse(cJSON_GetObjectItemCaseSensitive(a, "hlc"), &rh, NULL) == GS_OK) {
      dev__hlc_merge(&h, rh.ms, rh.c, gs_now_ms());
      if ((err = dev__hlc_save(dev, h))) goto rollback;
    }
    st->applied += num(a, "applied", 0);
    st->duplicates += num(a, "duplicates", 0);
    st->rejected += cJSON_GetArraySize(rej);
    st->conflicts += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "conflicts"));
  }
  if ((err = dev__meta_set_text(dev, "inflight_batch", NULL)) || (err = dev__store_commit(dev))) goto rollback;
  if (unknown_device) {
    err = dev__fail(dev, GS_EUNKNOWN_DEVICE,
                    "unknown_device: the server does not know this phone (or it is disabled); ask an administrator "
                    "to run gs-admin device add; %lld change(s) kept in the outbox",
                    (long long)before);
    goto out;
  }
  int64_t after = dev__outbox_count(dev);
  if (after < before) {
    *progress = 1;
    st->pushed += before - after;
  } else if (e && !strcmp(e, "too_large") && b->n > 1) {
    *progress = 1;
  }
  st->batches++;
  goto out;
rollback:
  dev__store_rollback(dev);
out:
  cJSON_Delete(a);
  return err;
}

typedef struct link {
  gs_dev_transport *t;
  int up;
  int64_t deadline;
  int request_ms;
} link;

static int remaining(const link *l) {
  int64_t r = l->deadline - gs_mono_ms();
  return r <= 0 ? 0 : (int)(r < l->request_ms ? r : l->request_ms);
}

/* Connects when not connected, retrying transient failures with backoff. */
static int link_up(gs_dev *dev, link *l) {
  int backoff = 200, tls_failures = 0;
  while (!l->up) {
    int ms = remaining(l);
    if (ms <= 0) {
      char last[sizeof(dev->err)];
      snprintf(last, sizeof(last), "%s", dev->err[0] ? dev->err : "no connection attempt finished");
      return dev__fail(dev, GS_ETIMEOUT, "could not connect before the sync timeout: %s", last);
    }
    int err = l->t->ops->connect(l->t->ctx, ms);
    if (!err) {
      l->up = 1;
      dev->err[0] = 0;
      return GS_OK;
    }
    /* A TLS failure is usually for good (wrong CA, revoked certificate), but
     * a connection cut during the handshake looks the same: try a few times. */
    if (err == GS_ETLS && ++tls_failures >= 4) return err;
    if (err != GS_ENET && err != GS_ETIMEOUT && err != GS_ETLS) return err; /* configuration: retrying will not help */
    gs_info("connect failed (%s); retrying in %d ms", gs_errname(err), backoff);
    sleep_ms(backoff);
    if (backoff < 2000) backoff *= 2;
  }
  return GS_OK;
}

static void link_down(link *l) {
  if (l->up) l->t->ops->close(l->t->ctx);
  l->up = 0;
}

static int push_all(gs_dev *dev, link *l, const gs_dev_sync_opts *o, gs_dev_sync_stats *st) {
  batch b;
  int max_n = o->max_changes, err = GS_OK;
  memset(&b, 0, sizeof(b));
  for (;;) {
    if ((err = batch_next(dev, &b, max_n, o->max_bytes)) || b.n == 0) break;
    if ((err = link_up(dev, l))) break;
    int ms = remaining(l);
    if (ms <= 0) {
      err = dev__fail(dev, GS_ETIMEOUT, "sync timed out waiting for the ack of batch %s", b.id);
      break;
    }
    char *reply = NULL;
    size_t rlen = 0;
    gs_debug("push batch %s: %d changes, seq %lld..%lld, %zu bytes", b.id, b.n, (long long)b.first, (long long)b.last,
             b.json.len);
    err = l->t->ops->push(l->t->ctx, b.json.data, b.json.len, ack_accept, b.id, ms, &reply, &rlen);
    if (err == GS_ETIMEOUT || err == GS_ENET) {
      char why[sizeof(dev->err)];
      snprintf(why, sizeof(why), "%s", dev->err);
      if (remaining(l) <= 0) {
        err = dev__fail(dev, GS_ETIMEOUT, "no ack for batch %s before the sync timeout: %s", b.id, why);
        break;
      }
      gs_info("batch %s: %s; reconnecting to resend it", b.id, why);
      st->retries++;
      link_down(l);
      continue;
    }
    if (err) break;
    int progress = 0;
    err = apply_ack(dev, &b, reply, st, &max_n, &progress);
    gs_free(reply);
    if (err) break;
    if (!progress) {
      err = dev__fail(dev, GS_EPROTO,
                      "ack of batch %s acknowledged none of seq %lld..%lld; the collector may "
                      "have lost earlier changes of this device",
                      b.id, (long long)b.first, (long long)b.last);
      break;
    }
  }
  gs_buf_free(&b.json);
  return err;
}

typedef struct page_want {
  int64_t since;
  char req[24]; /* request id the page must echo (servers that echo it) */
} page_want;

static int page_accept(const char *msg, size_t len, void *arg) {
  page_want *w = arg;
  cJSON *j = cJSON_ParseWithLength(msg, len);
  /* A page answers our `since`; an error reply may not carry it (it answers
   * a request the collector could not read), like a batch-level error. */
  int ok = cJSON_IsObject(j) && ((num(j, "since", -1) == w->since && cJSON_GetObjectItemCaseSensitive(j, "entities")) ||
                                 (str(j, "error") && num(j, "since", w->since) == w->since));
  /* After a reconnect an older page with the same `since` may still arrive:
   * a page that echoes a request id must echo ours (docs/PROTOCOL.md). */
  if (ok && str(j, "req") && strcmp(str(j, "req"), w->req) != 0) ok = 0;
  cJSON_Delete(j);
  return ok;
}

static int apply_page(gs_dev *dev, const char *msg, int64_t since, int64_t *next, int *more, gs_dev_sync_stats *st) {
  cJSON *p = cJSON_Parse(msg), *lf = NULL, *lv = NULL;
  int err = GS_OK;
  if (!cJSON_IsObject(p) || num(p, "v", 0) != 1) {
    err = dev__fail(dev, GS_EPROTO, "page since %lld is not a v1 JSON object", (long long)since);
    goto out;
  }
  if (str(p, "error")) {
    err = dev__fail(dev, GS_EPROTO, "pull since %lld refused: %s %s", (long long)since, str(p, "error"),
                    str(p, "detail") ? str(p, "detail") : "");
    goto out;
  }
  const cJSON *ents = cJSON_GetObjectItemCaseSensitive(p, "entities"), *e;
  *next = num(p, "next", -1);
  *more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "more"));
  if (!cJSON_IsArray(ents) || *next < since || (*more && *next == since)) {
    err = dev__fail(dev, GS_EPROTO, "page since %lld is malformed (next %lld)", (long long)since, (long long)*next);
    goto out;
  }
  dev_hlc h, seen = {0, 0};
  if ((err = dev__store_begin(dev))) goto out;
  cJSON_ArrayForEach(e, ents) {
    const char *type = str(e, "type"), *id = str(e, "id");
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(e, "fields");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(e, "ver");
    if (!type || !id || !cJSON_IsObject(rf) || !cJSON_IsObject(rv) || !gs_valid_entity_id(id)) {
      gs_warn("page since %lld: skipping a malformed entity", (long long)since);
      continue;
    }
    err = dev__entity_load(dev, type, id, &lf, &lv, NULL);
    if (err && err != GS_ENOTFOUND) goto rollback;
    if (dev__merge(lf, lv, rf, rv, &seen) < 0) {
      err = dev__fail(dev, GS_ENOMEM, "out of memory merging %s/%s", type, id);
      goto rollback;
    }
    if ((err = dev__entity_save(dev, type, id, lf, lv, num(e, "rev", 0)))) goto rollback;
    cJSON_Delete(lf);
    cJSON_Delete(lv);
    lf = lv = NULL;
    st->pulled++;
  }
  /* Seeing a version moves the clock past it: a later local edit of the
   * same field then wins, as it should (it was made after seeing it). */
  if ((err = dev__hlc_load(dev, &h))) goto rollback;
  if (seen.ms > 0) {
    dev__hlc_merge(&h, seen.ms, seen.c, gs_now_ms());
    if ((err = dev__hlc_save(dev, h))) goto rollback;
  }
  if ((err = dev__meta_set_i64(dev, "cursor", *next)) || (err = dev__store_commit(dev))) goto rollback;
  st->pages++;
  goto out;
rollback:
  dev__store_rollback(dev);
out:
  cJSON_Delete(lf);
  cJSON_Delete(lv);
  cJSON_Delete(p);
  return err;
}

static int pull_all(gs_dev *dev, link *l, const gs_dev_sync_opts *o, gs_dev_sync_stats *st) {
  int64_t cursor = 0;
  int err = dev__meta_get_i64(dev, "cursor", 0, &cursor);
  if (err && err != GS_ENOTFOUND) return err;
  for (;;) {
    if ((err = link_up(dev, l))) return err;
    int ms = remaining(l);
    if (ms <= 0)
      return dev__fail(dev, GS_ETIMEOUT, "sync timed out waiting for the page since %lld", (long long)cursor);
    char req[160], *reply = NULL;
    size_t rlen = 0;
    page_want w = {cursor, ""};
    char uuid[37];
    gs_uuid4(uuid);
    snprintf(w.req, sizeof(w.req), "p-%.16s", uuid);
    snprintf(req, sizeof(req), "{\"v\":1,\"since\":%lld,\"limit\":%d,\"req\":\"%s\"}", (long long)cursor, o->pull_limit,
             w.req);
    err = l->t->ops->pull(l->t->ctx, req, strlen(req), page_accept, &w, ms, &reply, &rlen);
    if (err == GS_ETIMEOUT || err == GS_ENET) {
      char why[sizeof(dev->err)];
      snprintf(why, sizeof(why), "%s", dev->err);
      if (remaining(l) <= 0)
        return dev__fail(dev, GS_ETIMEOUT, "no page for pull since %lld before the sync timeout: %s", (long long)cursor,
                         why);
      gs_info("pull since %lld: %s; reconnecting to ask again", (long long)cursor, why);
      st->retries++;
      link_down(l);
      continue;
    }
    if (err) return err;
    int64_t next = cursor;
    int more = 0;
    err = apply_page(dev, reply, cursor, &next, &more, st);
    gs_free(reply);
    if (err) return err;
    cursor = next;
    if (!more) return GS_OK;
  }
}

int gs_dev_sync(gs_dev *dev, gs_dev_transport *t, const gs_dev_sync_opts *opts, gs_dev_sync_stats *st) {
  gs_dev_sync_opts o = {30000, 10000, 200, 200 * 1024, 500, 0};
  gs_dev_sync_stats dummy;
  if (opts) {
    o = *opts;
    if (o.timeout_ms <= 0) o.timeout_ms = 30000;
    if (o.request_timeout_ms <= 0) o.request_timeout_ms = 10000;
    if (o.max_changes <= 0) o.max_changes = 200;
    if (o.max_bytes == 0) o.max_bytes = 200 * 1024;
    if (o.pull_limit <= 0) o.pull_limit = 500;
  }
  if (!st) st = &dummy;
  memset(st, 0, sizeof(*st));
  dev->err[0] = 0;
  link l = {t, 0, gs_mono_ms() + o.timeout_ms, o.request_timeout_ms};
  int err = push_all(dev, &l, &o, st);
  if (!err && !o.no_pull) err = pull_all(dev, &l, &o, st);
  link_down(&l);
  if (err && !dev->err[0]) dev__fail(dev, err, "sync failed: %s", gs_strerror(err));
  return err;
}
