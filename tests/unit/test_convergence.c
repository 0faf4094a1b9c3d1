/* Property test of convergence (docs/PROTOCOL.md, "Guarantees" 2).
 *
 * Several simulated devices make random offline edits to shared households,
 * sometimes "syncing" (seeing the others' earlier edits, which sets their
 * base versions). The same change set is then applied to a fresh SQLite store
 * in many random orders, split into random batches, with random duplicates.
 * Every run must end in byte-identical entity state (fields + versions) and
 * the same conflict set, both equal to a small reference model written here
 * independently of the engine: per field the value of the greatest version,
 * and the conflict pairs by the rule of docs/PROTOCOL.md, "Data model".
 *
 * GS_CONV_SETS (default 200) change sets x GS_CONV_ORDERS (default 5) orders:
 * 1,000 trials by default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_error.h"
#include "tharness.h"

#define NDEV   3
#define NENT   3
#define NFIELD 4
#define MAXCH  64

static const char *const devs[NDEV] = {"dev-a", "dev-b", "dev-c"};
static const char *const fields[NFIELD] = {"members", "note", "phone", "tags"};

typedef struct ver {
  long long ms;
  int c;
  int dev; /* index; -1 = none */
} ver;

typedef struct mchange {
  char id[32];
  int dev, seq, ent;
  ver v;
  int nf;
  int f[NFIELD];
  int val[NFIELD];  /* value index per written field */
  ver base[NFIELD]; /* per written field */
  char json[1024];
} mchange;

static unsigned long long rng;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static int vcmp(ver a, ver b) {
  if (a.dev < 0 || b.dev < 0) return (a.dev >= 0) - (b.dev >= 0);
  if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.c != b.c) return a.c < b.c ? -1 : 1;
  int r = strcmp(devs[a.dev], devs[b.dev]);
  return r < 0 ? -1 : r > 0;
}

static void value_json(int f, int val, char *out, size_t n) {
  static const char *const tags[] = {"[]", "[\"elderly_alone\"]", "[\"disabled\",\"low_income\"]"};
  switch (f) {
  case 0: snprintf(out, n, "%d", val); break;
  case 1: snprintf(out, n, "\"备注%d\"", val); break;
  case 2: snprintf(out, n, val == 2 ? "null" : "\"1380000%d\"", val); break;
  default: snprintf(out, n, "%s", tags[val % 3]); break;
  }
}

static const long long T0 = 1763880000000LL;

/* Generates a change set; returns the count. Entities h0..h2 are created by
 * dev-a first (applied before the permuted set). */
static int generate(mchange *ch, ver known[NDEV][NENT][NFIELD]) {
  int n = 0;
  long long clock[NDEV];
  int seq[NDEV], ctr[NDEV] = {0};
  for (int d = 0; d < NDEV; d++) {
    clock[d] = T0 + 1000 + rnd(50);
    seq[d] = d == 0 ? NENT : 0; /* dev-a used seqs 1..NENT for the creates */
  }
  int nch = 12 + (int)rnd(30);
  for (int k = 0; k < nch && n < MAXCH; k++) {
    int d = (int)rnd(NDEV);
    mchange *c = &ch[n];
    memset(c, 0, sizeof *c);
    c->dev = d;
    c->seq = ++seq[d];
    c->ent = (int)rnd(NENT);
    /* clocks: sometimes equal ms across devices, to exercise the tie-break */
    /* each device's versions strictly increase, as an HLC's do */
    if (rnd(3) == 0) {
      ctr[d]++;
    } else {
      clock[d] += 1 + rnd(40);
      ctr[d] = (int)rnd(2);
    }
    c->v = (ver){clock[d], ctr[d], d};
    snprintf(c->id, sizeof c->id, "ch-%02d-%s", n, devs[d]);
    /* occasionally sync: learn everything made so far */
    if (rnd(4) == 0) {
      for (int j = 0; j < n; j++)
        for (int q = 0; q < ch[j].nf; q++) {
          ver *kv = &known[d][ch[j].ent][ch[j].f[q]];
          if (vcmp(ch[j].v, *kv) > 0) *kv = ch[j].v;
        }
    }
    c->nf = 1 + (int)rnd(2);
    int used[NFIELD] = {0};
    for (int q = 0; q < c->nf; q++) {
      int f;
      do f = (int)rnd(NFIELD);
      while (used[f]);
      used[f] = 1;
      c->f[q] = f;
      c->val[q] = (int)rnd(3);
      c->base[q] = known[d][c->ent][f];
      if (vcmp(c->v, known[d][c->ent][f]) > 0) known[d][c->ent][f] = c->v;
    }
    /* JSON */
    char setb[400] = "", baseb[400] = "";
    for (int q = 0; q < c->nf; q++) {
      char v[64];
      value_json(c->f[q], c->val[q], v, sizeof v);
      size_t l = strlen(setb);
      snprintf(setb + l, sizeof setb - l, "%s\"%s\":%s", q ? "," : "", fields[c->f[q]], v);
      if (c->base[q].dev >= 0) {
        l = strlen(baseb);
        snprintf(baseb + l, sizeof baseb - l, "%s\"%s\":[%lld,%d,\"%s\"]", baseb[0] ? "," : "", fields[c->f[q]],
                 c->base[q].ms, c->base[q].c, devs[c->base[q].dev]);
      }
    }
    snprintf(c->json, sizeof c->json,
             "{\"id\":\"%s\",\"seq\":%d,\"type\":\"household\",\"entity\":\"h%d\",\"hlc\":[%lld,%d],"
             "\"base\":{%s},\"set\":{%s}}",
             c->id, c->seq, c->ent, c->v.ms, c->v.c, baseb, setb);
    n++;
  }
  return n;
}

