#include "gs_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gs_error.h"
#include "gs_json.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_status_fields.h"
#include "gs_store.h"
#include "gs_tz.h"
#include "gs_util.h"

/* how long a time-driven refresh waits for the store's write lock */
#define REFRESH_WAIT_MS 200

/* urgency index: the sub-keys of reports_by_urgency (gs_status_fields.h) */
#define URG_NAME_(a, sub) #sub,
static const char *const urgencies[] = {GS_STATUS_URGENCY(URG_NAME_, _)};
#define NURG ((int)(sizeof urgencies / sizeof urgencies[0]))
/* a report is open until resolved or closed */
static const char *const closed_statuses[] = {"resolved", "closed"};

typedef struct org_unit {
  char *id, *name, *level;
  int parent; /* index, -1 for a root */
} org_unit;

/* One pending change of an aggregate at a grid, expanded to ancestors at
 * commit: an org_stat column (GS_STAT_*), or a period's or a day's visits. */
enum { D_PERIOD = GS_STAT_NCOLS, D_DAY, D_KINDS };
typedef struct delta {
  int kind;
  int org;      /* grid index */
  char key[11]; /* period or day for D_PERIOD / D_DAY */
  int64_t n;
} delta;

struct gs_status {
  gs_engine *e;
  gs_store *store;
  gs_tz *tz;
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
};

/* ------------------------------------------------------------------ */
/* time                                                                 */

/* The zone of the most recently opened gs_status, for gs_status_period and
 * gs_status_day, whose callers have no handle (NULL: UTC). */
static const gs_tz *open_zone;

void gs_status_period(int64_t ms, char out[8]) { gs_tz_period(open_zone, ms, out); }
void gs_status_day(int64_t ms, char out[11]) { gs_tz_day(open_zone, ms, out); }

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

static int level_rank(const char *level) {
#define LEVEL_NAME_(name, label, kids) #name,
  static const char *const names[] = {GS_ORG_LEVELS(LEVEL_NAME_)};
  for (int i = 0; i < GS_LEVELS; i++)
    if (strcmp(level, names[i]) == 0) return i;
  return GS_LEVELS - 1; /* an unknown level sorts with the grids */
}

typedef struct tree_row {
  int rank;
  org_unit u;
  char *parent;
} tree_row;

typedef struct tree_load {
  tree_row *rows;
  size_t n, cap;
} tree_load;

static int tree_add(void *ctx, const char *id, const char *parent, const char *level, const char *name) {
  tree_load *t = ctx;
  if (gs_grow(&t->rows, &t->cap, t->n, sizeof *t->rows, 64)) return GS_ENOMEM;
  tree_row *r = &t->rows[t->n++];
  memset(r, 0, sizeof *r);
  r->u.id = gs_strdup(id ? id : "");
  r->u.level = gs_strdup(level ? level : "");
  r->u.name = gs_strdup(name ? name : "");
  r->parent = parent ? gs_strdup(parent) : NULL;
  r->u.parent = -1;
  if (!r->u.id || !r->u.level || !r->u.name || (parent && !r->parent)) return GS_ENOMEM;
  r->rank = level_rank(r->u.level);
  return GS_OK;
}

/* level order (the table's), then id: parents come before children */
static int cmp_rows(const void *a, const void *b) {
  const tree_row *x = a, *y = b;
  return x->rank != y->rank ? (x->rank < y->rank ? -1 : 1) : strcmp(x->u.id, y->u.id);
}

