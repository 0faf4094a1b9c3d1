/* admin_cli.h - gs-admin's command table and the argument helpers its
 * command modules share.
 *
 * Adding a command: write its function in admin_ops.c and give it one row in
 * gs_admin_cmds[] (admin_ops.c); gs_admin.c finds it there and prints its
 * usage line, and needs no change.
 */
#ifndef GS_ADMIN_CLI_H
#define GS_ADMIN_CLI_H

#include <stddef.h>
#include <string.h>

#include "gs_engine.h"

/* What a command returns besides GS_OK and a gs_err (with err set, printed
 * as "gs-admin: <err>", exit 1): a usage error it has already reported on
 * stderr (exit 2). */
#define GS_ADMIN_USAGE 2

typedef struct gs_admin_cmd {
  const char *word;  /* argv[0] */
  const char *sub;   /* argv[1], or NULL: any (the command reads its own words) */
  int min_argc;      /* fewer words than this: not this command */
  const char *usage; /* its lines of gs-admin's usage, or "" when a neighbour's lines cover it */
  /* argv[0] is word. gs-admin calls it first with e NULL: parse argv only
   * and return GS_OK or GS_ADMIN_USAGE, touching nothing; then with e open
   * on --db. Returns GS_OK, a gs_err with a one-line message in err, or
   * GS_ADMIN_USAGE. */
  int (*run)(gs_engine *e, int argc, char **argv, char *err, size_t errlen);
} gs_admin_cmd;

/* The commands, in usage order, ended by a row with word NULL (admin_ops.c). */
extern const gs_admin_cmd gs_admin_cmds[];

/* Value following option name in argv, or NULL. */
static inline const char *gs_cli_opt(int argc, char **argv, const char *name) {
  for (int i = 0; i < argc - 1; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return NULL;
}

/* True when flag name is present in argv. */
static inline int gs_cli_flag(int argc, char **argv, const char *name) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

#endif
