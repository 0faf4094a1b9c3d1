/* gs_checkpoint.h - WAL checkpoints off the batch path.
 *
 * With SQLite's automatic checkpoints, the COMMIT that crosses the WAL
 * threshold copies the WAL into the database and fsyncs it before returning:
 * every ack of that group waits (measured: p99 publish->ack 162-245 ms at
 * 4,000 changes/s, 21-30 ms without). The checkpointer is a thread with its
 * own connection that runs PASSIVE checkpoints every interval while the
 * writer goes on (WAL mode allows it); the writer's connection sets
 * wal_autocheckpoint=0. Past CATCHUP_FRAMES it copies the rest between two of
 * the writer's transactions (gs_checkpointer_writer_enter/leave), so that the
 * writer starts the WAL over and the WAL stays small. The thread touches no table, only SQLite's own
 * WAL-to-database copy, so the engine's single-writer design is unchanged.
 */
#ifndef GS_CHECKPOINT_H
#define GS_CHECKPOINT_H

typedef struct gs_checkpointer gs_checkpointer;

/* Starts checkpointing path every interval_ms. Returns GS_OK or an error
 * (GS_EIO when the database cannot be opened, GS_ENOMEM, GS_EINTERNAL when
 * the thread cannot start). */
int gs_checkpointer_start(gs_checkpointer **out, const char *path, int interval_ms);
/* The writer brackets each write transaction (BEGIN .. COMMIT/ROLLBACK)
 * with these, so that a catch-up checkpoint gets its turn between two
 * transactions instead of polling for the write lock. Both NULL-safe. */
void gs_checkpointer_writer_enter(gs_checkpointer *c);
void gs_checkpointer_writer_leave(gs_checkpointer *c);
/* Stops the thread (after its current checkpoint) and frees it. NULL-safe. */
void gs_checkpointer_stop(gs_checkpointer *c);

#endif
