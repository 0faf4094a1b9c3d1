/* gs_tz.h - an IANA time zone, read from the zoneinfo database, passed to
 * whoever needs local civil time (the status documents' day, period and as_of:
 * docs/PROTOCOL.md, "Status").
 *
 * Why not TZ + localtime_r: the zone would be a property of the process
 * (setenv is not thread-safe, and two modules with two zones cannot share one
 * process). A gs_tz is a value: load it once, convert with it anywhere.
 *
 * The file is a TZif file (RFC 8536, version 2 or later preferred) under
 * $TZDIR, else /usr/share/zoneinfo. Instants after its last transition follow
 * the POSIX TZ rule in its footer, as glibc does. Leap-second ("right/") files
 * are read but their leap records ignored: civil time here is POSIX time.
 *
 * A NULL gs_tz is UTC in every function below.
 *
 * Threading: a loaded gs_tz is immutable; any thread may convert with it.
 */
#ifndef GS_TZ_H
#define GS_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct gs_tz gs_tz;

/* Local civil time of one instant. */
typedef struct gs_tz_civil {
  int year, month, day; /* month 1..12, day 1..31 */
  int hour, min, sec;   /* 0..23, 0..59, 0..59 */
  int utcoff;           /* seconds east of UTC at that instant (+28800 for Asia/Shanghai) */
} gs_tz_civil;

/* Loads zone `name` ("Asia/Shanghai", "UTC"). NULL or "" is the system's
 * zone (/etc/localtime, UTC when there is none). "UTC" and "Etc/UTC" work
 * even without a zoneinfo database. Returns GS_OK and *out (free with
 * gs_tz_free); GS_ECONFIG for an unknown or malformed zone with one line in
 * err saying which file was tried and what to do; GS_ENOMEM. */
int gs_tz_load(gs_tz **out, const char *name, char *err, size_t errlen);
/* NULL-safe. */
void gs_tz_free(gs_tz *z);
/* The name it was loaded with ("" for the system's zone); valid until free. */
const char *gs_tz_name(const gs_tz *z);

/* Offset east of UTC, in seconds, in force at unix time t (seconds). */
int gs_tz_utcoff(const gs_tz *z, int64_t t);
/* Local civil time of ms (milliseconds since the epoch, floored to seconds). */
void gs_tz_civil_of(const gs_tz *z, int64_t ms, gs_tz_civil *out);
/* The instant (ms) of local civil time y-mo-d h:mi:s. In a gap (spring
 * forward) or an overlap (fall back) it picks the offset in force just before
 * the change, as mktime with tm_isdst = -1 usually does. */
int64_t gs_tz_to_utc(const gs_tz *z, int y, int mo, int d, int h, int mi, int s);

/* "2026-11", "2026-11-23" and "2026-11-23T08:00:00+08:00" of ms in zone z. */
void gs_tz_period(const gs_tz *z, int64_t ms, char out[8]);
void gs_tz_day(const gs_tz *z, int64_t ms, char out[11]);
void gs_tz_iso(const gs_tz *z, int64_t ms, char out[32]);

#endif
