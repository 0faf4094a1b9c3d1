/* admin_status.h - gs-admin status and export subcommands. */
#ifndef GS_ADMIN_STATUS_H
#define GS_ADMIN_STATUS_H

#include <stddef.h>

#include "gs_engine.h"

/* argv[0] is "status" or "export". Returns GS_OK or an error with err set. */
int gs_admin_status_main(gs_engine *e, int argc, char **argv, char *err, size_t errlen);

/* Rebuilds every status aggregate from the stored entities. */
int gs_admin_recount(gs_engine *e, char *err, size_t errlen);

#endif
