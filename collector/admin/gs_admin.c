/* gs-admin: administrators' command line (org tree, devices, conflicts, seed, status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_ops.h"
#include "gs_engine.h"
#include "admin_cli.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_util.h"

#ifdef GS_HAVE_STATUS
#include "admin_status.h"
#endif

static void usage(FILE *f) {
  fprintf(f, "usage: gs-admin --db FILE <command> [args]\n"
             "  org import FILE.csv                 import/update the org tree (header id,parent,level,name)\n"
             "  org export [FILE.csv] [--root ORG]  write the org tree (or ORG's subtree) as CSV, stdout without FILE\n"
             "  device add DEVICE --grids g1,g2 [--worker NAME]\n"
             "  device disable|enable DEVICE\n"
             "  device list [--csv]\n"
             "  conflicts [--all]                   concurrent edits logged for review\n"
             "  seed [--streets N] [--communities N] [--grids N] [--households N] [--district N]\n"
             "                                      a demo city with Chinese names and addresses\n"
#ifdef GS_HAVE_STATUS
             "  status ORG [--tree]                 numbers of an org unit (and its subtree)\n"
             "  status --recount                    recompute every aggregate from the data\n"
             "  export households|visits|reports [--format csv|json] [--org ORG] [--since MS] [--bom]\n"
#endif
  );
}

static int int_opt(int argc, char **argv, const char *name, int def, int min, int max, int *out) {
  const char *v = gs_cli_opt(argc, argv, name);
  int64_t x = def;
  if (v && gs_parse_i64(v, min, max, &x)) {
    fprintf(stderr, "gs-admin: %s must be a whole number from %d to %d\n", name, min, max);
    return 0;
  }
  *out = (int)x;
  return 1;
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
  sqlite3 *db = gs_engine_db(e);
  const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
  rc = -1;
  if (strcmp(cmd, "org") == 0 && strcmp(sub, "import") == 0 && argc >= 3) {
    int n = 0;
    rc = gs_admin_org_import(db, argv[2], &n, err, sizeof err);
    if (!rc) printf("imported %d org units from %s\n", n, argv[2]);
  } else if (strcmp(cmd, "org") == 0 && strcmp(sub, "export") == 0) {
    /* [bridge] org export [FILE] [--root ORG] */
    const char *file = argc >= 3 && strncmp(argv[2], "--", 2) != 0 ? argv[2] : NULL;
    FILE *f = file ? fopen(file, "w") : stdout;
    int n = 0;
    if (!f) {
      snprintf(err, sizeof err, "org export: cannot create %s", file);
      rc = GS_EIO;
    } else {
      rc = gs_admin_org_export(db, f, gs_cli_opt(argc, argv, "--root"), &n, err, sizeof err);
      if (file && fclose(f) != 0 && !rc) {
        snprintf(err, sizeof err, "org export: cannot write %s", file);
        rc = GS_EIO;
      }
      if (!rc && file) printf("exported %d org units to %s\n", n, file);
    }
  } else if (strcmp(cmd, "device") == 0 && strcmp(sub, "add") == 0 && argc >= 3) {
    const char *grids = gs_cli_opt(argc, argv, "--grids");
    if (!grids) {
      fprintf(stderr, "gs-admin: device add needs --grids g1,g2 (the grids the device may write)\n");
      rc = 2;
    } else {
      rc = gs_admin_device_add(db, argv[2], grids, gs_cli_opt(argc, argv, "--worker"), err, sizeof err);
      if (!rc) printf("device %s may write %s\n", argv[2], grids);
    }
  } else if (strcmp(cmd, "device") == 0 && (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) && argc >= 3) {
    rc = gs_admin_device_enable(db, argv[2], strcmp(sub, "enable") == 0, err, sizeof err);
  } else if (strcmp(cmd, "device") == 0 && strcmp(sub, "list") == 0) {
    rc = gs_admin_device_list(db, stdout, gs_cli_flag(argc, argv, "--csv"));
  } else if (strcmp(cmd, "conflicts") == 0) {
    rc = gs_admin_conflicts(db, stdout, gs_cli_flag(argc, argv, "--all"));
  } else if (strcmp(cmd, "seed") == 0) {
    int st, cm, gr, hh, dn;
    if (!int_opt(argc, argv, "--streets", 2, 1, 10, &st) || !int_opt(argc, argv, "--communities", 2, 1, 10, &cm) ||
        !int_opt(argc, argv, "--grids", 2, 1, 20, &gr) || !int_opt(argc, argv, "--households", 40, 1, 1000, &hh) ||
        !int_opt(argc, argv, "--district", 1, 1, 99, &dn)) {
      rc = 2;
    } else {
      rc = gs_admin_seed_district(e, dn, st, cm, gr, hh, err, sizeof err);
#ifdef GS_HAVE_STATUS
      if (!rc) rc = gs_admin_recount(e, err, sizeof err);
#endif
      if (!rc) {
        char pre[16] = "dev-"; /* device ids: dev-0001.. (district 1), dev-N-0001.. (district N) */
        if (dn > 1) snprintf(pre, sizeof pre, "dev-%d-", dn);
        printf("seeded 示范市 (c-demo) district d-%02d: %d streets, %d communities, %d grids, %d households, "
               "devices %s0001..%s%04d\n",
               dn, st, st * cm, st * cm * gr, st * cm * gr * hh, pre, pre, st * cm * gr);
      }
    }
#ifdef GS_HAVE_STATUS
  } else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "export") == 0) {
    rc = gs_admin_status_main(e, argc, argv, err, sizeof err);
#endif
  }
  if (rc == -1) {
    fprintf(stderr, "gs-admin: unknown command '%s %s'\n", cmd, sub);
    usage(stderr);
    rc = 2;
  } else if (rc > 0 && rc != 2) {
    fprintf(stderr, "gs-admin: %s\n", err[0] ? err : gs_strerror(rc));
    rc = 1;
  }
  gs_engine_close(e);
  return rc;
}
