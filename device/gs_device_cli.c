/* gs_device_cli.c - gs-device, the reference device's command line.
 *
 *   gs-device --home DIR init ... | set | household add | visit add |
 *             report add | delete | sync | show | list | status | rejected
 *
 * Exit status: 0 done, 1 failed (message on stderr), 2 usage error.
 * Every edit is durable in DIR/device.db when the command returns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_device.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_util.h"

#define EXIT_USAGE 2

static const char *prog = "gs-device";

static void usage(FILE *f) {
  fprintf(f, "usage: gs-device --home DIR [-v] COMMAND ...\n"
             "  init --id DEV --ca CA --cert CRT --key KEY --host H --mqtt-port P [--coap-port P]\n"
             "  init --bundle DIR\n"
             "  set TYPE [ID] field=value ...     (value is JSON when it parses, else a string)\n"
             "  household add --grid G --address A [field=value ...]\n"
             "  visit add --grid G --household H [--kind routine] [field=value ...]\n"
             "  report add --grid G --category C --title T [--urgency normal] [field=value ...]\n"
             "  delete TYPE ID\n"
             "  sync [--mqtt | --coap] [--timeout SECS] [--request-timeout SECS] [--batch N] [--push-only]\n"
             "  show TYPE ID | list TYPE [--grid G] | status | rejected\n"
             "TYPE is household, visit or report. DIR may also come from GS_DEVICE_HOME.\n");
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
die_usage(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see gs-device --help)\n");
  return EXIT_USAGE;
}

static int fail(gs_dev *dev, int err, const char *what) {
  const char *m = dev ? gs_dev_errmsg(dev) : "";
  fprintf(stderr, "%s: %s failed: %s\n", prog, what, m && *m ? m : gs_strerror(err));
  return 1;
}

static int known_type(const char *t) {
  return t && (!strcmp(t, "household") || !strcmp(t, "visit") || !strcmp(t, "report"));
}

static int parse_secs(const char *s, int *ms) {
  int64_t v;
  if (!s || gs_parse_i64(s, 1, 86400, &v) != GS_OK) return 0;
  *ms = (int)(v * 1000);
  return 1;
}

/* Adds "field=value" to obj: value as JSON when it parses, else a string. */
static int add_assignment(cJSON *obj, const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) return die_usage("expected field=value, got '%s'", arg);
  char name[80];
  size_t n = (size_t)(eq - arg);
  if (n >= sizeof(name)) return die_usage("field name too long in '%s'", arg);
  memcpy(name, arg, n);
  name[n] = 0;
  if (cJSON_GetObjectItemCaseSensitive(obj, name)) return die_usage("field '%s' given twice", name);
  const char *end = NULL;
  cJSON *v = cJSON_ParseWithOpts(eq + 1, &end, 1);
  if (!v) v = cJSON_CreateString(eq + 1);
  if (!v || !cJSON_AddItemToObject(obj, name, v)) {
    cJSON_Delete(v);
    fprintf(stderr, "%s: out of memory\n", prog);
    return 1;
  }
  return 0;
}

static int add_str(cJSON *obj, const char *k, const char *v) {
  cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
  return cJSON_AddStringToObject(obj, k, v) ? 0 : 1;
}

static void print_json(const cJSON *j) {
  char *s = cJSON_Print(j);
  if (s) {
    puts(s);
    cJSON_free(s);
  }
}

/* ---- commands ---------------------------------------------------------- */

