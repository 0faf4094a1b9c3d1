/* gs_device_cli.c - gs-device, the reference device's command line.
 *
 *   gs-device --home DIR init ... | set | household add | visit add |
 *             report add | delete | sync | show | list | status | rejected
 *
 * Exit status: 0 done, 1 failed (message on stderr), 2 usage error (the
 * command line is checked whole before the device is opened: nothing done).
 * Options take "--opt VALUE" or "--opt=VALUE" (gs_cli.h).
 * Every edit is durable in DIR/device.db when the command returns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_cli.h"
#include "gs_device.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_util.h"

#define EXIT_USAGE GS_CLI_EXIT_USAGE

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
             "  --help, --version\n"
             "TYPE is household, visit or report. DIR may also come from GS_DEVICE_HOME.\n");
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
die_usage(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return gs_cli_usage_error(prog, "%s", msg);
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

/* Opens the device home after the command line has been checked. */
static int open_dev(const char *home, gs_dev **dev) {
  char err[600];
  if (gs_dev_open(home, dev, err, sizeof(err)) != GS_OK) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return 1;
  }
  return 0;
}

/* The operands of a command that has no options (argv[0] is the command):
 * any "--x" is refused. Leaves optind at the first operand. */
static int no_options(int argc, char **argv) {
  static const struct option none[] = {{NULL, 0, NULL, 0}};
  optind = 0;
  return gs_cli_getopt(prog, argc, argv, "", none) == -1 ? 0 : EXIT_USAGE;
}

static int cmd_init(const char *home, int argc, char **argv) {
  enum { O_ID = 256, O_CA, O_CERT, O_KEY, O_HOST, O_MQTT_PORT, O_COAP_PORT, O_BUNDLE };
  static const struct option o[] = {{"id", required_argument, NULL, O_ID},
                                    {"ca", required_argument, NULL, O_CA},
                                    {"cert", required_argument, NULL, O_CERT},
                                    {"key", required_argument, NULL, O_KEY},
                                    {"host", required_argument, NULL, O_HOST},
                                    {"mqtt-port", required_argument, NULL, O_MQTT_PORT},
                                    {"coap-port", required_argument, NULL, O_COAP_PORT},
                                    {"bundle", required_argument, NULL, O_BUNDLE},
                                    {NULL, 0, NULL, 0}};
  gs_dev_conf c;
  const char *bundle = NULL, *mp = NULL, *cp = NULL;
  char err[600];
  int64_t port;
  int opt;
  memset(&c, 0, sizeof(c));
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc, argv, "", o)) != -1) {
    switch (opt) {
    case O_ID: c.id = optarg; break;
    case O_CA: c.ca = optarg; break;
    case O_CERT: c.cert = optarg; break;
    case O_KEY: c.key = optarg; break;
    case O_HOST: c.host = optarg; break;
    case O_MQTT_PORT: mp = optarg; break;
    case O_COAP_PORT: cp = optarg; break;
    case O_BUNDLE: bundle = optarg; break;
    default: return EXIT_USAGE;
    }
  }
  if (optind < argc) return die_usage("init: unexpected argument '%s'", argv[optind]);
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

static int cmd_set(const char *home, int argc, char **argv) {
  if (no_options(argc, argv)) return EXIT_USAGE;
  argc -= optind;
  argv += optind;
  if (argc < 1 || !known_type(argv[0]))
    return die_usage("set: TYPE must be household, visit or report, got '%s'", argc ? argv[0] : "");
  const char *type = argv[0], *id = NULL;
  gs_dev *dev = NULL;
  int i = 1, rc = 0;
  if (i < argc && !strchr(argv[i], '=')) id = argv[i++];
  if (id && !gs_valid_entity_id(id)) return die_usage("set: '%s' is not a valid entity id", id);
  if (i >= argc) return die_usage("set: give at least one field=value");
  cJSON *f = cJSON_CreateObject();
  for (; i < argc && !rc; i++) rc = add_assignment(f, argv[i]);
  if (!rc && !id && !cJSON_GetObjectItemCaseSensitive(f, "grid"))
    rc = die_usage("set: a new %s needs grid=<grid id> (or give the ID of an existing one)", type);
  if (!rc) rc = open_dev(home, &dev);
  if (!rc) rc = do_set(dev, type, id, f);
  gs_dev_close(dev);
  cJSON_Delete(f);
  return rc;
}