/* Reference model: final fields JSON per entity and the sorted conflict keys. */
static void model(const mchange *ch, int n, char out_state[NENT][1024], char *out_conf, size_t conf_len) {
  for (int e = 0; e < NENT; e++) {
    ver best[NFIELD];
    int val[NFIELD];
    for (int f = 0; f < NFIELD; f++) best[f] = (ver){0, 0, -1};
    for (int j = 0; j < n; j++)
      for (int q = 0; q < ch[j].nf; q++)
        if (ch[j].ent == e && vcmp(ch[j].v, best[ch[j].f[q]]) > 0) {
          best[ch[j].f[q]] = ch[j].v;
          val[ch[j].f[q]] = ch[j].val[q];
        }
    /* canonical: keys sorted: address, grid, members, note, phone, tags */
    char *s = out_state[e];
    size_t l = (size_t)snprintf(s, 1024, "{\"address\":\"人民路%d号\",\"grid\":\"g1\"", e);
    for (int f = 0; f < NFIELD; f++) {
      if (best[f].dev < 0) continue;
      char v[64];
      value_json(f, val[f], v, sizeof v);
      l += (size_t)snprintf(s + l, 1024 - l, ",\"%s\":%s", fields[f], v);
    }
    snprintf(s + l, 1024 - l, "}");
  }
  /* conflicts: pairs (sorted ids), field; sorted lines */
  char lines[MAXCH * MAXCH][80];
  int nl = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      if (i == j || ch[i].ent != ch[j].ent || ch[i].dev == ch[j].dev || strcmp(ch[i].id, ch[j].id) > 0) continue;
      for (int p = 0; p < ch[i].nf; p++)
        for (int q = 0; q < ch[j].nf; q++) {
          if (ch[i].f[p] != ch[j].f[q]) continue;
          char vi[64], vj[64];
          value_json(ch[i].f[p], ch[i].val[p], vi, sizeof vi);
          value_json(ch[j].f[q], ch[j].val[q], vj, sizeof vj);
          if (strcmp(vi, vj) == 0) continue;
          if (vcmp(ch[i].v, ch[j].base[q]) > 0 && vcmp(ch[j].v, ch[i].base[p]) > 0)
            snprintf(lines[nl++], 80, "%s|%s|%s", ch[i].id, ch[j].id, fields[ch[i].f[p]]);
        }
    }
  qsort(lines, (size_t)nl, sizeof lines[0], (int (*)(const void *, const void *))strcmp);
  out_conf[0] = 0;
  size_t l = 0;
  for (int i = 0; i < nl; i++) l += (size_t)snprintf(out_conf + l, conf_len - l, "%s\n", lines[i]);
}

