/* admin_cli.h - argument helpers shared by gs-admin's command modules. */
#ifndef GS_ADMIN_CLI_H
#define GS_ADMIN_CLI_H

#include <string.h>

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
