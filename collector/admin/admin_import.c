/* admin_import.c - gs-admin household import and export (docs/IMPORT.md):
 * CSV in and out, validation against schema/entities.json, the plan of what
 * each line changes, and the engine's batches. The SQL is the store's
 * (gs_store.h, sections gs_store_import.c and gs_store_admin.c). */
#include "admin_import.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "admin_status.h"
#include "admin_ops.h"
#include "gs_error.h"
#include "gs_json.h"
#include "gs_mem.h"
#include "gs_schema.h"
#include "gs_store.h"
#include "gs_util.h"

/* The principal imports write as (docs/IMPORT.md): registered and granted
 * the file's grids for the import, disabled afterwards. */
#define IMPORT_DEVICE "server"
/* Changes per engine batch, and bytes after which a batch is sent early
 * (the engine's defaults cap a batch at 1000 changes and 1 MiB). */
#define IMPORT_BATCH_CHANGES  500
#define IMPORT_BATCH_BYTES    (512u * 1024u)
#define IMPORT_PROGRESS_EVERY 10000
#define EXT_ID_MAX            128

/* ------------------------------------------------------------------ */
/* CSV records with their physical line numbers                         */

typedef struct imp_rec {
  long line; /* physical line where the record starts */
  int nf;
  char **f; /* NULL for an empty unquoted field (CSV_EMPTY_IS_NULL) */
} imp_rec;

typedef struct imp_csv {
  imp_rec *recs;
  size_t n, cap;
  char **cur;
  int ncur, capcur;
  long phys;  /* the line being fed to the parser */
  long start; /* the line of the pending record's first field, or -1 */
  long next;  /* the line after the last complete record */
  int oom;
} imp_csv;

static void on_field(void *s, size_t len, void *data) {
  imp_csv *st = data;
  if (st->start < 0) st->start = st->phys;
  if (st->ncur == st->capcur) {
    int ncap = st->capcur ? st->capcur * 2 : 16;
    char **c = gs_realloc(st->cur, (size_t)ncap * sizeof *c);
    if (!c) {
      st->oom = 1;
      return;
    }
    st->cur = c;
    st->capcur = ncap;
  }
  char *v = s ? gs_strndup(s, len) : NULL;
  if (s && !v) st->oom = 1;
  st->cur[st->ncur++] = v;
}

static void on_row(int c, void *data) {
  imp_csv *st = data;
  (void)c;
  long line = st->start >= 0 ? st->start : st->phys;
  st->start = -1;
  st->next = st->phys + 1;
  if (gs_grow(&st->recs, &st->cap, st->n, sizeof *st->recs, 256)) {
    st->oom = 1;
    for (int i = 0; i < st->ncur; i++) gs_free(st->cur[i]);
    st->ncur = 0;
    return;
  }
  imp_rec *r = &st->recs[st->n];
  r->line = line;
  r->nf = st->ncur;
  r->f = gs_calloc((size_t)(st->ncur ? st->ncur : 1), sizeof *r->f);
  if (!r->f) {
    st->oom = 1;
    for (int i = 0; i < st->ncur; i++) gs_free(st->cur[i]);
    st->ncur = 0;
    return;
  }
  memcpy(r->f, st->cur, (size_t)st->ncur * sizeof *r->f);
  st->n++;
  st->ncur = 0;
}

static void imp_csv_free(imp_csv *st) {
  for (size_t i = 0; i < st->n; i++) {
    for (int j = 0; j < st->recs[i].nf; j++) gs_free(st->recs[i].f[j]);
    gs_free(st->recs[i].f);
  }
  gs_free(st->recs);
  for (int j = 0; j < st->ncur; j++) gs_free(st->cur[j]);
  gs_free(st->cur);
}

/* The first line of text[0..len) that is not valid UTF-8 (1-based), or 0. */
static long bad_utf8_line(const char *text, size_t len) {
  long line = 1;
  for (size_t off = 0; off < len; line++) {
    const char *nl = memchr(text + off, '\n', len - off);
    size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
    if (!gs_valid_utf8(text + off, n)) return line;
    off += n + (nl ? 1 : 0);
  }
  return 0;
}

