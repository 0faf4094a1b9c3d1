/* gs_acks.c - the ack releaser (see gs_acks.h). */
#include "gs_acks.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_transport.h"

/* A reply whose commit is not durable yet. */
typedef struct held {
  uint64_t commit;
  const gs_transport *owner;
  void *req;
  char device[65];
  gs_buf reply;
} held;

struct gs_acks {
  gs_loop *loop;
  gs_engine *engine;
  int fd;  /* the engine's durability descriptor, -1: durable at COMMIT */
  held *q; /* in commit order; [head, n) waiting */
  size_t head, n, cap;
};

/* Takes the front entry off the queue and hands it to its owner. The entry
 * is copied out first: a deliver callback may queue more (gs_acks_add),
 * which can move or reallocate the queue. */
static void deliver_front(gs_acks *a, int status) {
  held h = a->q[a->head++];
  if (a->head == a->n) a->head = a->n = 0;
  h.owner->ops->deliver(h.owner->self, h.req, h.device, &h.reply, status);
  gs_buf_free(&h.reply);
}

/* Hands back every reply whose commit is durable, in commit order. */
static void release(gs_acks *a) {
  uint64_t durable = gs_engine_durable(a->engine);
  while (a->head < a->n && a->q[a->head].commit <= durable) deliver_front(a, GS_OK);
}

static void on_durable(void *ctx, int fd, short re) {
  (void)fd, (void)re;
  release(ctx);
}

int gs_acks_new(gs_acks **out, gs_loop *loop, gs_engine *e) {
  *out = NULL;
  gs_acks *a = gs_calloc(1, sizeof *a);
  if (!a) return GS_ENOMEM;
  a->loop = loop;
  a->engine = e;
  a->fd = gs_engine_durable_fd(e);
  if (a->fd >= 0 && (!loop || gs_loop_fd(loop, a->fd, POLLIN, on_durable, a) != GS_OK)) {
    gs_free(a);
    return GS_ENOMEM;
  }
  *out = a;
  return GS_OK;
}

int gs_acks_add(gs_acks *a, uint64_t commit, const gs_transport *owner, void *req, const char *device, gs_buf *reply) {
  if (a->n == a->cap && a->head > 0) { /* reuse the released front */
    memmove(a->q, a->q + a->head, (a->n - a->head) * sizeof *a->q);
    a->n -= a->head;
    a->head = 0;
  }
  if (gs_grow(&a->q, &a->cap, a->n, sizeof *a->q, 64)) return GS_ENOMEM;
  held *h = &a->q[a->n++];
  h->commit = commit;
  h->owner = owner;
  h->req = req;
  snprintf(h->device, sizeof h->device, "%s", device ? device : "");
  h->reply = *reply;
  *reply = (gs_buf)GS_BUF_INIT;
  if (a->fd < 0) release(a); /* durable at COMMIT: nothing to wait for */
  return GS_OK;
}

size_t gs_acks_pending(const gs_acks *a) { return a ? a->n - a->head : 0; }

void gs_acks_flush(gs_acks *a) {
  if (!a || a->head == a->n) return;
  /* the last commit is the highest: one wait covers every reply */
  int rc = gs_engine_wait_durable(a->engine, a->q[a->n - 1].commit);
  release(a);
  if (rc != GS_OK) {
    gs_warn("collector: %zu repl(ies) not sent at shutdown: their commit is not durable (%s); devices will retry",
            a->n - a->head, gs_strerror(rc));
    while (a->head < a->n) deliver_front(a, rc);
  }
}

void gs_acks_free(gs_acks *a) {
  if (!a) return;
  if (a->fd >= 0 && a->loop) gs_loop_fd_del(a->loop, a->fd);
  for (size_t i = a->head; i < a->n; i++) gs_buf_free(&a->q[i].reply);
  gs_free(a->q);
  gs_free(a);
}
