/* admin_ops.c - gs-admin's operations and commands: CSV parsing, checks,
 * messages and output formats; the store does the SQL (gs_store.h, section
 * gs_store_admin.c). */
#include "admin_ops.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_cli.h"
#include "admin_import.h"
#include "admin_status.h"
#include "gs_cli.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_store.h"
#include "gs_util.h"

static const char *const levels[] = {"city", "district", "street", "community", "grid"};

static int level_index(const char *s) {
  for (int i = 0; i < 5; i++)
    if (strcmp(levels[i], s) == 0) return i;
  return -1;
}

/* ------------------------------------------------------------------ */
/* org import                                                           */

typedef struct csv_row {
  char *f[4];
  int nf;
  long line;
} csv_row;

typedef struct csv_state {
  csv_row *rows;
  size_t n, cap;
  char *cur[4];
  int nf;
  int too_many;
  long line;
  int oom;
} csv_state;

static void on_field(void *s, size_t len, void *data) {
  csv_state *st = data;
  if (st->nf < 4) {
    /* CSV_EMPTY_IS_NULL: an empty unquoted field arrives as NULL and stays NULL */
    st->cur[st->nf] = s ? gs_strndup(s, len) : NULL;
    if (s && !st->cur[st->nf]) st->oom = 1;
  } else {
    st->too_many = 1;
  }
  st->nf++;
}

static void on_row(int c, void *data) {
  csv_state *st = data;
  (void)c;
  st->line++;
  if (gs_grow(&st->rows, &st->cap, st->n, sizeof *st->rows, 64)) {
    st->oom = 1;
    for (int i = 0; i < 4 && i < st->nf; i++) gs_free(st->cur[i]);
    st->nf = 0;
    return;
  }
  csv_row *r = &st->rows[st->n++];
  memset(r, 0, sizeof *r);
  for (int i = 0; i < 4; i++) r->f[i] = i < st->nf ? st->cur[i] : NULL;
  r->nf = st->too_many ? 5 : st->nf;
  r->line = st->line;
  st->nf = 0;
  st->too_many = 0;
  memset(st->cur, 0, sizeof st->cur);
}

static void csv_state_free(csv_state *st) {
  for (size_t i = 0; i < st->n; i++)
    for (int j = 0; j < 4; j++) gs_free(st->rows[i].f[j]);
  gs_free(st->rows);
  for (int j = 0; j < 4; j++) gs_free(st->cur[j]);
}

