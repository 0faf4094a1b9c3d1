#include "gs_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "gs_error.h"
#include "gs_json.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_store.h"
#include "gs_util.h"

/* how long a time-driven refresh waits for the store's write lock */
#define REFRESH_WAIT_MS 200

/* urgency index: low, normal, high, critical */
static const char *const urgencies[4] = {"low", "normal", "high", "critical"};
/* a report is open until resolved or closed */
static const char *const closed_statuses[] = {"resolved", "closed"};

typedef struct org_unit {
  char *id, *name, *level;
  int parent; /* index, -1 for a root */
} org_unit;

/* One pending change of an aggregate at a grid, expanded to ancestors at commit. */
enum { D_HOUSEHOLDS, D_OPEN, D_URG0, D_CARE = D_URG0 + 4, D_PERIOD, D_DAY, D_KINDS };
typedef struct delta {
  int kind;
  int org;      /* grid index */
  char key[11]; /* period or day for D_PERIOD / D_DAY */
  int64_t n;
} delta;

struct gs_status {
  gs_engine *e;
  sqlite3 *db;
  int care_days;
  org_unit *orgs;
  size_t norgs;
  int *by_id; /* indexes sorted by id */
  delta *d;
  size_t nd, capd;
  char *dirty; /* per org */
  int devices_touched;
  int recounting; /* a recount sets care_household.last_day at its end */
  int care_widen; /* care_days grew: last_day is re-read over the new window */
  const char **dirty_out;
  size_t ndirty_out;
  const char **all_ids;
  struct {
    char *sql;
    sqlite3_stmt *st;
  } cache[48]; /* prepared statements by SQL text */
};

/* ------------------------------------------------------------------ */
/* time                                                                 */

/* fmt is always one of this file's literals */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void fmt_time(int64_t ms, const char *fmt, char *out, size_t n) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(out, n, fmt, &tm);
}
#pragma GCC diagnostic pop

void gs_status_period(int64_t ms, char out[8]) { fmt_time(ms, "%Y-%m", out, 8); }
void gs_status_day(int64_t ms, char out[11]) { fmt_time(ms, "%Y-%m-%d", out, 11); }

/* ------------------------------------------------------------------ */
/* org tree                                                             */

static gs_status *sort_ctx;
static int cmp_by_id(const void *a, const void *b) {
  return strcmp(sort_ctx->orgs[*(const int *)a].id, sort_ctx->orgs[*(const int *)b].id);
}

