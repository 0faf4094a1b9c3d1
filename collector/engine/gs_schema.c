#include "gs_schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_mem.h"
#include "gs_util.h"

extern const char gs_schema_entities_json[];

static const struct {
  const char *name;
  gs_ftype type;
} ftypes[] = {
    {"string", GS_F_STRING}, {"int", GS_F_INT},   {"number", GS_F_NUMBER},   {"bool", GS_F_BOOL},
    {"enum", GS_F_ENUM},     {"tags", GS_F_TAGS}, {"strings", GS_F_STRINGS}, {"timestamp", GS_F_TIMESTAMP},
    {"gps", GS_F_GPS},       {"org", GS_F_ORG},   {"ref", GS_F_REF},
};

static void free_field(gs_field_def *f) {
  gs_free(f->name);
  for (size_t i = 0; i < f->nvalues; i++) gs_free(f->values[i]);
  gs_free(f->values);
}

void gs_schema_free(gs_schema *s) {
  if (!s) return;
  for (size_t i = 0; i < s->ntypes; i++) {
    gs_type_def *t = &s->types[i];
    for (size_t j = 0; j < t->nfields; j++) free_field(&t->fields[j]);
    gs_free(t->fields);
    gs_free(t->name);
  }
  gs_free(s->types);
  for (size_t i = 0; i < s->ncare_tags; i++) gs_free(s->care_tags[i]);
  gs_free(s->care_tags);
  gs_free(s);
}

static int str_array(const cJSON *a, char ***out, size_t *n) {
  size_t k = (size_t)cJSON_GetArraySize(a);
  char **v = gs_calloc(k + 1, sizeof *v);
  if (!v) return GS_ENOMEM;
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, a) {
    if (!cJSON_IsString(it) || !(v[i] = gs_strdup(it->valuestring))) {
      for (size_t j = 0; j < i; j++) gs_free(v[j]);
      gs_free(v);
      return GS_ESCHEMA;
    }
    i++;
  }
  *out = v;
  *n = i;
  return GS_OK;
}

static int parse_field(const char *tname, const cJSON *fj, gs_field_def *f, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  f->min = INT64_MIN;
  f->max = INT64_MAX;
  if (!(f->name = gs_strdup(fj->string))) return GS_ENOMEM;
  if (!gs_valid_entity_id(f->name) && strcmp(f->name, "_deleted") != 0) {
    snprintf(err, errlen, "schema: type %s: field name '%s' is not [A-Za-z0-9_-]{1,64}", tname, f->name);
    return GS_ESCHEMA;
  }
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(fj, "type");
  size_t k;
  for (k = 0; k < sizeof ftypes / sizeof ftypes[0]; k++)
    if (cJSON_IsString(ty) && strcmp(ty->valuestring, ftypes[k].name) == 0) break;
  if (k == sizeof ftypes / sizeof ftypes[0]) {
    snprintf(err, errlen, "schema: type %s field %s: unknown or missing \"type\"", tname, f->name);
    return GS_ESCHEMA;
  }
  f->type = ftypes[k].type;
  f->required = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fj, "required"));
  const cJSON *x;
  if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(fj, "min"))) f->min = (int64_t)x->valuedouble;
  if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(fj, "max"))) f->max = (int64_t)x->valuedouble;
  if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(fj, "max_len"))) f->max_len = (size_t)x->valuedouble;
  if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(fj, "max_items"))) f->max_items = (size_t)x->valuedouble;
  x = cJSON_GetObjectItemCaseSensitive(fj, "values");
  if (f->type == GS_F_ENUM || f->type == GS_F_TAGS) {
    if (!cJSON_IsArray(x) || str_array(x, &f->values, &f->nvalues) || f->nvalues == 0) {
      snprintf(err, errlen, "schema: type %s field %s: \"values\" must be a non-empty array of strings", tname,
               f->name);
      return GS_ESCHEMA;
    }
  }
  return GS_OK;
}