int gs_admin_org_import(gs_engine *e, const char *path, int *count, char *err, size_t errlen) {
  gs_store *s = gs_engine_store(e);
  char *text = NULL;
  size_t len = 0;
  int rc = gs_read_file(path, 64u << 20, &text, &len);
  if (rc) {
    snprintf(err, errlen, "%s: cannot read: %s", path, gs_strerror(rc));
    return rc;
  }
  csv_state st;
  memset(&st, 0, sizeof st);
  struct csv_parser p;
  int in_txn = 0;
  rc = GS_EINVAL;
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
    rc = GS_ENOMEM;
    goto out_nofree;
  }
  /* A UTF-8 BOM from spreadsheet exports is fine. */
  size_t off = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  if (csv_parse(&p, text + off, len - off, on_field, on_row, &st) != len - off ||
      csv_fini(&p, on_field, on_row, &st) != 0) {
    snprintf(err, errlen, "%s: line %ld: malformed CSV (%s); fix the quoting and import again", path, st.line + 1,
             csv_strerror(csv_error(&p)));
    goto out;
  }
  if (st.oom) {
    rc = GS_ENOMEM;
    goto out;
  }
  if (!gs_valid_utf8(text, len)) {
    snprintf(err, errlen, "%s: not valid UTF-8; save the file as UTF-8 and import again", path);
    goto out;
  }
  if (st.n == 0 || st.rows[0].nf != 4 || !st.rows[0].f[0] || strcmp(st.rows[0].f[0], "id") || !st.rows[0].f[1] ||
      strcmp(st.rows[0].f[1], "parent") || !st.rows[0].f[2] || strcmp(st.rows[0].f[2], "level") || !st.rows[0].f[3] ||
      strcmp(st.rows[0].f[3], "name")) {
    snprintf(err, errlen, "%s: line 1: the header must be exactly id,parent,level,name", path);
    goto out;
  }
  /* Two passes: insert all, then check every parent link, so rows may come in any order. */
  if (gs_store_admin_org_begin(s)) {
    rc = GS_EBUSY;
    snprintf(err, errlen, "%s: database busy; try again", path);
    goto out;
  }
  in_txn = 1;
  for (size_t i = 1; i < st.n; i++) {
    csv_row *r = &st.rows[i];
    if (r->nf == 1 && !r->f[0]) continue; /* blank line */
    if (r->nf != 4) {
      snprintf(err, errlen, "%s: line %ld: expected 4 columns (id,parent,level,name), found %d", path, r->line, r->nf);
      goto out;
    }
    if (!gs_valid_org_id(r->f[0])) {
      snprintf(err, errlen, "%s: line %ld: id '%.64s' is not [A-Za-z0-9_-]{1,64}", path, r->line,
               r->f[0] ? r->f[0] : "");
      goto out;
    }
    int lv = r->f[2] ? level_index(r->f[2]) : -1;
    if (lv < 0) {
      snprintf(err, errlen, "%s: line %ld: level '%.32s' must be city, district, street, community or grid", path,
               r->line, r->f[2] ? r->f[2] : "");
      goto out;
    }
    if ((lv == 0) != (r->f[1] == NULL)) {
      snprintf(err, errlen, "%s: line %ld: %s", path, r->line,
               lv == 0 ? "a city has no parent" : "every unit below city needs a parent");
      goto out;
    }
    if (r->f[1] && !gs_valid_org_id(r->f[1])) {
      snprintf(err, errlen, "%s: line %ld: parent '%.64s' is not a valid id", path, r->line, r->f[1]);
      goto out;
    }
    if (!r->f[3] || strlen(r->f[3]) > 200) {
      snprintf(err, errlen, "%s: line %ld: name is missing or longer than 200 bytes", path, r->line);
      goto out;
    }
    int prc = gs_store_admin_org_put(s, r->f[0], r->f[1], r->f[2], r->f[3]);
    if (prc) {
      rc = prc;
      snprintf(err, errlen, "%s: line %ld: %s", path, r->line, gs_store_errmsg(s));
      goto out;
    }
  }
  for (size_t i = 1; i < st.n; i++) {
    csv_row *r = &st.rows[i];
    if (!r->f[1]) continue;
    char plevel[32];
    if (gs_store_admin_org_level(s, r->f[1], plevel, sizeof plevel)) {
      snprintf(err, errlen, "%s: line %ld: parent '%s' of '%s' is neither in the file nor in the database", path,
               r->line, r->f[1], r->f[0]);
      goto out;
    }
    int plv = level_index(plevel);
    if (plv != level_index(r->f[2]) - 1) {
      snprintf(err, errlen, "%s: line %ld: parent '%s' is a %s; a %s's parent must be a %s", path, r->line, r->f[1],
               levels[plv < 0 ? 0 : plv], r->f[2], levels[level_index(r->f[2]) - 1]);
      goto out;
    }
  }
  if (gs_store_commit(s)) {
    rc = GS_ESTORE;
    snprintf(err, errlen, "%s: commit failed: %s", path, gs_store_errmsg(s));
    goto out;
  }
  in_txn = 0;
  if (count) *count = (int)(st.n - 1);
  rc = GS_OK;
out:
  csv_free(&p);
out_nofree:
  if (in_txn) gs_store_rollback(s);
  csv_state_free(&st);
  gs_free(text);
  return rc;
}

/* [bridge] org export: the same tree at every level (docs/DEPLOYMENT.md). */

static void csv_field(FILE *out, const char *v) {
  if (!v) return; /* NULL -> empty field, as the importer reads it */
  if (!strpbrk(v, ",\"\r\n")) {
    fputs(v, out);
    return;
  }
  fputc('"', out);
  for (const char *p = v; *p; p++) {
    if (*p == '"') fputc('"', out);
    fputc(*p, out);
  }
  fputc('"', out);
}

struct export_ctx {
  FILE *out;
  int n;
};

static int export_row(void *ctx, const gs_store_org_row *row) {
  struct export_ctx *x = ctx;
  const char *f[4] = {row->id, row->parent, row->level, row->name};
  for (int i = 0; i < 4; i++) {
    if (i) fputc(',', x->out);
    csv_field(x->out, f[i]);
  }
  fputc('\n', x->out);
  x->n++;
  return 0;
}

int gs_admin_org_export(gs_engine *e, FILE *out, const char *root, int *count, char *err, size_t errlen) {
  gs_store *s = gs_engine_store(e);
  struct export_ctx x = {out, 0};
  fputs("id,parent,level,name\n", out);
  int rc = gs_store_admin_org_each(s, root, export_row, &x);
  if (rc) {
    snprintf(err, errlen, "org export: %s", gs_store_errmsg(s));
    return GS_ESTORE;
  }
  if (root && x.n == 0) {
    snprintf(err, errlen, "org export: org unit '%.64s' does not exist; see gs-admin org export without --root", root);
    return GS_ENOTFOUND;
  }
  if (fflush(out) != 0 || ferror(out)) {
    snprintf(err, errlen, "org export: write failed");
    return GS_EIO;
  }
  if (count) *count = x.n;
  return GS_OK;
}

