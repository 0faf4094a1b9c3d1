#include "gs_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gs_error.h"
#include "gs_mem.h"

static int cmp_key(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  return strcmp(x->string, y->string);
}

static int canon_num(double d, gs_buf *out) {
  if (!isfinite(d)) return gs_buf_puts(out, "null");
  if (d == floor(d) && fabs(d) < 9007199254740992.0) {
    /* integers (versions, counts, timestamps) are the common case: no printf */
    char tmp[24], *p = tmp + sizeof tmp;
    long long v = (long long)d;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
      *--p = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    return gs_buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
  }
  /* %.17g never needs more than 24 bytes ("-1.2345678901234567e-308"):
   * print once, in place */
  if (gs_buf_reserve(out, 32)) return GS_ENOMEM;
  int n = snprintf(out->data + out->len, 32, "%.17g", d);
  if (n < 0 || n >= 32) return GS_EINVAL;
  out->len += (size_t)n;
  return GS_OK;
}

/* Children of an object in canonical (bytewise key) order, in kids (small
 * holds up to 32; larger objects get an allocation the caller frees when
 * *kidsp != small). */
static int sorted_kids(const cJSON *v, const cJSON **small, const cJSON ***kidsp, size_t *np) {
  size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
  const cJSON **kids = n <= 32 ? small : gs_malloc(n * sizeof *kids);
  if (!kids) return GS_ENOMEM;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) kids[i++] = it;
  if (n <= 32) { /* entity objects are small: insertion sort, no allocation */
    for (size_t a = 1; a < n; a++)
      for (size_t c = a; c > 0 && strcmp(kids[c - 1]->string, kids[c]->string) > 0; c--) {
        const cJSON *t = kids[c];
        kids[c] = kids[c - 1];
        kids[c - 1] = t;
      }
  } else {
    qsort(kids, n, sizeof *kids, cmp_key);
  }
  *kidsp = kids;
  *np = n;
  return GS_OK;
}

/* Canonical object; when spans is not NULL, records where each member's
 * value lies in out (up to GS_CANON_MAX_SPANS members; *nspans = (size_t)-1
 * when there were more). */
static int canon_object(const cJSON *v, gs_buf *out, gs_canon_span *spans, size_t *nspans) {
  const cJSON *small[32], **kids;
  size_t n;
  int rc = sorted_kids(v, small, &kids, &n);
  if (rc) return rc;
  if (spans) *nspans = n <= GS_CANON_MAX_SPANS ? n : (size_t)-1;
  rc = gs_buf_puts(out, "{");
  for (size_t i = 0; !rc && i < n; i++) {
    if (i) rc = gs_buf_puts(out, ",");
    if (!rc) rc = gs_buf_json_str(out, kids[i]->string);
    if (!rc) rc = gs_buf_puts(out, ":");
    size_t at = out->len;
    if (!rc) rc = gs_json_canon(kids[i], out);
    if (!rc && spans && i < GS_CANON_MAX_SPANS) {
      spans[i].key = kids[i]->string;
      spans[i].value = kids[i];
      spans[i].off = at;
      spans[i].len = out->len - at;
    }
  }
  if (kids != small) gs_free(kids);
  return rc ? rc : gs_buf_puts(out, "}");
}

int gs_json_canon_spans(const cJSON *v, const char *member, gs_buf *out, gs_canon_spans *sp) {
  memset(sp, 0, sizeof *sp);
  if (!cJSON_IsObject(v)) return gs_json_canon(v, out);
  const cJSON *small[32], **kids;
  size_t n;
  int rc = sorted_kids(v, small, &kids, &n);
  if (rc) return rc;
  rc = gs_buf_puts(out, "{");
  for (size_t i = 0; !rc && i < n; i++) {
    if (i) rc = gs_buf_puts(out, ",");
    if (!rc) rc = gs_buf_json_str(out, kids[i]->string);
    if (!rc) rc = gs_buf_puts(out, ":");
    if (rc) break;
    if (!sp->found && strcmp(kids[i]->string, member) == 0 && cJSON_IsObject(kids[i])) {
      size_t at = out->len, nm = 0;
      rc = canon_object(kids[i], out, sp->m, &nm);
      sp->found = nm != (size_t)-1;
      sp->n = sp->found ? nm : 0;
      sp->off = at;
      sp->len = out->len - at;
    } else {
      rc = gs_json_canon(kids[i], out);
    }
  }
  if (kids != small) gs_free(kids);
  return rc ? rc : gs_buf_puts(out, "}");
}

uint64_t gs_json_fnv(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

void gs_json_hex64(uint64_t h, char out[17]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, h >>= 4) out[i] = hex[h & 15];
  out[16] = '\0';
}

int gs_json_canon(const cJSON *v, gs_buf *out) {
  int rc = GS_OK;
  if (cJSON_IsNull(v)) return gs_buf_puts(out, "null");
  if (cJSON_IsTrue(v)) return gs_buf_puts(out, "true");
  if (cJSON_IsFalse(v)) return gs_buf_puts(out, "false");
  if (cJSON_IsNumber(v)) return canon_num(v->valuedouble, out);
  if (cJSON_IsString(v)) return gs_buf_json_str(out, v->valuestring);
  if (cJSON_IsArray(v)) {
    if ((rc = gs_buf_puts(out, "["))) return rc;
    int first = 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
      if (!first && (rc = gs_buf_puts(out, ","))) return rc;
      first = 0;
      if ((rc = gs_json_canon(it, out))) return rc;
    }
    return gs_buf_puts(out, "]");
  }
  if (cJSON_IsObject(v)) return canon_object(v, out, NULL, NULL);
  return GS_EINVAL; /* raw/invalid nodes do not come out of cJSON_Parse */
}

/* OpenSSL's SHA-256 uses the CPU's SHA extensions where there are some (about
 * ten times mbedtls 2.28's portable code); the method is fetched once. */
int gs_sha256(const void *p, size_t n, unsigned char out[32]) {
  static EVP_MD *md;
  static EVP_MD_CTX *ctx;
  unsigned int len = 0;
  if (!md && !(md = EVP_MD_fetch(NULL, "SHA256", NULL))) return GS_ECRYPTO;
  if (!ctx && !(ctx = EVP_MD_CTX_new())) return GS_ENOMEM;
  if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, p, n) != 1 ||
      EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
    return GS_ECRYPTO;
  return GS_OK;
}

int gs_json_digest(const cJSON *v, unsigned char out[32]) {
  gs_buf b = GS_BUF_INIT;
  int rc = gs_json_canon(v, &b);
  if (!rc) rc = gs_sha256(b.data, b.len, out);
  gs_buf_free(&b);
  return rc;
}

int gs_json_hash_hex(const cJSON *v, gs_buf *scratch, char out[17]) {
  gs_buf own = GS_BUF_INIT, *b = scratch ? scratch : &own;
  gs_buf_reset(b);
  int rc = gs_json_canon(v, b);
  if (!rc) gs_json_hex64(gs_json_fnv(b->data, b->len), out);
  gs_buf_free(&own);
  return rc;
}

int gs_json_int(const cJSON *v, int64_t min, int64_t max, int64_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max || fabs(d) > 9007199254740991.0) return 0;
  *out = (int64_t)d;
  return 1;
}

int gs_json_dup_keys(const cJSON *obj) {
  const cJSON *a, *b;
  cJSON_ArrayForEach(a, obj) {
    for (b = a->next; b; b = b->next)
      if (a->string && b->string && strcmp(a->string, b->string) == 0) return 1;
  }
  return 0;
}