int gs_schema_parse(const char *json, gs_schema **out, char *err, size_t errlen) {
  int rc = GS_ESCHEMA;
  gs_schema *s = NULL;
  cJSON *doc = cJSON_Parse(json);
  if (!doc) {
    snprintf(err, errlen, "schema: entities.json is not valid JSON");
    goto out;
  }
  s = gs_calloc(1, sizeof *s);
  if (!s) {
    rc = GS_ENOMEM;
    goto out;
  }
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "version");
  s->version = cJSON_IsNumber(ver) ? ver->valueint : 0;
  const cJSON *care = cJSON_GetObjectItemCaseSensitive(doc, "care_tags");
  if (cJSON_IsArray(care) && str_array(care, &s->care_tags, &s->ncare_tags)) goto out;
  const cJSON *types = cJSON_GetObjectItemCaseSensitive(doc, "types");
  if (!cJSON_IsObject(types) || cJSON_GetArraySize(types) == 0) {
    snprintf(err, errlen, "schema: \"types\" must be a non-empty object");
    goto out;
  }
  s->types = gs_calloc((size_t)cJSON_GetArraySize(types), sizeof *s->types);
  if (!s->types) {
    rc = GS_ENOMEM;
    goto out;
  }
  const cJSON *tj;
  cJSON_ArrayForEach(tj, types) {
    gs_type_def *t = &s->types[s->ntypes++];
    if (!(t->name = gs_strdup(tj->string))) {
      rc = GS_ENOMEM;
      goto out;
    }
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(tj, "fields");
    if (!cJSON_IsObject(fields)) {
      snprintf(err, errlen, "schema: type %s: \"fields\" must be an object", t->name);
      goto out;
    }
    /* +1 for the implicit _deleted */
    t->fields = gs_calloc((size_t)cJSON_GetArraySize(fields) + 1, sizeof *t->fields);
    if (!t->fields) {
      rc = GS_ENOMEM;
      goto out;
    }
    const cJSON *fj;
    int has_grid = 0;
    cJSON_ArrayForEach(fj, fields) {
      int frc = parse_field(t->name, fj, &t->fields[t->nfields], err, errlen);
      t->nfields++;
      if (frc) {
        rc = frc;
        goto out;
      }
      if (strcmp(fj->string, "grid") == 0 && t->fields[t->nfields - 1].type == GS_F_ORG) has_grid = 1;
    }
    if (!has_grid) {
      snprintf(err, errlen, "schema: type %s: every type needs a field \"grid\" of type org", t->name);
      goto out;
    }
    gs_field_def *d = &t->fields[t->nfields++];
    memset(d, 0, sizeof *d);
    d->type = GS_F_BOOL;
    if (!(d->name = gs_strdup("_deleted"))) {
      rc = GS_ENOMEM;
      goto out;
    }
  }
  *out = s;
  s = NULL;
  rc = GS_OK;
out:
  gs_schema_free(s);
  cJSON_Delete(doc);
  return rc;
}

int gs_schema_load_builtin(gs_schema **out, char *err, size_t errlen) {
  return gs_schema_parse(gs_schema_entities_json, out, err, errlen);
}

const gs_type_def *gs_schema_type(const gs_schema *s, const char *name) {
  for (size_t i = 0; i < s->ntypes; i++)
    if (strcmp(s->types[i].name, name) == 0) return &s->types[i];
  return NULL;
}

const gs_field_def *gs_schema_field(const gs_type_def *t, const char *name) {
  for (size_t i = 0; i < t->nfields; i++)
    if (strcmp(t->fields[i].name, name) == 0) return &t->fields[i];
  return NULL;
}

static int in_values(const gs_field_def *f, const char *s) {
  for (size_t i = 0; i < f->nvalues; i++)
    if (strcmp(f->values[i], s) == 0) return 1;
  return 0;
}

static int is_integer(const cJSON *v) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  return isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740991.0; /* 2^53-1 */
}

