/* gs_json.h - canonical JSON and small cJSON helpers.
 *
 * Canonical form: objects with keys sorted bytewise, no spaces, integers
 * printed as integers, other numbers with %.17g. Two documents with the same
 * content in any key order give the same bytes; that is what change digests
 * and the stored entity state use.
 */
#ifndef GS_JSON_H
#define GS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "gs_buf.h"

int gs_json_canon(const cJSON *v, gs_buf *out);

/* Where one member's value, and each of that member's own members, lie in a
 * canonical text (offsets into the output buffer, which may move: keep
 * offsets, not pointers). The canonical text of a value inside its parent's
 * is the value's own canonical text, so a span is that text. */
#define GS_CANON_MAX_SPANS 64
typedef struct gs_canon_span {
  const char *key;    /* the member's key (points into the cJSON tree) */
  const cJSON *value; /* the member's value */
  size_t off, len;
} gs_canon_span;
typedef struct gs_canon_spans {
  int found;       /* the member exists, is an object, has <= GS_CANON_MAX_SPANS members */
  size_t off, len; /* its value */
  size_t n;        /* its members, in canonical (key) order */
  gs_canon_span m[GS_CANON_MAX_SPANS];
} gs_canon_spans;
/* gs_json_canon(v, out) (same bytes), recording in sp the spans of v's
 * object member named member (for a change: "set") and of its members. */
int gs_json_canon_spans(const cJSON *v, const char *member, gs_buf *out, gs_canon_spans *sp);
/* 64-bit FNV-1a of n bytes, and as 16 lowercase hex chars + NUL. */
uint64_t gs_json_fnv(const char *p, size_t n);
void gs_json_hex64(uint64_t h, char out[17]);
/* SHA-256 of n bytes (OpenSSL libcrypto). Not thread-safe: one engine thread. */
int gs_sha256(const void *p, size_t n, unsigned char out[32]);
/* SHA-256 of the canonical form. */
int gs_json_digest(const cJSON *v, unsigned char out[32]);
/* 64-bit FNV-1a of the canonical form, as 16 hex chars + NUL. scratch (may be
 * NULL) is a caller's buffer reused for the canonical text, to avoid an
 * allocation per call; its contents are replaced. */
int gs_json_hash_hex(const cJSON *v, gs_buf *scratch, char out[17]);
/* True when v is a number holding an integer in [min, max]. */
int gs_json_int(const cJSON *v, int64_t min, int64_t max, int64_t *out);
/* True when the object has two members with the same key. */
int gs_json_dup_keys(const cJSON *obj);

#endif
