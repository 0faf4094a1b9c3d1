#include "gs_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

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
  return gs_buf_printf(out, "%.17g", d);
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
  if (cJSON_IsObject(v)) {
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    const cJSON *small[32], **kids = n <= 32 ? small : gs_malloc(n * sizeof *kids);
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
    rc = gs_buf_puts(out, "{");
    for (i = 0; !rc && i < n; i++) {
      if (i) rc = gs_buf_puts(out, ",");
      if (!rc) rc = gs_buf_json_str(out, kids[i]->string);
      if (!rc) rc = gs_buf_puts(out, ":");
      if (!rc) rc = gs_json_canon(kids[i], out);
    }
    if (kids != small) gs_free(kids);
    return rc ? rc : gs_buf_puts(out, "}");
  }
  return GS_EINVAL; /* raw/invalid nodes do not come out of cJSON_Parse */
}

int gs_json_digest(const cJSON *v, unsigned char out[32]) {
  gs_buf b = GS_BUF_INIT;
  int rc = gs_json_canon(v, &b);
  if (!rc && mbedtls_sha256_ret((const unsigned char *)b.data, b.len, out, 0) != 0) rc = GS_ECRYPTO;
  gs_buf_free(&b);
  return rc;
}

int gs_json_hash_hex(const cJSON *v, gs_buf *scratch, char out[17]) {
  gs_buf own = GS_BUF_INIT, *b = scratch ? scratch : &own;
  gs_buf_reset(b);
  int rc = gs_json_canon(v, b);
  if (!rc) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < b->len; i++) {
      h ^= (unsigned char)b->data[i];
      h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
  }
  gs_buf_free(&own);
  return rc;
}

int gs_json_int(const cJSON *v, int64_t min, int64_t max, int64_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max || fabs(d) > 9007199254740991.0)
    return 0;
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