static int check_string(const gs_field_def *f, const char *s, size_t max_bytes, char *detail, size_t dlen) {
  size_t n = strlen(s);
  if (max_bytes && n > max_bytes) {
    snprintf(detail, dlen, "field %s: %zu bytes exceeds the limit of %zu", f->name, n, max_bytes);
    return GS_ETOO_LARGE;
  }
  if (!gs_valid_utf8(s, n)) {
    snprintf(detail, dlen, "field %s: not valid UTF-8", f->name);
    return GS_EBAD_VALUE;
  }
  if (f->max_len && gs_utf8_len(s) > f->max_len) {
    snprintf(detail, dlen, "field %s: longer than %zu characters", f->name, f->max_len);
    return GS_EBAD_VALUE;
  }
  return GS_OK;
}

int gs_schema_check_value(const gs_field_def *f, const cJSON *v, size_t max_bytes, char *detail, size_t dlen) {
  if (cJSON_IsNull(v)) return GS_OK;
  const cJSON *it;
  size_t n;
  switch (f->type) {
  case GS_F_STRING:
    if (!cJSON_IsString(v)) break;
    return check_string(f, v->valuestring, max_bytes, detail, dlen);
  case GS_F_REF:
  case GS_F_ORG:
    if (!cJSON_IsString(v)) break;
    if (!(f->type == GS_F_ORG ? gs_valid_org_id(v->valuestring) : gs_valid_entity_id(v->valuestring))) {
      snprintf(detail, dlen, "field %s: not a valid id ([A-Za-z0-9_-]{1,64})", f->name);
      return GS_EBAD_VALUE;
    }
    return GS_OK;
  case GS_F_INT:
    if (!is_integer(v)) break;
    if (v->valuedouble < (double)f->min || v->valuedouble > (double)f->max) {
      snprintf(detail, dlen, "field %s: out of range", f->name);
      return GS_EBAD_VALUE;
    }
    return GS_OK;
  case GS_F_TIMESTAMP:
    if (!is_integer(v) || v->valuedouble < 0) break;
    return GS_OK;
  case GS_F_NUMBER:
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) break;
    return GS_OK;
  case GS_F_BOOL:
    if (!cJSON_IsBool(v)) break;
    return GS_OK;
  case GS_F_ENUM:
    if (!cJSON_IsString(v)) break;
    if (!in_values(f, v->valuestring)) {
      snprintf(detail, dlen, "field %s: '%.64s' is not one of the allowed values", f->name, v->valuestring);
      return GS_EBAD_VALUE;
    }
    return GS_OK;
  case GS_F_TAGS:
  case GS_F_STRINGS:
    if (!cJSON_IsArray(v)) break;
    n = 0;
    cJSON_ArrayForEach(it, v) {
      if (!cJSON_IsString(it)) goto wrong;
      if (f->type == GS_F_TAGS && !in_values(f, it->valuestring)) {
        snprintf(detail, dlen, "field %s: '%.64s' is not one of the allowed values", f->name, it->valuestring);
        return GS_EBAD_VALUE;
      }
      if (f->type == GS_F_STRINGS) {
        int rc = check_string(f, it->valuestring, max_bytes, detail, dlen);
        if (rc) return rc;
      }
      n++;
    }
    if (f->max_items && n > f->max_items) {
      snprintf(detail, dlen, "field %s: more than %zu items", f->name, f->max_items);
      return GS_EBAD_VALUE;
    }
    return GS_OK;
  case GS_F_GPS:
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2) break;
    {
      const cJSON *lat = cJSON_GetArrayItem(v, 0), *lon = cJSON_GetArrayItem(v, 1);
      if (!cJSON_IsNumber(lat) || !cJSON_IsNumber(lon) || fabs(lat->valuedouble) > 90 || fabs(lon->valuedouble) > 180)
        break;
    }
    return GS_OK;
  }
wrong:
  snprintf(detail, dlen, "field %s: wrong type of value", f->name);
  return GS_EBAD_VALUE;
}
