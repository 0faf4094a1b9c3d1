/* gs_merge.c - per-field merge of a change into an entity (docs/PROTOCOL.md, "Data model"). See gs_merge.h. */
#include "gs_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_error.h"
#include "gs_mem.h"
#include "gs_util.h"

int gs_merge_ver_parse(const cJSON *a, gs_ver *v) {
  int64_t ms, c;
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 3) return 0;
  const cJSON *d = cJSON_GetArrayItem(a, 2);
  if (!gs_json_int(cJSON_GetArrayItem(a, 0), 0, GS_HLC_MAX_MS, &ms) ||
      !gs_json_int(cJSON_GetArrayItem(a, 1), 0, GS_HLC_MAX_COUNTER, &c) || !cJSON_IsString(d) ||
      !gs_valid_device_id(d->valuestring))
    return 0;
  v->present = 1;
  v->ms = ms;
  v->c = (int32_t)c;
  snprintf(v->dev, sizeof v->dev, "%s", d->valuestring);
  return 1;
}

/* Appends the decimal digits of v at p; returns the new end. */
static char *put_uint(char *p, uint64_t v) {
  char tmp[24], *t = tmp + sizeof tmp;
  do {
    *--t = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  size_t n = (size_t)(tmp + sizeof tmp - t);
  memcpy(p, t, n);
  return p + n;
}

static char *put_str(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

/* once per change: digits by hand, not printf (the engine's hot path) */
int gs_merge_ver_text(const gs_ver *v, gs_buf *out) {
  char num[48], *q = num;
  *q++ = '[';
  q = put_uint(q, (uint64_t)v->ms);
  *q++ = ',';
  q = put_uint(q, (uint64_t)v->c);
  *q++ = ',';
  gs_buf_reset(out);
  int rc = gs_buf_append(out, num, (size_t)(q - num));
  if (!rc) rc = gs_buf_json_str(out, v->dev);
  return rc ? rc : gs_buf_append(out, "]", 1);
}

/* ---- history entries ----------------------------------------------------- */

/* out needs 2 x 20 digits + 2 x 5 + 2 x 64 (devices) + 64 (change) + 16 + 7
 * colons + NUL = 273 bytes at most for the ids the protocol admits. */
int gs_merge_hist_format(char *out, size_t n, const gs_merge_hist *h) {
  const gs_ver *v = &h->ver, *base = &h->base;
  if (n < GS_MERGE_HIST_MAX || strlen(v->dev) > 64 || strlen(base->dev) > 64 || strlen(h->change) > 64 ||
      strlen(h->vh) > 16)
    return 0;
  char *p = out;
  p = put_uint(p, (uint64_t)v->ms);
  *p++ = ':';
  p = put_uint(p, (uint64_t)v->c);
  *p++ = ':';
  p = put_str(p, v->dev);
  *p++ = ':';
  p = put_uint(p, base->present ? (uint64_t)base->ms : 0);
  *p++ = ':';
  p = put_uint(p, base->present ? (uint64_t)base->c : 0);
  *p++ = ':';
  p = put_str(p, base->present ? base->dev : "");
  *p++ = ':';
  p = put_str(p, h->change);
  *p++ = ':';
  p = put_str(p, h->vh);
  *p = '\0';
  return 1;
}

/* Splits the next ':'-terminated part of *p into out (NUL-terminated). */
static int hist_part(const char **p, char *out, size_t n) {
  const char *e = strchr(*p, ':');
  size_t len = e ? (size_t)(e - *p) : strlen(*p);
  if (len >= n) return 0;
  memcpy(out, *p, len);
  out[len] = '\0';
  *p += len + (e ? 1 : 0);
  return 1;
}

int gs_merge_hist_parse(const char *s, gs_merge_hist *h) {
  const char *p = s;
  char ms[24], c[8], bms[24], bc[8];
  if (!hist_part(&p, ms, sizeof ms) || !hist_part(&p, c, sizeof c) || !hist_part(&p, h->ver.dev, sizeof h->ver.dev) ||
      !hist_part(&p, bms, sizeof bms) || !hist_part(&p, bc, sizeof bc) ||
      !hist_part(&p, h->base.dev, sizeof h->base.dev) || !hist_part(&p, h->change, sizeof h->change) ||
      !hist_part(&p, h->vh, sizeof h->vh))
    return 0;
  h->ver.present = 1;
  h->ver.ms = strtoll(ms, NULL, 10);
  h->ver.c = (int32_t)strtol(c, NULL, 10);
  h->base.present = h->base.dev[0] != '\0';
  h->base.ms = strtoll(bms, NULL, 10);
  h->base.c = (int32_t)strtol(bc, NULL, 10);
  return 1;
}

int gs_merge_conflict(const gs_merge_hist *x, const gs_merge_hist *y) {
  /* a device does not conflict with itself, nor do writes of the same value */
  if (strcmp(x->ver.dev, y->ver.dev) == 0 || strcmp(x->vh, y->vh) == 0) return 0;
  /* concurrent: neither had seen the other's write */
  return gs_ver_cmp(&x->ver, &y->base) > 0 && gs_ver_cmp(&y->ver, &x->base) > 0;
}

/* ---- the merge ----------------------------------------------------------- */

/* A piece of output text: in the change's canonical text, in the merge's
 * scratch buffer (offsets: the buffer may move while it fills), or the
 * change's version text. */
enum { P_NONE, P_CANON, P_SCRATCH, P_VER };
typedef struct piece {
  int src;
  size_t off, len;
} piece;

/* One field of the output, in canonical (bytewise key) order. */
typedef struct slot {
  const char *key;
  const cJSON *fv, *vv, *hv; /* the stored members (general path) */
  int in_set;                /* index + 1 into the change's set order, 0 when not set */
  piece val, ver, hist;      /* hist: the earlier entries' array text */
} slot;

/* What the change does to one field of its set. */
typedef struct write {
  int won;                       /* the change's version is the field's now */
  char entry[GS_MERGE_HIST_MAX]; /* the history entry of this write */
} write;

struct gs_merge {
  int fast_create;
  gs_buf fields, ver, hist; /* the result texts */
  gs_buf scratch;           /* canonical texts of stored members */
  gs_buf vtext;             /* the change's version as text */
  gs_buf keyq;              /* ,"key": of the field being encoded */
  gs_buf sx;                /* value hashing */
  cJSON *sf, *sv, *sh;      /* the stored state, parsed (sf is the result's "after") */
  slot *slots;
  write *writes;
  size_t nslots, cap_slots, cap_writes;
};

int gs_merge_new(gs_merge **out) {
  gs_merge *m = gs_calloc(1, sizeof *m);
  if (!m) return GS_ENOMEM;
  m->fast_create = 1;
  *out = m;
  return GS_OK;
}

static void drop_state(gs_merge *m) {
  cJSON_Delete(m->sf);
  cJSON_Delete(m->sv);
  cJSON_Delete(m->sh);
  m->sf = m->sv = m->sh = NULL;
}

void gs_merge_free(gs_merge *m) {
  if (!m) return;
  drop_state(m);
  gs_buf_free(&m->fields);
  gs_buf_free(&m->ver);
  gs_buf_free(&m->hist);
  gs_buf_free(&m->scratch);
  gs_buf_free(&m->vtext);
  gs_buf_free(&m->keyq);
  gs_buf_free(&m->sx);
  gs_free(m->slots);
  gs_free(m->writes);
  gs_free(m);
}

void gs_merge_set_fast_create(gs_merge *m, int on) { m->fast_create = on != 0; }

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return GS_OK;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *q = gs_malloc(n * size);
  if (!q) return GS_ENOMEM;
  gs_free(*p); /* contents are rebuilt on every call: nothing to copy */
  *p = q;
  *cap = n;
  return GS_OK;
}

/* The value hash of f, a member of c's set: FNV-1a of its canonical text,
 * which is a span of the change's canonical text already made. */
static int value_hash(gs_merge *m, const gs_merge_change *c, const cJSON *f, char vh[17]) {
  for (size_t i = 0; c->sp->found && i < c->sp->n; i++)
    if (c->sp->m[i].value == f) {
      gs_json_hex64(gs_json_fnv(c->canon + c->sp->m[i].off, c->sp->m[i].len), vh);
      return GS_OK;
    }
  return gs_json_hash_hex(f, &m->sx, vh);
}

/* The history entry of c's write of field key with value hash vh. */
static int make_entry(const gs_merge_change *c, const char *key, const char vh[17], char out[GS_MERGE_HIST_MAX]) {
  gs_merge_hist h;
  memset(&h.base, 0, sizeof h.base);
  h.ver = c->ver;
  if (c->base) gs_merge_ver_parse(cJSON_GetObjectItemCaseSensitive(c->base, key), &h.base);
  size_t n = strlen(c->id);
  if (n >= sizeof h.change) return GS_EINTERNAL;
  memcpy(h.change, c->id, n + 1);
  memcpy(h.vh, vh, 17);
  return gs_merge_hist_format(out, GS_MERGE_HIST_MAX, &h) ? GS_OK : GS_EINTERNAL;
}

static const char *piece_text(const gs_merge *m, const gs_merge_change *c, const piece *p) {
  switch (p->src) {
  case P_CANON: return c->canon + p->off;
  case P_SCRATCH: return m->scratch.data + p->off;
  case P_VER: return m->vtext.data;
  default: return "";
  }
}

/* Appends ,"key": (the comma from the second member on); q is ,"key": with
 * the key escaped once for the three objects. */
static int put_member(gs_buf *out, int *n, const gs_buf *q) {
  return (*n)++ ? gs_buf_append(out, q->data, q->len) : gs_buf_append(out, q->data + 1, q->len - 1);
}

/* The one encoder of the stored texts: the slots, in key order, as the
 * three canonical objects. A field's history is its earlier entries (an
 * array's canonical text) with this change's entry appended. */
static int encode(gs_merge *m, const gs_merge_change *c) {
  gs_buf *F = &m->fields, *V = &m->ver, *H = &m->hist;
  gs_buf_reset(F);
  gs_buf_reset(V);
  gs_buf_reset(H);
  int nf = 0, nv = 0, nh = 0;
  int rc = gs_buf_puts(F, "{");
  if (!rc) rc = gs_buf_puts(V, "{");
  if (!rc) rc = gs_buf_puts(H, "{");
  for (size_t i = 0; !rc && i < m->nslots; i++) {
    const slot *s = &m->slots[i];
    gs_buf *q = &m->keyq;
    gs_buf_reset(q);
    rc = gs_buf_append(q, ",", 1);
    if (!rc) rc = gs_buf_json_str(q, s->key);
    if (!rc) rc = gs_buf_append(q, ":", 1);
    if (!rc && s->val.src) {
      rc = put_member(F, &nf, q);
      if (!rc) rc = gs_buf_append(F, piece_text(m, c, &s->val), s->val.len);
    }
    if (!rc && s->ver.src) {
      rc = put_member(V, &nv, q);
      if (!rc) rc = gs_buf_append(V, piece_text(m, c, &s->ver), s->ver.len);
    }
    const char *entry = s->in_set ? m->writes[s->in_set - 1].entry : NULL;
    if (rc || (!s->hist.src && !entry)) continue;
    rc = put_member(H, &nh, q);
    if (rc) break;
    const char *t = piece_text(m, c, &s->hist);
    if (!entry) {
      rc = gs_buf_append(H, t, s->hist.len);
    } else if (s->hist.src) { /* [a,b] -> [a,b,entry] */
      rc = gs_buf_append(H, t, s->hist.len - 1);
      if (!rc && s->hist.len > 2) rc = gs_buf_puts(H, ",");
      if (!rc) rc = gs_buf_json_str(H, entry);
      if (!rc) rc = gs_buf_puts(H, "]");
    } else {
      rc = gs_buf_puts(H, "[");
      if (!rc) rc = gs_buf_json_str(H, entry);
      if (!rc) rc = gs_buf_puts(H, "]");
    }
  }
  if (!rc) rc = gs_buf_puts(F, "}");
  if (!rc) rc = gs_buf_puts(V, "}");
  if (!rc) rc = gs_buf_puts(H, "}");
  return rc;
}

/* A new entity straight from the change's canonical spans: every field of
 * the set wins (nothing to merge with, no earlier write to conflict with),
 * so no cJSON tree is parsed or built. */
static int create_direct(gs_merge *m, const gs_merge_change *c, gs_merge_result *res) {
  const gs_canon_spans *sp = c->sp;
  int rc = grow((void **)&m->slots, &m->cap_slots, sp->n, sizeof *m->slots);
  if (!rc) rc = grow((void **)&m->writes, &m->cap_writes, sp->n, sizeof *m->writes);
  if (rc) return rc;
  m->nslots = sp->n;
  for (size_t i = 0; i < sp->n; i++) {
    slot *s = &m->slots[i];
    char vh[17];
    memset(s, 0, sizeof *s);
    s->key = sp->m[i].key;
    s->in_set = (int)i + 1;
    s->val = (piece){P_CANON, sp->m[i].off, sp->m[i].len};
    s->ver = (piece){P_VER, 0, m->vtext.len};
    gs_json_hex64(gs_json_fnv(c->canon + sp->m[i].off, sp->m[i].len), vh);
    m->writes[i].won = 1;
    if ((rc = make_entry(c, s->key, vh, m->writes[i].entry))) return rc;
  }
  res->changed = 1;
  res->after = c->set;
  return encode(m, c);
}

static int cmp_slot(const void *a, const void *b) { return strcmp(((const slot *)a)->key, ((const slot *)b)->key); }

static int add_slots(gs_merge *m, const cJSON *obj, int which) {
  const cJSON *it;
  int i = 0;
  cJSON_ArrayForEach(it, obj) {
    slot *s = &m->slots[m->nslots++];
    memset(s, 0, sizeof *s);
    s->key = it->string;
    if (which == 0) s->fv = it;
    else if (which == 1) s->vv = it;
    else if (which == 2) s->hv = it;
    else s->in_set = ++i;
  }
  return GS_OK;
}

/* The canonical text of v, appended to the scratch buffer, as a piece. */
static int scratch_piece(gs_merge *m, const cJSON *v, piece *p) {
  size_t at = m->scratch.len;
  int rc = gs_json_canon(v, &m->scratch);
  *p = (piece){P_SCRATCH, at, m->scratch.len - at};
  return rc;
}

/* The general path: the stored state parsed, the set merged field by field,
 * then every field of the union of the stored objects and the set encoded. */
static int merge_general(gs_merge *m, const gs_merge_change *c, const gs_merge_stored *st, gs_merge_conflict_fn fn,
                         void *ctx, gs_merge_result *res) {
  int rc = GS_OK;
  if (st) {
    m->sf = cJSON_Parse(st->fields);
    m->sv = cJSON_Parse(st->ver);
    m->sh = cJSON_Parse(st->hist);
  } else {
    m->sf = cJSON_CreateObject();
    m->sv = cJSON_CreateObject();
    m->sh = cJSON_CreateObject();
  }
  /* a stored text that does not parse reads as out of memory, as it always has */
  if (!m->sf || !m->sv || !m->sh) return GS_ENOMEM;
  size_t nset = (size_t)cJSON_GetArraySize(c->set);
  if ((rc = grow((void **)&m->writes, &m->cap_writes, nset, sizeof *m->writes))) return rc;
  const cJSON *f;
  size_t k = 0;
  cJSON_ArrayForEach(f, c->set) {
    write *w = &m->writes[k++];
    gs_merge_hist mine;
    memset(&mine.base, 0, sizeof mine.base);
    mine.ver = c->ver;
    if ((rc = value_hash(m, c, f, mine.vh))) return rc;
    if (c->base) gs_merge_ver_parse(cJSON_GetObjectItemCaseSensitive(c->base, f->string), &mine.base);
    /* conflicts against every earlier accepted write of this field */
    const cJSON *h, *hl = cJSON_GetObjectItemCaseSensitive(m->sh, f->string);
    cJSON_ArrayForEach(h, hl) {
      gs_merge_hist theirs;
      if (!cJSON_IsString(h) || !gs_merge_hist_parse(h->valuestring, &theirs)) continue;
      if (gs_merge_conflict(&mine, &theirs) && fn && (rc = fn(ctx, f->string, f, &theirs))) return rc;
    }
    if ((rc = make_entry(c, f->string, mine.vh, w->entry))) return rc;
    /* last writer wins */
    gs_ver cur = {0};
    gs_merge_ver_parse(cJSON_GetObjectItemCaseSensitive(m->sv, f->string), &cur);
    w->won = gs_ver_cmp(&c->ver, &cur) > 0;
    if (w->won) {
      cJSON *nv = cJSON_Duplicate(f, 1);
      if (!nv) return GS_ENOMEM;
      cJSON_DeleteItemFromObjectCaseSensitive(m->sf, f->string);
      if (!cJSON_AddItemToObject(m->sf, f->string, nv)) { /* the key copy failed */
        cJSON_Delete(nv);
        return GS_ENOMEM;
      }
      res->changed = 1;
    }
  }
  /* the union of the fields' keys, sorted, one slot per key */
  size_t n =
      (size_t)cJSON_GetArraySize(m->sf) + (size_t)cJSON_GetArraySize(m->sv) + (size_t)cJSON_GetArraySize(m->sh) + nset;
  if ((rc = grow((void **)&m->slots, &m->cap_slots, n, sizeof *m->slots))) return rc;
  m->nslots = 0;
  add_slots(m, m->sf, 0);
  add_slots(m, m->sv, 1);
  add_slots(m, m->sh, 2);
  add_slots(m, c->set, 3);
  qsort(m->slots, m->nslots, sizeof *m->slots, cmp_slot);
  size_t out = 0;
  for (size_t i = 0; i < m->nslots; i++) {
    slot *s = &m->slots[i];
    if (out && strcmp(m->slots[out - 1].key, s->key) == 0) {
      slot *d = &m->slots[out - 1];
      if (s->fv) d->fv = s->fv;
      if (s->vv) d->vv = s->vv;
      if (s->hv) d->hv = s->hv;
      if (s->in_set) d->in_set = s->in_set;
    } else {
      m->slots[out++] = *s;
    }
  }
  m->nslots = out;
  for (size_t i = 0; !rc && i < m->nslots; i++) {
    slot *s = &m->slots[i];
    const write *w = s->in_set ? &m->writes[s->in_set - 1] : NULL;
    if (s->fv) rc = scratch_piece(m, s->fv, &s->val);
    if (!rc && w && w->won) s->ver = (piece){P_VER, 0, m->vtext.len};
    else if (!rc && s->vv) rc = scratch_piece(m, s->vv, &s->ver);
    if (!rc && s->hv) rc = scratch_piece(m, s->hv, &s->hist);
    /* an entry is appended to an array only (a stored non-array keeps its text) */
    if (!rc && s->hv && !cJSON_IsArray(s->hv)) s->in_set = 0;
  }
  if (rc) return rc;
  res->after = m->sf;
  return encode(m, c);
}

int gs_merge_apply(gs_merge *m, const gs_merge_change *c, const gs_merge_stored *st, gs_merge_conflict_fn fn, void *ctx,
                   gs_merge_result *res) {
  memset(res, 0, sizeof *res);
  drop_state(m);
  gs_buf_reset(&m->scratch);
  int rc = gs_merge_ver_text(&c->ver, &m->vtext);
  if (rc) return rc;
  if (!st && m->fast_create && c->sp->found) rc = create_direct(m, c, res);
  else rc = merge_general(m, c, st, fn, ctx, res);
  if (rc) return rc;
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(res->after, "grid");
  res->grid = cJSON_IsString(g) ? g->valuestring : NULL;
  res->fields = m->fields.data;
  res->fields_len = m->fields.len;
  res->ver = m->ver.data;
  res->ver_len = m->ver.len;
  res->hist = m->hist.data;
  res->hist_len = m->hist.len;
  return GS_OK;
}
