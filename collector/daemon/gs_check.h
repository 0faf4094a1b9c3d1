/* gs_check.h - gs-collector --check: is this configuration ready to run,
 * without changing anything? (docs/CONFIG.md)
 *
 * After the file has parsed (gs_config_load), this looks at what the
 * collector would touch at its start:
 *   - the store file: readable SQLite, not newer than this binary, writable;
 *     a missing file is fine for a first start (a note) when its directory
 *     exists. The file is only read (its header), never opened with SQLite:
 *     even a read-only SQLite connection leaves -wal and -shm files behind
 *     on a WAL database, and opening with gs_store_open would migrate it.
 *   - the TLS files of [mqtt] and (when enabled) [coap]: readable PEM, the
 *     key matches the certificate, the certificate is within its validity,
 *     the CRL parses;
 *   - [status] timezone against the zoneinfo database (gs_tz_load): a
 *     misspelt zone would otherwise put day and month boundaries hours off.
 *
 * Every problem is one line on err ("what: where: what to do"); notes (fine,
 * but worth knowing) go to out. Returns the number of problems (0 = ready).
 */
#ifndef GS_CHECK_H
#define GS_CHECK_H

#include <stdio.h>

#include "gs_config.h"

int gs_check_run(const gs_config *c, const char *config_path, FILE *out, FILE *err);

/* The collector creates its store only at a documented first start: a
 * missing store file in an existing directory (docs/CONFIG.md, [store]). A
 * missing directory is a typo or a missing volume, not a first start:
 * returns GS_ENOTFOUND with one line in err then, else GS_OK. SQLite's
 * special names (":memory:", "", "file:" URIs) are left to SQLite. */
int gs_check_store_dir(const char *db, char *err, size_t errlen);

#endif