/* ------------------------------------------------------------------ */
/* devices                                                              */

int gs_admin_device_add(gs_engine *e, const char *device, const char *grids, const char *worker, char *err,
                        size_t errlen) {
  if (!gs_valid_device_id(device)) {
    snprintf(err, errlen, "device id '%.64s' must be [a-z0-9-]{3,64} (the CN of its certificate)", device);
    return GS_EINVAL;
  }
  if (worker && (strlen(worker) > 64 || !gs_valid_utf8(worker, strlen(worker)))) {
    snprintf(err, errlen, "--worker must be UTF-8 of at most 64 bytes");
    return GS_EINVAL;
  }
  char *list = gs_strdup(grids ? grids : "");
  if (!list) return GS_ENOMEM;
  gs_store *s = gs_engine_store(e);
  int rc = gs_store_begin(s);
  if (rc) {
    snprintf(err, errlen, "database busy; try again");
    gs_free(list);
    return rc;
  }
  if (gs_store_admin_device_put(s, device, worker, gs_now_ms())) goto store_err;
  if (grids) {
    if (gs_store_admin_device_grids_clear(s, device)) goto store_err;
    for (char *g = list, *next; g && *g; g = next) {
      next = strchr(g, ',');
      if (next) *next++ = '\0';
      if (!*g) continue;
      int grc = gs_store_admin_device_grid_add(s, device, g);
      if (grc == GS_ENOTFOUND) {
        rc = GS_EINVAL;
        snprintf(err, errlen, "grid '%.64s' is not an org unit of level grid; import the org tree first", g);
        goto fail;
      }
      if (grc) goto store_err;
    }
  }
  if (gs_store_commit(s)) goto store_err;
  gs_free(list);
  return GS_OK;
store_err:
  rc = GS_ESTORE;
  snprintf(err, errlen, "device %s: %s", device, gs_store_errmsg(s));
fail:
  gs_store_rollback(s);
  gs_free(list);
  return rc;
}

int gs_admin_device_enable(gs_engine *e, const char *device, int enabled, char *err, size_t errlen) {
  gs_store *s = gs_engine_store(e);
  int rc = gs_store_admin_device_set_enabled(s, device, enabled);
  if (rc == GS_ENOTFOUND) {
    snprintf(err, errlen, "device %.64s is not registered", device);
  } else if (rc) {
    rc = GS_ESTORE;
    snprintf(err, errlen, "device %.64s: %s", device, gs_store_errmsg(s));
  }
  return rc;
}

struct list_ctx {
  FILE *out;
  int csv;
};

