/* gs_hlc.h - hybrid logical clock and field versions (docs/PROTOCOL.md, "Data model").
 *
 * A version is (hlc, device): compare ms, then counter, then device id bytewise.
 * "No version" (a field the device never had) is below every version.
 */
#ifndef GS_HLC_H
#define GS_HLC_H

#include <stdint.h>

#define GS_HLC_MAX_COUNTER 65535
#define GS_HLC_MAX_MS      281474976710655LL /* 2^48-1: year 10889 */

typedef struct gs_hlc {
  int64_t ms;
  int32_t c;
} gs_hlc;

typedef struct gs_ver {
  int present; /* 0 = no version: below every version */
  int64_t ms;
  int32_t c;
  char dev[65];
} gs_ver;

/* Advances the clock for a local event at wall time now_ms. */
gs_hlc gs_hlc_tick(gs_hlc *h, int64_t now_ms);
/* Merges a received clock value (HLC receive rule) at wall time now_ms. */
gs_hlc gs_hlc_recv(gs_hlc *h, gs_hlc msg, int64_t now_ms);
int gs_hlc_cmp(gs_hlc a, gs_hlc b);
/* <0, 0, >0 as a < b, a == b, a > b. */
int gs_ver_cmp(const gs_ver *a, const gs_ver *b);

#endif
