/* dev_hlc.c - hybrid logical clock [ms, counter] and field versions.
 *
 * docs/PROTOCOL.md, "Data model": a version is (hlc, device id), compared by ms, then
 * counter, then device id bytewise. The clock only moves forward, so a device
 * whose wall clock steps back still produces increasing versions.
 */
#include <string.h>

#include "dev_int.h"
#include "gs_error.h"

static void carry(dev_hlc *h) {
  if (h->c > DEV_COUNTER_MAX) {
    h->ms += 1;
    h->c = 0;
  }
}

dev_hlc dev__hlc_tick(dev_hlc *h, int64_t now_ms) {
  if (now_ms > h->ms) {
    h->ms = now_ms;
    h->c = 0;
  } else {
    h->c += 1;
    carry(h);
  }
  return *h;
}

void dev__hlc_merge(dev_hlc *h, int64_t rms, int rc, int64_t now_ms) {
  int64_t m = h->ms;
  if (rms > m) m = rms;
  if (now_ms > m) m = now_ms;
  if (rc < 0) rc = 0;
  if (rc > DEV_COUNTER_MAX) rc = DEV_COUNTER_MAX;
  if (m == h->ms && m == rms) h->c = (h->c > rc ? h->c : rc) + 1;
  else if (m == h->ms) h->c += 1;
  else if (m == rms) h->c = rc + 1;
  else h->c = 0;
  h->ms = m;
  carry(h);
}

int dev__hlc_cmp(dev_hlc a, dev_hlc b) {
  if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.c != b.c) return a.c < b.c ? -1 : 1;
  return 0;
}

int dev__hlc_parse(const cJSON *a, dev_hlc *out, const char **dev) {
  if (!cJSON_IsArray(a)) return GS_EINVAL;
  int n = cJSON_GetArraySize(a);
  const cJSON *ms = cJSON_GetArrayItem(a, 0);
  const cJSON *c = cJSON_GetArrayItem(a, 1);
  if ((n != 2 && n != 3) || !cJSON_IsNumber(ms) || !cJSON_IsNumber(c)) return GS_EINVAL;
  /* cJSON keeps numbers as double: exact up to 2^53, plenty for ms. */
  if (ms->valuedouble < 0 || ms->valuedouble > 9007199254740991.0 || c->valuedouble < 0 ||
      c->valuedouble > DEV_COUNTER_MAX)
    return GS_EINVAL;
  out->ms = (int64_t)ms->valuedouble;
  out->c = (int)c->valuedouble;
  if (dev) {
    const cJSON *d = cJSON_GetArrayItem(a, 2);
    *dev = cJSON_IsString(d) ? d->valuestring : NULL;
  }
  if (n == 3 && !cJSON_IsString(cJSON_GetArrayItem(a, 2))) return GS_EINVAL;
  return GS_OK;
}

cJSON *dev__ver_new(dev_hlc h, const char *device) {
  cJSON *a = cJSON_CreateArray();
  if (!a) return NULL;
  if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)h.ms)) || !cJSON_AddItemToArray(a, cJSON_CreateNumber(h.c)) ||
      (device && !cJSON_AddItemToArray(a, cJSON_CreateString(device)))) {
    cJSON_Delete(a);
    return NULL;
  }
  return a;
}

int gs_dev_ver_cmp(const cJSON *a, const cJSON *b) {
  dev_hlc ha, hb;
  const char *da = NULL, *db = NULL;
  int va = dev__hlc_parse(a, &ha, &da) == GS_OK;
  int vb = dev__hlc_parse(b, &hb, &db) == GS_OK;
  if (!va || !vb) return va - vb; /* malformed or missing sorts lowest */
  int r = dev__hlc_cmp(ha, hb);
  if (r) return r;
  r = strcmp(da ? da : "", db ? db : "");
  return r < 0 ? -1 : r > 0;
}