static int find_org(const gs_status *s, const char *id) {
  size_t lo = 0, hi = s->norgs;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int r = strcmp(s->orgs[s->by_id[mid]].id, id);
    if (r == 0) return s->by_id[mid];
    if (r < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

static void free_tree(gs_status *s) {
  for (size_t i = 0; i < s->norgs; i++) {
    gs_free(s->orgs[i].id);
    gs_free(s->orgs[i].name);
    gs_free(s->orgs[i].level);
  }
  gs_free(s->orgs);
  gs_free(s->by_id);
  gs_free(s->dirty);
  gs_free(s->dirty_out);
  gs_free(s->all_ids);
  s->orgs = NULL;
  s->by_id = NULL;
  s->dirty = NULL;
  s->dirty_out = NULL;
  s->all_ids = NULL;
  s->norgs = 0;
}

/* Loads the org tree, ordered by level so that parents come first. */
static int load_tree(gs_status *s) {
  sqlite3_stmt *st = NULL;
  int rc = GS_ESTORE;
  free_tree(s);
  if (sqlite3_prepare_v2(s->db,
                         "SELECT id, parent, level, name FROM org ORDER BY CASE level WHEN 'city' THEN 0 WHEN "
                         "'district' THEN 1 WHEN 'street' THEN 2 WHEN 'community' THEN 3 ELSE 4 END, id",
                         -1, &st, NULL) != SQLITE_OK)
    return GS_ESTORE;
  size_t cap = 0;
  char **parents = NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (s->norgs == cap) {
      cap = cap ? cap * 2 : 64;
      org_unit *no = gs_realloc(s->orgs, cap * sizeof *no);
      char **np = gs_realloc(parents, cap * sizeof *np);
      if (no) s->orgs = no;
      if (np) parents = np;
      if (!no || !np) {
        rc = GS_ENOMEM;
        goto out;
      }
    }
    org_unit *o = &s->orgs[s->norgs];
    o->id = gs_strdup((const char *)sqlite3_column_text(st, 0));
    parents[s->norgs] = sqlite3_column_text(st, 1) ? gs_strdup((const char *)sqlite3_column_text(st, 1)) : NULL;
    o->level = gs_strdup((const char *)sqlite3_column_text(st, 2));
    o->name = gs_strdup((const char *)sqlite3_column_text(st, 3));
    o->parent = -1;
    s->norgs++;
    if (!o->id || !o->level || !o->name) {
      rc = GS_ENOMEM;
      goto out;
    }
  }
  s->by_id = gs_malloc((s->norgs ? s->norgs : 1) * sizeof *s->by_id);
  s->dirty = gs_calloc(s->norgs ? s->norgs : 1, 1);
  s->dirty_out = gs_malloc((s->norgs ? s->norgs : 1) * sizeof *s->dirty_out);
  s->all_ids = gs_malloc((s->norgs ? s->norgs : 1) * sizeof *s->all_ids);
  if (!s->by_id || !s->dirty || !s->dirty_out || !s->all_ids) {
    rc = GS_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < s->norgs; i++) {
    s->by_id[i] = (int)i;
    s->all_ids[i] = s->orgs[i].id;
  }
  sort_ctx = s;
  qsort(s->by_id, s->norgs, sizeof *s->by_id, cmp_by_id);
  for (size_t i = 0; i < s->norgs; i++)
    if (parents[i]) s->orgs[i].parent = find_org(s, parents[i]);
  /* a (re)loaded tree is published whole */
  memset(s->dirty, 1, s->norgs);
  rc = GS_OK;
out:
  if (parents)
    for (size_t i = 0; i < s->norgs; i++) gs_free(parents[i]);
  gs_free(parents);
  sqlite3_finalize(st);
  return rc;
}

/* Index of a grid, reloading the tree once if it is new (imported meanwhile). */
static int flush_deltas(gs_status *s);

static int grid_index(gs_status *s, const char *grid) {
  int i = find_org(s, grid);
  if (i >= 0) return i;
  /* pending deltas hold indexes into the old tree: write them out first */
  if (s->nd && flush_deltas(s) != GS_OK) return -1;
  s->nd = 0;
  if (load_tree(s) != GS_OK) return -1;
  gs_status_mark_all(s);
  return find_org(s, grid);
}

/* ------------------------------------------------------------------ */
/* contributions of one entity state to the aggregates                  */

typedef struct contrib {
  int valid;
  int grid;      /* org index */
  int household; /* counts as a household */
  int care;      /* has a care tag */
  int visit;     /* counts as a visit */
  char hh[65];   /* visit's household */
  int64_t visited_at;
  char period[8], day[11];
  int open;    /* open report */
  int urgency; /* 0..3 */
  int64_t due; /* 0 = none */
} contrib;

static int is_care_tag(const gs_engine *e, const char *t);

static void contrib_of(gs_status *s, const char *type, const cJSON *f, contrib *c) {
  memset(c, 0, sizeof *c);
  if (!f) return;
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(f, "grid");
  if (!cJSON_IsString(g)) return;
  c->grid = grid_index(s, g->valuestring);
  if (c->grid < 0) return;
  int deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "_deleted"));
  if (deleted) {
    c->valid = 1;
    return;
  }
  if (strcmp(type, "household") == 0) {
    c->household = 1;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(f, "tags")) {
      if (cJSON_IsString(t) && is_care_tag(s->e, t->valuestring)) c->care = 1;
    }
  } else if (strcmp(type, "visit") == 0) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(f, "household");
    int64_t at;
    if (cJSON_IsString(h) && gs_json_int(cJSON_GetObjectItemCaseSensitive(f, "visited_at"), 0, INT64_C(1) << 52, &at)) {
      c->visit = 1;
      snprintf(c->hh, sizeof c->hh, "%s", h->valuestring);
      c->visited_at = at;
      gs_status_period(at, c->period);
      gs_status_day(at, c->day);
    }
  } else if (strcmp(type, "report") == 0) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(f, "status");
    const char *status = cJSON_IsString(st) ? st->valuestring : "open";
    c->open = 1;
    for (size_t i = 0; i < sizeof closed_statuses / sizeof closed_statuses[0]; i++)
      if (strcmp(status, closed_statuses[i]) == 0) c->open = 0;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(f, "urgency");
    c->urgency = 1;
    for (int i = 0; i < 4; i++)
      if (cJSON_IsString(u) && strcmp(u->valuestring, urgencies[i]) == 0) c->urgency = i;
    if (!gs_json_int(cJSON_GetObjectItemCaseSensitive(f, "due_at"), 0, INT64_C(1) << 52, &c->due)) c->due = 0;
  }
  c->valid = 1;
}

/* the care tags come from schema/entities.json */
#include "gs_schema.h"
static const gs_schema *status_schema;
static int is_care_tag(const gs_engine *e, const char *t) {
  (void)e;
  if (!status_schema)
    return strcmp(t, "elderly_alone") == 0 || strcmp(t, "disabled") == 0 || strcmp(t, "left_behind_child") == 0;
  for (size_t i = 0; i < status_schema->ncare_tags; i++)
    if (strcmp(status_schema->care_tags[i], t) == 0) return 1;
  return 0;
}

