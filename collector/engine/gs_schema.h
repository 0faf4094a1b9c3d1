/* gs_schema.h - entity definitions as data (schema/entities.json, embedded).
 *
 * The engine never names a field in C except `grid` and `_deleted`: types,
 * limits, enums and required-on-create all come from the JSON. Validation
 * returns the protocol error code and a detail line naming the field.
 */
#ifndef GS_SCHEMA_H
#define GS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum gs_ftype {
  GS_F_STRING,
  GS_F_INT,
  GS_F_NUMBER,
  GS_F_BOOL,
  GS_F_ENUM,
  GS_F_TAGS,
  GS_F_STRINGS,
  GS_F_TIMESTAMP,
  GS_F_GPS,
  GS_F_ORG,
  GS_F_REF
} gs_ftype;

typedef struct gs_field_def {
  char *name;
  gs_ftype type;
  int required;
  int64_t min, max; /* int bounds */
  size_t max_len;   /* characters, 0 = none */
  size_t max_items; /* tags/strings, 0 = none */
  char **values;    /* enum/tags values, NULL-terminated */
  size_t nvalues;
} gs_field_def;

typedef struct gs_type_def {
  char *name;
  gs_field_def *fields;
  size_t nfields;
} gs_type_def;

typedef struct gs_schema {
  int version;
  gs_type_def *types;
  size_t ntypes;
  char **care_tags;
  size_t ncare_tags;
} gs_schema;

/* Parses a schema document. On error returns GS_ESCHEMA and writes a message
 * to err. The caller owns *out and frees it with gs_schema_free(). */
int gs_schema_parse(const char *json, gs_schema **out, char *err, size_t errlen);
/* Loads the embedded schema/entities.json. */
int gs_schema_load_builtin(gs_schema **out, char *err, size_t errlen);
void gs_schema_free(gs_schema *s);

const gs_type_def *gs_schema_type(const gs_schema *s, const char *name);
const gs_field_def *gs_schema_field(const gs_type_def *t, const char *name);

/* Validates one value of a field (null is always valid: it clears the field).
 * max_bytes is the global per-field byte cap (config), 0 = none.
 * Returns GS_OK, GS_EBAD_VALUE or GS_ETOO_LARGE; detail gets a message. */
int gs_schema_check_value(const gs_field_def *f, const cJSON *v, size_t max_bytes, char *detail, size_t dlen);

#endif