/* Reads and parses path into st; GS_OK or GS_EINVAL/GS_ENOMEM/... with err set. */
static int read_csv(const char *path, imp_csv *st, char *err, size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  struct csv_parser p;
  int rc = gs_read_file(path, 256u << 20, &text, &len), inited = 0;
  if (rc) {
    snprintf(err, errlen, "%s: cannot read: %s", path, gs_strerror(rc));
    return rc;
  }
  rc = GS_EINVAL;
  if (len >= 2 && ((unsigned char)text[0] == 0xFF || (unsigned char)text[0] == 0xFE) &&
      ((unsigned char)text[1] == 0xFF || (unsigned char)text[1] == 0xFE)) {
    snprintf(err, errlen,
             "%s: the file is UTF-16; save it as \"CSV UTF-8\" (or convert it: iconv -f UTF-16 -t UTF-8 in.csv > "
             "out.csv) and import again",
             path);
    goto out;
  }
  /* A UTF-8 BOM from spreadsheet exports is fine. */
  size_t off = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  long bad = bad_utf8_line(text + off, len - off);
  if (bad) {
    /* A Chinese spreadsheet saved as plain "CSV" is GBK/GB18030: refuse the
     * whole file rather than import mojibake. */
    snprintf(err, errlen,
             "%s: line %ld: not valid UTF-8 (a GBK/GB18030 file?); convert it with "
             "iconv -f GB18030 -t UTF-8 in.csv > out.csv (or save as \"CSV UTF-8\") and import again",
             path, bad);
    goto out;
  }
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
    rc = GS_ENOMEM;
    goto out;
  }
  inited = 1;
  st->start = -1;
  st->next = 1;
  /* Fed one physical line at a time so that each record knows its line. */
  for (st->phys = 1; off < len; st->phys++) {
    const char *nl = memchr(text + off, '\n', len - off);
    size_t n = nl ? (size_t)(nl - (text + off)) + 1 : len - off;
    if (csv_parse(&p, text + off, n, on_field, on_row, st) != n) {
      snprintf(err, errlen, "%s: line %ld: malformed CSV (%s); fix the quoting and import again", path, st->phys,
               csv_strerror(csv_error(&p)));
      goto out;
    }
    off += n;
  }
  if (csv_fini(&p, on_field, on_row, st) != 0) {
    /* an unclosed quote runs to the end: name the line where its record began */
    snprintf(err, errlen, "%s: line %ld: malformed CSV (%s); fix the quoting and import again", path,
             st->start >= 0 ? st->start : st->next, csv_strerror(csv_error(&p)));
    goto out;
  }
  rc = st->oom ? GS_ENOMEM : GS_OK;
out:
  if (inited) csv_free(&p);
  gs_free(text);
  return rc;
}

/* ------------------------------------------------------------------ */
/* cells to JSON values                                                 */

/* Splits a list cell at ';' (empty items are skipped). */
static cJSON *split_list(const char *s, int numbers, char *why, size_t wl) {
  cJSON *a = cJSON_CreateArray();
  if (!a) return NULL;
  const char *p = s;
  while (*p) {
    const char *q = strchr(p, ';');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n) {
      char *item = gs_strndup(p, n);
      cJSON *v = NULL;
      if (item && numbers) {
        char *end;
        errno = 0;
        double d = strtod(item, &end);
        if (end != item && !*end && !errno && isfinite(d)) v = cJSON_CreateNumber(d);
        else snprintf(why, wl, "'%.32s' is not a number", item);
      } else if (item) {
        v = cJSON_CreateString(item);
      }
      gs_free(item);
      if (!v) {
        cJSON_Delete(a);
        return NULL;
      }
      cJSON_AddItemToArray(a, v);
    }
    p += n + (q ? 1 : 0);
  }
  return a;
}

/* The JSON value of a non-empty cell for field f, or NULL with why set. */
static cJSON *cell_value(const gs_field_def *f, const char *s, char *why, size_t wl) {
  char *end;
  switch (f->type) {
  case GS_F_INT:
  case GS_F_TIMESTAMP: {
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v > (1LL << 53) || v < -(1LL << 53)) {
      snprintf(why, wl, "'%.32s' is not an integer", s);
      return NULL;
    }
    return cJSON_CreateNumber((double)v);
  }
  case GS_F_NUMBER: {
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(d)) {
      snprintf(why, wl, "'%.32s' is not a number", s);
      return NULL;
    }
    return cJSON_CreateNumber(d);
  }
  case GS_F_BOOL:
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) return cJSON_CreateTrue();
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) return cJSON_CreateFalse();
    snprintf(why, wl, "'%.32s' is not true/false", s);
    return NULL;
  case GS_F_TAGS:
  case GS_F_STRINGS: return split_list(s, 0, why, wl);
  case GS_F_GPS: return split_list(s, 1, why, wl);
  default: return cJSON_CreateString(s);
  }
}