static int cmd_init(const char *home, int argc, char **argv) {
  gs_dev_conf c;
  const char *bundle = NULL, *mp = NULL, *cp = NULL;
  char err[600];
  int64_t port;
  memset(&c, 0, sizeof(c));
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **dst = !strcmp(a, "--id")          ? &c.id
                       : !strcmp(a, "--ca")        ? &c.ca
                       : !strcmp(a, "--cert")      ? &c.cert
                       : !strcmp(a, "--key")       ? &c.key
                       : !strcmp(a, "--host")      ? &c.host
                       : !strcmp(a, "--mqtt-port") ? &mp
                       : !strcmp(a, "--coap-port") ? &cp
                       : !strcmp(a, "--bundle")    ? &bundle
                                                   : NULL;
    if (!dst) return die_usage("init: unknown option '%s'", a);
    if (!v) return die_usage("init: %s needs a value", a);
    *dst = v;
    i++;
  }
  int rc;
  if (bundle) {
    if (c.id || c.ca || c.cert || c.key || c.host || mp || cp)
      return die_usage("init: --bundle excludes the other options");
    rc = gs_dev_init_bundle(home, bundle, err, sizeof(err));
  } else {
    if (!c.id || !c.ca || !c.cert || !c.key || !c.host || !mp)
      return die_usage("init: needs --id, --ca, --cert, --key, --host and --mqtt-port, or "
                       "--bundle DIR");
    if (gs_parse_i64(mp, 1, 65535, &port) != GS_OK)
      return die_usage("init: --mqtt-port '%s' is not a port number (1-65535)", mp);
    c.mqtt_port = (int)port;
    if (cp) {
      if (gs_parse_i64(cp, 1, 65535, &port) != GS_OK)
        return die_usage("init: --coap-port '%s' is not a port number (1-65535)", cp);
      c.coap_port = (int)port;
    }
    rc = gs_dev_init(home, &c, err, sizeof(err));
  }
  if (rc) {
    fprintf(stderr, "%s: init failed: %s\n", prog, err);
    return 1;
  }
  gs_dev *dev = NULL;
  if (gs_dev_open(home, &dev, err, sizeof(err)) != GS_OK) {
    fprintf(stderr, "%s: init wrote %s but it does not open: %s\n", prog, home, err);
    return 1;
  }
  printf("initialised device %s in %s\n", gs_dev_id(dev), home);
  gs_dev_close(dev);
  return 0;
}

/* Writes fields to (type, id) and prints the entity id. */
static int do_set(gs_dev *dev, const char *type, const char *id, cJSON *fields) {
  char out[80];
  int err = gs_dev_set(dev, type, id, fields, out);
  if (err) return fail(dev, err, "set");
  puts(out);
  return 0;
}

static int cmd_set(gs_dev *dev, int argc, char **argv) {
  if (argc < 1 || !known_type(argv[0]))
    return die_usage("set: TYPE must be household, visit or report, got '%s'", argc ? argv[0] : "");
  const char *type = argv[0], *id = NULL;
  int i = 1, rc = 0;
  if (i < argc && !strchr(argv[i], '=')) id = argv[i++];
  if (id && !gs_valid_entity_id(id)) return die_usage("set: '%s' is not a valid entity id", id);
  if (i >= argc) return die_usage("set: give at least one field=value");
  cJSON *f = cJSON_CreateObject();
  for (; i < argc && !rc; i++) rc = add_assignment(f, argv[i]);
  if (!rc && !id && !cJSON_GetObjectItemCaseSensitive(f, "grid"))
    rc = die_usage("set: a new %s needs grid=<grid id> (or give the ID of an existing one)", type);
  if (!rc) rc = do_set(dev, type, id, f);
  cJSON_Delete(f);
  return rc;
}

/* household/visit/report add: named options then field=value pairs. */
static int cmd_add(gs_dev *dev, const char *type, int argc, char **argv) {
  static const char *const opts[3][5] = {
      {"grid", "address", NULL},
      {"grid", "household", "kind", NULL},
      {"grid", "category", "title", "urgency", NULL},
  };
  int t = !strcmp(type, "household") ? 0 : !strcmp(type, "visit") ? 1 : 2;
  if (argc < 1 || strcmp(argv[0], "add") != 0) return die_usage("%s: the only subcommand is 'add'", type);
  cJSON *f = cJSON_CreateObject();
  int rc = 0;
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "--", 2)) {
      int known = 0;
      for (int k = 0; opts[t][k]; k++) known |= !strcmp(a + 2, opts[t][k]);
      if (!known) rc = die_usage("unknown option '%s'", a);
      else if (i + 1 >= argc) rc = die_usage("%s needs a value", a);
      else if (cJSON_GetObjectItemCaseSensitive(f, a + 2)) rc = die_usage("%s given twice", a);
      else rc = add_str(f, a + 2, argv[++i]);
    } else {
      rc = add_assignment(f, a);
    }
  }
  if (rc) goto out;
  const char *required[3][4] = {
      {"grid", "address", NULL}, {"grid", "household", NULL}, {"grid", "category", "title", NULL}};
  for (int k = 0; required[t][k]; k++)
    if (!cJSON_GetObjectItemCaseSensitive(f, required[t][k])) {
      fprintf(stderr, "%s: %s add needs --%s\n", prog, type, required[t][k]);
      rc = EXIT_USAGE;
      goto out;
    }
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(f, "grid");
  if (!cJSON_IsString(g) || !gs_valid_org_id(g->valuestring)) {
    rc = die_usage("--grid '%s' is not a valid org id ([A-Za-z0-9_-]{1,64})", cJSON_IsString(g) ? g->valuestring : "");
    goto out;
  }
  if (t == 1) {
    if (!cJSON_GetObjectItemCaseSensitive(f, "kind")) add_str(f, "kind", "routine");
    if (!cJSON_GetObjectItemCaseSensitive(f, "visited_at"))
      cJSON_AddNumberToObject(f, "visited_at", (double)gs_now_ms());
  } else if (t == 2) {
    if (!cJSON_GetObjectItemCaseSensitive(f, "urgency")) add_str(f, "urgency", "normal");
    if (!cJSON_GetObjectItemCaseSensitive(f, "status")) add_str(f, "status", "open");
  }
  rc = do_set(dev, type, NULL, f);