static int add_delta(gs_status *s, int kind, int org, const char *key, int64_t n) {
  if (n == 0 || org < 0) return GS_OK;
  for (size_t i = 0; i < s->nd; i++) {
    delta *d = &s->d[i];
    if (d->kind == kind && d->org == org && strcmp(d->key, key ? key : "") == 0) {
      d->n += n;
      return GS_OK;
    }
  }
  if (s->nd == s->capd) {
    size_t cap = s->capd ? s->capd * 2 : 32;
    delta *nd = gs_realloc(s->d, cap * sizeof *nd);
    if (!nd) return GS_ENOMEM;
    s->d = nd;
    s->capd = cap;
  }
  delta *d = &s->d[s->nd++];
  d->kind = kind;
  d->org = org;
  snprintf(d->key, sizeof d->key, "%s", key ? key : "");
  d->n = n;
  return GS_OK;
}

/* A cached prepared statement for sql (reset, bindings cleared). */
static sqlite3_stmt *prep(gs_status *s, const char *sql) {
  size_t i, n = sizeof s->cache / sizeof s->cache[0];
  for (i = 0; i < n && s->cache[i].sql; i++)
    if (strcmp(s->cache[i].sql, sql) == 0) {
      sqlite3_reset(s->cache[i].st);
      sqlite3_clear_bindings(s->cache[i].st);
      return s->cache[i].st;
    }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    gs_error("status: prepare failed: %s", sqlite3_errmsg(s->db));
    return NULL;
  }
  if (i == n) { /* full: replace the last slot */
    i = n - 1;
    sqlite3_finalize(s->cache[i].st);
    gs_free(s->cache[i].sql);
  }
  s->cache[i].sql = gs_strdup(sql);
  s->cache[i].st = st;
  if (!s->cache[i].sql) {
    sqlite3_finalize(st);
    s->cache[i].st = NULL;
    return NULL;
  }
  return st;
}

static void cache_free(gs_status *s) {
  for (size_t i = 0; i < sizeof s->cache / sizeof s->cache[0]; i++) {
    sqlite3_finalize(s->cache[i].st);
    gs_free(s->cache[i].sql);
    s->cache[i].st = NULL;
    s->cache[i].sql = NULL;
  }
}

static int exec_bind(gs_status *s, const char *sql, const char *a, const char *b, const char *c3, int64_t n) {
  sqlite3_stmt *st = prep(s, sql);
  if (!st) return GS_ESTORE;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  if (c3) sqlite3_bind_text(st, 3, c3, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, n);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? GS_OK : gs_store_err(rc);
}

static int64_t query_int3(gs_status *s, const char *sql, const char *a, const char *b, const char *c) {
  sqlite3_stmt *st = prep(s, sql);
  int64_t v = 0;
  if (!st) return 0;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  if (c) sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return v;
}

static int64_t query_int(gs_status *s, const char *sql, const char *a, const char *b) {
  return query_int3(s, sql, a, b, NULL);
}

/* The latest day with a visit to household hh, from tomorrow back to the
 * first day of the care window ("" when none): point lookups on hh_day's
 * (day, household) key, at most care_days + 2. Visits before the window do
 * not matter: the household is due either way. */
static void care_first_day(const gs_status *s, int64_t now, char out[11]) {
  gs_status_day(now - (int64_t)s->care_days * 86400 * 1000, out);
}

/* Due: no visit (last, "" for none) on or after the window's first day. */
static int care_due_by(const char *last, const char *first) { return !last[0] || strcmp(last, first) < 0; }

static void care_last_day(gs_status *s, const char *hh, char out[11]) {
  int64_t now = gs_engine_now(s->e);
  char first[11], day[11];
  care_first_day(s, now, first);
  out[0] = '\0';
  for (int k = -1; k <= s->care_days + 1; k++) {
    gs_status_day(now - (int64_t)k * 86400 * 1000, day);
    if (strcmp(day, first) < 0) break;
    if (query_int(s, "SELECT count(*) FROM hh_day WHERE day=?1 AND household=?2", day, hh) > 0) {
      memcpy(out, day, sizeof day);
      return;
    }
  }
}

/* Due today, by the engine's clock. */
static int care_is_due(gs_status *s, const char *last) {
  char first[11];
  care_first_day(s, gs_engine_now(s->e), first);
  return care_due_by(last, first);
}

