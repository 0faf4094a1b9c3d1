/* gs_codec.c - the sync protocol's documents on the wire (docs/PROTOCOL.md, "Sync over MQTT"). See gs_codec.h. */
#include "gs_codec.h"

#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_merge.h"
#include "gs_util.h"

/* ---- batch ---------------------------------------------------------------- */

int gs_codec_batch_size(size_t len, size_t max_bytes, char *detail, size_t dl) {
  if (len <= max_bytes) return GS_OK;
  snprintf(detail, dl, "batch of %zu bytes exceeds the limit of %zu bytes; send smaller batches", len, max_bytes);
  return GS_ETOO_LARGE;
}

int gs_codec_batch_parse(const char *p, size_t len, int max_changes, gs_codec_batch *out, char *detail, size_t dl) {
  memset(out, 0, sizeof *out);
  if (!gs_valid_utf8(p, len)) {
    snprintf(detail, dl, "payload is not valid UTF-8");
    return GS_EBAD_JSON;
  }
  cJSON *doc = out->doc = cJSON_ParseWithLength(p, len);
  if (!doc) {
    const char *at = cJSON_GetErrorPtr();
    if (at == NULL || at < p || at > p + len) snprintf(detail, dl, "payload is not valid JSON");
    else snprintf(detail, dl, "payload is not valid JSON (near byte %zu)", (size_t)(at - p));
    return GS_EBAD_JSON;
  }
  const cJSON *bid = cJSON_GetObjectItemCaseSensitive(doc, "batch");
  out->batch = cJSON_IsString(bid) && gs_valid_entity_id(bid->valuestring) ? bid->valuestring : NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "v");
  const cJSON *changes = cJSON_GetObjectItemCaseSensitive(doc, "changes");
  if (!cJSON_IsObject(doc) || !cJSON_IsNumber(v) || v->valuedouble != 1) {
    snprintf(detail, dl, "batch must be an object with \"v\":1 (this server speaks sync protocol v1)");
    return GS_EBAD_VERSION;
  }
  if (!out->batch || !cJSON_IsArray(changes)) {
    snprintf(detail, dl, "batch needs \"batch\" (an id of [A-Za-z0-9_-]{1,64}) and \"changes\" (an array)");
    return GS_EBAD_REQUEST;
  }
  int n = cJSON_GetArraySize(changes);
  if (n > max_changes) {
    snprintf(detail, dl, "batch has %d changes, more than the limit of %d; send smaller batches", n, max_changes);
    return GS_ETOO_LARGE;
  }
  out->changes = changes;
  out->n = n;
  return GS_OK;
}

void gs_codec_batch_free(gs_codec_batch *b) {
  cJSON_Delete(b->doc);
  memset(b, 0, sizeof *b);
}

