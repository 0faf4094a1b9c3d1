/* test_dev_unit.c - unit tests of the reference device: HLC, version order,
 * LWW merge, local edits, and the sync engine's outbox handling driven
 * through an in-process scripted transport (no network).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev_int.h"
#include "gs_error.h"
#include "gs_mem.h"
#include "gs_util.h"

/* ---- HLC ---------------------------------------------------------------- */

static void hlc_tick_monotonic(void **state) {
  dev_hlc h = {0, 0};
  dev_hlc a = dev__hlc_tick(&h, 1000);
  assert_int_equal(a.ms, 1000);
  assert_int_equal(a.c, 0);
  a = dev__hlc_tick(&h, 1000); /* same ms */
  assert_int_equal(a.c, 1);
  a = dev__hlc_tick(&h, 900); /* wall clock stepped back */
  assert_int_equal(a.ms, 1000);
  assert_int_equal(a.c, 2);
  a = dev__hlc_tick(&h, 1001);
  assert_int_equal(a.ms, 1001);
  assert_int_equal(a.c, 0);
}

static void hlc_counter_carries(void **state) {
  dev_hlc h = {5000, 65535};
  dev_hlc a = dev__hlc_tick(&h, 10);
  assert_int_equal(a.ms, 5001);
  assert_int_equal(a.c, 0);
}

static void hlc_merge_cases(void **state) {
  dev_hlc h = {1000, 4};
  dev__hlc_merge(&h, 2000, 7, 1500); /* remote ahead */
  assert_int_equal(h.ms, 2000);
  assert_int_equal(h.c, 8);
  dev__hlc_merge(&h, 2000, 3, 1500); /* same ms, lower counter */
  assert_int_equal(h.ms, 2000);
  assert_int_equal(h.c, 9);
  dev__hlc_merge(&h, 1000, 50, 1500); /* remote behind */
  assert_int_equal(h.ms, 2000);
  assert_int_equal(h.c, 10);
  dev__hlc_merge(&h, 1000, 50, 3000); /* wall clock ahead of both */
  assert_int_equal(h.ms, 3000);
  assert_int_equal(h.c, 0);
  h.c = 65535;
  dev__hlc_merge(&h, 3000, 65535, 10);
  assert_int_equal(h.ms, 3001);
  assert_int_equal(h.c, 0);
}

static cJSON *J(const char *s) {
  cJSON *j = cJSON_Parse(s);
  assert_non_null(j);
  return j;
}

static void ver_compare(void **state) {
  cJSON *a = J("[100,0,\"dev-a\"]"), *b = J("[100,0,\"dev-b\"]"), *c = J("[100,1,\"dev-a\"]"),
        *d = J("[101,0,\"dev-0\"]"), *bad = J("[\"x\",0,\"dev\"]");
  assert_true(gs_dev_ver_cmp(a, b) < 0);
  assert_true(gs_dev_ver_cmp(b, a) > 0);
  assert_true(gs_dev_ver_cmp(b, c) < 0); /* counter before device */
  assert_true(gs_dev_ver_cmp(c, d) < 0); /* ms first */
  assert_int_equal(gs_dev_ver_cmp(a, a), 0);
  assert_true(gs_dev_ver_cmp(bad, a) < 0);
  assert_true(gs_dev_ver_cmp(NULL, a) < 0);
  assert_int_equal(gs_dev_ver_cmp(NULL, bad), 0);
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
  cJSON_Delete(d);
  cJSON_Delete(bad);
}

