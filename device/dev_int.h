/* dev_int.h - internals of the reference device shared across its files.
 * Not installed, not for apps: the public interface is gs_device.h.
 */
#ifndef GS_DEV_INT_H
#define GS_DEV_INT_H

#include <limits.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "gs_device.h"

#define DEV_COUNTER_MAX 65535
#define DEV_ID_MAX      64

struct gs_dev {
  char home[PATH_MAX];
  char id[DEV_ID_MAX + 1];
  char host[256];
  int mqtt_port;
  char coap_host[256];
  int coap_port;
  sqlite3 *db;
  char err[512];
};

/* ---- dev_hlc.c: hybrid logical clock and versions (pure) -------------- */

typedef struct dev_hlc {
  int64_t ms;
  int c;
} dev_hlc;

/* Local event: returns the new clock value (also stored in *h).
 * ms = max(ms, now); counter resets when ms advanced, else increments;
 * a counter past 65535 carries into ms. */
dev_hlc dev__hlc_tick(dev_hlc *h, int64_t now_ms);
/* Receive event: merges remote [rms, rc] (e.g. an ack's hlc) into *h. */
void dev__hlc_merge(dev_hlc *h, int64_t rms, int rc, int64_t now_ms);
/* Compares two HLC values: ms then counter. */
int dev__hlc_cmp(dev_hlc a, dev_hlc b);
/* Parses a JSON [ms, c] or [ms, c, "dev"]; GS_OK or GS_EINVAL. dev may be NULL. */
int dev__hlc_parse(const cJSON *a, dev_hlc *out, const char **dev);
/* New cJSON array [ms, c, "device"] (NULL device: [ms, c]). NULL on OOM. */
cJSON *dev__ver_new(dev_hlc h, const char *device);

/* ---- dev_merge.c: LWW merge of an entity copy (pure) ------------------ */

/* Merges remote fields/ver (a pulled entity, borrowed) into the local
 * fields/ver objects (modified in place): per field the greater version wins
 * (gs_dev_ver_cmp); a remote field without a version is ignored.
 * *max_seen (may be NULL) receives the greatest remote hlc seen.
 * Returns the number of local fields replaced, or -1 on OOM. */
int dev__merge(cJSON *fields, cJSON *ver, const cJSON *rfields, const cJSON *rver, dev_hlc *max_seen);

/* ---- dev_store.c: SQLite store ---------------------------------------- */

/* Opens/creates home/device.db with WAL + synchronous=FULL and the schema. */
int dev__store_open(gs_dev *dev);
void dev__store_close(gs_dev *dev);
int dev__store_begin(gs_dev *dev);
int dev__store_commit(gs_dev *dev);
void dev__store_rollback(gs_dev *dev);
/* meta key/value. get returns GS_ENOTFOUND when absent (and *v = dflt). */
int dev__meta_get_i64(gs_dev *dev, const char *k, int64_t dflt, int64_t *v);
int dev__meta_set_i64(gs_dev *dev, const char *k, int64_t v);
/* *v is gs_malloc'd (caller frees) or NULL when absent. */
int dev__meta_get_text(gs_dev *dev, const char *k, char **v);
int dev__meta_set_text(gs_dev *dev, const char *k, const char *v); /* NULL deletes */
int dev__hlc_load(gs_dev *dev, dev_hlc *h);
int dev__hlc_save(gs_dev *dev, dev_hlc h);

/* Entity copy. *fields / *ver are new cJSON objects owned by the caller;
 * GS_ENOTFOUND when absent (then both are empty objects). rev may be NULL. */
int dev__entity_load(gs_dev *dev, const char *type, const char *id, cJSON **fields, cJSON **ver, int64_t *rev);
/* Upserts; rev < 0 keeps the stored rev. */
int dev__entity_save(gs_dev *dev, const char *type, const char *id, const cJSON *fields, const cJSON *ver, int64_t rev);

/* Outbox. */
int dev__outbox_add(gs_dev *dev, int64_t seq, const char *change_id, const char *body);
int64_t dev__outbox_count(gs_dev *dev);
/* Deletes every change with seq <= upto. */
int dev__outbox_trim(gs_dev *dev, int64_t upto);
/* Moves change change_id (if still in the outbox) to the rejected table. */
int dev__outbox_reject(gs_dev *dev, const char *change_id, const char *error, const char *detail);
/* Moves every outbox change with seq in [first, last] to rejected. */
int dev__outbox_reject_range(gs_dev *dev, int64_t first, int64_t last, const char *error, const char *detail);

/* ---- dev_core.c -------------------------------------------------------- */

/* Sets dev->err (printf-style) and returns err. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int dev__fail(gs_dev *dev, int err, const char *fmt, ...);

/* Undoes a rejected change (its JSON body) in the local copy: every field it
 * wrote whose local version is still the change's own is dropped (value and
 * version), and an entity left without fields is removed, so that the next
 * pull brings back the server's value. *reverted = number of fields dropped. */
int dev__revert(gs_dev *dev, const char *body, int *reverted);

#endif