/* Raises last_day to the latest hh_day row on or after day from ("" = all). */
static int care_raise_last_day(gs_status *s, const char *from) {
  return exec_bind(s,
                   "UPDATE care_household SET last_day = m.d FROM "
                   "(SELECT household, max(day) AS d FROM hh_day WHERE day >= ?1 GROUP BY household) AS m "
                   "WHERE m.household = care_household.household AND "
                   "(care_household.last_day IS NULL OR care_household.last_day < m.d)",
                   from, NULL, NULL, 0);
}

/* The care_household row of hh: 1 with its grid index and last_day ("" for
 * NULL), 0 when hh is no care household. */
static int care_row(gs_status *s, const char *hh, int *grid, char last[11]) {
  sqlite3_stmt *st = prep(s, "SELECT grid, last_day FROM care_household WHERE household=?1");
  if (!st) return 0;
  sqlite3_bind_text(st, 1, hh, -1, SQLITE_STATIC);
  int found = sqlite3_step(st) == SQLITE_ROW;
  char g[65] = "";
  last[0] = '\0';
  if (found) {
    const char *gt = (const char *)sqlite3_column_text(st, 0), *lt = (const char *)sqlite3_column_text(st, 1);
    snprintf(g, sizeof g, "%s", gt ? gt : "");
    snprintf(last, 11, "%s", lt ? lt : "");
  }
  sqlite3_reset(st);
  if (found) *grid = grid_index(s, g);
  return found;
}

/* care_due moves with every change of a care household's due state, so a
 * visit shows at once; the timer refresh recounts it as the window moves.
 * (A recount counts it at its end.) */
static int care_delta(gs_status *s, int grid, int n) {
  return s->recounting ? GS_OK : add_delta(s, D_CARE, grid, NULL, n);
}

/* A household that became a care household: its latest visit in the window. */
static int care_add(gs_status *s, const char *id, int grid) {
  char last[11] = "";
  if (!s->recounting) care_last_day(s, id, last);
  int rc = exec_bind(s,
                     "INSERT INTO care_household(household, grid, last_day) VALUES(?1, ?2, ?3) "
                     "ON CONFLICT(household) DO UPDATE SET grid = excluded.grid, last_day = excluded.last_day",
                     id, s->orgs[grid].id, last[0] ? last : NULL, 0);
  return !rc && care_is_due(s, last) ? care_delta(s, grid, +1) : rc;
}

/* A care household moved to another grid, or stopped being one (to < 0). */
static int care_move(gs_status *s, const char *id, int to) {
  int from = -1;
  char last[11];
  int found = care_row(s, id, &from, last);
  int rc = to >= 0 ? exec_bind(s,
                               "INSERT INTO care_household(household, grid) VALUES(?1, ?2) "
                               "ON CONFLICT(household) DO UPDATE SET grid = excluded.grid",
                               id, s->orgs[to].id, NULL, 0)
                   : exec_bind(s, "DELETE FROM care_household WHERE household=?1", id, NULL, NULL, 0);
  if (rc || !care_is_due(s, found ? last : "")) return rc;
  if (found) rc = care_delta(s, from, -1);
  if (!rc && to >= 0) rc = care_delta(s, to, +1);
  return rc;
}