static void merge_lww(void **state) {
  cJSON *f = J("{\"members\":4,\"note\":\"mine\",\"grid\":\"g1\"}");
  cJSON *v = J("{\"members\":[200,0,\"dev-a\"],\"note\":[200,0,\"dev-a\"],\"grid\":[100,0,\"dev-a\"]}");
  cJSON *rf = J("{\"members\":3,\"note\":\"theirs\",\"address\":\"x\",\"grid\":\"g1\"}");
  cJSON *rv = J("{\"members\":[150,0,\"dev-z\"],\"note\":[200,0,\"dev-b\"],\"address\":[50,0,"
                "\"dev-z\"],\"grid\":[100,0,\"dev-a\"],\"tags\":[300,2,\"dev-z\"]}");
  dev_hlc seen = {0, 0};
  int n = dev__merge(f, v, rf, rv, &seen);
  assert_int_equal(n, 3); /* note (tie-break), address (new), tags (cleared) */
  assert_int_equal(cJSON_GetObjectItem(f, "members")->valueint, 4);           /* ours newer */
  assert_string_equal(cJSON_GetObjectItem(f, "note")->valuestring, "theirs"); /* dev-b > dev-a */
  assert_string_equal(cJSON_GetObjectItem(f, "address")->valuestring, "x");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(f, "tags"))); /* version without value = null */
  assert_int_equal(seen.ms, 300);
  assert_int_equal(seen.c, 2);
  /* Merging again changes nothing: idempotent. */
  assert_int_equal(dev__merge(f, v, rf, rv, NULL), 0);
  cJSON_Delete(f);
  cJSON_Delete(v);
  cJSON_Delete(rf);
  cJSON_Delete(rv);
}

/* Merge order does not matter: a then b equals b then a. */
static void merge_commutes(void **state) {
  const char *fa = "{\"x\":1,\"y\":1}", *va = "{\"x\":[10,0,\"a\"],\"y\":[30,0,\"a\"]}";
  const char *fb = "{\"x\":2,\"y\":2}", *vb = "{\"x\":[20,0,\"b\"],\"y\":[30,0,\"b\"]}";
  cJSON *f1 = cJSON_CreateObject(), *v1 = cJSON_CreateObject();
  cJSON *f2 = cJSON_CreateObject(), *v2 = cJSON_CreateObject();
  cJSON *A = J(fa), *AV = J(va), *B = J(fb), *BV = J(vb);
  dev__merge(f1, v1, A, AV, NULL);
  dev__merge(f1, v1, B, BV, NULL);
  dev__merge(f2, v2, B, BV, NULL);
  dev__merge(f2, v2, A, AV, NULL);
  char *s1 = cJSON_PrintUnformatted(f1), *s2 = cJSON_PrintUnformatted(f2);
  cJSON *x1 = cJSON_GetObjectItem(f1, "x"), *x2 = cJSON_GetObjectItem(f2, "x");
  assert_int_equal(x1->valueint, 2);
  assert_int_equal(x2->valueint, 2);
  assert_int_equal(cJSON_GetObjectItem(f1, "y")->valueint, 2);
  assert_int_equal(cJSON_GetObjectItem(f2, "y")->valueint, 2);
  cJSON_free(s1);
  cJSON_free(s2);
  cJSON_Delete(f1);
  cJSON_Delete(v1);
  cJSON_Delete(f2);
  cJSON_Delete(v2);
  cJSON_Delete(A);
  cJSON_Delete(AV);
  cJSON_Delete(B);
  cJSON_Delete(BV);
}

/* ---- a device in a temp home --------------------------------------------- */

typedef struct fixture {
  char home[64];
  gs_dev *dev;
} fixture;

static int dev_setup(void **state) {
  fixture *fx = calloc(1, sizeof(*fx));
  char err[600];
  snprintf(fx->home, sizeof(fx->home), "/tmp/gs-devunit.XXXXXX");
  assert_non_null(mkdtemp(fx->home));
  char pem[128];
  snprintf(pem, sizeof(pem), "%s/x.pem", fx->home);
  FILE *f = fopen(pem, "w");
  fputs("-----BEGIN DUMMY-----\n", f);
  fclose(f);
  gs_dev_conf c = {"dev-a", pem, pem, pem, "127.0.0.1", 1, 0};
  assert_int_equal(gs_dev_init(fx->home, &c, err, sizeof(err)), GS_OK);
  assert_int_equal(gs_dev_open(fx->home, &fx->dev, err, sizeof(err)), GS_OK);
  *state = fx;
  return 0;
}

static int dev_teardown(void **state) {
  fixture *fx = *state;
  char cmd[128];
  gs_dev_close(fx->dev);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->home);
  assert_int_equal(system(cmd), 0);
  free(fx);
  return 0;
}

static char *outbox_body(gs_dev *dev, int64_t seq) {
  sqlite3_stmt *st;
  char *r = NULL;
  sqlite3_prepare_v2(dev->db, "SELECT body FROM outbox WHERE seq=?", -1, &st, NULL);
  sqlite3_bind_int64(st, 1, seq);
  if (sqlite3_step(st) == SQLITE_ROW) r = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return r;
}

