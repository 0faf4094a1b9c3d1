/* gs-admin: administrators' command line (org tree, devices, conflicts, seed,
 * status, export, backup). The commands and their usage lines are the rows of
 * gs_admin_cmds[] (admin_cli.h, admin_ops.c); this file parses the global
 * options, has the command check its own command line, then opens the store
 * and runs it.
 *
 * A bad command line (an unknown option, a stray argument, a missing value)
 * exits 2 with one line naming the argument, before the store is opened:
 * nothing is created, changed or written (gs_cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_cli.h"
#include "gs_cli.h"
#include "gs_engine.h"
#include "gs_error.h"
#include "gs_log.h"

static const char prog[] = "gs-admin";

static void usage(FILE *f) {
  fputs("usage: gs-admin --db FILE <command> [args]\n"
        "       gs-admin --help | --version\n"
        "options take \"--opt VALUE\" or \"--opt=VALUE\"; commands:\n",
        f);
  for (const gs_admin_cmd *c = gs_admin_cmds; c->word; c++) fputs(c->usage, f);
}

/* The row of gs_admin_cmds[] that argv names, or NULL. */
static const gs_admin_cmd *find_cmd(int argc, char **argv) {
  for (const gs_admin_cmd *c = gs_admin_cmds; c->word; c++)
    if (strcmp(argv[0], c->word) == 0 && (!c->sub || (argc > 1 && strcmp(argv[1], c->sub) == 0)) && argc >= c->min_argc)
      return c;
  return NULL;
}

/* True when the command's own arguments ask for help ("--" ends options). */
static int wants_help(int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  enum { O_DB = 256, O_VERSION };
  static const struct option lo[] = {{"db", required_argument, NULL, O_DB},
                                     {"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, O_VERSION},
                                     {NULL, 0, NULL, 0}};
  const char *db_path = NULL;
  int opt;
  gs_log_init(prog, GS_LOG_WARN);
  /* "+": the global options end at the command word; each command parses its own. */
  while ((opt = gs_cli_getopt(prog, argc, argv, "+h", lo)) != -1) {
    switch (opt) {
    case O_DB: db_path = optarg; break;
    case 'h': usage(stdout); return GS_CLI_EXIT_OK;
    case O_VERSION: gs_cli_version(prog); return GS_CLI_EXIT_OK;
    default: return GS_CLI_EXIT_USAGE;
    }
  }
  if (optind >= argc) return gs_cli_usage_error(prog, "no command given");
  argc -= optind;
  argv += optind;
  const gs_admin_cmd *c = find_cmd(argc, argv);
  if (!c) {
    if (argc > 1 && argv[1][0] != '-')
      return gs_cli_usage_error(prog, "unknown command '%s %s' (or missing arguments)", argv[0], argv[1]);
    return gs_cli_usage_error(prog, "unknown command '%s' (or missing arguments)", argv[0]);
  }
  if (wants_help(argc, argv)) {
    usage(stdout);
    return GS_CLI_EXIT_OK;
  }
  if (!db_path) return gs_cli_usage_error(prog, "%s needs --db FILE", argv[0]);
  char err[512] = "";
  /* The check pass: e NULL, the command only parses (admin_ops.c). */
  int rc = c->run(NULL, argc, argv, err, sizeof err);
  if (rc) return GS_CLI_EXIT_USAGE;

  gs_engine_config cfg;
  gs_engine_config_defaults(&cfg);
  cfg.db_path = db_path;
  gs_engine *e = NULL;
  rc = gs_engine_open(&e, &cfg, err, sizeof err);
  if (rc) {
    fprintf(stderr, "gs-admin: %s\n", err);
    return GS_CLI_EXIT_FAIL;
  }
  rc = c->run(e, argc, argv, err, sizeof err);
  if (rc > 0 && rc != GS_ADMIN_USAGE) {
    fprintf(stderr, "gs-admin: %s\n", err[0] ? err : gs_strerror(rc));
    rc = GS_CLI_EXIT_FAIL;
  }
  gs_engine_close(e);
  return rc;
}