/* household/visit/report add: named options then field=value pairs. */
static int cmd_add(const char *home, int argc, char **argv) {
  /* val = index + 1 into the same row: the field the option sets */
  static const struct option opts[3][5] = {
      {{"grid", required_argument, NULL, 1}, {"address", required_argument, NULL, 2}, {NULL, 0, NULL, 0}},
      {{"grid", required_argument, NULL, 1},
       {"household", required_argument, NULL, 2},
       {"kind", required_argument, NULL, 3},
       {NULL, 0, NULL, 0}},
      {{"grid", required_argument, NULL, 1},
       {"category", required_argument, NULL, 2},
       {"title", required_argument, NULL, 3},
       {"urgency", required_argument, NULL, 4},
       {NULL, 0, NULL, 0}},
  };
  const char *type = argv[0];
  int t = !strcmp(type, "household") ? 0 : !strcmp(type, "visit") ? 1 : 2;
  gs_dev *dev = NULL;
  cJSON *f = cJSON_CreateObject();
  int rc = 0, opt;
  optind = 0;
  while (!rc && (opt = gs_cli_getopt(prog, argc, argv, "", opts[t])) != -1) {
    const char *name = opt >= 1 && opt <= 4 ? opts[t][opt - 1].name : NULL;
    if (!name) rc = EXIT_USAGE;
    else if (cJSON_GetObjectItemCaseSensitive(f, name)) rc = die_usage("--%s given twice", name);
    else rc = add_str(f, name, optarg);
  }
  if (!rc && (optind >= argc || strcmp(argv[optind], "add") != 0))
    rc = die_usage("%s: the only subcommand is 'add'", type);
  for (int i = optind + 1; i < argc && !rc; i++) rc = add_assignment(f, argv[i]);
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
  if ((rc = open_dev(home, &dev)) == 0) rc = do_set(dev, type, NULL, f);
out:
  gs_dev_close(dev);
  cJSON_Delete(f);
  return rc;
}

/* Syncs an open device over transport ("mqtt" or "coap"; NULL: MQTT). */
static int run_sync(gs_dev *dev, const char *transport, const gs_dev_sync_opts *o) {
  gs_dev_sync_stats st;
  gs_dev_transport t;
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
  err = gs_dev_sync(dev, &t, o, &st);
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

static int cmd_sync(const char *home, int argc, char **argv) {
  enum { O_PUSH_ONLY = 256, O_MQTT, O_COAP, O_TIMEOUT, O_REQUEST_TIMEOUT, O_BATCH };
  static const struct option lo[] = {{"push-only", no_argument, NULL, O_PUSH_ONLY},
                                     {"mqtt", no_argument, NULL, O_MQTT},
                                     {"coap", no_argument, NULL, O_COAP},
                                     {"timeout", required_argument, NULL, O_TIMEOUT},
                                     {"request-timeout", required_argument, NULL, O_REQUEST_TIMEOUT},
                                     {"batch", required_argument, NULL, O_BATCH},
                                     {NULL, 0, NULL, 0}};
  gs_dev_sync_opts o = {30000, 10000, 200, 200 * 1024, 500, 0};
  gs_dev *dev = NULL;
  int64_t n;
  int opt;
  const char *transport = NULL; /* default: MQTT */
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc, argv, "", lo)) != -1) {
    switch (opt) {
    case O_PUSH_ONLY: o.no_pull = 1; break;
    case O_MQTT:
    case O_COAP:
      if (transport && strcmp(transport, opt == O_MQTT ? "mqtt" : "coap"))
        return die_usage("sync: give --mqtt or --coap, not both");
      transport = opt == O_MQTT ? "mqtt" : "coap";
      break;
    case O_TIMEOUT:
      if (!parse_secs(optarg, &o.timeout_ms))
        return die_usage("sync: --timeout needs seconds (1-86400), got '%s'", optarg);
      break;
    case O_REQUEST_TIMEOUT:
      if (!parse_secs(optarg, &o.request_timeout_ms))
        return die_usage("sync: --request-timeout needs seconds (1-86400), got '%s'", optarg);
      break;
    case O_BATCH:
      if (gs_parse_i64(optarg, 1, 10000, &n) != GS_OK)
        return die_usage("sync: --batch needs a count (1-10000), got '%s'", optarg);
      o.max_changes = (int)n;
      break;
    default: return EXIT_USAGE;
    }
  }
  if (optind < argc) return die_usage("sync: unexpected argument '%s'", argv[optind]);
  if (o.request_timeout_ms > o.timeout_ms) o.request_timeout_ms = o.timeout_ms;
  int rc = open_dev(home, &dev);
  if (!rc) rc = run_sync(dev, transport, &o);
  gs_dev_close(dev);
  return rc;
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