/* Validates everything that does not depend on the stored state. */
int gs_codec_change_parse(const cJSON *cj, const gs_schema *schema, const char *device, size_t max_field_bytes,
                          gs_buf *canon, gs_codec_change *c, char *detail, size_t dl) {
  memset(c, 0, sizeof *c);
  gs_buf_reset(canon);
  c->canon = canon;
  c->json = cj;
  if (!cJSON_IsObject(cj)) {
    snprintf(detail, dl, "change is not a JSON object");
    return GS_EBAD_CHANGE;
  }
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(cj, "seq");
  if (!gs_json_int(x, 1, INT64_C(9007199254740991), &c->seq)) c->seq = 0;
  x = cJSON_GetObjectItemCaseSensitive(cj, "id");
  if (!cJSON_IsString(x) || !gs_valid_entity_id(x->valuestring)) {
    snprintf(detail, dl, "\"id\" must be a string of [A-Za-z0-9_-]{1,64}");
    return GS_EBAD_CHANGE;
  }
  c->id = x->valuestring;
  /* same bytes as gs_json_digest(cj), kept to be stored as the body */
  int rc = gs_json_canon_spans(cj, "set", canon, &c->sp);
  if (!rc) rc = gs_sha256(canon->data, canon->len, c->digest);
  if (rc) return rc;
  if (c->seq == 0) {
    snprintf(detail, dl, "\"seq\" must be an integer >= 1");
    return GS_EBAD_CHANGE;
  }
  x = cJSON_GetObjectItemCaseSensitive(cj, "type");
  if (!cJSON_IsString(x)) {
    snprintf(detail, dl, "\"type\" must be a string");
    return GS_EBAD_CHANGE;
  }
  c->type = x->valuestring;
  if (!(c->tdef = gs_schema_type(schema, c->type))) {
    snprintf(detail, dl, "type '%.64s' is not one of the schema's types", c->type);
    c->type = NULL;
    return GS_EUNKNOWN_TYPE;
  }
  x = cJSON_GetObjectItemCaseSensitive(cj, "entity");
  if (!cJSON_IsString(x) || !gs_valid_entity_id(x->valuestring)) {
    snprintf(detail, dl, "\"entity\" must be a string of [A-Za-z0-9_-]{1,64}");
    return GS_EBAD_CHANGE;
  }
  c->entity = x->valuestring;
  int64_t ms, cnt;
  x = cJSON_GetObjectItemCaseSensitive(cj, "hlc");
  if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 ||
      !gs_json_int(cJSON_GetArrayItem(x, 0), 0, GS_HLC_MAX_MS, &ms) ||
      !gs_json_int(cJSON_GetArrayItem(x, 1), 0, GS_HLC_MAX_COUNTER, &cnt)) {
    snprintf(detail, dl, "\"hlc\" must be [ms, counter] with 0 <= counter <= 65535");
    return GS_EBAD_CHANGE;
  }
  c->ver.present = 1;
  c->ver.ms = ms;
  c->ver.c = (int32_t)cnt;
  snprintf(c->ver.dev, sizeof c->ver.dev, "%s", device);
  c->base = cJSON_GetObjectItemCaseSensitive(cj, "base");
  if (c->base && !cJSON_IsNull(c->base)) {
    if (!cJSON_IsObject(c->base)) {
      snprintf(detail, dl, "\"base\" must be an object of field -> [ms, counter, \"device\"]");
      return GS_EBAD_CHANGE;
    }
    const cJSON *bv;
    cJSON_ArrayForEach(bv, c->base) {
      gs_ver v;
      if (!gs_merge_ver_parse(bv, &v)) {
        snprintf(detail, dl, "base of field '%.64s' must be [ms, counter, \"device\"]", bv->string);
        return GS_EBAD_CHANGE;
      }
    }
  } else {
    c->base = NULL;
  }
  c->set = cJSON_GetObjectItemCaseSensitive(cj, "set");
  if (!cJSON_IsObject(c->set) || !c->set->child) {
    snprintf(detail, dl, "\"set\" must be a non-empty object of field -> value");
    return GS_EBAD_CHANGE;
  }
  size_t nkeys = 0;
  const cJSON *f;
  cJSON_ArrayForEach(f, c->set) {
    const gs_field_def *fd = gs_schema_field(c->tdef, f->string);
    if (!fd) {
      snprintf(detail, dl, "field '%.64s' is not defined for type %s", f->string, c->type);
      return GS_EUNKNOWN_FIELD;
    }
    if ((rc = gs_schema_check_value(fd, f, max_field_bytes, detail, dl))) return rc;
    nkeys++;
  }
  /* more keys than the type has fields means a key repeats */
  if (nkeys > c->tdef->nfields || gs_json_dup_keys(c->set)) {
    snprintf(detail, dl, "\"set\" names a field twice");
    return GS_EBAD_CHANGE;
  }
  return GS_OK;
}

int gs_codec_change_value(const char *body, const char *field, gs_buf *out) {
  gs_buf_reset(out);
  cJSON *doc = cJSON_Parse(body);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "set"), field);
  int rc = v ? gs_json_canon(v, out) : GS_ENOTFOUND;
  cJSON_Delete(doc);
  return rc;
}

/* ---- ack ------------------------------------------------------------------ */

int gs_codec_ack_rejected(gs_codec_ack *a, const char *id, int64_t seq, int err, const char *detail) {
  gs_buf *r = &a->rejected;
  int rc = gs_buf_puts(r, a->nrejected++ ? ",{\"id\":" : "{\"id\":");
  if (!rc) rc = id ? gs_buf_json_str(r, id) : gs_buf_puts(r, "null");
  if (!rc) rc = seq > 0 ? gs_buf_printf(r, ",\"seq\":%lld", (long long)seq) : gs_buf_puts(r, ",\"seq\":null");
  if (!rc) rc = gs_buf_printf(r, ",\"error\":\"%s\",\"detail\":", gs_errname(err));
  if (!rc) rc = gs_buf_json_str(r, detail ? detail : gs_strerror(err));
  return rc ? rc : gs_buf_puts(r, "}");
}

int gs_codec_ack_conflict(gs_codec_ack *a, const char *id) {
  if (a->nconflicts++ && gs_buf_puts(&a->conflicts, ",")) return GS_ENOMEM;
  return gs_buf_json_str(&a->conflicts, id);
}

void gs_codec_ack_free(gs_codec_ack *a) {
  gs_buf_free(&a->rejected);
  gs_buf_free(&a->conflicts);
}

int gs_codec_ack_write(gs_buf *out, const char *batch, int64_t acked_seq, gs_hlc hlc, const gs_codec_ack *a) {
  int rc = gs_buf_puts(out, "{\"v\":1,\"batch\":");
  if (!rc) rc = gs_buf_json_str(out, batch);
  if (!rc)
    rc = gs_buf_printf(out, ",\"acked_seq\":%lld,\"hlc\":[%lld,%d],\"applied\":%d,\"duplicates\":%d,\"rejected\":[",
                       (long long)acked_seq, (long long)hlc.ms, hlc.c, a->applied, a->duplicates);
  if (!rc && a->rejected.len) rc = gs_buf_append(out, a->rejected.data, a->rejected.len);
  if (!rc) rc = gs_buf_puts(out, "],\"conflicts\":[");
  if (!rc && a->conflicts.len) rc = gs_buf_append(out, a->conflicts.data, a->conflicts.len);
  return rc ? rc : gs_buf_puts(out, "]}");
}