static int list_row(void *ctx, const gs_store_device_row *r) {
  struct list_ctx *l = ctx;
  if (l->csv) {
    fprintf(l->out, "%s,\"%s\",%d,%lld,%lld,%s\n", r->id, r->worker, r->enabled, (long long)r->acked_seq,
            (long long)r->last_seen_ms, r->grids);
    return 0;
  }
  char ts[32] = "never";
  if (r->last_seen_ms) {
    time_t t = (time_t)(r->last_seen_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  }
  fprintf(l->out, "%-24s %-12s %-7s %10lld %-20s %s\n", r->id, r->worker, r->enabled ? "yes" : "no",
          (long long)r->acked_seq, ts, r->grids);
  return 0;
}

int gs_admin_device_list(gs_engine *e, FILE *out, int csv) {
  struct list_ctx l = {out, csv};
  if (csv) fprintf(out, "id,worker,enabled,acked_seq,last_seen_ms,grids\n");
  else
    fprintf(out, "%-24s %-12s %-7s %10s %-20s %s\n", "DEVICE", "WORKER", "ENABLED", "ACKED_SEQ", "LAST_SEEN", "GRIDS");
  return gs_store_admin_device_each(gs_engine_store(e), list_row, &l);
}

struct conflicts_ctx {
  FILE *out;
  int n;
};

static int conflict_row(void *ctx, const gs_store_conflict_row *r) {
  struct conflicts_ctx *c = ctx;
  int kept_a = strcmp(r->a_change, r->winner) == 0;
  fprintf(c->out, "%s %s field %s:\n  %-20s %s%s\n  %-20s %s%s\n", r->type, r->entity, r->field, r->a_device,
          r->a_value ? r->a_value : "null", kept_a ? "   <- kept" : "", r->b_device, r->b_value ? r->b_value : "null",
          !kept_a ? "   <- kept" : "");
  c->n++;
  return 0;
}

int gs_admin_conflicts(gs_engine *e, FILE *out, int all) {
  struct conflicts_ctx c = {out, 0};
  int rc = gs_store_admin_conflict_each(gs_engine_store(e), all, conflict_row, &c);
  if (rc) return rc;
  fprintf(out, "%d conflict(s)%s\n", c.n, all ? "" : " to review");
  return GS_OK;
}

/* ------------------------------------------------------------------ */
/* demo seed                                                            */

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
static const char *const given[] = {"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊",   "军",
                                    "洋", "勇", "艳", "杰",   "娟", "涛", "明", "超", "秀兰", "霞"};
static const char *const street_names[] = {"人民路", "解放路", "和平街", "建设路", "中山路",
                                           "朝阳街", "幸福路", "光明街", "文化路", "新华街"};
static const char *const community_names[] = {"阳光", "翠苑", "锦绣", "和谐", "春晖", "金桥", "绿洲", "明珠"};

int gs_admin_seed(gs_engine *e, int streets, int communities, int grids, int households, char *err, size_t errlen) {
  return gs_admin_seed_district(e, 1, streets, communities, grids, households, err, errlen);
}

/* [bridge] District N of the demo city. District 1 keeps the historical ids
 * (d-01, s-01, cm-0101, g-0001, dev-0001); district N >= 2 puts N in every id
 * (d-02, s-2-01, cm-2-0101, g-2-0001, dev-2-0001), so the districts of one
 * city can be seeded into separate stores and imported side by side. */
static const char *const district_names[] = {"和平区", "河西区", "南开区", "河东区", "红桥区",
                                             "河北区", "东丽区", "西青区", "津南区"};

static void seed_id(char *out, size_t n, int district, const char *prefix, int num, int width) {
  if (district == 1) snprintf(out, n, "%s-%0*d", prefix, width, num);
  else snprintf(out, n, "%s-%d-%0*d", prefix, district, width, num);
}

int gs_admin_seed_district(gs_engine *e, int district, int streets, int communities, int grids, int households,
                           char *err, size_t errlen) {
  gs_store *store = gs_engine_store(e);
  char did[16];
  snprintf(did, sizeof did, "d-%02d", district);
  int rc = gs_store_begin(store);
  if (rc) return rc;
  if ((rc = gs_store_admin_org_replace(store, "c-demo", NULL, "city", "示范市"))) goto fail;
  if ((rc = gs_store_admin_org_replace(store, did, "c-demo", "district", district_names[(district - 1) % 9])))
    goto fail;
  int gno = 0;
  for (int s = 1; s <= streets; s++) {
    char sid[32], sname[96];
    seed_id(sid, sizeof sid, district, "s", s, 2);
    snprintf(sname, sizeof sname, "%s街道", street_names[(s - 1) % 10]);
    if ((rc = gs_store_admin_org_replace(store, sid, did, "street", sname))) goto fail;
    for (int c = 1; c <= communities; c++) {
      char cid[32], cname[96];
      seed_id(cid, sizeof cid, district, "cm", s * 100 + c, 4);
      snprintf(cname, sizeof cname, "%s社区", community_names[(s * 3 + c) % 8]);
      if ((rc = gs_store_admin_org_replace(store, cid, sid, "community", cname))) goto fail;
      for (int g = 1; g <= grids; g++) {
        char gid[32], gname[160];
        seed_id(gid, sizeof gid, district, "g", ++gno, 4);
        snprintf(gname, sizeof gname, "%s第%d网格", cname, g);
        if ((rc = gs_store_admin_org_replace(store, gid, cid, "grid", gname))) goto fail;
      }
    }
  }
  if ((rc = gs_store_commit(store))) goto fail;
  /* devices: one per grid, plus the seeding account used below */
  for (int g = 1; g <= gno; g++) {
    char dev[32], gid[32], worker[64];
    seed_id(dev, sizeof dev, district, "dev", g, 4);
    seed_id(gid, sizeof gid, district, "g", g, 4);
    snprintf(worker, sizeof worker, "%s%s", surnames[g % 20], given[(g * 7) % 20]);
    if ((rc = gs_admin_device_add(e, dev, gid, worker, err, errlen))) return rc;
  }
  gs_buf grids_csv = GS_BUF_INIT;
  for (int g = 1; g <= gno; g++) {
    char gid[32];
    seed_id(gid, sizeof gid, district, "g", g, 4);
    gs_buf_printf(&grids_csv, "%s%s", g > 1 ? "," : "", gid);
  }
  rc = gs_admin_device_add(e, "admin-seed", grids_csv.data, "seed", err, errlen);
  gs_buf_free(&grids_csv);
  if (rc) return rc;
  if ((rc = gs_admin_device_enable(e, "admin-seed", 1, err, errlen))) return rc;
  /* households through the engine, so versions, revs and status are real */
  int64_t seq = 0;
  if (gs_store_device_get(store, "admin-seed", NULL, &seq)) seq = 0;
  int64_t now = gs_now_ms();
  for (int g = 1; g <= gno && !rc; g++) {
    char gid[32];
    seed_id(gid, sizeof gid, district, "g", g, 4);
    gs_buf b = GS_BUF_INIT;
    gs_buf_printf(&b, "{\"v\":1,\"batch\":\"seed-%04d\",\"changes\":[", g);
    for (int h = 0; h < households; h++) {
      char id[37], name[64], addr[160];
      gs_uuid4(id);
      int k = g * 1000 + h;
      snprintf(name, sizeof name, "%s%s", surnames[(k * 13) % 20], given[(k * 7 + h) % 20]);
      snprintf(addr, sizeof addr, "%s%d号%d栋%d单元%d室", street_names[g % 10], 10 + g, 1 + h / 40, 1 + (h / 10) % 4,
               101 + (h % 10) + 100 * ((h / 2) % 6));
      const char *tags = (k % 9 == 0)    ? "[\"elderly_alone\"]"
                         : (k % 13 == 0) ? "[\"disabled\",\"low_income\"]"
                         : (k % 17 == 0) ? "[\"left_behind_child\"]"
                                         : "[]";
      gs_buf_printf(&b,
                    "%s{\"id\":\"%s-s\",\"seq\":%lld,\"type\":\"household\",\"entity\":\"%s\",\"hlc\":[%lld,%d],"
                    "\"set\":{\"grid\":\"%s\",\"address\":",
                    h ? "," : "", id, (long long)++seq, id, (long long)now, 0, gid);
      gs_buf_json_str(&b, addr);
      gs_buf_puts(&b, ",\"head_name\":");
      gs_buf_json_str(&b, name);
      gs_buf_printf(&b, ",\"members\":%d,\"phone\":\"138%08d\",\"tags\":%s}}", 1 + k % 5, k * 7919 % 100000000, tags);
    }
    gs_buf_puts(&b, "]}");
    gs_buf ack = GS_BUF_INIT;
    rc = gs_engine_apply(e, "admin-seed", b.data, b.len, &ack);
    if (!rc && !strstr(ack.data, "\"rejected\":[]")) {
      snprintf(err, errlen, "seed: grid %s: unexpected rejections: %.200s", gid, ack.data);
      rc = GS_EINTERNAL;
    }
    gs_buf_free(&ack);
    gs_buf_free(&b);
  }
  if (!rc) rc = gs_admin_device_enable(e, "admin-seed", 0, err, errlen);
  return rc;
fail:
  snprintf(err, errlen, "seed: %s", gs_store_errmsg(store));
  gs_store_rollback(store);
  return rc;
}

/* ------------------------------------------------------------------ */
/* gs-admin commands (admin_cli.h): one function and one table row each.
 *
 * gs-admin calls each command twice: first with e NULL, when it only parses
 * its command line (gs_cli_getopt: unknown options and stray arguments are
 * named, GS_ADMIN_USAGE) and returns GS_OK, then with e open to run it. So a
 * bad command line changes nothing, not even the store file. getopt permutes
 * argv; parsing the permuted vector again gives the same result. */

static const char prog[] = "gs-admin";

#define OPT_END                                                                                                        \
  { NULL, 0, NULL, 0 }

/* After the options of av: between min and max operands, else a usage error
 * naming the first stray argument or what is missing. */
static int operands(int ac, char **av, int min, int max, const char *what, const char *need) {
  int n = ac - optind;
  if (n > max) return gs_cli_usage_error(prog, "%s: unexpected argument '%s'", what, av[optind + max]);
  if (n < min) return gs_cli_usage_error(prog, "%s needs %s", what, need);
  return 0;
}

/* Parses a command that takes no options and exactly n operands; av[0] is
 * its last word. */
static int no_options(int ac, char **av, int n, const char *what, const char *need) {
  static const struct option none[] = {OPT_END};
  optind = 0;
  if (gs_cli_getopt(prog, ac, av, "", none) != -1) return GS_ADMIN_USAGE;
  return operands(ac, av, n, n, what, need) ? GS_ADMIN_USAGE : 0;
}

static int cmd_org_import(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  if (no_options(argc - 1, argv + 1, 1, "org import", "FILE.csv")) return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  const char *file = argv[1 + optind];
  int n = 0;
  int rc = gs_admin_org_import(e, file, &n, err, errlen);
  if (!rc) printf("imported %d org units from %s\n", n, file);
  return rc;
}

/* [bridge] org export [FILE] [--root ORG] */
static int cmd_org_export(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {{"root", required_argument, NULL, 'r'}, OPT_END};
  const char *root = NULL;
  int opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc - 1, argv + 1, "", lo)) != -1) {
    if (opt != 'r') return GS_ADMIN_USAGE;
    root = optarg;
  }
  if (operands(argc - 1, argv + 1, 0, 1, "org export", "")) return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  const char *file = optind < argc - 1 ? argv[1 + optind] : NULL;
  FILE *f = file ? fopen(file, "w") : stdout;
  int n = 0;
  if (!f) {
    snprintf(err, errlen, "org export: cannot create %s", file);
    return GS_EIO;
  }
  int rc = gs_admin_org_export(e, f, root, &n, err, errlen);
  if (file && fclose(f) != 0 && !rc) {
    snprintf(err, errlen, "org export: cannot write %s", file);
    rc = GS_EIO;
  }
  if (!rc && file) printf("exported %d org units to %s\n", n, file);
  return rc;
}