/* Applies -1 x before and +1 x after to the aggregates and per-entity tables. */
static int apply_contrib(gs_status *s, const char *type, const char *id, const contrib *b, const contrib *a) {
  int rc = GS_OK;
  if (strcmp(type, "household") == 0) {
    if (b->valid && b->household) rc = add_delta(s, D_HOUSEHOLDS, b->grid, NULL, -1);
    if (!rc && a->valid && a->household) rc = add_delta(s, D_HOUSEHOLDS, a->grid, NULL, +1);
    int bc = b->valid && b->care, ac = a->valid && a->care;
    if (!rc && ac && !bc) rc = care_add(s, id, a->grid);
    else if (!rc && ac && b->grid != a->grid) rc = care_move(s, id, a->grid); /* its visits stay */
    else if (!rc && bc && !ac) rc = care_move(s, id, -1);
  } else if (strcmp(type, "visit") == 0) {
    if (b->valid && b->visit && a->valid && a->visit && b->grid == a->grid && !strcmp(b->hh, a->hh) &&
        b->visited_at == a->visited_at)
      return GS_OK; /* e.g. only the summary changed */
    if (b->valid && b->visit) {
      const char *g = s->orgs[b->grid].id;
      rc = add_delta(s, D_DAY, b->grid, b->day, -1);
      if (!rc)
        rc = exec_bind(s, "UPDATE hh_period SET visits = visits - 1 WHERE household=?1 AND period=?2 AND grid=?3",
                       b->hh, b->period, g, 0);
      if (!rc && query_int3(s, "SELECT visits FROM hh_period WHERE household=?1 AND period=?2 AND grid=?3", b->hh,
                            b->period, g) <= 0) {
        rc = add_delta(s, D_PERIOD, b->grid, b->period, -1);
        if (!rc)
          rc = exec_bind(s, "DELETE FROM hh_period WHERE household=?1 AND period=?2 AND grid=?3", b->hh, b->period, g,
                         0);
      }
      if (!rc)
        rc =
            exec_bind(s, "UPDATE hh_day SET visits = visits - 1 WHERE household=?1 AND day=?2", b->hh, b->day, NULL, 0);
      if (!rc)
        rc = exec_bind(s, "DELETE FROM hh_day WHERE household=?1 AND day=?2 AND visits <= 0", b->hh, b->day, NULL, 0);
      /* the care household's latest visit day lost its last visit */
      int cg = -1;
      char last[11];
      if (!rc && !s->recounting && sqlite3_changes(s->db) > 0 && care_row(s, b->hh, &cg, last) &&
          strcmp(last, b->day) == 0) {
        care_last_day(s, b->hh, last);
        rc = exec_bind(s, "UPDATE care_household SET last_day=?2 WHERE household=?1", b->hh, last[0] ? last : NULL,
                       NULL, 0);
        char first[11];
        care_first_day(s, gs_engine_now(s->e), first);
        if (!rc && !care_due_by(b->day, first) && care_due_by(last, first)) rc = care_delta(s, cg, +1);
      }
    }
    if (!rc && a->valid && a->visit) {
      const char *g = s->orgs[a->grid].id;
      rc = add_delta(s, D_DAY, a->grid, a->day, +1);
      if (!rc)
        rc = exec_bind(s,
                       "INSERT INTO hh_period(household, period, grid, visits) VALUES(?1, ?2, ?3, 1) "
                       "ON CONFLICT(period, grid, household) DO UPDATE SET visits = visits + 1",
                       a->hh, a->period, g, 0);
      if (!rc && query_int3(s, "SELECT visits FROM hh_period WHERE household=?1 AND period=?2 AND grid=?3", a->hh,
                            a->period, g) == 1)
        rc = add_delta(s, D_PERIOD, a->grid, a->period, +1);
      if (!rc)
        rc = exec_bind(s,
                       "INSERT INTO hh_day(household, day, visits) VALUES(?1, ?2, 1) "
                       "ON CONFLICT(day, household) DO UPDATE SET visits = visits + 1",
                       a->hh, a->day, NULL, 0);
      int cg = -1;
      char last[11];
      if (!rc && care_row(s, a->hh, &cg, last) && strcmp(last, a->day) < 0) {
        rc = exec_bind(s, "UPDATE care_household SET last_day=?2 WHERE household=?1", a->hh, a->day, NULL, 0);
        char first[11];
        care_first_day(s, gs_engine_now(s->e), first);
        if (!rc && care_due_by(last, first) && !care_due_by(a->day, first)) rc = care_delta(s, cg, -1);
      }
    }
  } else if (strcmp(type, "report") == 0) {
    int bo = b->valid && b->open, ao = a->valid && a->open;
    if (bo) {
      rc = add_delta(s, D_OPEN, b->grid, NULL, -1);
      if (!rc) rc = add_delta(s, D_URG0 + b->urgency, b->grid, NULL, -1);
    }
    if (!rc && ao) {
      rc = add_delta(s, D_OPEN, a->grid, NULL, +1);
      if (!rc) rc = add_delta(s, D_URG0 + a->urgency, a->grid, NULL, +1);
    }
    if (!rc && ao) {
      sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO open_report(report, grid, due_ms) VALUES(?1, ?2, ?3)");
      if (!st) return GS_ESTORE;
      sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, s->orgs[a->grid].id, -1, SQLITE_STATIC);
      if (a->due) sqlite3_bind_int64(st, 3, a->due);
      rc = sqlite3_step(st) == SQLITE_DONE ? GS_OK : gs_store_err(sqlite3_errcode(s->db));
      sqlite3_reset(st);
    } else if (!rc && bo) {
      rc = exec_bind(s, "DELETE FROM open_report WHERE report=?1", id, NULL, NULL, 0);
    }
  }
  return rc;
}

static int on_write(void *ctx, const char *type, const char *id, const char *before, const cJSON *after) {
  gs_status *s = ctx;
  contrib b, a;
  cJSON *bj = before ? cJSON_Parse(before) : NULL;
  if (before && !bj) return GS_ENOMEM;
  contrib_of(s, type, bj, &b);
  contrib_of(s, type, after, &a);
  cJSON_Delete(bj);
  return apply_contrib(s, type, id, &b, &a);
}

static int on_device(void *ctx, const char *device, int64_t now) {
  gs_status *s = ctx;
  (void)device, (void)now;
  s->devices_touched = 1;
  return GS_OK;
}

