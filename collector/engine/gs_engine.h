/* gs_engine.h - the transport-agnostic sync engine (docs/PROTOCOL.md, "Data model" and "Sync over MQTT").
 *
 * Turns change batches from devices into one consistent, durable SQLite state
 * and answers pulls. It knows neither MQTT nor CoAP: transports hand it the
 * device id they authenticated (certificate CN / topic) and the payload bytes,
 * and publish what it returns.
 *
 * Threading: a gs_engine is used by one thread (the collector's event loop).
 */
#ifndef GS_ENGINE_H
#define GS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "gs_buf.h"
#include "gs_store.h"

typedef struct gs_engine gs_engine;

typedef struct gs_engine_config {
  const char *db_path;    /* SQLite file (created when missing) */
  int synchronous;        /* 0 OFF, 1 NORMAL, 2 FULL (default), 3 EXTRA */
  int64_t max_skew_ms;    /* hlc further ahead than this is clamped (300000) */
  size_t max_batch_bytes; /* payload cap (1048576) */
  int max_changes;        /* changes per batch (1000) */
  size_t max_field_bytes; /* bytes of one string value (16384) */
  int pull_limit_default; /* entities per page when the request has no limit (500) */
  int pull_limit_max;     /* cap on a requested limit (2000) */
  /* > 0: WAL checkpoints run in a background thread every this many ms
   * instead of inside the COMMIT that crosses the threshold (gs_checkpoint.h);
   * 0: SQLite's automatic checkpoints (tools, tests). */
  int checkpoint_interval_ms;
  /* with the background checkpointer: WAL frames past which the writer
   * copies the rest itself and starts the WAL over (0: gs_checkpoint.c's default) */
  int wal_restart_frames;
  /* 1 with synchronous=2: the store runs synchronous=NORMAL and the WAL's
   * fsync happens in a thread beside the writer (gs_walsync.h); a transport
   * then publishes an ack only when gs_engine_durable() reaches the commit
   * that held its batch. 0: SQLite syncs inside COMMIT. */
  int wal_sync_thread;
  /* Clock for tests (ms since the epoch); NULL means the wall clock. */
  int64_t (*clock)(void *ctx);
  void *clock_ctx;
} gs_engine_config;

/* One batch handed in by a transport. */
typedef struct gs_batch_in {
  const char *device;  /* authenticated device id */
  const char *payload; /* raw bytes, not necessarily NUL-terminated */
  size_t len;
} gs_batch_in;

void gs_engine_config_defaults(gs_engine_config *c);

/* Opens (creating and migrating) the store. On error returns a gs_err and
 * writes a one-line message to err. Free with gs_engine_close(). */
int gs_engine_open(gs_engine **out, const gs_engine_config *cfg, char *err, size_t errlen);
void gs_engine_close(gs_engine *e);
/* Applies new limits (skew, batch, changes, field bytes, pull limits) from c;
 * db_path, synchronous and the clock are kept (they need a reopen). */
void gs_engine_set_limits(gs_engine *e, const gs_engine_config *c);

/* Applies one batch in one transaction and writes the ack document into ack
 * (appended; the caller owns and frees the buffer). Returns GS_OK when the
 * ack must be published — including batch-level rejections such as bad_json,
 * which are acks with an "error" member — or a transient error (GS_EBUSY,
 * GS_EFULL, GS_EIO, GS_ENOMEM) when nothing was committed and no ack may be
 * sent: the device will retry. */
int gs_engine_apply(gs_engine *e, const char *device, const char *payload, size_t len, gs_buf *ack);

/* Group commit: applies n batches in one transaction (one fsync). acks is an
 * array of n buffers. On a transient error nothing is committed and no ack
 * may be published. */
int gs_engine_apply_group(gs_engine *e, const gs_batch_in *in, size_t n, gs_buf *acks);

/* Durability of commits, numbered 1, 2, 3... by the applies that committed
 * (gs_engine_commits() is the last one's number). Without a WAL sync thread
 * a commit is durable when COMMIT returns. With one, gs_engine_durable() is
 * the last commit known durable; gs_engine_durable_fd() turns readable when
 * it advanced (-1 without the thread), gs_engine_wait_durable() blocks until
 * commit n is durable (GS_OK) or the WAL cannot be synced (GS_EIO). */
uint64_t gs_engine_commits(const gs_engine *e);
uint64_t gs_engine_durable(gs_engine *e);
int gs_engine_durable_fd(const gs_engine *e);
int gs_engine_wait_durable(gs_engine *e, uint64_t n);
/* Answers a pull request with a down page (or an error document). Returns
 * GS_OK when page must be published, a transient error otherwise. */
int gs_engine_pull(gs_engine *e, const char *device, const char *payload, size_t len, gs_buf *page);

/* For tests: 0 sends new entities through the general merge path instead of
 * the direct one (both must store the same bytes). Default 1. */
void gs_engine_set_fast_create(gs_engine *e, int on);

/* The engine's store (owned by the engine; valid until gs_engine_close), for
 * the status module, admin tools and transports on the engine's thread. */
gs_store *gs_engine_store(gs_engine *e);
/* Current global rev and server HLC (for status and tests). */
int64_t gs_engine_rev(const gs_engine *e);
/* The engine's clock (ms since the epoch): the wall clock or cfg.clock. */
int64_t gs_engine_now(const gs_engine *e);

/* Hooks for the status module (aggregates kept in the same transaction).
 * write: called for every entity write that changed it, with the fields as
 *   they were (canonical JSON text, NULL when the entity is new) and as they
 *   are now (the cJSON object the engine holds; do not keep it).
 * device: called once per applied batch with the device id and the time.
 * precommit: called just before COMMIT; an error aborts the transaction.
 * end: called after COMMIT (ok=1) or ROLLBACK (ok=0).
 * Every hook returns GS_OK or an error (which rolls the transaction back). */
struct cJSON;
typedef struct gs_engine_hooks {
  int (*write)(void *ctx, const char *type, const char *id, const char *before, const struct cJSON *after);
  int (*device)(void *ctx, const char *device, int64_t now_ms);
  int (*precommit)(void *ctx);
  void (*end)(void *ctx, int ok);
  void *ctx;
} gs_engine_hooks;
void gs_engine_set_hooks(gs_engine *e, const gs_engine_hooks *h);

#endif
