/* rollup.c - sums the status documents of the input units into the units
 * above them (see rollup.h). */
#include "rollup.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_status_fields.h"
#include "gs_store.h"
#include "gs_tz.h"

#define TOPIC_PREFIX "gs/v1/status/"
#define LINK_SUFFIX  "/link"

#define LEVEL_NAME_(name, label, kids) #name,
static const char *const levels[] = {GS_ORG_LEVELS(LEVEL_NAME_)};

enum role { ROLE_OTHER = 0, ROLE_OWNED, ROLE_INPUT };
enum link { LINK_UNKNOWN = -1, LINK_DOWN = 0, LINK_UP = 1 };

typedef struct unit {
  char *id, *name;
  int level;  /* index in levels[] */
  int parent; /* index or -1 */
  enum role role;
  /* inputs only */
  cJSON *doc;       /* last accepted document, NULL before the first one */
  int64_t as_of_ms; /* its as_of, 0 when unreadable (then it counts as old) */
  enum link link;   /* bridge connection state from gs/v1/status/{id}/link */
} unit;

struct gs_rollup {
  unit *u;
  size_t n;
  const char **inputs, **owned; /* ids, pointing into u[] */
  size_t ninputs, nowned;
  int64_t stale_after_ms;
  gs_tz *tz;
};

static int level_index(const char *s) {
  for (int i = 0; i < GS_LEVELS; i++)
    if (s && strcmp(levels[i], s) == 0) return i;
  return -1;
}

static long find(const gs_rollup *r, const char *id, size_t idlen) {
  for (size_t i = 0; i < r->n; i++)
    if (strlen(r->u[i].id) == idlen && memcmp(r->u[i].id, id, idlen) == 0) return (long)i;
  return -1;
}

/* ------------------------------------------------------------------ */
/* tree                                                                 */

typedef struct tree_ctx {
  gs_rollup *r;
  char ***parents;
  size_t cap;
} tree_ctx;

static int add_unit(void *ctx, const char *id, const char *pid, const char *level, const char *name) {
  tree_ctx *t = ctx;
  gs_rollup *r = t->r;
  if (r->n == t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 64;
    unit *nu = gs_realloc(r->u, ncap * sizeof *nu);
    char **np = gs_realloc(*t->parents, ncap * sizeof *np);
    if (nu) r->u = nu;
    if (np) *t->parents = np;
    if (!nu || !np) return GS_ENOMEM;
    t->cap = ncap;
  }
  unit *u = &r->u[r->n];
  memset(u, 0, sizeof *u);
  (*t->parents)[r->n] = NULL;
  r->n++;
  u->id = gs_strdup(id ? id : "");
  u->name = gs_strdup(name ? name : "");
  u->level = level_index(level);
  u->parent = -1;
  u->link = LINK_UNKNOWN;
  if (pid) (*t->parents)[r->n - 1] = gs_strdup(pid);
  if (!u->id || !u->name || (pid && !(*t->parents)[r->n - 1])) return GS_ENOMEM;
  return GS_OK;
}

/* Reads org(id,parent,level,name) into r->u; parents resolved afterwards. */
static int load_tree(gs_rollup *r, const char *path, char ***parents, char *err, size_t errlen) {
  gs_store *st = NULL;
  int rc = gs_store_open_readonly(&st, path, err, errlen);
  if (rc) return rc;
  tree_ctx t = {r, parents, 0};
  rc = gs_store_status_orgs(st, add_unit, &t);
  if (rc && rc != GS_ENOMEM)
    snprintf(err, errlen, "read the org tree from %s: %s (logged above); import it with gs-admin --db %s org import",
             path, gs_strerror(rc), path);
  gs_store_close(st);
  return rc;
}