/* Loads the org tree, ordered by level so that parents come first. */
static int load_tree(gs_status *s) {
  tree_load t = {NULL, 0, 0};
  free_tree(s);
  int rc = gs_store_status_orgs(s->store, tree_add, &t);
  if (rc) goto out;
  if (t.n) qsort(t.rows, t.n, sizeof *t.rows, cmp_rows); /* t.rows is NULL for an empty tree */
  rc = GS_ENOMEM;
  size_t n = t.n ? t.n : 1;
  s->orgs = gs_malloc(n * sizeof *s->orgs);
  s->by_id = gs_malloc(n * sizeof *s->by_id);
  s->dirty = gs_calloc(n, 1);
  s->dirty_out = gs_malloc(n * sizeof *s->dirty_out);
  s->all_ids = gs_malloc(n * sizeof *s->all_ids);
  if (!s->orgs || !s->by_id || !s->dirty || !s->dirty_out || !s->all_ids) goto out;
  for (size_t i = 0; i < t.n; i++) {
    s->orgs[i] = t.rows[i].u;
    memset(&t.rows[i].u, 0, sizeof t.rows[i].u); /* moved */
    s->by_id[i] = (int)i;
    s->all_ids[i] = s->orgs[i].id;
  }
  s->norgs = t.n;
  sort_ctx = s;
  qsort(s->by_id, s->norgs, sizeof *s->by_id, cmp_by_id);
  for (size_t i = 0; i < s->norgs; i++)
    if (t.rows[i].parent) s->orgs[i].parent = find_org(s, t.rows[i].parent);
  /* a (re)loaded tree is published whole */
  memset(s->dirty, 1, s->norgs);
  rc = GS_OK;
out:
  for (size_t i = 0; i < t.n; i++) {
    gs_free(t.rows[i].u.id);
    gs_free(t.rows[i].u.name);
    gs_free(t.rows[i].u.level);
    gs_free(t.rows[i].parent);
  }
  gs_free(t.rows);
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
      gs_tz_period(s->tz, at, c->period);
      gs_tz_day(s->tz, at, c->day);
    }
  } else if (strcmp(type, "report") == 0) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(f, "status");
    const char *status = cJSON_IsString(st) ? st->valuestring : "open";
    c->open = 1;
    for (size_t i = 0; i < sizeof closed_statuses / sizeof closed_statuses[0]; i++)
      if (strcmp(status, closed_statuses[i]) == 0) c->open = 0;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(f, "urgency");
    c->urgency = 1;
    for (int i = 0; i < NURG; i++)
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
  if (gs_grow(&s->d, &s->capd, s->nd, sizeof *s->d, 32)) return GS_ENOMEM;
  delta *d = &s->d[s->nd++];
  d->kind = kind;
  d->org = org;
  snprintf(d->key, sizeof d->key, "%s", key ? key : "");
  d->n = n;
  return GS_OK;
}

/* The latest day with a visit to household hh, from tomorrow back to the
 * first day of the care window ("" when none): point lookups on hh_day's
 * (day, household) key, at most care_days + 2. Visits before the window do
 * not matter: the household is due either way. */
static void care_first_day(const gs_status *s, int64_t now, char out[11]) {
  gs_tz_day(s->tz, now - (int64_t)s->care_days * 86400 * 1000, out);
}

/* Due: no visit (last, "" for none) on or after the window's first day. */
static int care_due_by(const char *last, const char *first) { return !last[0] || strcmp(last, first) < 0; }

