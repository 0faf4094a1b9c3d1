/* gs_acks.h - the ack releaser shared by the collector's transports
 * (docs/ARCHITECTURE.md, "One batch", step 4).
 *
 * An ack may only leave once the commit that holds its batch is durable.
 * With the WAL sync thread (gs_engine_durable_fd() >= 0) that is some
 * milliseconds after COMMIT returned: the transport queues the reply here
 * with the commit's number (gs_engine_commits() after the apply) and goes
 * on; the releaser watches the engine's durability descriptor in the event
 * loop and hands every reply whose commit gs_engine_durable() reached back
 * to the transport that owns the request (ops->deliver of gs_transport.h),
 * in commit order. Nothing waits for an fsync on the loop thread.
 * Without the thread a commit is durable when COMMIT returns and the reply
 * goes back at once, from gs_acks_add().
 *
 * Threading: the loop thread only.
 */
#ifndef GS_ACKS_H
#define GS_ACKS_H

#include <stddef.h>
#include <stdint.h>

#include "gs_buf.h"
#include "gs_engine.h"
#include "gs_loop.h"

struct gs_transport;
typedef struct gs_acks gs_acks;

/* Creates the releaser and registers the engine's durability descriptor in
 * loop (loop may be NULL when the engine has none, as in the fuzz target).
 * GS_OK, GS_ENOMEM (loop full). Free with gs_acks_free(). */
int gs_acks_new(gs_acks **out, gs_loop *loop, gs_engine *e);

/* Queues reply (its buffer is taken: *reply is left GS_BUF_INIT, no copy)
 * for request req of device (copied; at most 64 characters), owned by
 * owner, until commit is durable. Delivers at once when it already is.
 * GS_OK, or GS_ENOMEM: nothing queued, *reply untouched (the caller answers
 * as for a transient error). owner and req must stay valid until delivered
 * (gs_acks_flush() before a transport stops). */
int gs_acks_add(gs_acks *a, uint64_t commit, const struct gs_transport *owner, void *req, const char *device,
                gs_buf *reply);

/* Replies waiting for their commit. */
size_t gs_acks_pending(const gs_acks *a);

/* At shutdown, before the transports stop: waits (blocking) until the last
 * queued commit is durable and delivers everything; when the WAL cannot be
 * synced the rest is delivered with GS_EIO. NULL-safe. */
void gs_acks_flush(gs_acks *a);

/* Unregisters from the loop and frees; replies still queued are dropped
 * undelivered. NULL-safe. */
void gs_acks_free(gs_acks *a);

#endif
