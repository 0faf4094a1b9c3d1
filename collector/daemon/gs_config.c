#include "gs_config.h"

#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_util.h"

void gs_config_defaults(gs_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->db, sizeof c->db, "gridsync.db");
  c->synchronous = 2;
  c->group_max = 64;
  c->checkpoint_ms = 250;
  c->wal_restart_mb = 16;
  snprintf(c->mqtt_host, sizeof c->mqtt_host, "127.0.0.1");
  c->mqtt_port = 8883;
  snprintf(c->mqtt_client_id, sizeof c->mqtt_client_id, "gs-collector");
  c->mqtt_keepalive = 30;
  c->reconnect_min_ms = 100;
  c->reconnect_max_ms = 5000;
  c->max_batch_bytes = 1048576;
  c->max_changes = 1000;
  c->max_field_bytes = 16384;
  c->max_skew_s = 300;
  c->pull_limit_default = 500;
  c->pull_limit_max = 2000;
  c->status_enabled = 1;
  snprintf(c->timezone, sizeof c->timezone, "Asia/Shanghai");
  c->care_days = 30;
  c->publish_interval_ms = 1000;
  c->refresh_s = 60;
  c->heartbeat_s = 300;
  c->coap_enabled = 0;
  snprintf(c->coap_bind, sizeof c->coap_bind, "127.0.0.1");
  c->coap_port = 5684;
  c->coap_max_sessions = 1000;
  c->coap_idle_timeout_s = 300;
  c->coap_max_body_bytes = 1048576;
  c->log_level = GS_LOG_INFO;
}

typedef struct parse_ctx {
  FILE *f;
  int line; /* counted by our reader: Debian's inih passes no line numbers */
  gs_config *c;
  const char *path;
  char *err;
  size_t errlen;
  int failed;
} parse_ctx;

enum kind { K_STR, K_INT, K_I64, K_BOOL, K_SYNC, K_LEVEL };

typedef struct key_def {
  const char *section, *name;
  enum kind kind;
  size_t off, size;
  int64_t min, max;
} key_def;

#define S(sec, name, field)                                                                                            \
  { sec, name, K_STR, offsetof(gs_config, field), sizeof(((gs_config *)0)->field), 0, 0 }
#define I(sec, name, field, lo, hi)                                                                                    \
  { sec, name, K_INT, offsetof(gs_config, field), 0, lo, hi }
#define L(sec, name, field, lo, hi)                                                                                    \
  { sec, name, K_I64, offsetof(gs_config, field), 0, lo, hi }
#define B(sec, name, field)                                                                                            \
  { sec, name, K_BOOL, offsetof(gs_config, field), 0, 0, 1 }

static const key_def keys[] = {
    S("store", "db", db),
    {"store", "synchronous", K_SYNC, offsetof(gs_config, synchronous), 0, 0, 3},
    I("store", "group_max", group_max, 1, 4096),
    I("store", "checkpoint_ms", checkpoint_ms, 0, 600000),
    I("store", "wal_restart_mb", wal_restart_mb, 1, 4096),
    S("mqtt", "host", mqtt_host),
    I("mqtt", "port", mqtt_port, 1, 65535),
    S("mqtt", "cafile", mqtt_cafile),
    S("mqtt", "certfile", mqtt_certfile),
    S("mqtt", "keyfile", mqtt_keyfile),
    S("mqtt", "client_id", mqtt_client_id),
    I("mqtt", "keepalive", mqtt_keepalive, 5, 3600),
    I("mqtt", "reconnect_min_ms", reconnect_min_ms, 10, 60000),
    I("mqtt", "reconnect_max_ms", reconnect_max_ms, 10, 600000),
    L("limits", "max_batch_bytes", max_batch_bytes, 1024, 64 << 20),
    L("limits", "max_changes", max_changes, 1, 100000),
    L("limits", "max_field_bytes", max_field_bytes, 16, 1 << 20),
    L("limits", "max_skew_s", max_skew_s, 1, 86400 * 365),
    L("limits", "pull_limit_default", pull_limit_default, 1, 100000),
    L("limits", "pull_limit_max", pull_limit_max, 1, 100000),
    B("status", "enabled", status_enabled),
    S("status", "timezone", timezone),
    I("status", "care_days", care_days, 1, 366),
    I("status", "publish_interval_ms", publish_interval_ms, 100, 600000),
    I("status", "refresh_s", refresh_s, 1, 86400),
    I("status", "heartbeat_s", heartbeat_s, 0, 86400),
    B("coap", "enabled", coap_enabled),
    S("coap", "bind", coap_bind),
    I("coap", "port", coap_port, 1, 65535),
    S("coap", "cafile", coap_cafile),
    S("coap", "certfile", coap_certfile),
    S("coap", "keyfile", coap_keyfile),
    S("coap", "crlfile", coap_crlfile),
    I("coap", "max_sessions", coap_max_sessions, 1, 1000000),
    I("coap", "idle_timeout_s", coap_idle_timeout_s, 1, 86400),
    L("coap", "max_body_bytes", coap_max_body_bytes, 1024, 64 << 20),
    {"log", "level", K_LEVEL, offsetof(gs_config, log_level), 0, 0, 4},
};