static void run_once(const mchange *ch, int n, char state[NENT][4096], char *conf, size_t conf_len) {
  th *t = th_open();
  /* creates first */
  char buf[65536];
  size_t l = (size_t)snprintf(buf, sizeof buf, "{\"v\":1,\"batch\":\"create\",\"changes\":[");
  for (int e = 0; e < NENT; e++)
    l += (size_t)snprintf(buf + l, sizeof buf - l,
                          "%s{\"id\":\"mk-%d\",\"seq\":%d,\"type\":\"household\",\"entity\":\"h%d\",\"hlc\":[%lld,0],"
                          "\"set\":{\"grid\":\"g1\",\"address\":\"人民路%d号\"}}",
                          e ? "," : "", e, e + 1, e, T0, e);
  snprintf(buf + l, sizeof buf - l, "]}");
  cJSON_Delete(th_apply(t, "dev-a", buf));
  /* permutation with duplicates */
  int order[MAXCH * 2], m = 0;
  for (int i = 0; i < n; i++) order[m++] = i;
  int dups = (int)rnd((unsigned)n / 2 + 1);
  for (int i = 0; i < dups; i++) order[m++] = (int)rnd((unsigned)n);
  for (int i = m - 1; i > 0; i--) {
    int j = (int)rnd((unsigned)i + 1), x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  /* random batches, each from one device */
  int i = 0;
  while (i < m) {
    int d = ch[order[i]].dev;
    l = (size_t)snprintf(buf, sizeof buf, "{\"v\":1,\"batch\":\"b%d\",\"changes\":[", i);
    int k = 0, lim = 1 + (int)rnd(4);
    while (i < m && ch[order[i]].dev == d && k < lim) {
      l += (size_t)snprintf(buf + l, sizeof buf - l, "%s%s", k ? "," : "", ch[order[i]].json);
      i++;
      k++;
    }
    snprintf(buf + l, sizeof buf - l, "]}");
    cJSON *ack = th_apply(t, devs[d], buf);
    if (cJSON_GetArraySize(cJSON_GetObjectItem(ack, "rejected")) != 0)
      fail_msg("unexpected rejection: %s", t->out.data);
    cJSON_Delete(ack);
  }
  for (int e = 0; e < NENT; e++) {
    char q[128];
    snprintf(q, sizeof q, "SELECT fields||'|'||ver FROM entity WHERE type='household' AND id='h%d'", e);
    snprintf(state[e], 4096, "%s", th_text(t, q));
  }
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(th_db(t), "SELECT a_change||'|'||b_change||'|'||field FROM conflict ORDER BY 1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  size_t cl = 0;
  conf[0] = 0;
  while (sqlite3_step(st) == SQLITE_ROW)
    cl += (size_t)snprintf(conf + cl, conf_len - cl, "%s\n", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  /* every device's watermark covers all its seqs */
  for (int d = 0; d < NDEV; d++) {
    int maxseq = d == 0 ? NENT : 0;
    for (int j = 0; j < n; j++)
      if (ch[j].dev == d && ch[j].seq > maxseq) maxseq = ch[j].seq;
    char q[128];
    snprintf(q, sizeof q, "SELECT acked_seq FROM device WHERE id='%s'", devs[d]);
    assert_int_equal(th_int(t, q), maxseq);
  }
  th_close(t);
}

static void test_convergence(void **state) {
  const char *s = getenv("GS_CONV_SETS"), *o = getenv("GS_CONV_ORDERS");
  int sets = s ? atoi(s) : 200, orders = o ? atoi(o) : 5;
  rng = 0x9E3779B97F4A7C15ULL ^ (unsigned long long)(getenv("GS_SEED") ? atoll(getenv("GS_SEED")) : 42);
  static mchange ch[MAXCH];
  static char conf0[MAXCH * MAXCH * 80], conf[MAXCH * MAXCH * 80], mconf[MAXCH * MAXCH * 80];
  static char st0[NENT][4096], st[NENT][4096];
  char mstate[NENT][1024];
  int trials = 0, with_conflicts = 0;
  for (int k = 0; k < sets; k++) {
    ver known[NDEV][NENT][NFIELD];
    for (int d = 0; d < NDEV; d++)
      for (int e = 0; e < NENT; e++)
        for (int f = 0; f < NFIELD; f++) known[d][e][f] = (ver){0, 0, -1};
    int n = generate(ch, known);
    model(ch, n, mstate, mconf, sizeof mconf);
    if (mconf[0]) with_conflicts++;
    for (int r = 0; r < orders; r++) {
      run_once(ch, n, r == 0 ? st0 : st, r == 0 ? conf0 : conf, sizeof conf);
      trials++;
      char(*cur)[4096] = r == 0 ? st0 : st;
      for (int e = 0; e < NENT; e++) {
        if (r > 0 && strcmp(st0[e], st[e]))
          fail_msg("set %d order %d: entity h%d differs:\n%s\n%s", k, r, e, st0[e], st[e]);
        /* fields part equals the model */
        char *bar = strchr(cur[e], '|');
        assert_non_null(bar);
        if (strncmp(cur[e], mstate[e], (size_t)(bar - cur[e])) || strlen(mstate[e]) != (size_t)(bar - cur[e]))
          fail_msg("set %d order %d: entity h%d: engine %.*s, model %s", k, r, e, (int)(bar - cur[e]), cur[e],
                   mstate[e]);
      }
      if (strcmp(r == 0 ? conf0 : conf, mconf))
        fail_msg("set %d order %d: conflicts differ\nengine:\n%smodel:\n%s", k, r, r == 0 ? conf0 : conf, mconf);
    }
  }
  printf("convergence: %d trials (%d change sets x %d orders), %d sets with conflicts\n", trials, sets, orders,
         with_conflicts);
  assert_true(with_conflicts > sets / 10); /* the generator must actually produce conflicts */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_convergence)};
  return cmocka_run_group_tests_name("convergence", tests, NULL, NULL);
}