static char *new_household(gs_dev *dev, const char *grid, int members) {
  static char id[80];
  char js[128];
  snprintf(js, sizeof(js), "{\"grid\":\"%s\",\"address\":\"a\",\"members\":%d}", grid, members);
  cJSON *f = J(js);
  assert_int_equal(gs_dev_set(dev, "household", NULL, f, id), GS_OK);
  cJSON_Delete(f);
  return id;
}

static void set_builds_changes(void **state) {
  fixture *fx = *state;
  char id[80];
  snprintf(id, sizeof(id), "%s", new_household(fx->dev, "g1", 3));
  cJSON *f = J("{\"members\":4}");
  assert_int_equal(gs_dev_set(fx->dev, "household", id, f, NULL), GS_OK);
  cJSON_Delete(f);

  char *b1 = outbox_body(fx->dev, 1), *b2 = outbox_body(fx->dev, 2);
  cJSON *c1 = J(b1), *c2 = J(b2);
  assert_int_equal(cJSON_GetObjectItem(c1, "seq")->valueint, 1);
  assert_int_equal(cJSON_GetObjectItem(c2, "seq")->valueint, 2);
  assert_string_equal(cJSON_GetObjectItem(c2, "entity")->valuestring, id);
  assert_int_equal(strlen(cJSON_GetObjectItem(c1, "id")->valuestring), 36);
  assert_string_not_equal(cJSON_GetObjectItem(c1, "id")->valuestring, cJSON_GetObjectItem(c2, "id")->valuestring);
  assert_null(cJSON_GetObjectItem(c1, "base")->child); /* new entity: no base */
  /* base of change 2 = the version change 1 gave the field */
  cJSON *base = cJSON_GetObjectItem(cJSON_GetObjectItem(c2, "base"), "members");
  cJSON *h1 = cJSON_GetObjectItem(c1, "hlc");
  assert_non_null(base);
  assert_int_equal((int64_t)cJSON_GetArrayItem(base, 0)->valuedouble, (int64_t)cJSON_GetArrayItem(h1, 0)->valuedouble);
  assert_string_equal(cJSON_GetArrayItem(base, 2)->valuestring, "dev-a");
  assert_true(gs_dev_ver_cmp(cJSON_GetObjectItem(c2, "hlc"), h1) > 0);

  cJSON *e = NULL;
  assert_int_equal(gs_dev_get(fx->dev, "household", id, &e), GS_OK);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "fields"), "members")->valueint, 4);
  cJSON_Delete(e);

  /* Bad input writes nothing. */
  cJSON *bad = J("{\"Bad-Name\":1}");
  assert_int_equal(gs_dev_set(fx->dev, "household", id, bad, NULL), GS_EINVAL);
  cJSON_Delete(bad);
  bad = J("{\"members\":1}");
  assert_int_equal(gs_dev_set(fx->dev, "household", NULL, bad, NULL), GS_EINVAL); /* no grid */
  cJSON_Delete(bad);
  gs_dev_status st;
  assert_int_equal(gs_dev_get_status(fx->dev, &st), GS_OK);
  assert_int_equal(st.outbox, 2);
  assert_int_equal(st.next_seq, 3);

  assert_int_equal(gs_dev_delete(fx->dev, "household", id), GS_OK);
  cJSON *list = NULL;
  assert_int_equal(gs_dev_list(fx->dev, "household", NULL, &list), GS_OK);
  assert_int_equal(cJSON_GetArraySize(list), 0); /* deleted ones are hidden */
  cJSON_Delete(list);
  free(b1);
  free(b2);
  cJSON_Delete(c1);
  cJSON_Delete(c2);
}

/* ---- scripted transport ----------------------------------------------- */

enum { F_ACK_ALL, F_ACK_FIRST_ONLY, F_DROP_FIRST, F_DROP_ALL, F_TOO_LARGE_OVER2, F_BAD_VERSION, F_REJECT };

typedef struct fake {
  int mode;
  int pushes;
  char *batches[32];
  int connects;
  int pages_served;
} fake;

static int fk_connect(void *ctx, int ms) {
  ((fake *)ctx)->connects++;
  return GS_OK;
}

