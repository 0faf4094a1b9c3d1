/* gs_cli.c - the shared parts of the command lines (see gs_cli.h). */
#include "gs_cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_util.h"

#ifndef GS_VERSION
#error "GS_VERSION is defined by collector/CMakeLists.txt from project(VERSION)"
#endif

void gs_cli_version(const char *prog) { printf("%s %s\n", prog, GS_VERSION); }

int gs_cli_usage_error(const char *prog, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "; see %s --help\n", prog);
  return GS_CLI_EXIT_USAGE;
}

/* The long option named by arg ("--name" or "--name=value"), or NULL. */
static const struct option *find_long(const char *arg, const struct option *longopts) {
  const char *eq;
  size_t n;
  if (strncmp(arg, "--", 2) != 0) return NULL;
  arg += 2;
  eq = strchr(arg, '=');
  n = eq ? (size_t)(eq - arg) : strlen(arg);
  for (; longopts && longopts->name; longopts++)
    if (strlen(longopts->name) == n && !strncmp(longopts->name, arg, n)) return longopts;
  return NULL;
}

/* Says what is wrong with the argument getopt_long refused. */
static int refused(const char *prog, char *const argv[], const char *optstring, const struct option *longopts) {
  const char *arg = argv[optind - 1];
  const struct option *o = find_long(arg, longopts);
  if (o && o->has_arg == no_argument && strchr(arg, '='))
    return gs_cli_usage_error(prog, "option '--%s' takes no value", o->name);
  if (o && o->has_arg == required_argument) return gs_cli_usage_error(prog, "option '--%s' needs a value", o->name);
  if (!strncmp(arg, "--", 2)) return gs_cli_usage_error(prog, "unknown option '%s'", arg);
  if (optopt && strchr(optstring, optopt)) return gs_cli_usage_error(prog, "option '-%c' needs a value", optopt);
  return gs_cli_usage_error(prog, "unknown option '-%c'", optopt ? optopt : '?');
}

int gs_cli_getopt(const char *prog, int argc, char *argv[], const char *optstring, const struct option *longopts) {
  int idx = -1, c;
  opterr = 0;
  optopt = 0;
  c = getopt_long(argc, argv, optstring, longopts, &idx);
  if (c == '?' || c == ':') {
    refused(prog, argv, optstring, longopts);
    return '?';
  }
  if (c != -1 && idx >= 0) {
    /* getopt_long accepts any unambiguous prefix; we want the whole name.
     * The option's own argument is argv[optind - 1], or argv[optind - 2]
     * when its value came as the next argument. */
    const char *arg = argv[optind - 1];
    if (longopts[idx].has_arg != no_argument && optarg == argv[optind - 1] && optind >= 2) arg = argv[optind - 2];
    if (find_long(arg, longopts) != &longopts[idx]) {
      gs_cli_usage_error(prog, "unknown option '%s' (did you mean --%s?)", arg, longopts[idx].name);
      return '?';
    }
  }
  return c;
}

int gs_cli_int(const char *prog, const char *opt, const char *s, int min, int max, int *out) {
  int64_t v;
  if (!s || gs_parse_i64(s, min, max, &v) != GS_OK)
    return gs_cli_usage_error(prog, "%s needs a number between %d and %d, got '%s'", opt, min, max, s ? s : "");
  *out = (int)v;
  return 0;
}
