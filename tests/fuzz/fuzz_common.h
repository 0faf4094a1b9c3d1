/* fuzz_common.h - fixtures shared by the fuzz targets: a temp dir removed at
 * exit, a small store opened once per process, file helpers.
 *
 * Each target defines LLVMFuzzerTestOneInput and initialises its fixture
 * lazily on the first call, so the same file links with libFuzzer and with
 * replay_main.c. Fixtures abort() on setup failure: a fuzz run that cannot
 * set up must not pass silently.
 */
#ifndef GS_FUZZ_COMMON_H
#define GS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "gs_engine.h"

/* Fixed server clock of the fixture store (2025-11-23T06:40:00Z). */
#define FZ_NOW_MS INT64_C(1763880000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Path of a per-process temp dir (created on the first call, removed with its
 * files at exit). Aborts when it cannot be created. */
const char *fz_dir(void);
/* fz_dir()/name into out. */
void fz_path(const char *name, char *out, size_t n);
/* Writes data to path (truncating); aborts on error. */
void fz_write(const char *path, const void *data, size_t n);
/* Opens a store in fz_dir() with org c1>d1>s1>cm1>{g1,g2}, devices dev-a
 * (g1,g2), dev-b (g1), dev-off (g1, disabled), synchronous OFF, clock fixed at
 * FZ_NOW_MS, and a few entities written by dev-b so that merges, conflicts
 * and pulls have something to work on. The engine lives until exit. */
gs_engine *fz_engine(const char *dbname);
/* Aborts (a finding) with a message when cond is false. */
void fz_check(int cond, const char *what, const uint8_t *data, size_t size);

#endif
