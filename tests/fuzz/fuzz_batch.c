/* fuzz_batch.c - change batches: decoder, validator and apply
 * (gs_engine_apply, and gs_engine_apply_group when the input holds NUL bytes:
 * each NUL-separated piece is one batch, from dev-a, dev-b, dev-a, ...).
 *
 * Invariants beyond "no crash": the fixture store has no transient failure,
 * so every call returns GS_OK with an ack that is a JSON object.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "gs_error.h"

#define MAX_GROUP 8

static void check_ack(const gs_buf *ack, const uint8_t *data, size_t size) {
  cJSON *j = ack->data ? cJSON_ParseWithLength(ack->data, ack->len) : NULL;
  fz_check(cJSON_IsObject(j), "the ack is a JSON object", data, size);
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gs_engine *e;
  if (!e) e = fz_engine("batch.db");
  const char *p = (const char *)data;
  if (!memchr(p, 0, size)) {
    gs_buf ack = GS_BUF_INIT;
    int rc = gs_engine_apply(e, "dev-a", p, size, &ack);
    fz_check(rc == GS_OK, "gs_engine_apply returns GS_OK", data, size);
    check_ack(&ack, data, size);
    gs_buf_free(&ack);
    return 0;
  }
  gs_batch_in in[MAX_GROUP];
  gs_buf acks[MAX_GROUP];
  size_t n = 0, off = 0;
  while (off <= size && n < MAX_GROUP) {
    const char *nul = memchr(p + off, 0, size - off);
    size_t len = nul ? (size_t)(nul - (p + off)) : size - off;
    in[n] = (gs_batch_in){n % 2 ? "dev-b" : "dev-a", p + off, len};
    acks[n] = (gs_buf)GS_BUF_INIT;
    n++;
    off += len + 1;
  }
  int rc = gs_engine_apply_group(e, in, n, acks);
  fz_check(rc == GS_OK, "gs_engine_apply_group returns GS_OK", data, size);
  for (size_t i = 0; i < n; i++) {
    check_ack(&acks[i], data, size);
    gs_buf_free(&acks[i]);
  }
  return 0;
}
