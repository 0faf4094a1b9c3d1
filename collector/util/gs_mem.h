/* gs_mem.h - allocation through one small wrapper (cf. mosquitto memory_mosq.c).
 *
 * Every allocation of the project goes through these so that tests can count
 * live allocations and make the Nth allocation fail on purpose
 * (gs_mem_fail_after), exercising out-of-memory paths.
 * Not thread-safe counters: the collector is single-threaded by design.
 */
#ifndef GS_MEM_H
#define GS_MEM_H

#include <stddef.h>

/* malloc/calloc/realloc/free semantics; NULL on failure (or injected failure). */
void *gs_malloc(size_t n);
void *gs_calloc(size_t n, size_t sz);
void *gs_realloc(void *p, size_t n);
void gs_free(void *p);
/* Returns a gs_malloc'd copy of s (NULL when s is NULL or on failure). */
char *gs_strdup(const char *s);
/* Copy of the first n bytes of s, NUL-terminated. */
char *gs_strndup(const char *s, size_t n);

/* Makes room for one more element in the array *pp of n elements of elem
 * bytes whose capacity is *cap: nothing when n < *cap, else the capacity
 * doubles (first when it was 0) with gs_realloc. pp is the address of the
 * array's pointer (any object pointer type). Returns 0, or -1 when out of
 * memory, with *pp and *cap unchanged (the array stays valid). */
int gs_grow(void *pp, size_t *cap, size_t n, size_t elem, size_t first);

/* Number of live allocations made through this wrapper. */
long gs_mem_live(void);
/* Make every allocation after the next n fail (n < 0 disables). */
void gs_mem_fail_after(long n);

#endif