static int reply(const char *doc, gs_dev_accept_fn accept, void *arg, char **out, size_t *len) {
  /* A stale ack first: the engine must skip it. */
  const char *stale = "{\"v\":1,\"batch\":\"b-stale\",\"acked_seq\":999}";
  assert_false(accept(stale, strlen(stale), arg));
  assert_true(accept(doc, strlen(doc), arg));
  *out = gs_strdup(doc);
  *len = strlen(doc);
  return GS_OK;
}

static int fk_push(void *ctx, const char *batch, size_t len, gs_dev_accept_fn accept, void *arg, int ms, char **out,
                   size_t *olen) {
  fake *f = ctx;
  char doc[2048];
  if (f->pushes < 32) f->batches[f->pushes] = strndup(batch, len);
  f->pushes++;
  cJSON *b = cJSON_Parse(batch);
  const char *id = cJSON_GetObjectItem(b, "batch")->valuestring;
  cJSON *ch = cJSON_GetObjectItem(b, "changes");
  int n = cJSON_GetArraySize(ch);
  int first = cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "seq")->valueint;
  int last = cJSON_GetObjectItem(cJSON_GetArrayItem(ch, n - 1), "seq")->valueint;
  int rc = GS_OK;
  if ((f->mode == F_DROP_FIRST && f->pushes == 1) || f->mode == F_DROP_ALL) {
    usleep(20 * 1000);
    rc = GS_ETIMEOUT;
  } else if (f->mode == F_TOO_LARGE_OVER2 && n > 2) {
    snprintf(doc, sizeof(doc), "{\"v\":1,\"batch\":\"%s\",\"error\":\"too_large\"}", id);
  } else if (f->mode == F_BAD_VERSION) {
    snprintf(doc, sizeof(doc), "{\"v\":1,\"batch\":null,\"error\":\"bad_version\",\"detail\":\"v\"}");
  } else if (f->mode == F_REJECT) {
    snprintf(doc, sizeof(doc),
             "{\"v\":1,\"batch\":\"%s\",\"acked_seq\":%d,\"hlc\":[1,0],\"applied\":%d,"
             "\"duplicates\":0,\"rejected\":[{\"id\":\"%s\",\"seq\":%d,\"error\":\"bad_value\","
             "\"detail\":\"members\"}],\"conflicts\":[\"x\"]}",
             id, last, n - 1, cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "id")->valuestring, first);
  } else {
    /* F_ACK_FIRST_ONLY: the watermark stops at the first change. */
    int acked = f->mode == F_ACK_FIRST_ONLY && f->pushes == 1 ? first : last;
    snprintf(doc, sizeof(doc),
             "{\"v\":1,\"batch\":\"%s\",\"acked_seq\":%d,\"hlc\":[4102444800000,5],"
             "\"applied\":%d,\"duplicates\":0,\"rejected\":[],\"conflicts\":[]}",
             id, acked, acked - first + 1);
  }
  cJSON_Delete(b);
  if (rc) return rc;
  return reply(doc, accept, arg, out, olen);
}

static int fk_pull(void *ctx, const char *req, size_t len, gs_dev_accept_fn accept, void *arg, int ms, char **out,
                   size_t *olen) {
  fake *f = ctx;
  cJSON *r = cJSON_Parse(req);
  int since = cJSON_GetObjectItem(r, "since")->valueint;
  cJSON_Delete(r);
  char doc[1024];
  /* Two pages: rev 1 then rev 2 of one household, more=true then false. */
  snprintf(doc, sizeof(doc),
           "{\"v\":1,\"since\":%d,\"next\":%d,\"more\":%s,\"entities\":[{\"type\":\"household\","
           "\"id\":\"h-1\",\"rev\":%d,\"fields\":{\"grid\":\"g1\",\"members\":%d},"
           "\"ver\":{\"grid\":[10,0,\"dev-z\"],\"members\":[%d,0,\"dev-z\"]}}]}",
           since, since + 1, since == 0 ? "true" : "false", since + 1, since + 5, 10 + since);
  f->pages_served++;
  return reply(doc, accept, arg, out, olen);
}

static void fk_close(void *ctx) {}
static void fk_destroy(void *ctx) {}
static const gs_dev_transport_ops fake_ops = {"fake", fk_connect, fk_push, fk_pull, fk_close, fk_destroy};