int gs_rollup_new(gs_rollup **out, const gs_rollup_config *cfg, char *err, size_t errlen) {
  char **parents = NULL;
  size_t np = 0;
  gs_rollup *r = gs_calloc(1, sizeof *r);
  int rc = GS_ENOMEM;
  if (!r) goto out;
  r->stale_after_ms = cfg->stale_after_ms;
  if ((rc = gs_tz_load(&r->tz, cfg->timezone, err, errlen))) goto out;
  rc = GS_ENOMEM;
  int in_level = level_index(cfg->inputs_level);
  if (in_level <= 0) {
    rc = GS_ECONFIG;
    snprintf(err, errlen, "inputs level '%s' must be district, street, community or grid",
             cfg->inputs_level ? cfg->inputs_level : "");
    goto out;
  }
  rc = load_tree(r, cfg->db_path, &parents, err, errlen);
  np = r->n; /* parents[0..n) are set, also after a partial load */
  if (rc) goto out;
  for (size_t i = 0; i < r->n; i++) {
    if (!parents[i]) continue;
    long p = find(r, parents[i], strlen(parents[i]));
    r->u[i].parent = (int)p; /* the importer checked every link; -1 would only mean a damaged store */
  }
  rc = GS_ENOMEM;
  r->inputs = gs_calloc(r->n ? r->n : 1, sizeof *r->inputs);
  r->owned = gs_calloc(r->n ? r->n : 1, sizeof *r->owned);
  if (!r->inputs || !r->owned) goto out;
  /* owned in level order, so parents come before children */
  for (int lv = 0; lv < in_level; lv++)
    for (size_t i = 0; i < r->n; i++)
      if (r->u[i].level == lv) {
        r->u[i].role = ROLE_OWNED;
        r->owned[r->nowned++] = r->u[i].id;
      }
  for (size_t i = 0; i < r->n; i++) {
    unit *u = &r->u[i];
    if (u->level == in_level && u->parent >= 0 && r->u[u->parent].role == ROLE_OWNED) {
      u->role = ROLE_INPUT;
      r->inputs[r->ninputs++] = u->id;
    }
  }
  if (r->ninputs == 0) {
    rc = GS_ECONFIG;
    snprintf(err, errlen,
             "the org tree in %s has no %s below a %s; import the whole tree (gs-admin org export at "
             "each district, org import here)",
             cfg->db_path, levels[in_level], levels[in_level - 1]);
    goto out;
  }
  rc = GS_OK;
  *out = r;
  r = NULL;
out:
  for (size_t i = 0; i < np; i++) gs_free(parents[i]);
  gs_free(parents);
  gs_rollup_free(r);
  return rc;
}

void gs_rollup_free(gs_rollup *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    gs_free(r->u[i].id);
    gs_free(r->u[i].name);
    cJSON_Delete(r->u[i].doc);
  }
  gs_free(r->u);
  gs_free(r->inputs);
  gs_free(r->owned);
  gs_tz_free(r->tz);
  gs_free(r);
}

size_t gs_rollup_inputs(const gs_rollup *r, const char *const **ids) {
  *ids = r->inputs;
  return r->ninputs;
}

size_t gs_rollup_owned(const gs_rollup *r, const char *const **ids) {
  *ids = r->owned;
  return r->nowned;
}

/* ------------------------------------------------------------------ */
/* input                                                                */

static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

int gs_rollup_parse_time(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 1;
  if (!s || strlen(s) < 20) return GS_EINVAL;
  if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
      s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
      !digits(s + 17, 2, &se))
    return GS_EINVAL;
  const char *z = s + 19;
  if (strcmp(z, "Z") != 0) {
    if ((z[0] != '+' && z[0] != '-') || strlen(z) != 6 || !digits(z + 1, 2, &oh) || z[3] != ':' ||
        !digits(z + 4, 2, &om))
      return GS_EINVAL;
    sign = z[0] == '-' ? -1 : 1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return GS_EINVAL;
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  int64_t t = (int64_t)timegm(&tm);
  *ms = (t - sign * (oh * 3600 + om * 60)) * 1000;
  return GS_OK;
}

int gs_rollup_message(gs_rollup *r, const char *topic, const void *payload, size_t len, int64_t now_ms) {
  (void)now_ms;
  size_t plen = strlen(TOPIC_PREFIX);
  if (!topic || strncmp(topic, TOPIC_PREFIX, plen) != 0) return GS_ENOTFOUND;
  const char *id = topic + plen, *slash = strchr(id, '/');
  size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
  if (slash && strcmp(slash, LINK_SUFFIX) != 0) return GS_ENOTFOUND;
  long i = find(r, id, idlen);
  if (i < 0 || r->u[i].role != ROLE_INPUT) return GS_ENOTFOUND;
  unit *u = &r->u[i];
  if (slash) { /* bridge notification: "1" connected, "0" down (its last will) */
    if (len == 1 && (((const char *)payload)[0] == '1' || ((const char *)payload)[0] == '0')) {
      enum link l = ((const char *)payload)[0] == '1' ? LINK_UP : LINK_DOWN;
      if (l != u->link) gs_info("rollup: bridge of %s is %s", u->id, l == LINK_UP ? "up" : "down");
      u->link = l;
      return GS_OK;
    }
    if (len == 0) {
      u->link = LINK_UNKNOWN;
      return GS_OK;
    }
    gs_warn("rollup: %s: payload is not 0 or 1; ignored", topic);
    return GS_EBAD_REQUEST;
  }
  if (len == 0) { /* retained document cleared: the unit left the tree of its district */
    gs_info("rollup: status of %s cleared on the broker; it no longer counts", u->id);
    cJSON_Delete(u->doc);
    u->doc = NULL;
    return GS_OK;
  }
  cJSON *doc = cJSON_ParseWithLength(payload, len);
  int rc = GS_OK;
  if (!doc || !cJSON_IsObject(doc)) {
    rc = GS_EBAD_JSON;
    gs_warn("rollup: %s: not a JSON object; keeping the previous document", topic);
    goto out;
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "v");
  if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
    rc = GS_EBAD_VERSION;
    gs_warn("rollup: %s: document version is not 1; keeping the previous document", topic);
    goto out;
  }
  const cJSON *org = cJSON_GetObjectItemCaseSensitive(doc, "org");
  if (org && (!cJSON_IsString(org) || strcmp(org->valuestring, u->id) != 0)) {
    rc = GS_EBAD_REQUEST;
    gs_warn("rollup: %s: member org differs from the topic; keeping the previous document", topic);
    goto out;
  }
  const cJSON *as_of = cJSON_GetObjectItemCaseSensitive(doc, "as_of");
  int64_t t = 0;
  if (!cJSON_IsString(as_of) || gs_rollup_parse_time(as_of->valuestring, &t))
    gs_warn("rollup: %s: as_of missing or unreadable; the unit counts as stale", topic);
  cJSON_Delete(u->doc);
  u->doc = doc;
  u->as_of_ms = t;
  doc = NULL;
