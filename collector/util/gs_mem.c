#include "gs_mem.h"

#include <stdlib.h>
#include <string.h>

static long live;
static long fail_after = -1;

static int should_fail(void) {
  if (fail_after < 0) return 0;
  if (fail_after == 0) return 1;
  fail_after--;
  return 0;
}

void *gs_malloc(size_t n) {
  if (should_fail()) return NULL;
  void *p = malloc(n ? n : 1);
  if (p) live++;
  return p;
}

void *gs_calloc(size_t n, size_t sz) {
  if (should_fail()) return NULL;
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (p) live++;
  return p;
}

void *gs_realloc(void *p, size_t n) {
  if (!p) return gs_malloc(n);
  if (should_fail()) return NULL;
  return realloc(p, n ? n : 1);
}

void gs_free(void *p) {
  if (!p) return;
  live--;
  free(p);
}

char *gs_strndup(const char *s, size_t n) {
  if (!s) return NULL;
  char *d = gs_malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *gs_strdup(const char *s) { return s ? gs_strndup(s, strlen(s)) : NULL; }

long gs_mem_live(void) { return live; }
void gs_mem_fail_after(long n) { fail_after = n; }

int gs_grow(void *pp, size_t *cap, size_t n, size_t elem, size_t first) {
  if (n < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : first;
  void *p;
  memcpy(&p, pp, sizeof p);
  void *np = gs_realloc(p, ncap * elem);
  if (!np) return -1;
  memcpy(pp, &np, sizeof np);
  *cap = ncap;
  return 0;
}