static int cmd_device_add(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {
      {"grids", required_argument, NULL, 'g'}, {"worker", required_argument, NULL, 'w'}, OPT_END};
  const char *grids = NULL, *worker = NULL;
  int opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc - 1, argv + 1, "", lo)) != -1) {
    if (opt == 'g') grids = optarg;
    else if (opt == 'w') worker = optarg;
    else return GS_ADMIN_USAGE;
  }
  if (operands(argc - 1, argv + 1, 1, 1, "device add", "DEVICE")) return GS_ADMIN_USAGE;
  if (!grids) {
    gs_cli_usage_error(prog, "device add needs --grids g1,g2 (the grids the device may write)");
    return GS_ADMIN_USAGE;
  }
  if (!e) return GS_OK;
  const char *device = argv[1 + optind];
  int rc = gs_admin_device_add(e, device, grids, worker, err, errlen);
  if (!rc) printf("device %s may write %s\n", device, grids);
  return rc;
}

static int cmd_device_enable(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  if (no_options(argc - 1, argv + 1, 1, strcmp(argv[1], "enable") == 0 ? "device enable" : "device disable", "DEVICE"))
    return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  return gs_admin_device_enable(e, argv[1 + optind], strcmp(argv[1], "enable") == 0, err, errlen);
}

static int cmd_device_list(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {{"csv", no_argument, NULL, 'c'}, OPT_END};
  int csv = 0, opt;
  (void)err;
  (void)errlen;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc - 1, argv + 1, "", lo)) != -1) {
    if (opt != 'c') return GS_ADMIN_USAGE;
    csv = 1;
  }
  if (operands(argc - 1, argv + 1, 0, 0, "device list", "")) return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  return gs_admin_device_list(e, stdout, csv);
}

