/* gs_codec.h - the sync protocol's documents on the wire (docs/PROTOCOL.md, "Sync over MQTT").
 *
 * Pure: cJSON in, plain C structs out; C values in, bytes out. No SQLite, no
 * state. Parsers check everything that does not depend on the stored state
 * and name what is wrong in a one-line detail; writers are the only code
 * that makes the server's replies (acks, pages and their error forms), so
 * each document kind has one writer. The bytes are part of the protocol:
 * phone apps parse them and tests compare them.
 *
 * Ownership: parsed structs point into a cJSON tree (gs_codec_batch owns its
 * tree; a change points into the batch's) and, for a change, into the canon
 * buffer the caller passes. Writers append to a caller's gs_buf and return
 * GS_OK or GS_ENOMEM (the buffer may then hold part of the document).
 * Threading: no state; gs_sha256 makes change parsing single-threaded.
 */
#ifndef GS_CODEC_H
#define GS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "gs_buf.h"
#include "gs_hlc.h"
#include "gs_json.h"
#include "gs_schema.h"

/* ---- batch: device -> server --------------------------------------------- */

/* GS_ETOO_LARGE with detail when a payload of len bytes is over max_bytes. */
int gs_codec_batch_size(size_t len, size_t max_bytes, char *detail, size_t dl);

typedef struct gs_codec_batch {
  cJSON *doc;           /* the parsed document (owned; gs_codec_batch_free) */
  const char *batch;    /* batch id, NULL when missing or not a valid id */
  const cJSON *changes; /* the "changes" array */
  int n;                /* its length */
} gs_codec_batch;
/* Parses a batch: UTF-8, JSON, "v":1, "batch", "changes", at most
 * max_changes of them. Returns GS_OK, or GS_EBAD_JSON, GS_EBAD_VERSION,
 * GS_EBAD_REQUEST, GS_ETOO_LARGE with detail (a batch-level rejection; the
 * ack echoes out->batch, which is set when the id was readable). Free out
 * with gs_codec_batch_free in every case. */
int gs_codec_batch_parse(const char *p, size_t len, int max_changes, gs_codec_batch *out, char *detail, size_t dl);
void gs_codec_batch_free(gs_codec_batch *b);

/* One change of a batch. Members are NULL / 0 when missing or invalid (id,
 * seq, type: the change log keeps what could be read of a rejected change). */
typedef struct gs_codec_change {
  const cJSON *json;
  const char *id;
  int64_t seq;
  const char *type; /* set only when it is one of the schema's types */
  const gs_type_def *tdef;
  const char *entity;
  gs_ver ver;               /* "hlc" with the sending device */
  const cJSON *base;        /* field -> [ms, counter, "device"], NULL when absent or null */
  const cJSON *set;         /* field -> value */
  unsigned char digest[32]; /* SHA-256 of the canonical change (set once id is valid) */
  const gs_buf *canon;      /* the canonical change: digested, stored as the body */
  gs_canon_spans sp;        /* where "set" and each of its values lie in canon */
} gs_codec_change;
/* Parses and validates change cj of device's batch against the schema
 * (field values up to max_field_bytes). canon is the caller's buffer for the
 * canonical text (replaced; kept across changes to reuse its capacity).
 * Returns GS_OK; a rejection (GS_EBAD_CHANGE, GS_EUNKNOWN_TYPE,
 * GS_EUNKNOWN_FIELD, GS_EBAD_VALUE, GS_ETOO_LARGE) with detail; or GS_ENOMEM,
 * GS_ECRYPTO (nothing is known about the change). */
int gs_codec_change_parse(const cJSON *cj, const gs_schema *schema, const char *device, size_t max_field_bytes,
                          gs_buf *canon, gs_codec_change *c, char *detail, size_t dl);
/* The canonical text of the value a stored change body (canonical change
 * text) set field to, into out (replaced). GS_ENOTFOUND when the body does
 * not parse or does not set field; GS_ENOMEM. */
int gs_codec_change_value(const char *body, const char *field, gs_buf *out);

/* ---- ack: server -> device ----------------------------------------------- */

/* The per-change parts of an ack, collected while a batch is applied. */
typedef struct gs_codec_ack {
  int applied, duplicates;
  int nrejected, nconflicts;
  gs_buf rejected, conflicts; /* the arrays' members so far */
} gs_codec_ack;
#define GS_CODEC_ACK_INIT                                                                                              \
  { 0, 0, 0, 0, GS_BUF_INIT, GS_BUF_INIT }
/* A rejected change: id NULL and seq <= 0 are written as null; detail NULL
 * is gs_strerror(err). */
int gs_codec_ack_rejected(gs_codec_ack *a, const char *id, int64_t seq, int err, const char *detail);
/* A change that conflicted with an earlier one (its id). */
int gs_codec_ack_conflict(gs_codec_ack *a, const char *id);
void gs_codec_ack_free(gs_codec_ack *a);
/* The ack of an applied batch:
 * {"v":1,"batch":..,"acked_seq":..,"hlc":[ms,c],"applied":..,"duplicates":..,"rejected":[..],"conflicts":[..]} */
int gs_codec_ack_write(gs_buf *out, const char *batch, int64_t acked_seq, gs_hlc hlc, const gs_codec_ack *a);
/* A batch-level rejection: {"v":1,"batch":..|null,"error":..,"detail":..,"acked_seq":..,"hlc":[ms,c]} */
int gs_codec_ack_error(gs_buf *out, const char *batch, int64_t acked_seq, gs_hlc hlc, int err, const char *detail);

/* ---- pull: device -> server, page: server -> device ---------------------- */

typedef struct gs_codec_pull {
  int64_t since; /* rev cursor (0 when absent) */
  int64_t limit; /* requested page size, or the default given */
  char req[65];  /* request id echoed in the page, "" when absent */
} gs_codec_pull;
/* Parses {"v":1,"since":..,"limit":..,"req":..}. Returns GS_OK, or GS_EBAD_JSON
 * or GS_EBAD_REQUEST with detail. */
int gs_codec_pull_parse(const char *p, size_t len, int64_t default_limit, gs_codec_pull *out, char *detail, size_t dl);

/* The entities of a page, collected before the page is written (its head
 * says whether there are more). */
typedef struct gs_codec_page {
  gs_buf ents;
  int64_t n;
} gs_codec_page;
#define GS_CODEC_PAGE_INIT                                                                                             \
  { GS_BUF_INIT, 0 }
/* One entity; fields and ver are stored canonical JSON, sent as they are. */
int gs_codec_page_entity(gs_codec_page *pg, const char *type, const char *id, int64_t rev, const char *fields,
                         size_t flen, const char *ver, size_t vlen);
void gs_codec_page_free(gs_codec_page *pg);
/* {"v":1,"since":..,["req":..,]"next":..,"more":..,"entities":[..]}; req "" or NULL: none. */
int gs_codec_page_write(gs_buf *out, int64_t since, const char *req, int64_t next, int more, const gs_codec_page *pg);
/* An error page; since < 0 and req NULL leave them out ("since" echoes the
 * request's cursor so the device can match it to its request like a page):
 * {"v":1[,"since":..][,"req":..],"error":..,"detail":..} */
int gs_codec_pull_error(gs_buf *out, int64_t since, const char *req, int err, const char *detail);

#endif
