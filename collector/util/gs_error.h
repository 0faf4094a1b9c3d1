/* gs_error.h - the project's one error enum.
 *
 * 0 is success; every error is positive. Names and messages come from one
 * X-macro table so that gs_strerror() and gs_errname() can never drift from
 * the enum. The wire error codes of the sync protocol (docs/PROTOCOL.md, "Sync over MQTT";
 * docs/PROTOCOL.md) are the lower-case names of the GS_E* protocol entries:
 * gs_errname(GS_EFORBIDDEN_GRID) == "forbidden_grid".
 *
 * Library errors (libmosquitto, libcoap, SQLite, mbedtls) are translated at
 * the module boundary; the module logs the original code and text.
 */
#ifndef GS_ERROR_H
#define GS_ERROR_H

/* X(ENUM, wire_name, message) */
#define GS_ERRNO_MAP(X)                                                                                                \
  /* protocol rejections: permanent, reported per change or per batch */                                               \
  X(BAD_JSON, "bad_json", "payload is not valid JSON")                                                                 \
  X(BAD_CHANGE, "bad_change", "change is malformed (id, seq, type, entity, hlc, base or set)")                         \
  X(BAD_VERSION, "bad_version", "unsupported protocol version (field v)")                                              \
  X(UNKNOWN_TYPE, "unknown_type", "unknown entity type")                                                               \
  X(UNKNOWN_FIELD, "unknown_field", "field not defined for this entity type")                                          \
  X(BAD_VALUE, "bad_value", "field value has the wrong type, length or enum value")                                    \
  X(MISSING_FIELD, "missing_field", "required field missing when creating an entity")                                  \
  X(FORBIDDEN_GRID, "forbidden_grid", "device may not write this grid")                                                \
  X(ID_REUSED, "id_reused", "change id reused with different content")                                                 \
  X(TOO_LARGE, "too_large", "payload, batch or field exceeds a configured limit")                                      \
  X(UNKNOWN_DEVICE, "unknown_device", "device is not registered or is disabled")                                       \
  X(BAD_REQUEST, "bad_request", "request is malformed")                                                                \
  /* local and transient errors */                                                                                     \
  X(NOMEM, "nomem", "out of memory")                                                                                   \
  X(INVAL, "invalid_argument", "invalid argument")                                                                     \
  X(IO, "io", "input/output error")                                                                                    \
  X(NOTFOUND, "not_found", "not found")                                                                                \
  X(EXISTS, "exists", "already exists")                                                                                \
  X(STORE, "store", "database error")                                                                                  \
  X(BUSY, "busy", "database busy or locked; retry")                                                                    \
  X(FULL, "disk_full", "database or disk is full; retry when space returns")                                           \
  X(SCHEMA, "schema", "schema definition or migration error")                                                          \
  X(TOO_NEW, "db_too_new", "database was written by a newer gridsync; upgrade the binary")                             \
  X(CONFIG, "config", "configuration error")                                                                           \
  X(TLS, "tls", "TLS or certificate error")                                                                            \
  X(NET, "net", "network or broker error")                                                                             \
  X(PROTO, "protocol", "protocol error from peer")                                                                     \
  X(TIMEOUT, "timeout", "timed out")                                                                                   \
  X(CRYPTO, "crypto", "cryptographic operation failed")                                                                \
  X(INTERNAL, "internal", "internal error (a bug: please report it)")

typedef enum gs_err {
  GS_OK = 0,
#define GS_ERR_ENUM_(e, n, m) GS_E##e,
  GS_ERR_FIRST_ = 0,
  GS_ERRNO_MAP(GS_ERR_ENUM_)
#undef GS_ERR_ENUM_
      GS_ERR_MAX_
} gs_err;

/* Human message for an error code; never NULL, static storage. */
const char *gs_strerror(int err);
/* Wire/short name ("forbidden_grid"); never NULL, static storage. */
const char *gs_errname(int err);
/* Reverse lookup of a wire name; returns 0 when unknown. */
int gs_err_from_name(const char *name);
/* True for errors after which a retry may succeed (busy, disk full, io). */
int gs_err_transient(int err);

#endif