out:
  cJSON_Delete(f);
  return rc;
}

static int cmd_sync(gs_dev *dev, int argc, char **argv) {
  gs_dev_sync_opts o = {30000, 10000, 200, 200 * 1024, 500, 0};
  gs_dev_sync_stats st;
  gs_dev_transport t;
  int64_t n;
  const char *transport = NULL; /* default: MQTT */
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--push-only")) {
      o.no_pull = 1;
    } else if (!strcmp(a, "--mqtt") || !strcmp(a, "--coap")) {
      if (transport && strcmp(transport, a + 2)) return die_usage("sync: give --mqtt or --coap, not both");
      transport = a + 2;
    } else if (!strcmp(a, "--timeout")) {
      if (!parse_secs(v, &o.timeout_ms))
        return die_usage("sync: --timeout needs seconds (1-86400), got '%s'", v ? v : "");
      i++;
    } else if (!strcmp(a, "--request-timeout")) {
      if (!parse_secs(v, &o.request_timeout_ms))
        return die_usage("sync: --request-timeout needs seconds (1-86400), got '%s'", v ? v : "");
      i++;
    } else if (!strcmp(a, "--batch")) {
      if (!v || gs_parse_i64(v, 1, 10000, &n) != GS_OK)
        return die_usage("sync: --batch needs a count (1-10000), got '%s'", v ? v : "");
      o.max_changes = (int)n;
      i++;
    } else {
      return die_usage("sync: unknown option '%s'", a);
    }
  }
  if (o.request_timeout_ms > o.timeout_ms) o.request_timeout_ms = o.timeout_ms;
  int err;
  if (transport && !strcmp(transport, "coap")) {
#ifdef GS_DEVICE_HAVE_COAP
    err = gs_dev_coap_transport(dev, &t);
#else
    fprintf(stderr,
            "%s: sync --coap: this gs-device was built without CoAP (libcoap-3-openssl "
            "not found at build time); use --mqtt\n",
            prog);
    return 1;
#endif
  } else {
    err = gs_dev_mqtt_transport(dev, &t);
  }
  if (err) return fail(dev, err, "sync");
  err = gs_dev_sync(dev, &t, &o, &st);
  t.ops->destroy(t.ctx);
  printf("pushed %lld, applied %lld, duplicates %lld, rejected %lld, conflicts %lld, "
         "pulled %lld entities\n",
         (long long)st.pushed, (long long)st.applied, (long long)st.duplicates, (long long)st.rejected,
         (long long)st.conflicts, (long long)st.pulled);
  if (err) {
    gs_dev_status s;
    fprintf(stderr, "%s: sync incomplete: %s", prog, gs_dev_errmsg(dev));
    if (gs_dev_get_status(dev, &s) == GS_OK)
      fprintf(stderr, " (%lld changes still pending; nothing is lost, run sync again)", (long long)s.outbox);
    fprintf(stderr, "\n");
    return 1;
  }
  if (st.rejected)
    fprintf(stderr, "%s: %lld changes were rejected; see 'gs-device rejected'\n", prog, (long long)st.rejected);
  return 0;
}

static int cmd_show(gs_dev *dev, int argc, char **argv) {
  cJSON *e = NULL;
  if (argc != 2 || !known_type(argv[0])) return die_usage("show needs TYPE ID (TYPE is household, visit or report)");
  int err = gs_dev_get(dev, argv[0], argv[1], &e);
  if (err) return fail(dev, err, "show");
  print_json(e);
  cJSON_Delete(e);
  return 0;
}