/* Writes v as one CSV cell (the inverse of cell_value). */
static void put_cell(FILE *out, const cJSON *v) {
  gs_buf b = GS_BUF_INIT;
  if (!v || cJSON_IsNull(v)) {
    /* empty */
  } else if (cJSON_IsString(v)) {
    gs_buf_puts(&b, v->valuestring);
  } else if (cJSON_IsBool(v)) {
    gs_buf_puts(&b, cJSON_IsTrue(v) ? "true" : "false");
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 9007199254740992.0) gs_buf_printf(&b, "%lld", (long long)d);
    else gs_buf_printf(&b, "%.17g", d);
  } else if (cJSON_IsArray(v)) {
    const cJSON *it;
    int first = 1;
    cJSON_ArrayForEach(it, v) {
      if (!first) gs_buf_puts(&b, ";");
      first = 0;
      if (cJSON_IsString(it)) gs_buf_puts(&b, it->valuestring);
      else if (cJSON_IsNumber(it)) gs_buf_printf(&b, "%.17g", it->valuedouble);
    }
  }
  const char *s = b.data ? b.data : "";
  if (strpbrk(s, ",\"\r\n")) {
    fputc('"', out);
    for (const char *p = s; *p; p++) {
      if (*p == '"') fputc('"', out);
      fputc(*p, out);
    }
    fputc('"', out);
  } else {
    fputs(s, out);
  }
  gs_buf_free(&b);
}

/* Equal for an import: null, a missing member and an empty list are one. */
static int same_value(const cJSON *a, const cJSON *b) {
  int ea = !a || cJSON_IsNull(a) || (cJSON_IsArray(a) && !a->child);
  int eb = !b || cJSON_IsNull(b) || (cJSON_IsArray(b) && !b->child);
  if (ea || eb) return ea && eb;
  return cJSON_Compare(a, b, 1);
}

/* ------------------------------------------------------------------ */
/* the plan                                                             */

typedef struct imp_line {
  long line;
  const char *ext_id; /* borrowed from the CSV record */
  const char *grid;
  char entity[65];
  int found;        /* ext_id has a row in import_household */
  int create;       /* the entity is to be created */
  char *set;        /* the change's set (JSON object text), NULL when nothing is sent */
  char *base;       /* the change's base, NULL when none */
  char *fields;     /* what import_household keeps after this line */
  int put;          /* import_household needs fields (and the mapping) written */
  char *moved_from; /* the entity's current grid when it is not the file's */
  int good;         /* passed the checks */
} imp_line;

typedef struct imp_ctx {
  gs_engine *e;
  gs_store *s;
  const char *path;
  FILE *report;
  const gs_schema *schema;
  const gs_type_def *hh;
  size_t max_bytes;
  int ncols;
  const gs_field_def **col; /* per column: the field, NULL for ext_id */
  int ext_col, grid_col;
  imp_line *lines;
  size_t nlines;
  long bad_lines;
  int quiet; /* checking a line again: its problems are known */
  const gs_admin_import_opts *o;
} imp_ctx;