static int cmd_conflicts(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {{"all", no_argument, NULL, 'a'}, OPT_END};
  int all = 0, opt;
  (void)err;
  (void)errlen;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc, argv, "", lo)) != -1) {
    if (opt != 'a') return GS_ADMIN_USAGE;
    all = 1;
  }
  if (operands(argc, argv, 0, 0, "conflicts", "")) return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  return gs_admin_conflicts(e, stdout, all);
}

static int cmd_seed(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {
      {"streets", required_argument, NULL, 's'},  {"communities", required_argument, NULL, 'c'},
      {"grids", required_argument, NULL, 'g'},    {"households", required_argument, NULL, 'h'},
      {"district", required_argument, NULL, 'd'}, OPT_END};
  int st = 2, cm = 2, gr = 2, hh = 40, dn = 1, opt, bad = 0;
  optind = 0;
  while (!bad && (opt = gs_cli_getopt(prog, argc, argv, "", lo)) != -1) {
    switch (opt) {
    case 's': bad = gs_cli_int(prog, "--streets", optarg, 1, 10, &st); break;
    case 'c': bad = gs_cli_int(prog, "--communities", optarg, 1, 10, &cm); break;
    case 'g': bad = gs_cli_int(prog, "--grids", optarg, 1, 20, &gr); break;
    case 'h': bad = gs_cli_int(prog, "--households", optarg, 1, 1000, &hh); break;
    case 'd': bad = gs_cli_int(prog, "--district", optarg, 1, 99, &dn); break;
    default: bad = 1; break;
    }
  }
  if (bad || operands(argc, argv, 0, 0, "seed", "")) return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  int rc = gs_admin_seed_district(e, dn, st, cm, gr, hh, err, errlen);
  if (!rc) rc = gs_admin_recount(e, err, errlen);
  if (!rc) {
    char pre[16] = "dev-"; /* device ids: dev-0001.. (district 1), dev-N-0001.. (district N) */
    if (dn > 1) snprintf(pre, sizeof pre, "dev-%d-", dn);
    printf("seeded 示范市 (c-demo) district d-%02d: %d streets, %d communities, %d grids, %d households, "
           "devices %s0001..%s%04d\n",
           dn, st, st * cm, st * cm * gr, st * cm * gr * hh, pre, pre, st * cm * gr);
  }
  return rc;
}

