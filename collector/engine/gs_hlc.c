#include "gs_hlc.h"

#include <string.h>

gs_hlc gs_hlc_tick(gs_hlc *h, int64_t now_ms) {
  if (now_ms > h->ms) {
    h->ms = now_ms;
    h->c = 0;
  } else if (h->c < GS_HLC_MAX_COUNTER) {
    h->c++;
  } else {
    /* counter exhausted within one ms: borrow the next millisecond */
    h->ms++;
    h->c = 0;
  }
  return *h;
}

gs_hlc gs_hlc_recv(gs_hlc *h, gs_hlc m, int64_t now_ms) {
  int64_t ms = now_ms;
  if (h->ms > ms) ms = h->ms;
  if (m.ms > ms) ms = m.ms;
  int32_t c;
  if (ms == h->ms && ms == m.ms) c = (h->c > m.c ? h->c : m.c) + 1;
  else if (ms == h->ms) c = h->c + 1;
  else if (ms == m.ms) c = m.c + 1;
  else c = 0;
  if (c > GS_HLC_MAX_COUNTER) {
    ms++;
    c = 0;
  }
  h->ms = ms;
  h->c = c;
  return *h;
}

int gs_hlc_cmp(gs_hlc a, gs_hlc b) {
  if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.c != b.c) return a.c < b.c ? -1 : 1;
  return 0;
}

int gs_ver_cmp(const gs_ver *a, const gs_ver *b) {
  if (!a->present || !b->present) return a->present - b->present;
  int r = gs_hlc_cmp((gs_hlc){a->ms, a->c}, (gs_hlc){b->ms, b->c});
  if (r) return r;
  r = strcmp(a->dev, b->dev); /* strcmp compares as unsigned char: bytewise */
  return r < 0 ? -1 : r > 0;
}