static void reject(imp_ctx *x, long line, int *bad, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void reject(imp_ctx *x, long line, int *bad, const char *fmt, ...) {
  va_list ap;
  if (x->quiet) {
    *bad = 1;
    return;
  }
  fprintf(x->report, "%s: line %ld: ", x->path, line);
  va_start(ap, fmt);
  vfprintf(x->report, fmt, ap);
  va_end(ap);
  fputc('\n', x->report);
  if (!*bad) x->bad_lines++;
  *bad = 1;
}

static int header(imp_ctx *x, const imp_rec *h, char *err, size_t errlen) {
  x->ncols = h->nf;
  x->ext_col = x->grid_col = -1;
  x->col = gs_calloc((size_t)h->nf, sizeof *x->col);
  if (!x->col) return GS_ENOMEM;
  for (int i = 0; i < h->nf; i++) {
    const char *name = h->f[i] ? h->f[i] : "";
    for (int j = 0; j < i; j++)
      if (h->f[j] && strcmp(h->f[j], name) == 0) {
        snprintf(err, errlen, "%s: line %ld: column '%.64s' appears twice", x->path, h->line, name);
        return GS_EINVAL;
      }
    if (strcmp(name, "ext_id") == 0) {
      x->ext_col = i;
      continue;
    }
    /* _deleted (implicit in every type) is a phone's decision, not a column */
    const gs_field_def *f = name[0] == '_' ? NULL : gs_schema_field(x->hh, name);
    if (!f) {
      gs_buf known = GS_BUF_INIT;
      for (size_t k = 0; k < x->hh->nfields; k++)
        if (x->hh->fields[k].name[0] != '_') gs_buf_printf(&known, ",%s", x->hh->fields[k].name);
      snprintf(err, errlen, "%s: line %ld: column '%.64s' is not a household field; the header takes ext_id%s", x->path,
               h->line, name, known.data ? known.data : "");
      gs_buf_free(&known);
      return GS_EINVAL;
    }
    if (f->type == GS_F_ORG) x->grid_col = i;
    x->col[i] = f;
  }
  if (x->ext_col < 0) {
    snprintf(err, errlen, "%s: line %ld: the header has no ext_id column (the stable key of each household)", x->path,
             h->line);
    return GS_EINVAL;
  }
  for (size_t k = 0; k < x->hh->nfields; k++) {
    const gs_field_def *f = &x->hh->fields[k];
    int have = 0;
    for (int i = 0; i < h->nf; i++) have |= x->col[i] == f;
    if (f->required && !have) {
      snprintf(err, errlen, "%s: line %ld: the header has no %s column (required)", x->path, h->line, f->name);
      return GS_EINVAL;
    }
  }
  return GS_OK;
}

static int cmp_ext(const void *a, const void *b) {
  const imp_line *x = *(imp_line *const *)a, *y = *(imp_line *const *)b;
  int c = strcmp(x->ext_id, y->ext_id);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Checks one record and builds its values (an object with every column's
 * field, null for an empty cell) into *vals; reports what is wrong. */
static int check_line(imp_ctx *x, const imp_rec *r, imp_line *l, cJSON **vals) {
  int bad = 0;
  *vals = NULL;
  l->line = r->line;
  l->ext_id = "";
  if (r->nf != x->ncols) {
    reject(x, r->line, &bad, "expected %d columns as in the header, found %d", x->ncols, r->nf);
    return 0;
  }
  const char *ext = r->f[x->ext_col];
  l->ext_id = ext ? ext : "";
  if (!ext || !*ext) reject(x, r->line, &bad, "field ext_id: empty (each household needs its stable key)");
  else if (strlen(ext) > EXT_ID_MAX) reject(x, r->line, &bad, "field ext_id: longer than %d bytes", EXT_ID_MAX);
  else
    for (const unsigned char *p = (const unsigned char *)ext; *p; p++)
      if (*p < 0x20 || *p == 0x7F) {
        reject(x, r->line, &bad, "field ext_id: control character");
        break;
      }
  cJSON *o = cJSON_CreateObject();
  if (!o) return GS_ENOMEM;
  for (int i = 0; i < r->nf; i++) {
    const gs_field_def *f = x->col[i];
    if (!f) continue;
    const char *cell = r->f[i];
    cJSON *v;
    char why[256] = "";
    if (!cell || !*cell) {
      if (f->required) reject(x, r->line, &bad, "field %s: empty (required)", f->name);
      v = cJSON_CreateNull();
    } else if (!(v = cell_value(f, cell, why, sizeof why))) {
      if (why[0]) reject(x, r->line, &bad, "field %s: %s", f->name, why);
      else goto oom;
      continue;
    } else if (gs_schema_check_value(f, v, x->max_bytes, why, sizeof why)) {
      reject(x, r->line, &bad, "%s", why);
    } else if (f->type == GS_F_ORG) {
      char level[32];
      int rc = gs_store_admin_org_level(x->s, cell, level, sizeof level);
      if (rc == GS_ENOTFOUND || (!rc && strcmp(level, "grid")))
        reject(x, r->line, &bad, "field %s: '%.64s' is not %s; import the org tree first", f->name, cell,
               rc ? "an org unit" : "an org unit of level grid");
      else if (rc) {
        cJSON_Delete(v);
        cJSON_Delete(o);
        return rc;
      }
      if (i == x->grid_col) l->grid = cell;
    }
    if (!v) goto oom;
    cJSON_AddItemToObject(o, f->name, v);
  }
  if (bad) {
    cJSON_Delete(o);
    return 0;
  }
  *vals = o;
  return 0;
oom:
  cJSON_Delete(o);
  return GS_ENOMEM;
}

static char *canon_text(const cJSON *v) {
  gs_buf b = GS_BUF_INIT;
  if (gs_json_canon(v, &b)) {
    gs_buf_free(&b);
    return NULL;
  }
  return gs_buf_steal(&b);
}

/* Decides what line l sends and keeps, from vals and the store's memory. */
static int plan_line(imp_ctx *x, imp_line *l, const cJSON *vals, gs_store_import_row *row) {
  row->has_entity = 0;
  int rc = gs_store_import_get(x->s, l->ext_id, row);
  if (rc && rc != GS_ENOTFOUND) return rc;
  l->found = rc == GS_OK;
  cJSON *prev = NULL, *cur = NULL, *ver = NULL, *set = NULL, *base = NULL, *keep = NULL;
  rc = GS_ENOMEM;
  if (l->found) {
    snprintf(l->entity, sizeof l->entity, "%s", row->entity.data ? row->entity.data : "");
    prev = cJSON_Parse(row->fields.data ? row->fields.data : "{}");
    if (row->has_entity) {
      cur = cJSON_Parse(row->cur.data);
      ver = cJSON_Parse(row->ver.data);
    }
  } else {
    gs_uuid7(gs_now_ms(), l->entity);
    prev = cJSON_CreateObject();
  }
  if (!prev || (row->has_entity && l->found && (!cur || !ver))) goto out;
  l->create = !l->found || !row->has_entity;
  if (!(set = cJSON_CreateObject()) || !(base = cJSON_CreateObject()) || !(keep = cJSON_Duplicate(prev, 1))) goto out;
  const cJSON *v;
  cJSON_ArrayForEach(v, vals) {
    const char *name = v->string;
    cJSON_DeleteItemFromObjectCaseSensitive(keep, name);
    if (!cJSON_IsNull(v) && !cJSON_AddItemToObject(keep, name, cJSON_Duplicate(v, 1))) goto out;
    if (l->create) {
      if (!cJSON_IsNull(v) && !cJSON_AddItemToObject(set, name, cJSON_Duplicate(v, 1))) goto out;
      continue;
    }
    /* Unchanged in the file since the last import: leave it, whatever a
     * phone did to it since. Changed but already the current value: nothing
     * to write either. */
    if (same_value(v, cJSON_GetObjectItemCaseSensitive(prev, name))) continue;
    if (same_value(v, cJSON_GetObjectItemCaseSensitive(cur, name))) continue;
    if (!cJSON_AddItemToObject(set, name, cJSON_Duplicate(v, 1))) goto out;
    const cJSON *fv = cJSON_GetObjectItemCaseSensitive(ver, name);
    if (fv && !cJSON_AddItemToObject(base, name, cJSON_Duplicate(fv, 1))) goto out;
  }
  /* The household may be elsewhere now (the file moves it, or a phone did):
   * the server needs that grid too to write it. */
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(cur, "grid");
  if (set->child && cJSON_IsString(g) && (!l->grid || strcmp(g->valuestring, l->grid)) &&
      !(l->moved_from = gs_strdup(g->valuestring)))
    goto out;
  if (set->child && !(l->set = canon_text(set))) goto out;
  if (base->child && !(l->base = canon_text(base))) goto out;
  if (!(l->fields = canon_text(keep))) goto out;
  l->put = !l->found || strcmp(l->fields, row->fields.data ? row->fields.data : "") != 0 ||
           strcmp(l->grid ? l->grid : "", row->grid.data ? row->grid.data : "") != 0;
  rc = GS_OK;
out:
  cJSON_Delete(prev);
  cJSON_Delete(cur);
  cJSON_Delete(ver);
  cJSON_Delete(set);
  cJSON_Delete(base);
  cJSON_Delete(keep);
  return rc;
}

static void progress(const imp_ctx *x, const char *what, size_t done) {
  if (x->o->progress && done && done % IMPORT_PROGRESS_EVERY == 0)
    fprintf(stderr, "household import: %s %zu of %zu lines\n", what, done, x->nlines);
}

/* ------------------------------------------------------------------ */
/* writing                                                              */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Registers the server principal with every grid the plan writes. */
static int grant_grids(imp_ctx *x, char *err, size_t errlen) {
  const char **g = gs_calloc(2 * x->nlines + 1, sizeof *g);
  if (!g) return GS_ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < x->nlines; i++) {
    if (!x->lines[i].set) continue;
    if (x->lines[i].grid) g[n++] = x->lines[i].grid;
    if (x->lines[i].moved_from) g[n++] = x->lines[i].moved_from;
  }
  qsort(g, n, sizeof *g, cmp_str);
  gs_buf list = GS_BUF_INIT;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || strcmp(g[i], g[i - 1])) gs_buf_printf(&list, "%s%s", list.len ? "," : "", g[i]);
  int rc = gs_admin_device_add(x->e, IMPORT_DEVICE, list.data ? list.data : "", "import", err, errlen);
  if (!rc) rc = gs_admin_device_enable(x->e, IMPORT_DEVICE, 1, err, errlen);
  gs_buf_free(&list);
  gs_free(g);
  return rc;
}

