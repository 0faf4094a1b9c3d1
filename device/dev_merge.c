/* dev_merge.c - merges a pulled entity into the local copy.
 *
 * The same last-writer-wins rule as the collector, field by field: the value
 * with the greater version stays. A pending local edit whose version is
 * greater survives a pull of an older server value, and the server will take
 * it too when the edit's batch is applied, so device and server converge.
 */
#include "dev_int.h"
#include "gs_error.h"

int dev__merge(cJSON *fields, cJSON *ver, const cJSON *rfields, const cJSON *rver, dev_hlc *max_seen) {
  int replaced = 0;
  const cJSON *rv;
  cJSON_ArrayForEach(rv, rver) {
    dev_hlc h;
    if (!rv->string || dev__hlc_parse(rv, &h, NULL) != GS_OK) continue;
    if (max_seen && dev__hlc_cmp(h, *max_seen) > 0) *max_seen = h;
    const cJSON *rval = cJSON_GetObjectItemCaseSensitive(rfields, rv->string);
    /* A version without a value means the field was cleared (null). */
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(ver, rv->string);
    if (lv && gs_dev_ver_cmp(rv, lv) <= 0) continue;
    cJSON *nval = rval ? cJSON_Duplicate(rval, 1) : cJSON_CreateNull();
    cJSON *nver = cJSON_Duplicate(rv, 1);
    if (!nval || !nver) {
      cJSON_Delete(nval);
      cJSON_Delete(nver);
      return -1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(fields, rv->string);
    cJSON_DeleteItemFromObjectCaseSensitive(ver, rv->string);
    if (!cJSON_AddItemToObject(fields, rv->string, nval)) {
      cJSON_Delete(nval);
      cJSON_Delete(nver);
      return -1;
    }
    if (!cJSON_AddItemToObject(ver, rv->string, nver)) {
      cJSON_Delete(nver);
      return -1;
    }
    replaced++;
  }
  return replaced;
}
