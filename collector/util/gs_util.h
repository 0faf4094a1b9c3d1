/* gs_util.h - small checked helpers shared by every program. */
#ifndef GS_UTIL_H
#define GS_UTIL_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

/* Org unit id: [A-Za-z0-9_-]{1,64}. Returns 1 when valid. */
int gs_valid_org_id(const char *s);
/* Device id: [a-z0-9-]{3,64}. Returns 1 when valid. */
int gs_valid_device_id(const char *s);
/* Entity/change id: [A-Za-z0-9_-]{1,64} (UUIDs and similar). */
int gs_valid_entity_id(const char *s);
/* Valid UTF-8 (no overlongs, no surrogates) of exactly n bytes. */
int gs_valid_utf8(const char *s, size_t n);
/* Number of code points of valid UTF-8 s. */
size_t gs_utf8_len(const char *s);
/* Terminal columns of UTF-8 s: 2 for East Asian wide characters (汉字),
 * 1 for others; for aligning tables with Chinese names. */
size_t gs_utf8_width(const char *s);

/* strtoll with full checks: whole string, range [min,max]. GS_OK or GS_EINVAL. */
int gs_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Wall clock in ms since the Unix epoch; monotonic clock in ms. */
int64_t gs_now_ms(void);
int64_t gs_mono_ms(void);

/* Reads a whole file into a gs_malloc'd NUL-terminated buffer. Caller frees. */
int gs_read_file(const char *path, size_t max, char **out, size_t *len);

/* pthread_create for a thread that must never take a process-directed
 * signal: the daemon reads SIGTERM/SIGHUP from a signalfd, which sees only
 * signals every thread blocks, and one thread with an empty mask would take
 * them (and die of SIGHUP's default action). The thread starts with every
 * signal blocked. Returns pthread_create's result. */
int gs_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Fills buf (>= 37 bytes) with a random RFC 9562 v4 UUID. */
void gs_uuid4(char buf[37]);
/* Fills buf with an RFC 9562 v7 UUID: ms (Unix epoch) in the first 48 bits,
 * then 74 random bits. Ids made in time order sort in time order, so the
 * store's indexes on them take new keys on a few pages at their right edge
 * instead of one random page each (docs/PROTOCOL.md, "Ids"). */
void gs_uuid7(int64_t ms, char buf[37]);

#endif