/* Lines [a, b): the mappings of new households first (so that a crash
 * after the engine's commit still finds them), the batch, then what the
 * lines keep. A crash between the last two makes the next import resend
 * values the households already have: nothing is written for those. */
static int write_chunk(imp_ctx *x, size_t a, size_t b, int64_t *seq, char *err, size_t errlen) {
  gs_store *s = x->s;
  int rc = gs_store_begin(s), nchanges = 0;
  if (rc) goto store;
  for (size_t i = a; i < b && !rc; i++)
    if (!x->lines[i].found) rc = gs_store_import_put(s, x->lines[i].ext_id, x->lines[i].entity, x->lines[i].grid, "{}");
  if (rc || (rc = gs_store_commit(s))) goto store;

  gs_buf batch = GS_BUF_INIT, ack = GS_BUF_INIT;
  char id[37];
  gs_uuid7(gs_now_ms(), id);
  gs_buf_printf(&batch, "{\"v\":1,\"batch\":\"import-%s\",\"changes\":[", id);
  int64_t now = gs_now_ms();
  for (size_t i = a; i < b; i++) {
    imp_line *l = &x->lines[i];
    if (!l->set) continue;
    gs_uuid7(now, id);
    gs_buf_printf(&batch, "%s{\"id\":\"%s\",\"seq\":%lld,\"type\":\"household\",\"entity\":\"%s\",\"hlc\":[%lld,0]",
                  nchanges++ ? "," : "", id, (long long)++*seq, l->entity, (long long)now);
    if (l->base) gs_buf_printf(&batch, ",\"base\":%s", l->base);
    gs_buf_printf(&batch, ",\"set\":%s}", l->set);
  }
  rc = gs_buf_puts(&batch, "]}");
  if (!rc && nchanges) {
    rc = gs_engine_apply(x->e, IMPORT_DEVICE, batch.data, batch.len, &ack);
    /* validated above: a rejection here is a bug or a concurrent change */
    if (!rc && !strstr(ack.data, "\"rejected\":[]")) {
      snprintf(err, errlen, "%s: the engine rejected part of lines %ld..%ld: %.300s", x->path, x->lines[a].line,
               x->lines[b - 1].line, ack.data);
      rc = GS_EINTERNAL;
    }
  }
  gs_buf_free(&batch);
  gs_buf_free(&ack);
  if (rc) {
    if (!err[0])
      snprintf(err, errlen, "%s: writing lines %ld..%ld: %s", x->path, x->lines[a].line, x->lines[b - 1].line,
               gs_strerror(rc));
    return rc;
  }

  if ((rc = gs_store_begin(s))) goto store;
  for (size_t i = a; i < b && !rc; i++)
    if (x->lines[i].put)
      rc = gs_store_import_put(s, x->lines[i].ext_id, x->lines[i].entity, x->lines[i].grid, x->lines[i].fields);
  if (!rc) rc = gs_store_commit(s);
store:
  if (rc) {
    gs_store_rollback(s);
    snprintf(err, errlen, "%s: %s: %s", x->path, gs_strerror(rc), gs_store_errmsg(s));
  }
  return rc;
}

