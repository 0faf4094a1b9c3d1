#define _XOPEN_SOURCE 700
/* gs-admin status | export: the status numbers as a terminal table, a full
 * recount, and CSV/JSON exports for the office's spreadsheets. */
#include "admin_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "admin_cli.h"
#include "gs_error.h"
#include "gs_json.h"
#include "gs_mem.h"
#include "gs_schema.h"
#include "gs_status.h"
#include "gs_util.h"

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
  printf("%*s%-*s %s%*s %7lld %7lld %s %6lld %5lld %2lld/%2lld/%2lld/%2lld %7lld %6lld %6lld\n", depth * 2, "",
         16 - depth * 2 > 4 ? 16 - depth * 2 : 4, org, name, pad, "", (long long)n.households,
         (long long)n.visited_period, cov, (long long)n.visits_today, (long long)n.reports_open,
         (long long)n.by_urgency[0], (long long)n.by_urgency[1], (long long)n.by_urgency[2], (long long)n.by_urgency[3],
         (long long)n.reports_overdue, (long long)n.care_due, (long long)n.devices_active);
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
    gs_buf_printf(&b, "%s %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld\n", ids[i], (long long)x.households,
                  (long long)x.visited_period, (long long)x.visits_today, (long long)x.reports_open,
                  (long long)x.by_urgency[0], (long long)x.by_urgency[1], (long long)x.by_urgency[2],
                  (long long)x.by_urgency[3], (long long)x.reports_overdue, (long long)x.care_due,
                  (long long)x.devices_active);
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
  printf("%-16s %-30s %7s %7s %4s %6s %5s %11s %7s %6s %6s\n", "ORG", "NAME", "HOUSEH.", "VISITED", "COV", "TODAY",
         "OPEN", "L/ N/ H/ C", "OVERDUE", "CARE", "ACTIVE");
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

static int parse_since(const char *s, int64_t *out) {
  if (!s) {
    *out = 0;
    return 1;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(s, "%Y-%m-%d", &tm);
  if (!end || *end) return 0;
  tm.tm_isdst = -1;
  time_t t = mktime(&tm);
  if (t == (time_t)-1) return 0;
  *out = (int64_t)t * 1000;
  return 1;
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
  if (!parse_since(gs_cli_opt(argc, argv, "--since"), &since)) {
    snprintf(err, errlen, "--since must be a date YYYY-MM-DD (entities written on or after that day)");
    return GS_EINVAL;
  }
  if (org && !gs_valid_org_id(org)) {
    snprintf(err, errlen, "--org '%.64s' is not a valid org id", org);
    return GS_EINVAL;
  }
  char tname[16];
  snprintf(tname, sizeof tname, "%.*s", (int)strlen(type) - 1, type); /* households -> household */
  gs_schema *schema = NULL;
  int rc = gs_schema_load_builtin(&schema, err, errlen);
  if (rc) return rc;
  const gs_type_def *td = gs_schema_type(schema, tname);
  sqlite3 *db = gs_engine_db(e);
  sqlite3_stmt *st = NULL;
  /* all grids under org (or everything) */
  const char *sql =
      org ? "WITH RECURSIVE sub(id) AS (SELECT ?2 UNION ALL SELECT o.id FROM org o JOIN sub ON o.parent = sub.id) "
            "SELECT e.id, e.rev, e.fields, e.ver FROM entity e WHERE e.type = ?1 AND e.grid IN (SELECT id FROM sub) "
            "ORDER BY e.rev"
          : "SELECT e.id, e.rev, e.fields, e.ver FROM entity e WHERE e.type = ?1 ORDER BY e.rev";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "export: %s", sqlite3_errmsg(db));
    gs_schema_free(schema);
    return GS_ESTORE;
  }
  sqlite3_bind_text(st, 1, tname, -1, SQLITE_STATIC);
  if (org) sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
  if (gs_cli_flag(argc, argv, "--bom")) fputs("\xEF\xBB\xBF", stdout);
  int csv = strcmp(format, "csv") == 0, n = 0;
  if (csv) {
    fputs("id,rev", stdout);
    for (size_t i = 0; i < td->nfields; i++) printf(",%s", td->fields[i].name);
    fputs("\r\n", stdout);
  } else {
    fputs("[", stdout);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    cJSON *f = cJSON_Parse((const char *)sqlite3_column_text(st, 2));
    cJSON *v = cJSON_Parse((const char *)sqlite3_column_text(st, 3));
    if (f && v && latest_ms(v) >= since) {
      const char *id = (const char *)sqlite3_column_text(st, 0);
      if (csv) {
        csv_cell(stdout, id);
        printf(",%lld", (long long)sqlite3_column_int64(st, 1));
        for (size_t i = 0; i < td->nfields; i++) {
          fputc(',', stdout);
          csv_value(stdout, cJSON_GetObjectItemCaseSensitive(f, td->fields[i].name));
        }
        fputs("\r\n", stdout);
      } else {
        gs_buf b = GS_BUF_INIT;
        gs_buf_printf(&b, "%s\n{\"type\":\"%s\",\"id\":", n ? "," : "", tname);
        gs_buf_json_str(&b, id);
        gs_buf_printf(&b, ",\"rev\":%lld,\"fields\":%s}", (long long)sqlite3_column_int64(st, 1),
                      (const char *)sqlite3_column_text(st, 2));
        fwrite(b.data, 1, b.len, stdout);
        gs_buf_free(&b);
      }
      n++;
    }
    cJSON_Delete(f);
    cJSON_Delete(v);
  }
  if (!csv) fputs("\n]\n", stdout);
  fprintf(stderr, "exported %d %s\n", n, type);
  sqlite3_finalize(st);
  gs_schema_free(schema);
  return GS_OK;
}

int gs_admin_status_main(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  if (strcmp(argv[0], "export") == 0) return export_cmd(e, argc, argv, err, errlen);
  gs_status *s = NULL;
  gs_status_config c = {getenv("GS_TZ") ? getenv("GS_TZ") : "Asia/Shanghai", 30};
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
  gs_status_config c = {getenv("GS_TZ") ? getenv("GS_TZ") : "Asia/Shanghai", 30};
  int rc = gs_status_open(&s, e, &c, err, errlen);
  if (!rc) rc = gs_status_recount(s, gs_now_ms());
  if (rc && !err[0]) snprintf(err, errlen, "recount failed: %s", gs_strerror(rc));
  gs_status_close(s);
  return rc;
}
