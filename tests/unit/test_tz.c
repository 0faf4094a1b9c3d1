/* gs_tz against glibc: for several zones and many instants (1901..2100, DST
 * changes on both sides, the far side of each zone's last transition where
 * the footer's POSIX rule applies), gs_tz's offset and civil time equal
 * localtime_r's with TZ set to the same zone. Setting TZ is fine here: this
 * process is the test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs_error.h"
#include "gs_mem.h"
#include "gs_tz.h"
#include "tharness.h"

static const char *const zones[] = {"Asia/Shanghai",    "UTC",          "Europe/Berlin",     "America/New_York",
                                    "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham"};

static void compare_at(const gs_tz *z, const char *name, int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;
  assert_non_null(localtime_r(&tt, &tm));
  gs_tz_civil c;
  gs_tz_civil_of(z, t * 1000 + 999, &c);
  if (c.utcoff != tm.tm_gmtoff || c.year != tm.tm_year + 1900 || c.month != tm.tm_mon + 1 || c.day != tm.tm_mday ||
      c.hour != tm.tm_hour || c.min != tm.tm_min || c.sec != tm.tm_sec)
    fail_msg("%s at %lld: gs_tz %04d-%02d-%02d %02d:%02d:%02d %+d, glibc %04d-%02d-%02d %02d:%02d:%02d %+ld", name,
             (long long)t, c.year, c.month, c.day, c.hour, c.min, c.sec, c.utcoff, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tm.tm_gmtoff);
}

static void test_against_glibc(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
    char err[512] = "";
    gs_tz *z = NULL;
    if (gs_tz_load(&z, zones[i], err, sizeof err) != GS_OK) fail_msg("%s", err);
    setenv("TZ", zones[i], 1);
    tzset();
    /* every ~3.7 hours from 1901 to 2100: every DST change gets instants on both sides */
    for (int64_t t = -INT64_C(2147483648); t < INT64_C(4102444800); t += 13331) compare_at(z, zones[i], t);
    /* a second either side of every hour for five years around now */
    for (int64_t t = INT64_C(1735689600); t < INT64_C(1735689600) + 5 * 366 * 86400; t += 3600) {
      compare_at(z, zones[i], t - 1);
      compare_at(z, zones[i], t);
    }
    gs_tz_free(z);
  }
  unsetenv("TZ");
  tzset();
}

static void test_formats(void **state) {
  (void)state;
  char err[512], d[11], p[8], iso[32];
  gs_tz *z = NULL;
  assert_int_equal(gs_tz_load(&z, "Asia/Shanghai", err, sizeof err), GS_OK);
  int64_t ms = INT64_C(1763856000000); /* 2025-11-23T00:00:00Z */
  gs_tz_day(z, ms - 1, d);
  gs_tz_period(z, ms, p);
  gs_tz_iso(z, ms, iso);
  assert_string_equal(d, "2025-11-23");
  assert_string_equal(p, "2025-11");
  assert_string_equal(iso, "2025-11-23T08:00:00+08:00");
  assert_int_equal(gs_tz_to_utc(z, 2025, 11, 23, 8, 0, 0), ms);
  gs_tz_free(z);
  assert_int_equal(gs_tz_load(&z, "America/New_York", err, sizeof err), GS_OK);
  gs_tz_iso(z, ms, iso);
  assert_string_equal(iso, "2025-11-22T19:00:00-05:00");
  /* local midnight of a DST day, and an hour in the spring-forward gap */
  assert_int_equal(gs_tz_to_utc(z, 2025, 3, 9, 0, 0, 0), INT64_C(1741496400000));
  assert_int_equal(gs_tz_to_utc(z, 2025, 7, 1, 0, 0, 0), INT64_C(1751342400000));
  gs_tz_free(z);
}

static void test_unknown_zone(void **state) {
  (void)state;
  char err[512] = "";
  gs_tz *z = NULL;
  assert_int_equal(gs_tz_load(&z, "Asia/Atlantis", err, sizeof err), GS_ECONFIG);
  assert_null(z);
  assert_non_null(strstr(err, "Asia/Atlantis"));
  assert_non_null(strstr(err, "zoneinfo/Asia/Atlantis"));
  assert_non_null(strstr(err, "tzdata"));
  assert_int_equal(gs_tz_load(&z, "../../etc/passwd", err, sizeof err), GS_ECONFIG);
  assert_int_equal(gs_tz_load(&z, "/etc/localtime", err, sizeof err), GS_ECONFIG);
  /* TZDIR is honoured; UTC needs no database */
  setenv("TZDIR", "/nonexistent", 1);
  assert_int_equal(gs_tz_load(&z, "Asia/Shanghai", err, sizeof err), GS_ECONFIG);
  assert_non_null(strstr(err, "/nonexistent/Asia/Shanghai"));
  assert_int_equal(gs_tz_load(&z, "UTC", err, sizeof err), GS_OK);
  char iso[32];
  gs_tz_iso(z, 0, iso);
  assert_string_equal(iso, "1970-01-01T00:00:00+00:00");
  gs_tz_free(z);
  unsetenv("TZDIR");
  assert_int_equal(gs_mem_live(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_against_glibc),
      cmocka_unit_test(test_formats),
      cmocka_unit_test(test_unknown_zone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