/* status and export run in admin_status.c, which finds its options by name
 * in argv (gs_cli_opt): they get a vector rebuilt from the parsed options,
 * "--opt VALUE" only, operands first. */
#define MAX_AV 12

static int cmd_status(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {{"tree", no_argument, NULL, 't'},
                                     {"recount", no_argument, NULL, 'r'},
                                     {"care-days", required_argument, NULL, 'c'},
                                     OPT_END};
  const char *care = NULL;
  int tree = 0, recount = 0, days, opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc, argv, "", lo)) != -1) {
    switch (opt) {
    case 't': tree = 1; break;
    case 'r': recount = 1; break;
    case 'c':
      if (gs_cli_int(prog, "--care-days", optarg, 1, 366, &days)) return GS_ADMIN_USAGE;
      care = optarg;
      break;
    default: return GS_ADMIN_USAGE;
    }
  }
  if (operands(argc, argv, recount ? 0 : 1, recount ? 0 : 1, recount ? "status --recount" : "status",
               "an org unit id (e.g. gs-admin --db F status c-demo --tree)"))
    return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  char *av[MAX_AV];
  int ac = 0;
  av[ac++] = argv[0];
  if (!recount) av[ac++] = argv[optind];
  if (tree) av[ac++] = "--tree";
  if (recount) av[ac++] = "--recount";
  if (care) {
    av[ac++] = "--care-days";
    av[ac++] = (char *)care;
  }
  av[ac] = NULL;
  return gs_admin_status_main(e, ac, av, err, errlen);
}

static int cmd_export(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {{"format", required_argument, NULL, 'f'},
                                     {"org", required_argument, NULL, 'o'},
                                     {"since", required_argument, NULL, 's'},
                                     {"bom", no_argument, NULL, 'b'},
                                     OPT_END};
  const char *format = NULL, *org = NULL, *since = NULL;
  int bom = 0, opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc, argv, "", lo)) != -1) {
    switch (opt) {
    case 'f': format = optarg; break;
    case 'o': org = optarg; break;
    case 's': since = optarg; break;
    case 'b': bom = 1; break;
    default: return GS_ADMIN_USAGE;
    }
  }
  if (operands(argc, argv, 1, 1, "export", "households, visits or reports")) return GS_ADMIN_USAGE;
  const char *type = argv[optind];
  if (strcmp(type, "households") && strcmp(type, "visits") && strcmp(type, "reports")) {
    gs_cli_usage_error(prog, "export what? households, visits or reports, got '%s'", type);
    return GS_ADMIN_USAGE;
  }
  /* Checked here too: a value that looks like an option name must not reach
   * admin_status.c's search by name. */
  if (format && strcmp(format, "csv") && strcmp(format, "json")) {
    gs_cli_usage_error(prog, "--format must be csv or json, got '%s'", format);
    return GS_ADMIN_USAGE;
  }
  if (org && !gs_valid_org_id(org)) {
    gs_cli_usage_error(prog, "--org '%.64s' is not a valid org id", org);
    return GS_ADMIN_USAGE;
  }
  if (since && since[0] == '-') {
    gs_cli_usage_error(prog, "--since needs a time, got '%s'", since);
    return GS_ADMIN_USAGE;
  }
  if (!e) return GS_OK;
  char *av[MAX_AV];
  int ac = 0;
  av[ac++] = argv[0];
  av[ac++] = (char *)type;
  if (format) {
    av[ac++] = "--format";
    av[ac++] = (char *)format;
  }
  if (org) {
    av[ac++] = "--org";
    av[ac++] = (char *)org;
  }
  if (since) {
    av[ac++] = "--since";
    av[ac++] = (char *)since;
  }
  if (bom) av[ac++] = "--bom";
  av[ac] = NULL;
  return gs_admin_status_main(e, ac, av, err, errlen);
}

/* backup FILE [--force]: an online copy while the collector runs
 * (gs_store.h, section gs_store_backup.c). */
static int cmd_backup(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {{"force", no_argument, NULL, 'f'}, OPT_END};
  int force = 0, opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc, argv, "", lo)) != -1) {
    if (opt != 'f') return GS_ADMIN_USAGE;
    force = 1;
  }
  if (operands(argc, argv, 1, 1, "backup", "FILE (where to write the copy)")) return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  const char *file = argv[optind];
  gs_store *s = gs_engine_store(e);
  gs_store_backup_stats st;
  int rc = gs_store_backup_write(s, file, force, &st, err, errlen);
  if (!rc)
    printf("backup: %s -> %s: %lld pages, %lld bytes, quick_check ok (%lld ms, %d steps, %d restarts)\n",
           gs_store_path(s), file, (long long)st.pages, (long long)st.bytes, (long long)st.ms, st.steps, st.restarts);
  return rc;
}