static int write_all(imp_ctx *x, char *err, size_t errlen) {
  int any = 0, rc;
  for (size_t i = 0; i < x->nlines; i++) any |= x->lines[i].set != NULL;
  if (any && (rc = grant_grids(x, err, errlen))) return rc;
  int64_t seq = 0;
  if (any && gs_store_device_get(x->s, IMPORT_DEVICE, NULL, &seq)) seq = 0;
  size_t a = 0, bytes = 0;
  int changes = 0;
  rc = GS_OK;
  for (size_t i = 0; i < x->nlines && !rc; i++) {
    imp_line *l = &x->lines[i];
    if (l->set) {
      changes++;
      bytes += strlen(l->set) + (l->base ? strlen(l->base) : 0) + 160;
    }
    if (changes >= IMPORT_BATCH_CHANGES || bytes >= IMPORT_BATCH_BYTES || i + 1 == x->nlines) {
      rc = write_chunk(x, a, i + 1, &seq, err, errlen);
      a = i + 1;
      changes = 0;
      bytes = 0;
    }
    progress(x, "written", i + 1);
  }
  if (any) {
    char e2[256] = "";
    int drc = gs_admin_device_enable(x->e, IMPORT_DEVICE, 0, e2, sizeof e2);
    if (!rc && drc) {
      snprintf(err, errlen, "%s", e2);
      rc = drc;
    }
    if (!rc) rc = gs_admin_recount(x->e, err, errlen);
  }
  return rc;
}