out:
  cJSON_Delete(doc);
  return rc;
}

/* ------------------------------------------------------------------ */
/* sums                                                                 */

static int reserved(const char *k) {
  static const char *const names[] = {"v", "org", "parent", "level", "name", "as_of", "period", "stale"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strcmp(k, names[i]) == 0) return 1;
  return 0;
}

/* Rows of the field table that are not counts (sums 0): never added up. */
static int not_summed(const char *k) {
#define NOSUM_C_(name, key, store, sums, head, width, dash)                                                            \
  if (!(sums) && strcmp(k, key) == 0) return 1;
#define NOSUM_M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                              \
  if (!(sums) && strcmp(k, key) == 0) return 1;
  GS_STATUS_FIELDS(NOSUM_C_, NOSUM_M_)
#undef NOSUM_C_
#undef NOSUM_M_
  return 0;
}

/* Adds every number of src (and of its nested objects) to acc, creating
 * members acc lacks. Strings, arrays, booleans are not counts: skipped. So a
 * counter added to the status document later is summed with no change here. */
static int add_counts(cJSON *acc, const cJSON *src, int top) {
  const cJSON *it;
  cJSON_ArrayForEach(it, src) {
    if (!it->string || (top && (reserved(it->string) || not_summed(it->string)))) continue;
    cJSON *a = cJSON_GetObjectItemCaseSensitive(acc, it->string);
    if (cJSON_IsNumber(it)) {
      if (!a) {
        if (!cJSON_AddNumberToObject(acc, it->string, it->valuedouble)) return GS_ENOMEM;
      } else if (cJSON_IsNumber(a)) {
        cJSON_SetNumberValue(a, a->valuedouble + it->valuedouble);
      }
    } else if (cJSON_IsObject(it)) {
      if (!a && !(a = cJSON_AddObjectToObject(acc, it->string))) return GS_ENOMEM;
      if (cJSON_IsObject(a)) {
        int rc = add_counts(a, it, 0);
        if (rc) return rc;
      }
    }
  }
  return GS_OK;
}

static int input_stale(const gs_rollup *r, const unit *u, int64_t now_ms) {
  if (!u->doc) return 1;
  if (u->link == LINK_UP) return 0; /* its bridge is connected: quiet, not gone */
  return u->as_of_ms == 0 || now_ms - u->as_of_ms > r->stale_after_ms;
}

/* Sums the inputs below owned unit idx into acc and lists the stale ones. */
static int sum_subtree(gs_rollup *r, size_t idx, cJSON *acc, cJSON *stale, int64_t now_ms) {
  for (size_t i = 0; i < r->n; i++) {
    unit *c = &r->u[i];
    if (c->parent != (int)idx) continue;
    int rc = GS_OK;
    if (c->role == ROLE_OWNED) {
      rc = sum_subtree(r, i, acc, stale, now_ms);
    } else if (c->role == ROLE_INPUT) {
      if (c->doc) rc = add_counts(acc, c->doc, 1); /* a stale child still counts: its last numbers stand */
      if (!rc && input_stale(r, c, now_ms) && !cJSON_AddItemToArray(stale, cJSON_CreateString(c->id))) rc = GS_ENOMEM;
    }
    if (rc) return rc;
  }
  return GS_OK;
}