/* Writes the accumulated deltas to the grid and all its ancestors. */
static int flush_deltas(gs_status *s) {
  static const char *const cols[] = {"households", "reports_open", "r_low",   "r_normal",
                                     "r_high",     "r_critical",   "care_due"};
  int rc = GS_OK;
  for (size_t i = 0; !rc && i < s->nd; i++) {
    const delta *d = &s->d[i];
    if (d->n == 0) continue;
    for (int o = d->org; !rc && o >= 0; o = s->orgs[o].parent) {
      const char *oid = s->orgs[o].id;
      char sql[256];
      if (d->kind < D_PERIOD) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO org_stat(org, %s) VALUES(?1, ?4) ON CONFLICT(org) DO UPDATE SET %s = %s + excluded.%s",
                 cols[d->kind], cols[d->kind], cols[d->kind], cols[d->kind]);
        rc = exec_bind(s, sql, oid, NULL, NULL, d->n);
      } else {
        const char *t = d->kind == D_PERIOD ? "org_period" : "org_day";
        const char *k = d->kind == D_PERIOD ? "period" : "day";
        const char *v = d->kind == D_PERIOD ? "visited" : "visits";
        snprintf(
            sql, sizeof sql,
            "INSERT INTO %s(org, %s, %s) VALUES(?1, ?2, ?4) ON CONFLICT(org, %s) DO UPDATE SET %s = %s + excluded.%s",
            t, k, v, k, v, v, v);
        rc = exec_bind(s, sql, oid, d->key, NULL, d->n);
      }
    }
  }
  return rc;
}

static int on_precommit(void *ctx) { return flush_deltas((gs_status *)ctx); }

static void on_end(void *ctx, int ok) {
  gs_status *s = ctx;
  if (ok)
    for (size_t i = 0; i < s->nd; i++)
      if (s->d[i].n)
        for (int o = s->d[i].org; o >= 0; o = s->orgs[o].parent) s->dirty[o] = 1;
  s->nd = 0;
}

/* ------------------------------------------------------------------ */
/* open, time-driven refresh, recount                                   */

int gs_status_open(gs_status **out, gs_engine *e, const gs_status_config *cfg, char *err, size_t errlen) {
  if (cfg->timezone && cfg->timezone[0]) {
    setenv("TZ", cfg->timezone, 1);
    tzset();
  }
  gs_status *s = gs_calloc(1, sizeof *s);
  if (!s) return GS_ENOMEM;
  s->e = e;
  s->db = gs_engine_db(e);
  s->care_days = cfg->care_days > 0 ? cfg->care_days : 30;
  int rc = load_tree(s);
  if (rc) {
    snprintf(err, errlen, "status: cannot load the org tree: %s", gs_strerror(rc));
    gs_status_close(s);
    return rc;
  }
  static gs_schema *schema;
  if (!schema) {
    char serr[256];
    if (gs_schema_load_builtin(&schema, serr, sizeof serr) == GS_OK) status_schema = schema;
  }
  gs_engine_hooks h = {on_write, on_device, on_precommit, on_end, s};
  gs_engine_set_hooks(e, &h);
  *out = s;
  return GS_OK;
}

void gs_status_close(gs_status *s) {
  if (!s) return;
  gs_engine_set_hooks(s->e, NULL);
  cache_free(s);
  free_tree(s);
  gs_free(s->d);
  gs_free(s);
}

void gs_status_set_care_days(gs_status *s, int days) {
  if (days > s->care_days) s->care_widen = 1; /* the next refresh re-reads last_day */
  if (days > 0) s->care_days = days;
}

/* Per-grid values from a GROUP BY grid query, rolled up to ancestors, written
 * to org_stat.col where they differ. */
static int refresh_column_any(gs_status *s, const char *col, const char *sql, int64_t arg, const char *targ) {
  int64_t *v = gs_calloc(s->norgs ? s->norgs : 1, sizeof *v);
  if (!v) return GS_ENOMEM;
  sqlite3_stmt *st = NULL;
  int rc = GS_ESTORE;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) goto out;
  if (targ) sqlite3_bind_text(st, 1, targ, -1, SQLITE_STATIC);
  else sqlite3_bind_int64(st, 1, arg);
  while (sqlite3_step(st) == SQLITE_ROW) {
    int g = grid_index(s, (const char *)sqlite3_column_text(st, 0));
    int64_t n = sqlite3_column_int64(st, 1);
    for (int o = g; o >= 0; o = s->orgs[o].parent) v[o] += n;
  }
  sqlite3_finalize(st);
  st = NULL;
  char q[160], u[200];
  snprintf(q, sizeof q, "SELECT %s FROM org_stat WHERE org=?1", col);
  snprintf(u, sizeof u, "INSERT INTO org_stat(org, %s) VALUES(?1, ?4) ON CONFLICT(org) DO UPDATE SET %s = excluded.%s",
           col, col, col);
  rc = GS_OK;
  for (size_t i = 0; !rc && i < s->norgs; i++) {
    if (query_int(s, q, s->orgs[i].id, NULL) == v[i]) continue;
    rc = exec_bind(s, u, s->orgs[i].id, NULL, NULL, v[i]);
    s->dirty[i] = 1;
  }
