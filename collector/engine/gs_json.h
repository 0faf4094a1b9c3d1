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