/* Parses list's command line: TYPE [--grid G]. */
static int parse_list(int argc, char **argv, const char **type, const char **grid) {
  static const struct option lo[] = {{"grid", required_argument, NULL, 'g'}, {NULL, 0, NULL, 0}};
  int opt;
  optind = 0;
  while ((opt = gs_cli_getopt(prog, argc, argv, "", lo)) != -1)
    if (opt == 'g') *grid = optarg;
    else return EXIT_USAGE;
  if (optind >= argc || !known_type(argv[optind])) return die_usage("list needs TYPE (household, visit or report)");
  *type = argv[optind];
  if (optind + 1 < argc) return die_usage("list: unexpected argument '%s'", argv[optind + 1]);
  return 0;
}

static int cmd_list(gs_dev *dev, const char *type, const char *grid) {
  cJSON *a = NULL, *e;
  int err = gs_dev_list(dev, type, grid, &a);
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
  enum { O_HOME = 256, O_VERSION };
  static const struct option lo[] = {{"home", required_argument, NULL, O_HOME},
                                     {"verbose", no_argument, NULL, 'v'},
                                     {"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, O_VERSION},
                                     {NULL, 0, NULL, 0}};
  const char *home = getenv("GS_DEVICE_HOME");
  int level = GS_LOG_WARN, opt;
  /* "+": the global options end at the command; each command parses its own. */
  while ((opt = gs_cli_getopt(prog, argc, argv, "+hv", lo)) != -1) {
    switch (opt) {
    case O_HOME: home = optarg; break;
    case 'v': level = level > GS_LOG_DEBUG ? level - 1 : level; break;
    case 'h': usage(stdout); return 0;
    case O_VERSION: gs_cli_version(prog); return 0;
    default: return EXIT_USAGE;
    }
  }
  gs_log_init(prog, level);
  if (optind >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[optind];
  /* The command's own vector: av[0] is the command, as getopt expects. */
  int ac = argc - optind;
  char **av = argv + optind;

  static const char *const cmds[] = {"init", "set",  "household", "visit",  "report",   "delete",
                                     "sync", "show", "list",      "status", "rejected", NULL};
  int known = 0;
  for (int k = 0; cmds[k]; k++) known |= !strcmp(cmd, cmds[k]);
  if (!known) return die_usage("unknown command '%s'", cmd);
  if (!home || !*home) return die_usage("no device home: give --home DIR or set GS_DEVICE_HOME");

  if (!strcmp(cmd, "init")) return cmd_init(home, ac, av);
  if (!strcmp(cmd, "set")) return cmd_set(home, ac, av);
  if (!strcmp(cmd, "household") || !strcmp(cmd, "visit") || !strcmp(cmd, "report")) return cmd_add(home, ac, av);
  if (!strcmp(cmd, "sync")) return cmd_sync(home, ac, av);

  /* The rest read or delete one thing: check the command line, then open. */
  const char *type = NULL, *grid = NULL;
  int nargs = !strcmp(cmd, "delete") || !strcmp(cmd, "show") ? 2 : 0;
  if (!strcmp(cmd, "list")) {
    if (parse_list(ac, av, &type, &grid)) return EXIT_USAGE;
  } else {
    if (no_options(ac, av)) return EXIT_USAGE;
    ac -= optind;
    av += optind;
    if (nargs && (ac != 2 || !known_type(av[0])))
      return die_usage("%s needs TYPE ID (TYPE is household, visit or report)", cmd);
    if (!nargs && ac) return die_usage("%s takes no arguments, got '%s'", cmd, av[0]);
  }
  gs_dev *dev = NULL;
  int rc = open_dev(home, &dev);
  if (rc) return rc;
  if (!strcmp(cmd, "delete")) {
    int e = gs_dev_delete(dev, av[0], av[1]);
    rc = e ? fail(dev, e, "delete") : (printf("%s\n", av[1]), 0);
  } else if (!strcmp(cmd, "show")) rc = cmd_show(dev, ac, av);
  else if (!strcmp(cmd, "list")) rc = cmd_list(dev, type, grid);
  else if (!strcmp(cmd, "status")) rc = cmd_status(dev);
  else rc = cmd_rejected(dev);
  gs_dev_close(dev);
  return rc;
}