static int put_json(gs_buf *b, const cJSON *it) {
  if (cJSON_IsNumber(it)) {
    double d = it->valuedouble;
    if (d == floor(d) && fabs(d) < 9007199254740992.0) return gs_buf_printf(b, "%lld", (long long)d);
    return gs_buf_printf(b, "%.17g", d);
  }
  if (cJSON_IsString(it)) return gs_buf_json_str(b, it->valuestring);
  if (cJSON_IsArray(it) || cJSON_IsObject(it)) {
    int obj = cJSON_IsObject(it), rc = gs_buf_puts(b, obj ? "{" : "[");
    const cJSON *c;
    int first = 1;
    cJSON_ArrayForEach(c, it) {
      if (!rc && !first) rc = gs_buf_puts(b, ",");
      if (!rc && obj) rc = gs_buf_json_str(b, c->string);
      if (!rc && obj) rc = gs_buf_puts(b, ":");
      if (!rc) rc = put_json(b, c);
      first = 0;
    }
    return rc ? rc : gs_buf_puts(b, obj ? "}" : "]");
  }
  return gs_buf_puts(b, "null");
}

/* The counts every status document has, from the field table in its order
 * (docs/PROTOCOL.md, "Status"), so a unit with no input yet still shows zeros. */
static cJSON *template_counts(void) {
  cJSON *o = cJSON_CreateObject(), *m = NULL;
  int ok = o != NULL;
  (void)m;
#define TPL_C_(name, key, store, sums, head, width, dash)                                                              \
  if (ok && (sums)) ok = cJSON_AddNumberToObject(o, key, 0) != NULL;
#define TPL_S_(m, sub)                                                                                                 \
  if (ok) ok = cJSON_AddNumberToObject(m, #sub, 0) != NULL;
#define TPL_M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                                \
  if (ok && (sums)) {                                                                                                  \
    ok = (m = cJSON_AddObjectToObject(o, key)) != NULL;                                                                \
    SUBS(TPL_S_, m)                                                                                                    \
  }
  GS_STATUS_FIELDS(TPL_C_, TPL_M_)
#undef TPL_C_
#undef TPL_S_
#undef TPL_M_
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

int gs_rollup_doc(gs_rollup *r, const char *id, int64_t now_ms, int with_as_of, gs_buf *out) {
  long idx = find(r, id, strlen(id));
  if (idx < 0 || r->u[idx].role != ROLE_OWNED) return GS_ENOTFOUND;
  const unit *u = &r->u[idx];
  cJSON *acc = template_counts(), *stale = cJSON_CreateArray();
  int rc = GS_ENOMEM;
  if (!acc || !stale) goto out;
  if ((rc = sum_subtree(r, (size_t)idx, acc, stale, now_ms))) goto out;
  char as_of[32] = "", period[8] = "";
  gs_tz_period(r->tz, now_ms, period);
  if (with_as_of) gs_tz_iso(r->tz, now_ms, as_of);
  rc = gs_buf_puts(out, "{\"v\":1,\"org\":");
  if (!rc) rc = gs_buf_json_str(out, u->id);
  if (!rc) rc = gs_buf_puts(out, ",\"parent\":");
  if (!rc) rc = u->parent >= 0 ? gs_buf_json_str(out, r->u[u->parent].id) : gs_buf_puts(out, "null");
  if (!rc) rc = gs_buf_puts(out, ",\"level\":");
  if (!rc) rc = gs_buf_json_str(out, u->level >= 0 ? levels[u->level] : "");
  if (!rc) rc = gs_buf_puts(out, ",\"name\":");
  if (!rc) rc = gs_buf_json_str(out, u->name);
  if (!rc && with_as_of) rc = gs_buf_printf(out, ",\"as_of\":\"%s\"", as_of);
  if (!rc && !with_as_of) rc = gs_buf_puts(out, ",\"as_of\":\"\"");
  if (!rc) rc = gs_buf_printf(out, ",\"period\":\"%s\"", period);
  const cJSON *c;
  cJSON_ArrayForEach(c, acc) {
    if (!rc) rc = gs_buf_puts(out, ",");
    if (!rc) rc = gs_buf_json_str(out, c->string);
    if (!rc) rc = gs_buf_puts(out, ":");
    if (!rc) rc = put_json(out, c);
  }
  if (!rc) rc = gs_buf_puts(out, ",\"stale\":");
  if (!rc) rc = put_json(out, stale);
  if (!rc) rc = gs_buf_puts(out, "}");
out:
  cJSON_Delete(acc);
  cJSON_Delete(stale);
  return rc;
}
