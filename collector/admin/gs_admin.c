/* gs-admin: administrators' command line (org tree, devices, conflicts, seed,
 * status). The commands and their usage lines are the rows of gs_admin_cmds[]
 * (admin_cli.h, admin_ops.c); this file opens the store and dispatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_cli.h"
#include "gs_engine.h"
#include "gs_error.h"
#include "gs_log.h"

static void usage(FILE *f) {
  fputs("usage: gs-admin --db FILE <command> [args]\n", f);
  for (const gs_admin_cmd *c = gs_admin_cmds; c->word; c++) fputs(c->usage, f);
}

/* The row of gs_admin_cmds[] that argv names, or NULL. */
static const gs_admin_cmd *find_cmd(int argc, char **argv) {
  for (const gs_admin_cmd *c = gs_admin_cmds; c->word; c++)
    if (strcmp(argv[0], c->word) == 0 && (!c->sub || (argc > 1 && strcmp(argv[1], c->sub) == 0)) && argc >= c->min_argc)
      return c;
  return NULL;
}

int main(int argc, char **argv) {
  gs_log_init("gs-admin", GS_LOG_WARN);
  const char *db_path = NULL;
  int i = 1;
  while (i < argc && argv[i][0] == '-') {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db_path = argv[i + 1];
      i += 2;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "gs-admin: unknown option %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!db_path || i >= argc) {
    usage(stderr);
    return 2;
  }
  argc -= i;
  argv += i;
  gs_engine_config cfg;
  gs_engine_config_defaults(&cfg);
  cfg.db_path = db_path;
  gs_engine *e = NULL;
  char err[512] = "";
  int rc = gs_engine_open(&e, &cfg, err, sizeof err);
  if (rc) {
    fprintf(stderr, "gs-admin: %s\n", err);
    return 1;
  }
  const gs_admin_cmd *c = find_cmd(argc, argv);
  if (!c) {
    fprintf(stderr, "gs-admin: unknown command '%s %s'\n", argv[0], argc > 1 ? argv[1] : "");
    usage(stderr);
    rc = 2;
  } else {
    rc = c->run(e, argc, argv, err, sizeof err);
    if (rc > 0 && rc != GS_ADMIN_USAGE) {
      fprintf(stderr, "gs-admin: %s\n", err[0] ? err : gs_strerror(rc));
      rc = 1;
    }
  }
  gs_engine_close(e);
  return rc;
}
