/* rules.c - who may touch which topic (see rules.h and docs/PROTOCOL.md, "Sync over MQTT"). */
#include "rules.h"

#include <stdio.h>
#include <string.h>

#define COLLECTOR_CN  "gs-collector"
#define BRIDGE_PREFIX "bridge-"
#define STATUS_ALL    "gs/v1/status/#"

int gs_rules_valid_cn(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 3 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
  }
  return 1;
}

/* Length of the topic level starting at s (up to '/' or the end). */
static size_t level_len(const char *s) {
  const char *slash = strchr(s, '/');
  return slash ? (size_t)(slash - s) : strlen(s);
}

int gs_rules_topic_within(const char *filter, const char *pattern) {
  const char *f = filter, *p = pattern;
  if (!f || !p) return 0;
  for (;;) {
    size_t fl = level_len(f), pl = level_len(p);
    if (pl == 1 && p[0] == '#') return 1; /* pattern covers the rest, whatever it is */
    if (fl == 1 && f[0] == '#') return 0; /* filter wants more than the pattern gives */
    if (!(pl == 1 && p[0] == '+')) {
      /* literal pattern level: the filter level must be the same literal */
      if (fl != pl || memcmp(f, p, pl) != 0) return 0;
    }
    int fend = f[fl] == '\0', pend = p[pl] == '\0';
    if (fend || pend) return fend && pend;
    f += fl + 1;
    p += pl + 1;
  }
}

static int any_within(const char *topic, const char *const *patterns, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (gs_rules_topic_within(topic, patterns[i])) return 1;
  return 0;
}

int gs_rules_allowed(const char *cn, const char *topic, int access) {
  if (!topic) return 0;
  if (access == GS_ACC_UNSUBSCRIBE) return 1; /* dropping a subscription is always harmless */
  /* A shared subscription "$share/<group>/<filter>" is judged by its filter. */
  if (access == GS_ACC_SUBSCRIBE && strncmp(topic, "$share/", 7) == 0) {
    const char *g = strchr(topic + 7, '/');
    if (!g) return 0;
    topic = g + 1;
  }
  int read = access == GS_ACC_READ || access == GS_ACC_SUBSCRIBE;
  int write = access == GS_ACC_WRITE;
  if (!read && !write) return 0;

  if (!cn) { /* dashboard: status, read-only */
    return read && gs_rules_topic_within(topic, STATUS_ALL);
  }
  if (!gs_rules_valid_cn(cn)) return 0;
  if (strcmp(cn, COLLECTOR_CN) == 0) {
    static const char *const r[] = {"gs/v1/dev/+/up", "gs/v1/dev/+/pull", STATUS_ALL};
    static const char *const w[] = {"gs/v1/dev/+/ack", "gs/v1/dev/+/down", STATUS_ALL};
    return read ? any_within(topic, r, 3) : any_within(topic, w, 3);
  }
  if (strncmp(cn, BRIDGE_PREFIX, strlen(BRIDGE_PREFIX)) == 0) { return gs_rules_topic_within(topic, STATUS_ALL); }
  /* a device: its own topics only */
  char a[96], b[96];
  if (read) {
    snprintf(a, sizeof(a), "gs/v1/dev/%s/ack", cn);
    snprintf(b, sizeof(b), "gs/v1/dev/%s/down", cn);
  } else {
    snprintf(a, sizeof(a), "gs/v1/dev/%s/up", cn);
    snprintf(b, sizeof(b), "gs/v1/dev/%s/pull", cn);
  }
  const char *const own[] = {a, b};
  return any_within(topic, own, 2);
}