out:
  sqlite3_finalize(st);
  gs_free(v);
  return rc;
}

static int refresh_column(gs_status *s, const char *col, const char *sql, int64_t arg) {
  return refresh_column_any(s, col, sql, arg, NULL);
}

static int refresh_column_text(gs_status *s, const char *col, const char *sql, const char *arg) {
  return refresh_column_any(s, col, sql, 0, arg);
}

/* Runs fn in one write transaction, waiting at most wait_ms for the write
 * lock. The time-driven refreshes run on the collector's event loop: when
 * another process holds the store (an administrator's import), they give up
 * fast and retry next period instead of stalling every transport for the
 * store's whole busy timeout. */
static int in_txn(gs_status *s, int (*fn)(gs_status *, int64_t), int64_t now, int wait_ms) {
  sqlite3_busy_timeout(s->db, wait_ms);
  int rc = gs_store_exec(s->db, "BEGIN IMMEDIATE");
  sqlite3_busy_timeout(s->db, GS_STORE_BUSY_MS);
  if (rc) return rc;
  rc = fn(s, now);
  if (!rc) rc = gs_store_exec(s->db, "COMMIT");
  if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

static int do_devices(gs_status *s, int64_t now) {
  s->devices_touched = 0;
  return refresh_column(s, "devices_active",
                        "SELECT g.grid, count(*) FROM device d JOIN device_grid g ON g.device = d.id "
                        "WHERE d.last_seen_ms >= ?1 AND d.enabled GROUP BY g.grid",
                        now - 24 * 3600 * 1000LL);
}

static int do_refresh(gs_status *s, int64_t now) {
  int rc = refresh_column(
      s, "reports_overdue",
      "SELECT grid, count(*) FROM open_report WHERE due_ms IS NOT NULL AND due_ms < ?1 GROUP BY grid", now);
  if (!rc) {
    /* due: no visit on or after the day care_days ago */
    char cutoff[11];
    care_first_day(s, now, cutoff);
    if (s->care_widen) rc = care_raise_last_day(s, cutoff); /* days the old window did not reach */
    if (!rc)
      rc = refresh_column_text(s, "care_due",
                               "SELECT grid, count(*) FROM care_household WHERE last_day IS NULL OR last_day < ?1 "
                               "GROUP BY grid",
                               cutoff);
  }
  if (!rc) rc = do_devices(s, now);
  return rc;
}

int gs_status_refresh(gs_status *s, int64_t now_ms) {
  int rc = in_txn(s, do_refresh, now_ms, REFRESH_WAIT_MS);
  if (!rc) s->care_widen = 0;
  return rc;
}

int gs_status_refresh_devices(gs_status *s, int64_t now_ms) {
  if (!s->devices_touched) return GS_OK;
  return in_txn(s, do_devices, now_ms, REFRESH_WAIT_MS);
}

static int do_recount(gs_status *s, int64_t now) {
  int rc = gs_store_exec(s->db, "DELETE FROM org_stat; DELETE FROM org_period; DELETE FROM org_day; "
                                "DELETE FROM hh_period; DELETE FROM hh_day; DELETE FROM care_household; "
                                "DELETE FROM open_report;");
  if (rc) return rc;
  if ((rc = load_tree(s))) return rc;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT type, id, fields FROM entity", -1, &st, NULL) != SQLITE_OK) return GS_ESTORE;
  s->nd = 0;
  s->recounting = 1;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    cJSON *f = cJSON_Parse((const char *)sqlite3_column_text(st, 2));
    if (!f) {
      rc = GS_ENOMEM;
      break;
    }
    contrib b, a;
    memset(&b, 0, sizeof b);
    const char *type = (const char *)sqlite3_column_text(st, 0);
    contrib_of(s, type, f, &a);
    rc = apply_contrib(s, type, (const char *)sqlite3_column_text(st, 1), &b, &a);
    cJSON_Delete(f);
  }
  sqlite3_finalize(st);
  s->recounting = 0;
  if (!rc) rc = care_raise_last_day(s, "");
  if (!rc) rc = flush_deltas(s);
  s->nd = 0;
  if (!rc) rc = do_refresh(s, now);
  gs_status_mark_all(s);
  return rc;
}