int gs_codec_ack_error(gs_buf *out, const char *batch, int64_t acked_seq, gs_hlc hlc, int err, const char *detail) {
  int rc = gs_buf_puts(out, "{\"v\":1,\"batch\":");
  if (!rc) rc = batch ? gs_buf_json_str(out, batch) : gs_buf_puts(out, "null");
  if (!rc) rc = gs_buf_printf(out, ",\"error\":\"%s\",\"detail\":", gs_errname(err));
  if (!rc) rc = gs_buf_json_str(out, detail);
  if (!rc)
    rc = gs_buf_printf(out, ",\"acked_seq\":%lld,\"hlc\":[%lld,%d]}", (long long)acked_seq, (long long)hlc.ms, hlc.c);
  return rc;
}

/* ---- pull and page -------------------------------------------------------- */

int gs_codec_pull_parse(const char *p, size_t len, int64_t default_limit, gs_codec_pull *out, char *detail, size_t dl) {
  memset(out, 0, sizeof *out);
  out->limit = default_limit;
  if (len > 4096 || !gs_valid_utf8(p, len)) {
    snprintf(detail, dl, "pull request is not valid");
    return GS_EBAD_JSON;
  }
  cJSON *doc = cJSON_ParseWithLength(p, len);
  if (!doc) {
    snprintf(detail, dl, "pull request is not valid JSON");
    return GS_EBAD_JSON;
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "v");
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "since");
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(doc, "limit");
  const cJSON *rq = cJSON_GetObjectItemCaseSensitive(doc, "req");
  /* the optional request id is echoed so a device can tell pages of a retried pull apart */
  int ok = cJSON_IsObject(doc) && cJSON_IsNumber(v) && v->valuedouble == 1 &&
           (!s || gs_json_int(s, 0, INT64_C(9007199254740991), &out->since)) &&
           (!l || gs_json_int(l, 1, 1000000, &out->limit)) &&
           (!rq || (cJSON_IsString(rq) && gs_valid_entity_id(rq->valuestring)));
  if (ok && rq) snprintf(out->req, sizeof out->req, "%s", rq->valuestring);
  cJSON_Delete(doc);
  if (ok) return GS_OK;
  snprintf(detail, dl, "pull request must be {\"v\":1,\"since\":<rev >= 0>,\"limit\":<1..>,\"req\":<optional id>}");
  return GS_EBAD_REQUEST;
}

int gs_codec_page_entity(gs_codec_page *pg, const char *type, const char *id, int64_t rev, const char *fields,
                         size_t flen, const char *ver, size_t vlen) {
  gs_buf *b = &pg->ents;
  int rc = gs_buf_puts(b, pg->n ? ",{\"type\":" : "{\"type\":");
  if (!rc) rc = gs_buf_json_str(b, type);
  if (!rc) rc = gs_buf_puts(b, ",\"id\":");
  if (!rc) rc = gs_buf_json_str(b, id);
  if (!rc) rc = gs_buf_printf(b, ",\"rev\":%lld,\"fields\":", (long long)rev);
  /* stored canonical JSON goes out as is: no re-serialisation */
  if (!rc) rc = gs_buf_append(b, fields, flen);
  if (!rc) rc = gs_buf_puts(b, ",\"ver\":");
  if (!rc) rc = gs_buf_append(b, ver, vlen);
  if (!rc) rc = gs_buf_puts(b, "}");
  if (!rc) pg->n++;
  return rc;
}

void gs_codec_page_free(gs_codec_page *pg) {
  gs_buf_free(&pg->ents);
  pg->n = 0;
}

int gs_codec_page_write(gs_buf *out, int64_t since, const char *req, int64_t next, int more, const gs_codec_page *pg) {
  int has_req = req && req[0];
  int rc = gs_buf_printf(out, "{\"v\":1,\"since\":%lld,%s%s%s\"next\":%lld,\"more\":%s,\"entities\":[",
                         (long long)since, has_req ? "\"req\":\"" : "", has_req ? req : "", has_req ? "\"," : "",
                         (long long)next, more ? "true" : "false");
  if (!rc && pg->ents.len) rc = gs_buf_append(out, pg->ents.data, pg->ents.len);
  return rc ? rc : gs_buf_puts(out, "]}");
}

int gs_codec_pull_error(gs_buf *out, int64_t since, const char *req, int err, const char *detail) {
  int rc = gs_buf_puts(out, "{\"v\":1");
  if (!rc && since >= 0) rc = gs_buf_printf(out, ",\"since\":%lld", (long long)since);
  if (!rc && req) rc = gs_buf_printf(out, ",\"req\":\"%s\"", req);
  if (!rc) rc = gs_buf_printf(out, ",\"error\":\"%s\",\"detail\":", gs_errname(err));
  if (!rc) rc = gs_buf_json_str(out, detail);
  return rc ? rc : gs_buf_puts(out, "}");
}
