/* fuzz_pull.c - pull requests: decoder and page builder (gs_engine_pull).
 * The first byte picks the device (dev-a, dev-b, dev-off disabled, an
 * unregistered one, an invalid id); the rest is the request.
 * Invariant: GS_OK with a page (or error document) that is a JSON object.
 */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "gs_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gs_engine *e;
  static const char *const devices[] = {"dev-a", "dev-b", "dev-off", "dev-nobody", "BAD/../id"};
  if (!e) e = fz_engine("pull.db");
  if (size == 0) return 0;
  const char *dev = devices[data[0] % (sizeof devices / sizeof devices[0])];
  gs_buf page = GS_BUF_INIT;
  int rc = gs_engine_pull(e, dev, (const char *)data + 1, size - 1, &page);
  fz_check(rc == GS_OK, "gs_engine_pull returns GS_OK", data, size);
  cJSON *j = page.data ? cJSON_ParseWithLength(page.data, page.len) : NULL;
  fz_check(cJSON_IsObject(j), "the page is a JSON object", data, size);
  cJSON_Delete(j);
  gs_buf_free(&page);
  return 0;
}