static int fail(parse_ctx *p, int line, const char *section, const char *name, const char *what) {
  if (!p->failed) snprintf(p->err, p->errlen, "%s:%d: [%s] %s: %s", p->path, line, section, name, what);
  p->failed = 1;
  return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
  parse_ctx *p = user;
  int line = p->line;
  if (!name) return 1; /* a section header alone */
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const key_def *k = &keys[i];
    if (strcmp(k->section, section) || strcmp(k->name, name)) continue;
    char *base = (char *)p->c + k->off;
    int64_t v;
    switch (k->kind) {
    case K_STR:
      if (strlen(value) >= k->size) return fail(p, line, section, name, "value too long");
      snprintf(base, k->size, "%s", value);
      return 1;
    case K_INT:
    case K_I64:
      if (gs_parse_i64(value, k->min, k->max, &v)) {
        char m[96];
        snprintf(m, sizeof m, "'%.32s' is not a whole number from %lld to %lld", value, (long long)k->min,
                 (long long)k->max);
        return fail(p, line, section, name, m);
      }
      if (k->kind == K_INT) *(int *)base = (int)v;
      else *(int64_t *)base = v;
      return 1;
    case K_BOOL:
      if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1") || !strcmp(value, "on"))
        *(int *)base = 1;
      else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0") || !strcmp(value, "off"))
        *(int *)base = 0;
      else return fail(p, line, section, name, "must be true or false");
      return 1;
    case K_SYNC: {
      static const char *const n[] = {"off", "normal", "full", "extra"};
      for (int j = 0; j < 4; j++)
        if (!strcmp(value, n[j])) {
          *(int *)base = j;
          return 1;
        }
      return fail(p, line, section, name, "must be off, normal, full or extra");
    }
    case K_LEVEL: {
      int l = gs_log_level_parse(value);
      if (l < 0) return fail(p, line, section, name, "must be debug, info, warn, error or off");
      *(int *)base = l;
      return 1;
    }
    }
  }
  return fail(p, line, section, name, "unknown key (see docs/CONFIG.md)");
}

static char *read_line(char *str, int num, void *stream) {
  parse_ctx *p = stream;
  char *r = fgets(str, num, p->f);
  if (r) p->line++;
  return r;
}

int gs_config_load(const char *path, gs_config *c, char *err, size_t errlen) {
  gs_config tmp = *c;
  parse_ctx p = {NULL, 0, &tmp, path, err, errlen, 0};
  p.f = fopen(path, "r");
  if (!p.f) {
    snprintf(err, errlen, "%s: cannot open the configuration file", path);
    return GS_ECONFIG;
  }
  int rc = ini_parse_stream(read_line, &p, handler, &p);
  fclose(p.f);
  if (rc == -2) {
    snprintf(err, errlen, "%s: out of memory while reading", path);
    return GS_ENOMEM;
  }
  if (p.failed) return GS_ECONFIG;
  if (rc > 0) {
    snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
    return GS_ECONFIG;
  }
  if (tmp.reconnect_max_ms < tmp.reconnect_min_ms) {
    snprintf(err, errlen, "%s: [mqtt] reconnect_max_ms must be >= reconnect_min_ms", path);
    return GS_ECONFIG;
  }
  if (tmp.pull_limit_default > tmp.pull_limit_max) {
    snprintf(err, errlen, "%s: [limits] pull_limit_default must be <= pull_limit_max", path);
    return GS_ECONFIG;
  }
  *c = tmp;
  return GS_OK;
}
