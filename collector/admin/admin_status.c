/* gs-admin status | export: the status numbers as a terminal table, a full
 * recount, and CSV/JSON exports for the office's spreadsheets. */
#include "admin_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "admin_cli.h"
#include "gs_error.h"
#include "gs_json.h"
#include "gs_mem.h"
#include "gs_schema.h"
#include "gs_status.h"
#include "gs_store.h"
#include "gs_tz.h"
#include "gs_util.h"

/* The time zone of gs-admin's status numbers and --since dates. */
static const char *admin_tz(void) { return getenv("GS_TZ") ? getenv("GS_TZ") : "Asia/Shanghai"; }

/* The numbers of one unit as the table's columns, from the field table
 * (gs_status_fields.h). Coverage (visited / households) is derived, not a
 * field: it follows the VISITED column. */
#define COL_C_(name, key, store, sums, head, width, dash)                                                              \
  printf(" %*lld", width, (long long)n->name);                                                                         \
  if (strcmp(#name, "visited_period") == 0) printf(" %s", cov);
#define COL_M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                                \
  for (int i = 0; i < GS_STATUS_NSUBS(SUBS); i++) printf("%s%2lld", i ? "/" : " ", (long long)n->name[i]);
static void print_numbers(const gs_status_numbers *n, const char *cov) { GS_STATUS_FIELDS(COL_C_, COL_M_) }
#undef COL_C_
#undef COL_M_

#define HEAD_C_(name, key, store, sums, head, width, dash)                                                             \
  printf(" %*s", width, head);                                                                                         \
  if (strcmp(#name, "visited_period") == 0) printf(" %4s", "COV");
#define HEAD_M_(name, key, SUBS, prefix, store, sums, head, width, dash) printf(" %*s", width, head);
static void print_header(void) {
  printf("%-16s %-30s", "ORG", "NAME");
  GS_STATUS_FIELDS(HEAD_C_, HEAD_M_)
  printf("\n");
}
#undef HEAD_C_
#undef HEAD_M_

/* every number, space-separated, for comparing a recount */
#define SNAP_C_(name, key, store, sums, head, width, dash) gs_buf_printf(b, " %lld", (long long)n->name);
#define SNAP_M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                               \
  for (int i = 0; i < GS_STATUS_NSUBS(SUBS); i++) gs_buf_printf(b, " %lld", (long long)n->name[i]);
static void snap_numbers(gs_buf *b, const gs_status_numbers *n) { GS_STATUS_FIELDS(SNAP_C_, SNAP_M_) }
#undef SNAP_C_
#undef SNAP_M_

static void pct(int64_t a, int64_t b, char *out, size_t n) {
  if (b <= 0) snprintf(out, n, "   -");
  else snprintf(out, n, "%3lld%%", (long long)(a * 100 / b));
}

static void row(gs_status *s, const char *org, int depth, int64_t now) {
  gs_status_numbers n;
  if (gs_status_numbers_of(s, org, now, &n)) return;
  char cov[16], name[160] = "";
  pct(n.visited_period, n.households, cov, sizeof cov);
  gs_buf doc = GS_BUF_INIT;
  if (gs_status_doc(s, org, now, &doc) == GS_OK) {
    cJSON *d = cJSON_Parse(doc.data);
    const cJSON *nm = cJSON_GetObjectItem(d, "name"), *lv = cJSON_GetObjectItem(d, "level");
    if (cJSON_IsString(nm) && cJSON_IsString(lv))
      snprintf(name, sizeof name, "%s (%s)", nm->valuestring, lv->valuestring);
    cJSON_Delete(d);
  }
  gs_buf_free(&doc);
  /* pad the name to 30 terminal columns (Chinese characters take two) */
  size_t w = gs_utf8_width(name);
  int pad = w < 30 ? (int)(30 - w) : 0;
  printf("%*s%-*s %s%*s", depth * 2, "", 16 - depth * 2 > 4 ? 16 - depth * 2 : 4, org, name, pad, "");
  print_numbers(&n, cov);
  printf("\n");
}

static void tree(gs_status *s, const char *org, int depth, int64_t now, int recurse) {
  row(s, org, depth, now);
  if (!recurse) return;
  const char *kids[4096];
  size_t n = gs_status_children(s, org, kids, 4096);
  for (size_t i = 0; i < n; i++) tree(s, kids[i], depth + 1, now, 1);
}

/* Snapshot of every unit's numbers, for comparing a recount. */
static char *snapshot(gs_status *s, int64_t now) {
  gs_buf b = GS_BUF_INIT;
  const char *const *ids;
  size_t n = gs_status_orgs(s, &ids);
  for (size_t i = 0; i < n; i++) {
    gs_status_numbers x;
    if (gs_status_numbers_of(s, ids[i], now, &x)) continue;
    gs_buf_puts(&b, ids[i]);
    snap_numbers(&b, &x);
    gs_buf_puts(&b, "\n");
  }
  return gs_buf_steal(&b);
}

static int status_cmd(gs_status *s, int argc, char **argv, char *err, size_t errlen) {
  int64_t now = gs_now_ms();
  if (gs_cli_flag(argc, argv, "--recount")) {
    int rc = gs_status_refresh(s, now);
    char *before = rc ? NULL : snapshot(s, now);
    if (!rc) rc = gs_status_recount(s, now);
    char *after = rc ? NULL : snapshot(s, now);
    if (!rc) {
      const char *const *ids;
      size_t n = gs_status_orgs(s, &ids);
      int same = before && after && strcmp(before, after) == 0;
      printf("recounted %zu org units from the stored entities: %s\n", n,
             same ? "identical to the incremental numbers" : "numbers differed and were corrected");
    } else {
      snprintf(err, errlen, "recount failed: %s", gs_strerror(rc));
    }
    gs_free(before);
    gs_free(after);
    return rc;
  }
  if (argc < 2 || argv[1][0] == '-') {
    snprintf(err, errlen, "status needs an org unit id (e.g. gs-admin --db F status c-demo --tree)");
    return GS_EINVAL;
  }
  gs_status_numbers n;
  int rc = gs_status_refresh(s, now);
  if (!rc) rc = gs_status_numbers_of(s, argv[1], now, &n);
  if (rc == GS_ENOTFOUND) {
    snprintf(err, errlen, "org unit '%.64s' is not in the org tree (gs-admin org import first)", argv[1]);
    return rc;
  }
  if (rc) return rc;
  print_header();
  tree(s, argv[1], 0, now, gs_cli_flag(argc, argv, "--tree"));
  return GS_OK;
}

/* ------------------------------------------------------------------ */
/* export                                                               */

static void csv_cell(FILE *f, const char *s) {
  int quote = strpbrk(s, ",\"\r\n") != NULL;
  if (!quote) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void csv_value(FILE *f, const cJSON *v) {
  if (!v || cJSON_IsNull(v)) return;
  if (cJSON_IsString(v)) {
    csv_cell(f, v->valuestring);
    return;
  }
  if (cJSON_IsArray(v) && (!v->child || cJSON_IsString(v->child))) { /* tags, photos: a;b;c */
    gs_buf b = GS_BUF_INIT;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) gs_buf_printf(&b, "%s%s", b.len ? ";" : "", cJSON_IsString(it) ? it->valuestring : "");
    csv_cell(f, b.data ? b.data : "");
    gs_buf_free(&b);
    return;
  }
  gs_buf b = GS_BUF_INIT;
  gs_json_canon(v, &b);
  csv_cell(f, b.data ? b.data : "");
  gs_buf_free(&b);
}

/* Latest write time of an entity: the greatest ms among its field versions. */
static int64_t latest_ms(const cJSON *ver) {
  int64_t m = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, ver) {
    const cJSON *ms = cJSON_GetArrayItem(v, 0);
    if (cJSON_IsNumber(ms) && ms->valuedouble > (double)m) m = (int64_t)ms->valuedouble;
  }
  return m;
}

/* A date YYYY-MM-DD: its local midnight in the user's zone (TZ, else the
 * system's), as mktime gave it before gs_tz. */
static int parse_since(const char *s, int64_t *out, char *err, size_t errlen) {
  int y, m, d;
  char tail;
  if (!s) {
    *out = 0;
    return GS_OK;
  }
  if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31) {
    snprintf(err, errlen, "--since must be a date YYYY-MM-DD (entities written on or after that day)");
    return GS_EINVAL;
  }
  gs_tz *z = NULL;
  const char *tz = getenv("TZ");
  if (tz && tz[0] == ':') tz++;
  int rc = gs_tz_load(&z, tz, err, errlen);
  if (rc) return rc;
  *out = gs_tz_to_utc(z, y, m, d, 0, 0, 0);
  gs_tz_free(z);
  return GS_OK;
}

typedef struct export_ctx {
  const gs_type_def *td;
  const char *tname;
  int csv, n;
  int64_t since;
} export_ctx;

static int export_one(void *ctx, const char *id, int64_t rev, const char *fields, const char *ver) {
  export_ctx *x = ctx;
  cJSON *f = cJSON_Parse(fields);
  cJSON *v = cJSON_Parse(ver);
  if (f && v && latest_ms(v) >= x->since) {
    if (x->csv) {
      csv_cell(stdout, id);
      printf(",%lld", (long long)rev);
      for (size_t i = 0; i < x->td->nfields; i++) {
        fputc(',', stdout);
        csv_value(stdout, cJSON_GetObjectItemCaseSensitive(f, x->td->fields[i].name));
      }
      fputs("\r\n", stdout);
    } else {
      gs_buf b = GS_BUF_INIT;
      gs_buf_printf(&b, "%s\n{\"type\":\"%s\",\"id\":", x->n ? "," : "", x->tname);
      gs_buf_json_str(&b, id);
      gs_buf_printf(&b, ",\"rev\":%lld,\"fields\":%s}", (long long)rev, fields);
      fwrite(b.data, 1, b.len, stdout);
      gs_buf_free(&b);
    }
    x->n++;
  }
  cJSON_Delete(f);
  cJSON_Delete(v);
  return GS_OK;
}

static int export_cmd(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  const char *type = argc > 1 ? argv[1] : "";
  const char *format = gs_cli_opt(argc, argv, "--format") ? gs_cli_opt(argc, argv, "--format") : "csv";
  const char *org = gs_cli_opt(argc, argv, "--org");
  int64_t since;
  if (strcmp(type, "households") && strcmp(type, "visits") && strcmp(type, "reports")) {
    snprintf(err, errlen, "export what? households, visits or reports");
    return GS_EINVAL;
  }
  if (strcmp(format, "csv") && strcmp(format, "json")) {
    snprintf(err, errlen, "--format must be csv or json");
    return GS_EINVAL;
  }
  int rc = parse_since(gs_cli_opt(argc, argv, "--since"), &since, err, errlen);
  if (rc) return rc;
  if (org && !gs_valid_org_id(org)) {
    snprintf(err, errlen, "--org '%.64s' is not a valid org id", org);
    return GS_EINVAL;
  }
  char tname[16];
  snprintf(tname, sizeof tname, "%.*s", (int)strlen(type) - 1, type); /* households -> household */
  gs_schema *schema = NULL;
  rc = gs_schema_load_builtin(&schema, err, errlen);
  if (rc) return rc;
  export_ctx x = {gs_schema_type(schema, tname), tname, strcmp(format, "csv") == 0, 0, since};
  if (gs_cli_flag(argc, argv, "--bom")) fputs("\xEF\xBB\xBF", stdout);
  if (x.csv) {
    fputs("id,rev", stdout);
    for (size_t i = 0; i < x.td->nfields; i++) printf(",%s", x.td->fields[i].name);
    fputs("\r\n", stdout);
  } else {
    fputs("[", stdout);
  }
  rc = gs_store_status_export(gs_engine_store(e), tname, org, export_one, &x);
  if (rc) {
    snprintf(err, errlen, "export: reading the entities failed: %s", gs_strerror(rc));
    gs_schema_free(schema);
    return rc;
  }
  if (!x.csv) fputs("\n]\n", stdout);
  fprintf(stderr, "exported %d %s\n", x.n, type);
  gs_schema_free(schema);
  return GS_OK;
}

int gs_admin_status_main(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  if (strcmp(argv[0], "export") == 0) return export_cmd(e, argc, argv, err, errlen);
  gs_status *s = NULL;
  gs_status_config c = {admin_tz(), 30};
  const char *care = gs_cli_opt(argc, argv, "--care-days");
  int64_t cd;
  if (care && gs_parse_i64(care, 1, 366, &cd) == GS_OK) c.care_days = (int)cd;
  int rc = gs_status_open(&s, e, &c, err, errlen);
  if (rc) return rc;
  rc = status_cmd(s, argc, argv, err, errlen);
  gs_status_close(s);
  return rc;
}

int gs_admin_recount(gs_engine *e, char *err, size_t errlen) {
  gs_status *s = NULL;
  gs_status_config c = {admin_tz(), 30};
  int rc = gs_status_open(&s, e, &c, err, errlen);
  if (!rc) rc = gs_status_recount(s, gs_now_ms());
  if (rc && !err[0]) snprintf(err, errlen, "recount failed: %s", gs_strerror(rc));
  gs_status_close(s);
  return rc;
}