int gs_status_recount(gs_status *s, int64_t now_ms) { return in_txn(s, do_recount, now_ms, GS_STORE_BUSY_MS); }

/* ------------------------------------------------------------------ */
/* reading                                                              */

int gs_status_numbers_of(gs_status *s, const char *id, int64_t now, gs_status_numbers *n) {
  int o = find_org(s, id);
  if (o < 0 && load_tree(s) == GS_OK) o = find_org(s, id);
  if (o < 0) return GS_ENOTFOUND;
  memset(n, 0, sizeof *n);
  sqlite3_stmt *st = prep(s, "SELECT households, reports_open, r_low, r_normal, r_high, r_critical, reports_overdue, "
                             "care_due, devices_active FROM org_stat WHERE org=?1");
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    n->households = sqlite3_column_int64(st, 0);
    n->reports_open = sqlite3_column_int64(st, 1);
    for (int i = 0; i < 4; i++) n->by_urgency[i] = sqlite3_column_int64(st, 2 + i);
    n->reports_overdue = sqlite3_column_int64(st, 6);
    n->care_due = sqlite3_column_int64(st, 7);
    n->devices_active = sqlite3_column_int64(st, 8);
  }
  sqlite3_reset(st);
  char period[8], day[11];
  gs_status_period(now, period);
  gs_status_day(now, day);
  n->visited_period = query_int(s, "SELECT visited FROM org_period WHERE org=?1 AND period=?2", id, period);
  n->visits_today = query_int(s, "SELECT visits FROM org_day WHERE org=?1 AND day=?2", id, day);
  return GS_OK;
}

int gs_status_doc(gs_status *s, const char *id, int64_t now, gs_buf *b) {
  gs_status_numbers n;
  int rc = gs_status_numbers_of(s, id, now, &n);
  if (rc) return rc;
  const org_unit *o = &s->orgs[find_org(s, id)];
  char as_of[40], tz[8], period[8];
  fmt_time(now, "%Y-%m-%dT%H:%M:%S", as_of, sizeof as_of);
  fmt_time(now, "%z", tz, sizeof tz); /* +0800 -> +08:00 */
  gs_status_period(now, period);
  rc = gs_buf_puts(b, "{\"v\":1,\"org\":");
  if (!rc) rc = gs_buf_json_str(b, o->id);
  if (!rc) rc = gs_buf_puts(b, ",\"parent\":");
  if (!rc) rc = o->parent >= 0 ? gs_buf_json_str(b, s->orgs[o->parent].id) : gs_buf_puts(b, "null");
  if (!rc) rc = gs_buf_puts(b, ",\"level\":");
  if (!rc) rc = gs_buf_json_str(b, o->level);
  if (!rc) rc = gs_buf_puts(b, ",\"name\":");
  if (!rc) rc = gs_buf_json_str(b, o->name);
  if (!rc)
    rc = gs_buf_printf(b,
                       ",\"as_of\":\"%s%.3s:%.2s\",\"period\":\"%s\",\"households\":%lld,\"visited_period\":%lld,"
                       "\"visits_today\":%lld,\"reports_open\":%lld,\"reports_by_urgency\":{\"low\":%lld,"
                       "\"normal\":%lld,\"high\":%lld,\"critical\":%lld},\"reports_overdue\":%lld,\"care_due\":%lld,"
                       "\"devices_active_24h\":%lld}",
                       as_of, tz, tz + 3, period, (long long)n.households, (long long)n.visited_period,
                       (long long)n.visits_today, (long long)n.reports_open, (long long)n.by_urgency[0],
                       (long long)n.by_urgency[1], (long long)n.by_urgency[2], (long long)n.by_urgency[3],
                       (long long)n.reports_overdue, (long long)n.care_due, (long long)n.devices_active);
  return rc;
}

size_t gs_status_take_dirty(gs_status *s, const char *const **ids) {
  size_t n = 0;
  for (size_t i = 0; i < s->norgs; i++)
    if (s->dirty[i]) {
      s->dirty[i] = 0;
      s->dirty_out[n++] = s->orgs[i].id;
    }
  *ids = s->dirty_out;
  return n;
}

void gs_status_mark_all(gs_status *s) {
  for (size_t i = 0; i < s->norgs; i++) s->dirty[i] = 1;
}

size_t gs_status_orgs(gs_status *s, const char *const **ids) {
  *ids = s->all_ids;
  return s->norgs;
}

size_t gs_status_children(gs_status *s, const char *id, const char **out, size_t max) {
  int p = id ? find_org(s, id) : -1;
  if (id && p < 0) return 0;
  size_t n = 0;
  for (size_t i = 0; i < s->norgs && n < max; i++)
    if (s->orgs[i].parent == p) out[n++] = s->orgs[i].id;
  return n;
}
