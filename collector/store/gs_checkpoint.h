/* gs_checkpoint.h - WAL checkpoints off the batch path.
 *
 * With SQLite's automatic checkpoints, the COMMIT that crosses the WAL
 * threshold copies the WAL into the database and fsyncs it before returning:
 * every ack of that group waits (measured: p99 publish->ack 162-245 ms at
 * 4,000 changes/s, 21-30 ms without). The checkpointer is a thread with its
 * own connection that runs PASSIVE checkpoints every interval while the
 * writer goes on (WAL mode allows it); the writer's connection sets
 * wal_autocheckpoint=0. Past CATCHUP_FRAMES it gets close and the writer
 * copies the rest before its next transaction (gs_checkpointer_writer_turn),
 * so that the writer starts the WAL over and the WAL stays small. The thread touches no table, only SQLite's own
 * WAL-to-database copy, so the engine's single-writer design is unchanged.
 */
#ifndef GS_CHECKPOINT_H
#define GS_CHECKPOINT_H

#include <sqlite3.h>

typedef struct gs_checkpointer gs_checkpointer;

/* Starts checkpointing path every interval_ms. Returns GS_OK or an error
 * (GS_EIO when the database cannot be opened, GS_ENOMEM, GS_EINTERNAL when
 * the thread cannot start). */
int gs_checkpointer_start(gs_checkpointer **out, const char *path, int interval_ms, int restart_frames);
/* restart_frames: WAL frames past which the writer is asked to copy the rest
 * (gs_checkpointer_writer_turn); <= 0 means CATCHUP_FRAMES (gs_checkpoint.c). */
/* The writer calls this before each write transaction (outside one), with
 * its own connection: when the checkpointer asks, it copies what is left of
 * a long WAL there, so that the transaction starts the WAL over instead of
 * the WAL growing while the checkpointer loses every race for it. NULL-safe. */
void gs_checkpointer_writer_turn(gs_checkpointer *c, sqlite3 *db);
/* Stops the thread (after its current checkpoint) and frees it. NULL-safe. */
void gs_checkpointer_stop(gs_checkpointer *c);

#endif
