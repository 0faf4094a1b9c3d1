/* fuzz_codec.c - the wire codec alone (collector/engine/gs_codec.h), no store.
 * The first byte picks the document: 0 a batch (and each of its changes,
 * and an ack of them), 1 a pull request (and a page or an error page),
 * 2 a stored change body (the value of a field). The rest is the input.
 * Invariants: a parser returns GS_OK or one of its documented errors with a
 * detail; every reply written is one JSON object.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "gs_codec.h"
#include "gs_error.h"

static gs_schema *schema;

static int is_object(const gs_buf *b) {
  cJSON *j = b->data ? cJSON_ParseWithLength(b->data, b->len) : NULL;
  int ok = cJSON_IsObject(j);
  cJSON_Delete(j);
  return ok;
}

static void batch(const uint8_t *data, size_t size, const char *p, size_t len) {
  gs_codec_batch b;
  char detail[256] = "";
  gs_buf out = GS_BUF_INIT, canon = GS_BUF_INIT;
  gs_hlc hlc = {1733300000000LL, 1};
  int rc = gs_codec_batch_parse(p, len, 1000, &b, detail, sizeof detail);
  fz_check(rc == GS_OK || rc == GS_EBAD_JSON || rc == GS_EBAD_VERSION || rc == GS_EBAD_REQUEST || rc == GS_ETOO_LARGE,
           "batch parse returns a documented code", data, size);
  if (rc) {
    fz_check(detail[0] != '\0', "a batch error has a detail", data, size);
    fz_check(gs_codec_ack_error(&out, b.batch, 0, hlc, rc, detail) == GS_OK && is_object(&out),
             "the error ack is a JSON object", data, size);
  } else {
    gs_codec_ack a = GS_CODEC_ACK_INIT;
    const cJSON *cj;
    cJSON_ArrayForEach(cj, b.changes) {
      gs_codec_change c;
      detail[0] = '\0';
      int crc = gs_codec_change_parse(cj, schema, "dev-a", 16384, &canon, &c, detail, sizeof detail);
      fz_check(crc == GS_OK || crc == GS_EBAD_CHANGE || crc == GS_EUNKNOWN_TYPE || crc == GS_EUNKNOWN_FIELD ||
                   crc == GS_EBAD_VALUE || crc == GS_ETOO_LARGE,
               "change parse returns a documented code", data, size);
      if (crc) {
        fz_check(detail[0] != '\0', "a rejected change has a detail", data, size);
        gs_codec_ack_rejected(&a, c.id, c.seq, crc, detail);
        continue;
      }
      fz_check(c.id && c.type && c.tdef && c.entity && c.set && c.ver.present, "a good change is complete", data, size);
      a.applied++;
      if (c.seq % 3 == 0) gs_codec_ack_conflict(&a, c.id);
    }
    fz_check(gs_codec_ack_write(&out, b.batch, 1, hlc, &a) == GS_OK && is_object(&out), "the ack is a JSON object",
             data, size);
    gs_codec_ack_free(&a);
  }
  gs_codec_batch_free(&b);
  gs_buf_free(&out);
  gs_buf_free(&canon);
}

static void pull(const uint8_t *data, size_t size, const char *p, size_t len) {
  gs_codec_pull r;
  char detail[256] = "";
  gs_buf out = GS_BUF_INIT;
  int rc = gs_codec_pull_parse(p, len, 500, &r, detail, sizeof detail);
  fz_check(rc == GS_OK || rc == GS_EBAD_JSON || rc == GS_EBAD_REQUEST, "pull parse returns a documented code", data,
           size);
  if (rc) {
    fz_check(detail[0] != '\0', "a pull error has a detail", data, size);
    rc = gs_codec_pull_error(&out, -1, NULL, rc, detail);
  } else {
    fz_check(r.since >= 0 && r.limit >= 1, "since and limit are in range", data, size);
    gs_codec_page pg = GS_CODEC_PAGE_INIT;
    rc = gs_codec_page_entity(&pg, "household", r.req[0] ? r.req : "h1", r.since + 1, "{}", 2, "{}", 2);
    if (!rc) rc = gs_codec_page_write(&out, r.since, r.req, r.since + 1, r.limit == 1, &pg);
    gs_codec_page_free(&pg);
  }
  fz_check(rc == GS_OK && is_object(&out), "the page is a JSON object", data, size);
  gs_buf_free(&out);
}

static void body(const uint8_t *data, size_t size, const char *p, size_t len) {
  char text[4096];
  if (len >= sizeof text) return;
  memcpy(text, p, len);
  text[len] = '\0';
  gs_buf out = GS_BUF_INIT;
  const char *fields[] = {"note", "grid", "tags", ""};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    int rc = gs_codec_change_value(text, fields[i], &out);
    fz_check(rc == GS_OK || rc == GS_ENOTFOUND, "change_value returns a documented code", data, size);
    if (rc == GS_OK) {
      cJSON *j = cJSON_Parse(out.data);
      fz_check(j != NULL, "a field's value is JSON", data, size);
      cJSON_Delete(j);
    }
  }
  gs_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!schema) {
    char err[256];
    fz_check(gs_schema_load_builtin(&schema, err, sizeof err) == GS_OK, "the built-in schema loads", data, size);
  }
  if (size == 0) return 0;
  const char *p = (const char *)data + 1;
  size_t len = size - 1;
  switch (data[0] % 3) {
  case 0: batch(data, size, p, len); break;
  case 1: pull(data, size, p, len); break;
  default: body(data, size, p, len); break;
  }
  return 0;
}
