/* test_rules.c - unit tests of the broker plugin's topic rules (rules.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rules.h"

enum { R = GS_ACC_READ, W = GS_ACC_WRITE, S = GS_ACC_SUBSCRIBE, U = GS_ACC_UNSUBSCRIBE };

static void test_within(void **state) {
  (void)state;
  assert_true(gs_rules_topic_within("gs/v1/dev/a/up", "gs/v1/dev/+/up"));
  assert_true(gs_rules_topic_within("gs/v1/dev/+/up", "gs/v1/dev/+/up"));
  assert_true(gs_rules_topic_within("gs/v1/status/a/b", "gs/v1/status/#"));
  assert_true(gs_rules_topic_within("gs/v1/status/#", "gs/v1/status/#"));
  assert_true(gs_rules_topic_within("gs/v1/status/+", "gs/v1/status/#"));
  assert_false(gs_rules_topic_within("gs/v1/dev/#", "gs/v1/dev/+/up"));
  assert_false(gs_rules_topic_within("gs/v1/dev/+/+", "gs/v1/dev/+/up"));
  assert_false(gs_rules_topic_within("gs/v1/dev/a/up/x", "gs/v1/dev/+/up"));
  assert_false(gs_rules_topic_within("gs/v1/dev/a", "gs/v1/dev/+/up"));
  assert_false(gs_rules_topic_within("#", "gs/v1/status/#"));
  assert_false(gs_rules_topic_within("+/v1/status/x", "gs/v1/status/#"));
  assert_false(gs_rules_topic_within("gs/v1/dev/a/+", "gs/v1/dev/a/up"));
  assert_false(gs_rules_topic_within("", "gs/v1/dev/a/up"));
}

static void test_device(void **state) {
  (void)state;
  assert_true(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/up", W));
  assert_true(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/pull", W));
  assert_true(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/ack", S));
  assert_true(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/down", R));
  assert_true(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/+", U));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/ack", W));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/up", S));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/dev/dev-2/up", W));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/dev/dev-2/ack", S));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/dev/+/ack", S));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/dev/dev-1/#", S));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/status/g-1", R));
  assert_false(gs_rules_allowed("dev-1", "gs/v1/status/g-1", W));
  assert_false(gs_rules_allowed("dev-1", "$SYS/broker/uptime", S));
  assert_false(gs_rules_allowed("DEV_1", "gs/v1/dev/DEV_1/up", W)); /* not a gridsync id */
  assert_false(gs_rules_allowed("a+", "gs/v1/dev/a+/up", W));
}

static void test_services(void **state) {
  (void)state;
  const char *c = "gs-collector";
  assert_true(gs_rules_allowed(c, "gs/v1/dev/+/up", S));
  assert_true(gs_rules_allowed(c, "$share/col/gs/v1/dev/+/up", S));
  assert_true(gs_rules_allowed(c, "gs/v1/dev/dev-1/pull", R));
  assert_true(gs_rules_allowed(c, "gs/v1/dev/dev-1/ack", W));
  assert_true(gs_rules_allowed(c, "gs/v1/dev/dev-1/down", W));
  assert_true(gs_rules_allowed(c, "gs/v1/status/g-1", W));
  assert_true(gs_rules_allowed(c, "gs/v1/status/#", S));
  assert_false(gs_rules_allowed(c, "gs/v1/dev/dev-1/up", W));
  assert_false(gs_rules_allowed(c, "gs/v1/dev/+/ack", S));
  assert_false(gs_rules_allowed(c, "#", S));
  assert_false(gs_rules_allowed(c, "$share/col/#", S));
  assert_true(gs_rules_allowed("bridge-north", "gs/v1/status/c-1", W));
  assert_true(gs_rules_allowed("bridge-north", "gs/v1/status/#", S));
  assert_false(gs_rules_allowed("bridge-north", "gs/v1/dev/+/up", S));
  assert_false(gs_rules_allowed("bridge-north", "gs/v1/dev/bridge-north/up", W));
}

static void test_dashboard(void **state) {
  (void)state;
  assert_true(gs_rules_allowed(NULL, "gs/v1/status/#", S));
  assert_true(gs_rules_allowed(NULL, "gs/v1/status/g-1", R));
  assert_false(gs_rules_allowed(NULL, "gs/v1/status/g-1", W));
  assert_false(gs_rules_allowed(NULL, "gs/v1/dev/+/up", S));
  assert_false(gs_rules_allowed(NULL, "#", S));
  assert_false(gs_rules_allowed(NULL, NULL, R));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_within),
      cmocka_unit_test(test_device),
      cmocka_unit_test(test_services),
      cmocka_unit_test(test_dashboard),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
