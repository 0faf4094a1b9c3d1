#include "gs_loop.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

#define MAX_FDS   64
#define MAX_HOOKS 16

struct gs_loop {
  struct pollfd pfd[MAX_FDS];
  struct {
    gs_loop_io_cb cb;
    void *ctx;
  } io[MAX_FDS];
  int nfds;
  struct {
    gs_loop_prepare_cb cb;
    void *ctx;
  } prep[MAX_HOOKS];
  int nprep;
  struct {
    int64_t interval, next;
    gs_loop_timer_cb cb;
    void *ctx;
  } timer[MAX_HOOKS];
  int ntimers;
  int stop;
};

gs_loop *gs_loop_new(void) { return gs_calloc(1, sizeof(gs_loop)); }
void gs_loop_free(gs_loop *l) { gs_free(l); }

static int find(gs_loop *l, int fd) {
  for (int i = 0; i < l->nfds; i++)
    if (l->pfd[i].fd == fd) return i;
  return -1;
}

int gs_loop_fd(gs_loop *l, int fd, short events, gs_loop_io_cb cb, void *ctx) {
  int i = find(l, fd);
  if (i < 0) {
    if (l->nfds == MAX_FDS) return GS_ENOMEM;
    i = l->nfds++;
  }
  l->pfd[i] = (struct pollfd){fd, events, 0};
  l->io[i].cb = cb;
  l->io[i].ctx = ctx;
  return GS_OK;
}

void gs_loop_fd_events(gs_loop *l, int fd, short events) {
  int i = find(l, fd);
  if (i >= 0) l->pfd[i].events = events;
}

void gs_loop_fd_del(gs_loop *l, int fd) {
  int i = find(l, fd);
  if (i < 0) return;
  l->nfds--;
  l->pfd[i] = l->pfd[l->nfds];
  l->io[i] = l->io[l->nfds];
}

int gs_loop_prepare(gs_loop *l, gs_loop_prepare_cb cb, void *ctx) {
  if (l->nprep == MAX_HOOKS) return GS_ENOMEM;
  l->prep[l->nprep].cb = cb;
  l->prep[l->nprep++].ctx = ctx;
  return GS_OK;
}

int gs_loop_timer(gs_loop *l, int64_t interval_ms, gs_loop_timer_cb cb, void *ctx) {
  if (l->ntimers == MAX_HOOKS) return GS_ENOMEM;
  l->timer[l->ntimers].interval = interval_ms;
  l->timer[l->ntimers].next = gs_mono_ms() + interval_ms;
  l->timer[l->ntimers].cb = cb;
  l->timer[l->ntimers++].ctx = ctx;
  return GS_OK;
}

void gs_loop_stop(gs_loop *l) { l->stop = 1; }

void gs_loop_run(gs_loop *l) {
  l->stop = 0;
  while (!l->stop) {
    int64_t wait = 1000, now = gs_mono_ms();
    for (int i = 0; i < l->nprep; i++) {
      int64_t w = l->prep[i].cb(l->prep[i].ctx);
      if (w >= 0 && w < wait) wait = w;
    }
    for (int i = 0; i < l->ntimers; i++) {
      int64_t w = l->timer[i].next - now;
      if (w < wait) wait = w < 0 ? 0 : w;
    }
    int n = poll(l->pfd, (nfds_t)l->nfds, (int)wait);
    if (n < 0 && errno != EINTR) {
      gs_error("loop: poll failed: %s", strerror(errno));
      return;
    }
    for (int i = 0; n > 0 && i < l->nfds; i++) {
      short re = l->pfd[i].revents;
      if (!re) continue;
      l->pfd[i].revents = 0;
      /* the callback may add or remove fds: index i may now hold another fd */
      l->io[i].cb(l->io[i].ctx, l->pfd[i].fd, re);
    }
    now = gs_mono_ms();
    for (int i = 0; i < l->ntimers; i++) {
      if (now >= l->timer[i].next) {
        l->timer[i].next = now + l->timer[i].interval;
        l->timer[i].cb(l->timer[i].ctx);
      }
    }
  }
}