/* household import FILE.csv [--dry-run] [--progress] (docs/IMPORT.md) */
static int cmd_household_import(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {
      {"dry-run", no_argument, NULL, 'n'}, {"progress", no_argument, NULL, 'p'}, OPT_END};
  gs_admin_import_opts o = {0, isatty(STDERR_FILENO)};
  int opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc - 1, argv + 1, "", lo)) != -1) {
    if (opt == 'n') o.dry_run = 1;
    else if (opt == 'p') o.progress = 1;
    else return GS_ADMIN_USAGE;
  }
  if (operands(argc - 1, argv + 1, 1, 1, "household import", "FILE.csv")) return GS_ADMIN_USAGE;
  if (!e) return GS_OK;
  const char *file = argv[1 + optind];
  gs_admin_import_counts c;
  int rc = gs_admin_household_import(e, file, &o, stderr, &c, err, errlen);
  if (!rc && o.dry_run)
    printf("--dry-run: %ld households would be imported: %ld created, %ld updated, %ld unchanged; nothing written\n",
           c.lines, c.created, c.updated, c.unchanged);
  else if (!rc)
    printf("imported %ld households: %ld created, %ld updated, %ld unchanged\n", c.lines, c.created, c.updated,
           c.unchanged);
  else if (o.dry_run && c.rejected)
    printf("--dry-run: %ld of %ld lines rejected; nothing written\n", c.rejected, c.lines);
  return rc;
}

/* household export [FILE.csv] [--org ORG] */
static int cmd_household_export(gs_engine *e, int argc, char **argv, char *err, size_t errlen) {
  static const struct option lo[] = {{"org", required_argument, NULL, 'o'}, OPT_END};
  const char *org = NULL;
  int opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc - 1, argv + 1, "", lo)) != -1) {
    if (opt != 'o') return GS_ADMIN_USAGE;
    org = optarg;
  }
  if (operands(argc - 1, argv + 1, 0, 1, "household export", "")) return GS_ADMIN_USAGE;
  if (org && !gs_valid_org_id(org)) {
    gs_cli_usage_error(prog, "--org '%.64s' is not a valid org id", org);
    return GS_ADMIN_USAGE;
  }
  if (!e) return GS_OK;
  const char *file = optind < argc - 1 ? argv[1 + optind] : NULL;
  FILE *f = file ? fopen(file, "w") : stdout;
  long n = 0;
  if (!f) {
    snprintf(err, errlen, "household export: cannot create %s", file);
    return GS_EIO;
  }
  int rc = gs_admin_household_export(e, f, org, &n, err, errlen);
  if (file && fclose(f) != 0 && !rc) {
    snprintf(err, errlen, "household export: cannot write %s", file);
    rc = GS_EIO;
  }
  if (!rc && file) printf("exported %ld households to %s\n", n, file);
  return rc;
}

const gs_admin_cmd gs_admin_cmds[] = {
    {"org", "import", 3,
     "  org import FILE.csv                 import/update the org tree (header id,parent,level,name)\n",
     cmd_org_import},
    {"org", "export", 2,
     "  org export [FILE.csv] [--root ORG]  write the org tree (or ORG's subtree) as CSV, stdout without FILE\n",
     cmd_org_export},
    {"device", "add", 3, "  device add DEVICE --grids g1,g2 [--worker NAME]\n", cmd_device_add},
    {"device", "disable", 3, "  device disable|enable DEVICE\n", cmd_device_enable},
    {"device", "enable", 3, "", cmd_device_enable},
    {"device", "list", 2, "  device list [--csv]\n", cmd_device_list},
    {"conflicts", NULL, 1, "  conflicts [--all]                   concurrent edits logged for review\n", cmd_conflicts},
    {"seed", NULL, 1,
     "  seed [--streets N] [--communities N] [--grids N] [--households N] [--district N]\n"
     "                                      a demo city with Chinese names and addresses\n",
     cmd_seed},
    {"status", NULL, 1,
     "  status ORG [--tree] [--care-days N] numbers of an org unit (and its subtree)\n"
     "  status --recount                    recompute every aggregate from the data\n",
     cmd_status},
    {"export", NULL, 1,
     "  export households|visits|reports [--format csv|json] [--org ORG] [--since YYYY-MM-DD] [--bom]\n", cmd_export},
    {"backup", NULL, 1,
     "  backup FILE [--force]               online copy of the store to FILE (0600), checked; the collector may run\n",
     cmd_backup},
    {"household", "import", 3,
     "  household import FILE.csv [--dry-run] [--progress]\n"
     "                                      load households (header ext_id + fields) through the engine\n",
     cmd_household_import},
    {"household", "export", 2,
     "  household export [FILE.csv] [--org ORG] the imported households as CSV that import reads back\n",
     cmd_household_export},
    {NULL, NULL, 0, NULL, NULL},
};
