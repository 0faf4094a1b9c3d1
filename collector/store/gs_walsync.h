/* gs_walsync.h - the WAL's fsync beside the writer, not inside its COMMIT.
 *
 * With synchronous=FULL, every COMMIT writes its WAL frames and then waits
 * for fsync; the writer thread, which is also the collector's event loop,
 * does nothing else meanwhile (measured: a 100-change batch cost 9.2 ms at
 * synchronous=OFF and 19.6 ms at FULL on this machine's disk). With a
 * walsync the writer's connection runs synchronous=NORMAL (in WAL mode: no
 * fsync at COMMIT; checkpoints and WAL restarts still sync, so the store
 * stays consistent), and this thread fdatasyncs the WAL file after commits.
 * A transport publishes an ack only once the commit that holds its batch is
 * durable (gs_walsync_durable() >= the commit's number), so the contract
 * "an ack is sent after its batch is durably recorded" (docs/PROTOCOL.md, "Sync over MQTT")
 * holds as with FULL, while the writer applies the next group during the
 * fsync, and one fsync covers every commit made before it started.
 *
 * Why that is enough: on Linux, fdatasync on any descriptor of a file
 * flushes every write made to that file before the call, whichever
 * descriptor made it, and a COMMIT's frames are written before COMMIT
 * returns. The number to sync to is read before fdatasync starts.
 *
 * A failed fdatasync is not retried (after a failure Linux may have dropped
 * the dirty pages, and a second call can succeed without them): the walsync
 * turns failed, the commits after its last success are never acked (their
 * devices resend; the store takes the resends as duplicates or applies them
 * again, whichever it holds), and gs_walsync_failed() tells the engine to
 * refuse new batches (GS_EIO) until a restart.
 */
#ifndef GS_WALSYNC_H
#define GS_WALSYNC_H

#include <stdint.h>

typedef struct gs_walsync gs_walsync;

/* Opens db_path's "-wal" file (it must exist: the store is in WAL mode and
 * has been written) and starts the thread. GS_OK, GS_EIO or GS_ENOMEM. */
int gs_walsync_start(gs_walsync **out, const char *db_path);
/* The writer: commit number n (increasing) has returned from COMMIT; the
 * thread syncs as soon as it can. */
void gs_walsync_committed(gs_walsync *w, uint64_t n);
/* The highest commit number known durable (0: none yet). Any thread. */
uint64_t gs_walsync_durable(gs_walsync *w);
/* Blocks until commit n is durable or the walsync failed: GS_OK or GS_EIO. */
int gs_walsync_wait(gs_walsync *w, uint64_t n);
/* A descriptor that turns readable when gs_walsync_durable() advanced; call
 * gs_walsync_drain() then. For an event loop. */
int gs_walsync_fd(const gs_walsync *w);
void gs_walsync_drain(gs_walsync *w);
int gs_walsync_failed(gs_walsync *w);
/* Syncs what is committed, stops the thread and frees. NULL-safe. */
void gs_walsync_stop(gs_walsync *w);

#endif
