/* bench_gen.h - synthetic workload for the benchmarks (bench/run).
 *
 * Deterministic (seeded xorshift) generator of change batches in the sync
 * protocol v1 format (docs/PROTOCOL.md, "Sync over MQTT") with realistic shapes: household
 * creates and edits (with base), visits (the bulk of a year's data) and
 * reports; each change is 300-600 bytes of JSON with Chinese text. Also the
 * org-tree/device setup by direct SQL and small timing helpers shared by the
 * bench programs. Not linked by the product.
 */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "gs_buf.h"

/* Per-device generator state. */
typedef struct bench_dev {
  char id[65];
  char grid[65];
  int64_t seq;    /* last seq used */
  int64_t hlc_ms; /* device clock */
  int hlc_c;
  uint64_t rng;
  char (*hh)[37];       /* households this device created (ring) */
  int64_t (*hh_ver)[2]; /* their last written version of "members" */
  size_t nhh, caphh;
  int batches;
} bench_dev;

uint64_t bench_rand(uint64_t *s);
/* Ids of changes and new entities: 7 (default) time-ordered like the
 * reference device's (gs_uuid7, at the device's clock), 4 random like a phone
 * app that does not follow docs/PROTOCOL.md "Ids". */
extern int bench_id_version;
void bench_uuid(uint64_t *s, int64_t ms, char out[37]);

void bench_dev_init(bench_dev *d, const char *id, const char *grid, uint64_t seed, int64_t now_ms);
void bench_dev_free(bench_dev *d);

/* Appends one batch of n changes to out ({"v":1,"batch":...}). Returns 0. */
int bench_gen_batch(bench_dev *d, int n, gs_buf *out);

/* Creates the org tree city c-b > district d-b > streets s-NN > communities
 * cm-NNNN > grids g-NNNNNN (ngrids in total, 10 per community, 10
 * communities per street) in db. Returns 0 or an SQLite error code. */
int bench_org_tree(sqlite3 *db, int ngrids);
/* Grid id of index i (0-based). */
void bench_grid_id(int i, char out[16]);
/* Registers device id for grid (direct SQL, same rows as gs-admin device add). */
int bench_device_add(sqlite3 *db, const char *id, const char *grid);

/* The value after the first argv[i] equal to name, or def. */
const char *bench_opt(int argc, char **argv, const char *name, const char *def);

/* Monotonic clock in nanoseconds. */
int64_t bench_ns(void);
/* Sorts v and returns the q-quantile (0..1). */
double bench_quantile(double *v, size_t n, double q);
/* Peak/current RSS of this process in kB from /proc/self/status. */
long bench_rss_kb(const char *field);

#endif