/* ------------------------------------------------------------------ */

int gs_admin_household_import(gs_engine *e, const char *path, const gs_admin_import_opts *o, FILE *report,
                              gs_admin_import_counts *c, char *err, size_t errlen) {
  imp_csv st;
  imp_ctx x;
  gs_schema *schema = NULL;
  gs_store_import_row row;
  imp_line **byext = NULL;
  memset(&st, 0, sizeof st);
  memset(&x, 0, sizeof x);
  memset(&row, 0, sizeof row);
  memset(c, 0, sizeof *c);
  int rc = read_csv(path, &st, err, errlen);
  if (rc) goto out;
  if ((rc = gs_schema_load_builtin(&schema, err, errlen))) goto out;
  gs_engine_config cfg;
  gs_engine_config_defaults(&cfg);
  x.e = e;
  x.s = gs_engine_store(e);
  x.path = path;
  x.report = report;
  x.schema = schema;
  x.o = o;
  x.max_bytes = cfg.max_field_bytes;
  if (!(x.hh = gs_schema_type(schema, "household"))) {
    rc = GS_EINTERNAL;
    snprintf(err, errlen, "schema has no household type");
    goto out;
  }
  rc = GS_EINVAL;
  if (st.n == 0) {
    snprintf(err, errlen, "%s: empty file; the first line is the header (ext_id and household fields)", path);
    goto out;
  }
  if ((rc = header(&x, &st.recs[0], err, errlen))) goto out;
  x.nlines = st.n - 1;
  c->lines = (long)x.nlines;
  if (x.nlines && !(x.lines = gs_calloc(x.nlines, sizeof *x.lines))) {
    rc = GS_ENOMEM;
    goto out;
  }
  /* One read transaction for the checks and the plan: one snapshot, and
   * not a lock per lookup. Deferred: a dry-run never blocks the collector. */
  if ((rc = gs_store_import_read_begin(x.s))) goto out;
  /* Pass 1: every line checked on its own. The values are made again in
   * pass 3 rather than kept: a province's file would not fit as cJSON. */
  for (size_t i = 0; i < x.nlines && !rc; i++) {
    cJSON *v = NULL;
    rc = check_line(&x, &st.recs[i + 1], &x.lines[i], &v);
    x.lines[i].good = v != NULL;
    cJSON_Delete(v);
    progress(&x, "checked", i + 1);
  }
  /* Pass 2: an ext_id twice in the file. */
  if (!rc && x.nlines && (byext = gs_calloc(x.nlines, sizeof *byext))) {
    for (size_t i = 0; i < x.nlines; i++) byext[i] = &x.lines[i];
    qsort(byext, x.nlines, sizeof *byext, cmp_ext);
    for (size_t i = 1; i < x.nlines; i++)
      if (byext[i]->ext_id[0] && strcmp(byext[i]->ext_id, byext[i - 1]->ext_id) == 0) {
        int bad = !byext[i]->good;
        reject(&x, byext[i]->line, &bad, "field ext_id: '%.64s' is also on line %ld", byext[i]->ext_id,
               byext[i - 1]->line);
        byext[i]->good = 0;
      }
  } else if (!rc && x.nlines) {
    rc = GS_ENOMEM;
  }
  /* Pass 3: what each good line would change. */
  x.quiet = 1;
  for (size_t i = 0; i < x.nlines && !rc; i++) {
    if (!x.lines[i].good) continue;
    cJSON *v = NULL;
    rc = check_line(&x, &st.recs[i + 1], &x.lines[i], &v);
    if (!rc && !v) rc = GS_EINTERNAL; /* it passed pass 1 */
    if (!rc) rc = plan_line(&x, &x.lines[i], v, &row);
    cJSON_Delete(v);
    if (!rc) {
      if (x.lines[i].create) c->created++;
      else if (x.lines[i].set) c->updated++;
      else c->unchanged++;
    }
  }
  gs_store_rollback(x.s); /* ends the read transaction */
  c->rejected = x.bad_lines;
  if (rc) {
    if (!err[0]) snprintf(err, errlen, "%s: %s", path, gs_strerror(rc));
    goto out;
  }
  if (x.bad_lines) {
    rc = GS_EINVAL;
    snprintf(err, errlen, "%s: %ld of %ld lines rejected (listed above); nothing imported", path, x.bad_lines,
             c->lines);
    goto out;
  }
  if (!o->dry_run) rc = write_all(&x, err, errlen);
out:
  for (size_t i = 0; i < x.nlines && x.lines; i++) {
    gs_free(x.lines[i].set);
    gs_free(x.lines[i].base);
    gs_free(x.lines[i].fields);
    gs_free(x.lines[i].moved_from);
  }
  gs_free(x.lines);
  gs_free(x.col);
  gs_free(byext);
  gs_buf_free(&row.entity);
  gs_buf_free(&row.grid);
  gs_buf_free(&row.fields);
  gs_buf_free(&row.cur);
  gs_buf_free(&row.ver);
  gs_schema_free(schema);
  imp_csv_free(&st);
  return rc;
}