static void fake_free(fake *f) {
  for (int i = 0; i < 32; i++) free(f->batches[i]);
}

static gs_dev_sync_opts quick = {5000, 1000, 2, 200 * 1024, 500, 1};

static void sync_trims_outbox(void **state) {
  fixture *fx = *state;
  fake f = {.mode = F_ACK_FIRST_ONLY};
  gs_dev_transport t = {&fake_ops, &f};
  gs_dev_sync_stats st;
  for (int i = 0; i < 5; i++) new_household(fx->dev, "g1", i);
  assert_int_equal(gs_dev_sync(fx->dev, &t, &quick, &st), GS_OK);
  /* batches of 2: [1,2] acked to 1 only, then [2,3], [4,5] */
  assert_int_equal(f.pushes, 3);
  assert_non_null(strstr(f.batches[1], "\"seq\":2"));
  assert_non_null(strstr(f.batches[1], "\"seq\":3"));
  assert_int_equal(st.pushed, 5);
  gs_dev_status s;
  gs_dev_get_status(fx->dev, &s);
  assert_int_equal(s.outbox, 0);
  assert_int_equal(s.acked_seq, 5);
  assert_int_equal(s.hlc_ms, 4102444800000LL); /* merged from the ack */
  assert_true(s.hlc_c >= 6);
  fake_free(&f);
}

static void sync_resends_same_batch(void **state) {
  fixture *fx = *state;
  fake f = {.mode = F_DROP_FIRST};
  gs_dev_transport t = {&fake_ops, &f};
  gs_dev_sync_stats st;
  new_household(fx->dev, "g1", 1);
  assert_int_equal(gs_dev_sync(fx->dev, &t, &quick, &st), GS_OK);
  assert_int_equal(f.pushes, 2);
  assert_string_equal(f.batches[0], f.batches[1]);
  assert_int_equal(st.retries, 1);
  assert_int_equal(f.connects, 2); /* reconnected before the resend */
  fake_free(&f);
}

/* A crash after sending: the next sync (new handle) resends the same batch. */
static void inflight_survives_reopen(void **state) {
  fixture *fx = *state;
  fake f = {.mode = F_DROP_ALL};
  gs_dev_transport t = {&fake_ops, &f};
  gs_dev_sync_opts once = quick;
  once.timeout_ms = 200; /* gives up: the collector never answers */
  new_household(fx->dev, "g1", 1);
  new_household(fx->dev, "g1", 2);
  assert_int_equal(gs_dev_sync(fx->dev, &t, &once, NULL), GS_ETIMEOUT);
  int sent = f.pushes;
  assert_true(sent >= 2 && sent < 32);
  for (int i = 1; i < sent; i++) assert_string_equal(f.batches[0], f.batches[i]);
  gs_dev_close(fx->dev);
  char err[600];
  assert_int_equal(gs_dev_open(fx->home, &fx->dev, err, sizeof(err)), GS_OK);
  new_household(fx->dev, "g1", 3); /* edited offline meanwhile */
  f.mode = F_ACK_ALL;
  assert_int_equal(gs_dev_sync(fx->dev, &t, &quick, NULL), GS_OK);
  assert_int_equal(f.pushes, sent + 2);
  assert_string_equal(f.batches[0], f.batches[sent]);
  assert_null(strstr(f.batches[sent], "\"seq\":3"));
  assert_non_null(strstr(f.batches[sent + 1], "\"seq\":3"));
  fake_free(&f);
}

static void sync_splits_too_large(void **state) {
  fixture *fx = *state;
  fake f = {.mode = F_TOO_LARGE_OVER2};
  gs_dev_transport t = {&fake_ops, &f};
  gs_dev_sync_opts o = quick;
  o.max_changes = 200;
  for (int i = 0; i < 5; i++) new_household(fx->dev, "g1", i);
  assert_int_equal(gs_dev_sync(fx->dev, &t, &o, NULL), GS_OK);
  assert_int_equal(f.pushes, 4); /* 5 (too large), 2, 2, 1 */
  gs_dev_status s;
  gs_dev_get_status(fx->dev, &s);
  assert_int_equal(s.outbox, 0);
  assert_int_equal(s.rejected, 0);
  fake_free(&f);
}