static int cmd_list(gs_dev *dev, int argc, char **argv) {
  const char *grid = NULL;
  cJSON *a = NULL, *e;
  if (argc < 1 || !known_type(argv[0])) return die_usage("list needs TYPE (household, visit or report)");
  if (argc == 3 && !strcmp(argv[1], "--grid")) grid = argv[2];
  else if (argc != 1) return die_usage("list: usage is list TYPE [--grid G]");
  int err = gs_dev_list(dev, argv[0], grid, &a);
  if (err) return fail(dev, err, "list");
  cJSON_ArrayForEach(e, a) {
    char *f = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(e, "fields"));
    printf("%s\t%s\n", cJSON_GetObjectItemCaseSensitive(e, "id")->valuestring, f ? f : "");
    cJSON_free(f);
  }
  cJSON_Delete(a);
  return 0;
}

static int cmd_status(gs_dev *dev) {
  gs_dev_status s;
  int err = gs_dev_get_status(dev, &s);
  if (err) return fail(dev, err, "status");
  printf("device %s\noutbox %lld\nnext_seq %lld\nacked_seq %lld\ncursor %lld\nhlc [%lld,%d]\n"
         "rejected %lld\n",
         s.id, (long long)s.outbox, (long long)s.next_seq, (long long)s.acked_seq, (long long)s.cursor,
         (long long)s.hlc_ms, s.hlc_c, (long long)s.rejected);
  return 0;
}

static int cmd_rejected(gs_dev *dev) {
  cJSON *a = NULL, *r;
  int err = gs_dev_rejected(dev, &a);
  if (err) return fail(dev, err, "rejected");
  cJSON_ArrayForEach(r, a) {
    char *ch = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "change"));
    printf("seq %lld %s %s/%s: %s %s\n\t%s\n", (long long)cJSON_GetObjectItemCaseSensitive(r, "seq")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring,
           cJSON_GetObjectItemCaseSensitive(r, "type")->valuestring,
           cJSON_GetObjectItemCaseSensitive(r, "entity")->valuestring,
           cJSON_GetObjectItemCaseSensitive(r, "error")->valuestring,
           cJSON_GetObjectItemCaseSensitive(r, "detail")->valuestring, ch ? ch : "");
    cJSON_free(ch);
  }
  cJSON_Delete(a);
  return 0;
}

int main(int argc, char **argv) {
  const char *home = getenv("GS_DEVICE_HOME");
  int level = GS_LOG_WARN, i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--home") && i + 1 < argc) home = argv[++i];
    else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) level = level > GS_LOG_DEBUG ? level - 1 : level;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else return die_usage("unknown option '%s'", argv[i]);
  }
  gs_log_init(prog, level);
  if (i >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!home || !*home) return die_usage("no device home: give --home DIR or set GS_DEVICE_HOME");
  const char *cmd = argv[i];
  int ac = argc - i - 1;
  char **av = argv + i + 1;
  if (!strcmp(cmd, "init")) return cmd_init(home, ac, av);

  static const char *const cmds[] = {"set",  "household", "visit",  "report",   "delete", "sync",
                                     "show", "list",      "status", "rejected", NULL};
  int known = 0;
  for (int k = 0; cmds[k]; k++) known |= !strcmp(cmd, cmds[k]);
  if (!known) return die_usage("unknown command '%s'", cmd);

  gs_dev *dev = NULL;
  char err[600];
  if (gs_dev_open(home, &dev, err, sizeof(err)) != GS_OK) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return 1;
  }
  int rc;
  if (!strcmp(cmd, "set")) rc = cmd_set(dev, ac, av);
  else if (!strcmp(cmd, "household") || !strcmp(cmd, "visit") || !strcmp(cmd, "report")) rc = cmd_add(dev, cmd, ac, av);
  else if (!strcmp(cmd, "delete")) {
    if (ac != 2 || !known_type(av[0])) rc = die_usage("delete needs TYPE ID (TYPE is household, visit or report)");
    else {
      int e = gs_dev_delete(dev, av[0], av[1]);
      rc = e ? fail(dev, e, "delete") : (printf("%s\n", av[1]), 0);
    }
  } else if (!strcmp(cmd, "sync")) rc = cmd_sync(dev, ac, av);
  else if (!strcmp(cmd, "show")) rc = cmd_show(dev, ac, av);
  else if (!strcmp(cmd, "list")) rc = cmd_list(dev, ac, av);
  else if (!strcmp(cmd, "status")) rc = ac ? die_usage("status takes no arguments") : cmd_status(dev);
  else rc = ac ? die_usage("rejected takes no arguments") : cmd_rejected(dev);
  gs_dev_close(dev);
  return rc;
}