static void care_last_day(gs_status *s, const char *hh, char out[11]) {
  int64_t now = gs_engine_now(s->e);
  char first[11], day[11];
  care_first_day(s, now, first);
  out[0] = '\0';
  for (int k = -1; k <= s->care_days + 1; k++) {
    gs_tz_day(s->tz, now - (int64_t)k * 86400 * 1000, day);
    if (strcmp(day, first) < 0) break;
    int yes = 0;
    if (gs_store_status_hh_day_has(s->store, hh, day, &yes) == GS_OK && yes) {
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

/* The care_household row of hh: 1 with its grid index and last_day ("" for
 * NULL), 0 when hh is no care household. */
static int care_row(gs_status *s, const char *hh, int *grid, char last[11]) {
  char g[65];
  int found = 0;
  if (gs_store_status_care_get(s->store, hh, g, last, &found) != GS_OK) return 0;
  if (found) *grid = grid_index(s, g);
  return found;
}

/* care_due moves with every change of a care household's due state, so a
 * visit shows at once; the timer refresh recounts it as the window moves.
 * (A recount counts it at its end.) */
static int care_delta(gs_status *s, int grid, int n) {
  return s->recounting ? GS_OK : add_delta(s, GS_STAT_care_due, grid, NULL, n);
}

/* A household that became a care household: its latest visit in the window. */
static int care_add(gs_status *s, const char *id, int grid) {
  char last[11] = "";
  if (!s->recounting) care_last_day(s, id, last);
  int rc = gs_store_status_care_put(s->store, id, s->orgs[grid].id, last);
  return !rc && care_is_due(s, last) ? care_delta(s, grid, +1) : rc;
}

/* A care household moved to another grid, or stopped being one (to < 0). */
static int care_move(gs_status *s, const char *id, int to) {
  int from = -1;
  char last[11];
  int found = care_row(s, id, &from, last);
  int rc =
      to >= 0 ? gs_store_status_care_move(s->store, id, s->orgs[to].id) : gs_store_status_care_delete(s->store, id);
  if (rc || !care_is_due(s, found ? last : "")) return rc;
  if (found) rc = care_delta(s, from, -1);
  if (!rc && to >= 0) rc = care_delta(s, to, +1);
  return rc;
}

/* Applies -1 x before and +1 x after to the aggregates and per-entity tables. */
static int apply_contrib(gs_status *s, const char *type, const char *id, const contrib *b, const contrib *a) {
  int rc = GS_OK;
  if (strcmp(type, "household") == 0) {
    if (b->valid && b->household) rc = add_delta(s, GS_STAT_households, b->grid, NULL, -1);
    if (!rc && a->valid && a->household) rc = add_delta(s, GS_STAT_households, a->grid, NULL, +1);
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
      int64_t left = 0;
      int emptied = 0;
      rc = add_delta(s, D_DAY, b->grid, b->day, -1);
      if (!rc) rc = gs_store_status_hh_period_dec(s->store, b->hh, b->period, g, &left);
      if (!rc && left <= 0) rc = add_delta(s, D_PERIOD, b->grid, b->period, -1);
      if (!rc) rc = gs_store_status_hh_day_dec(s->store, b->hh, b->day, &emptied);
      /* the care household's latest visit day lost its last visit */
      int cg = -1;
      char last[11];
      if (!rc && !s->recounting && emptied && care_row(s, b->hh, &cg, last) && strcmp(last, b->day) == 0) {
        care_last_day(s, b->hh, last);
        rc = gs_store_status_care_set_last(s->store, b->hh, last);
        char first[11];
        care_first_day(s, gs_engine_now(s->e), first);
        if (!rc && !care_due_by(b->day, first) && care_due_by(last, first)) rc = care_delta(s, cg, +1);
      }
    }
    if (!rc && a->valid && a->visit) {
      const char *g = s->orgs[a->grid].id;
      int64_t now_visits = 0;
      rc = add_delta(s, D_DAY, a->grid, a->day, +1);
      if (!rc) rc = gs_store_status_hh_period_inc(s->store, a->hh, a->period, g, &now_visits);
      if (!rc && now_visits == 1) rc = add_delta(s, D_PERIOD, a->grid, a->period, +1);
      if (!rc) rc = gs_store_status_hh_day_inc(s->store, a->hh, a->day);
      int cg = -1;
      char last[11];
      if (!rc && care_row(s, a->hh, &cg, last) && strcmp(last, a->day) < 0) {
        rc = gs_store_status_care_set_last(s->store, a->hh, a->day);
        char first[11];
        care_first_day(s, gs_engine_now(s->e), first);
        if (!rc && care_due_by(last, first) && !care_due_by(a->day, first)) rc = care_delta(s, cg, -1);
      }
    }
  } else if (strcmp(type, "report") == 0) {
    int bo = b->valid && b->open, ao = a->valid && a->open;
    if (bo) {
      rc = add_delta(s, GS_STAT_reports_open, b->grid, NULL, -1);
      if (!rc) rc = add_delta(s, GS_STAT_r_low + b->urgency, b->grid, NULL, -1);
    }
    if (!rc && ao) {
      rc = add_delta(s, GS_STAT_reports_open, a->grid, NULL, +1);
      if (!rc) rc = add_delta(s, GS_STAT_r_low + a->urgency, a->grid, NULL, +1);
    }
    if (!rc && ao) rc = gs_store_status_report_open(s->store, id, s->orgs[a->grid].id, a->due);
    else if (!rc && bo) rc = gs_store_status_report_close(s->store, id);
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
  int rc = GS_OK;
  for (size_t i = 0; !rc && i < s->nd; i++) {
    const delta *d = &s->d[i];
    if (d->n == 0) continue;
    for (int o = d->org; !rc && o >= 0; o = s->orgs[o].parent) {
      const char *oid = s->orgs[o].id;
      if (d->kind == D_PERIOD) rc = gs_store_status_period_add(s->store, oid, d->key, d->n);
      else if (d->kind == D_DAY) rc = gs_store_status_day_add(s->store, oid, d->key, d->n);
      else rc = gs_store_status_stat_add(s->store, d->kind, oid, d->n);
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
  gs_status *s = gs_calloc(1, sizeof *s);
  if (!s) return GS_ENOMEM;
  s->e = e;
  s->store = gs_engine_store(e);
  s->care_days = cfg->care_days > 0 ? cfg->care_days : 30;
  int rc = gs_tz_load(&s->tz, cfg->timezone, err, errlen);
  if (rc) {
    gs_status_close(s);
    return rc;
  }
  rc = load_tree(s);
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
  open_zone = s->tz;
  *out = s;
  return GS_OK;
}

void gs_status_close(gs_status *s) {
  if (!s) return;
  gs_engine_set_hooks(s->e, NULL);
  if (open_zone == s->tz) open_zone = NULL;
  gs_tz_free(s->tz);
  free_tree(s);
  gs_free(s->d);
  gs_free(s);
}

void gs_status_set_care_days(gs_status *s, int days) {
  if (days > s->care_days) s->care_widen = 1; /* the next refresh re-reads last_day */
  if (days > 0) s->care_days = days;
}

typedef struct roll {
  gs_status *s;
  int64_t *v;  /* per org */
  int unknown; /* a grid the loaded tree lacks (imported meanwhile) */
} roll;

/* one grid's count, added to the grid and its ancestors */
static int roll_up(void *ctx, const char *grid, int64_t n) {
  roll *r = ctx;
  int g = find_org(r->s, grid);
  if (g < 0) r->unknown = 1;
  for (int o = g; o >= 0; o = r->s->orgs[o].parent) r->v[o] += n;
  return GS_OK;
}

/* Per-grid counts (count, a gs_store_status_count_* function) rolled up to
 * ancestors, written to org_stat column col where they differ. A grid the
 * tree lacks reloads the tree (as grid_index does) and counts again. */
static int refresh_column(gs_status *s, int col, int (*count)(gs_store *, int64_t, gs_store_count_fn, void *),
                          int (*count_text)(gs_store *, const char *, gs_store_count_fn, void *), int64_t arg,
                          const char *targ) {
  int rc = GS_OK;
  for (int pass = 0; !rc && pass < 2; pass++) {
    roll r = {s, gs_calloc(s->norgs ? s->norgs : 1, sizeof *r.v), 0};
    if (!r.v) return GS_ENOMEM;
    rc = count ? count(s->store, arg, roll_up, &r) : count_text(s->store, targ, roll_up, &r);
    if (!rc && r.unknown && pass == 0 && !s->nd) {
      gs_free(r.v);
      rc = load_tree(s); /* publishes the whole new tree */
      continue;
    }
    for (size_t i = 0; !rc && i < s->norgs; i++) {
      int64_t cur = 0;
      rc = gs_store_status_stat_get(s->store, col, s->orgs[i].id, &cur);
      if (rc || cur == r.v[i]) continue;
      rc = gs_store_status_stat_set(s->store, col, s->orgs[i].id, r.v[i]);
      s->dirty[i] = 1;
    }
    gs_free(r.v);
    break;
  }
  return rc;
}

/* Runs fn in one write transaction, waiting at most wait_ms for the write
 * lock. The time-driven refreshes run on the collector's event loop: when
 * another process holds the store (an administrator's import), they give up
 * fast and retry next period instead of stalling every transport for the
 * store's whole busy timeout. */
static int in_txn(gs_status *s, int (*fn)(gs_status *, int64_t), int64_t now, int wait_ms) {
  int rc = gs_store_status_begin_wait(s->store, wait_ms);
  if (rc) return rc;
  rc = fn(s, now);
  if (!rc) rc = gs_store_commit(s->store);
  if (rc) gs_store_rollback(s->store);
  return rc;
}

static int do_devices(gs_status *s, int64_t now) {
  s->devices_touched = 0;
  return refresh_column(s, GS_STAT_devices_active, gs_store_status_count_devices, NULL, now - 24 * 3600 * 1000LL, NULL);
}

static int do_refresh(gs_status *s, int64_t now) {
  int rc = refresh_column(s, GS_STAT_reports_overdue, gs_store_status_count_overdue, NULL, now, NULL);
  if (!rc) {
    /* due: no visit on or after the day care_days ago */
    char cutoff[11];
    care_first_day(s, now, cutoff);
    if (s->care_widen) rc = gs_store_status_care_raise_last(s->store, cutoff); /* days the old window did not reach */
    if (!rc) rc = refresh_column(s, GS_STAT_care_due, NULL, gs_store_status_count_care_due, 0, cutoff);
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

static int recount_one(void *ctx, const char *type, const char *id, const char *fields) {
  gs_status *s = ctx;
  cJSON *f = fields ? cJSON_Parse(fields) : NULL;
  if (!f) return GS_ENOMEM;
  contrib b, a;
  memset(&b, 0, sizeof b);
  contrib_of(s, type, f, &a);
  int rc = apply_contrib(s, type, id, &b, &a);
  cJSON_Delete(f);
  return rc;
}

static int do_recount(gs_status *s, int64_t now) {
  int rc = gs_store_status_clear(s->store);
  if (rc) return rc;
  if ((rc = load_tree(s))) return rc;
  s->nd = 0;
  s->recounting = 1;
  rc = gs_store_status_entities(s->store, recount_one, s);
  s->recounting = 0;
  if (!rc) rc = gs_store_status_care_raise_last(s->store, "");
  if (!rc) rc = flush_deltas(s);
  s->nd = 0;
  if (!rc) rc = do_refresh(s, now);
  gs_status_mark_all(s);
  return rc;
}

int gs_status_recount(gs_status *s, int64_t now_ms) { return in_txn(s, do_recount, now_ms, GS_STORE_BUSY_MS); }

/* ------------------------------------------------------------------ */
/* reading                                                              */

/* A row's store kind as a constant, to pick where its number comes from. */
enum { KIND_STAT, KIND_PERIOD, KIND_DAY };
#define KIND_OF_(store) KIND_##store

int gs_status_numbers_of(gs_status *s, const char *id, int64_t now, gs_status_numbers *n) {
  int o = find_org(s, id);
  if (o < 0 && load_tree(s) == GS_OK) o = find_org(s, id);
  if (o < 0) return GS_ENOTFOUND;
  memset(n, 0, sizeof *n);
  int64_t v[GS_STAT_NCOLS], visited = 0, today = 0;
  char period[8], day[11];
  gs_tz_period(s->tz, now, period);
  gs_tz_day(s->tz, now, day);
  int rc = gs_store_status_stat_read(s->store, id, v);
  if (!rc) rc = gs_store_status_period_get(s->store, id, period, &visited);
  if (!rc) rc = gs_store_status_day_get(s->store, id, day, &today);
  if (rc) return rc;
  int k = 0; /* org_stat columns come in table order */
#define READ_C_(name, key, store, sums, head, width, dash)                                                             \
  n->name = KIND_OF_(store) == KIND_PERIOD ? visited : KIND_OF_(store) == KIND_DAY ? today : v[k++];
#define READ_M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                               \
  for (int i = 0; i < GS_STATUS_NSUBS(SUBS); i++) n->name[i] = v[k++];
  GS_STATUS_FIELDS(READ_C_, READ_M_)
#undef READ_C_
#undef READ_M_
  return GS_OK;
}

int gs_status_doc(gs_status *s, const char *id, int64_t now, gs_buf *b) {
  gs_status_numbers n;
  int rc = gs_status_numbers_of(s, id, now, &n);
  if (rc) return rc;
  const org_unit *o = &s->orgs[find_org(s, id)];
  char as_of[32], period[8];
  gs_tz_iso(s->tz, now, as_of);
  gs_tz_period(s->tz, now, period);
  rc = gs_buf_puts(b, "{\"v\":1,\"org\":");
  if (!rc) rc = gs_buf_json_str(b, o->id);
  if (!rc) rc = gs_buf_puts(b, ",\"parent\":");
  if (!rc) rc = o->parent >= 0 ? gs_buf_json_str(b, s->orgs[o->parent].id) : gs_buf_puts(b, "null");
  if (!rc) rc = gs_buf_puts(b, ",\"level\":");
  if (!rc) rc = gs_buf_json_str(b, o->level);
  if (!rc) rc = gs_buf_puts(b, ",\"name\":");
  if (!rc) rc = gs_buf_json_str(b, o->name);
  if (!rc) rc = gs_buf_printf(b, ",\"as_of\":\"%s\",\"period\":\"%s\"", as_of, period);
    /* the numbers, in the table's order (keys are plain identifiers: no escaping) */
#define DOC_C_(name, key, store, sums, head, width, dash)                                                              \
  if (!rc) rc = gs_buf_printf(b, ",\"" key "\":%lld", (long long)n.name);
#define SUB_NAME_(a, sub) #sub,
#define DOC_M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                                \
  {                                                                                                                    \
    static const char *const subs[] = {SUBS(SUB_NAME_, _)};                                                            \
    if (!rc) rc = gs_buf_puts(b, ",\"" key "\":{");                                                                    \
    for (size_t i = 0; !rc && i < sizeof subs / sizeof subs[0]; i++)                                                   \
      rc = gs_buf_printf(b, "%s\"%s\":%lld", i ? "," : "", subs[i], (long long)n.name[i]);                             \
    if (!rc) rc = gs_buf_puts(b, "}");                                                                                 \
  }
  GS_STATUS_FIELDS(DOC_C_, DOC_M_)
#undef DOC_C_
#undef DOC_M_
  if (!rc) rc = gs_buf_puts(b, "}");
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