/* ------------------------------------------------------------------ */
/* export                                                               */

struct exp_ctx {
  FILE *out;
  const gs_type_def *hh;
  long n;
};

static int exp_row(void *ctx, const char *ext_id, const char *entity, const char *fields) {
  struct exp_ctx *x = ctx;
  (void)entity;
  cJSON *f = cJSON_Parse(fields);
  if (!f) return GS_ENOMEM;
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "_deleted"))) {
    cJSON *id = cJSON_CreateString(ext_id);
    put_cell(x->out, id);
    cJSON_Delete(id);
    for (size_t i = 0; i < x->hh->nfields; i++) {
      if (x->hh->fields[i].name[0] == '_') continue;
      fputc(',', x->out);
      put_cell(x->out, cJSON_GetObjectItemCaseSensitive(f, x->hh->fields[i].name));
    }
    fputc('\n', x->out);
    x->n++;
  }
  cJSON_Delete(f);
  return GS_OK;
}

int gs_admin_household_export(gs_engine *e, FILE *out, const char *org, long *count, char *err, size_t errlen) {
  gs_schema *schema = NULL;
  int rc = gs_schema_load_builtin(&schema, err, errlen);
  if (rc) return rc;
  struct exp_ctx x = {out, gs_schema_type(schema, "household"), 0};
  if (!x.hh) {
    gs_schema_free(schema);
    snprintf(err, errlen, "schema has no household type");
    return GS_EINTERNAL;
  }
  fputs("ext_id", out);
  for (size_t i = 0; i < x.hh->nfields; i++)
    if (x.hh->fields[i].name[0] != '_') fprintf(out, ",%s", x.hh->fields[i].name);
  fputc('\n', out);
  rc = gs_store_import_each(gs_engine_store(e), org, exp_row, &x);
  gs_store_end_reads(gs_engine_store(e));
  if (rc) snprintf(err, errlen, "household export: %s", gs_strerror(rc));
  *count = x.n;
  gs_schema_free(schema);
  return rc;
}