static void sync_rejections(void **state) {
  fixture *fx = *state;
  fake f = {.mode = F_REJECT};
  gs_dev_transport t = {&fake_ops, &f};
  gs_dev_sync_stats st;
  char id1[80], id2[80];
  snprintf(id1, sizeof(id1), "%s", new_household(fx->dev, "g1", 1));
  snprintf(id2, sizeof(id2), "%s", new_household(fx->dev, "g1", 2));
  assert_int_equal(gs_dev_sync(fx->dev, &t, &quick, &st), GS_OK);
  assert_int_equal(st.rejected, 1);
  /* The rejected creation is undone locally; the accepted one stays. */
  cJSON *e = NULL;
  assert_int_equal(gs_dev_get(fx->dev, "household", id1, &e), GS_ENOTFOUND);
  assert_int_equal(gs_dev_get(fx->dev, "household", id2, &e), GS_OK);
  cJSON_Delete(e);
  assert_int_equal(st.conflicts, 1);
  cJSON *r = NULL;
  assert_int_equal(gs_dev_rejected(fx->dev, &r), GS_OK);
  assert_int_equal(cJSON_GetArraySize(r), 1);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "error")->valuestring, "bad_value");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "seq")->valueint, 1);
  cJSON_Delete(r);
  fake_free(&f);

  /* A batch-level error other than too_large rejects the whole batch. */
  fake g = {.mode = F_BAD_VERSION};
  t.ctx = &g;
  new_household(fx->dev, "g1", 3);
  assert_int_equal(gs_dev_sync(fx->dev, &t, &quick, &st), GS_OK);
  gs_dev_status s;
  gs_dev_get_status(fx->dev, &s);
  assert_int_equal(s.outbox, 0);
  assert_int_equal(s.rejected, 2);
  fake_free(&g);
}

static void sync_pulls_pages(void **state) {
  fixture *fx = *state;
  fake f = {.mode = F_ACK_ALL};
  gs_dev_transport t = {&fake_ops, &f};
  gs_dev_sync_stats st;
  gs_dev_sync_opts o = quick;
  o.no_pull = 0;
  assert_int_equal(gs_dev_sync(fx->dev, &t, &o, &st), GS_OK);
  assert_int_equal(f.pages_served, 2);
  assert_int_equal(st.pulled, 2);
  gs_dev_status s;
  gs_dev_get_status(fx->dev, &s);
  assert_int_equal(s.cursor, 2);
  cJSON *e = NULL;
  assert_int_equal(gs_dev_get(fx->dev, "household", "h-1", &e), GS_OK);
  assert_int_equal(cJSON_GetObjectItem(e, "rev")->valueint, 2);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "fields"), "members")->valueint, 6);
  cJSON_Delete(e);
  /* A local edit after the pull carries the pulled version as base and a
   * newer hlc than anything pulled. */
  cJSON *fl = J("{\"members\":7}");
  assert_int_equal(gs_dev_set(fx->dev, "household", "h-1", fl, NULL), GS_OK);
  cJSON_Delete(fl);
  sqlite3_stmt *q;
  sqlite3_prepare_v2(fx->dev->db, "SELECT json_extract(body,'$.base.members') FROM outbox", -1, &q, NULL);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "[11,0,\"dev-z\"]");
  sqlite3_finalize(q);
  fake_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hlc_tick_monotonic),
      cmocka_unit_test(hlc_counter_carries),
      cmocka_unit_test(hlc_merge_cases),
      cmocka_unit_test(ver_compare),
      cmocka_unit_test(merge_lww),
      cmocka_unit_test(merge_commutes),
      cmocka_unit_test_setup_teardown(set_builds_changes, dev_setup, dev_teardown),
      cmocka_unit_test_setup_teardown(sync_trims_outbox, dev_setup, dev_teardown),
      cmocka_unit_test_setup_teardown(sync_resends_same_batch, dev_setup, dev_teardown),
      cmocka_unit_test_setup_teardown(inflight_survives_reopen, dev_setup, dev_teardown),
      cmocka_unit_test_setup_teardown(sync_splits_too_large, dev_setup, dev_teardown),
      cmocka_unit_test_setup_teardown(sync_rejections, dev_setup, dev_teardown),
      cmocka_unit_test_setup_teardown(sync_pulls_pages, dev_setup, dev_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
