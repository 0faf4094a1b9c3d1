#include "gs_walsync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

struct gs_walsync {
  int wal_fd, event_fd;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t work, done; /* work: committed moved or stop; done: durable moved or failed */
  uint64_t committed, durable;
  int stop, failed;
};

static void *run(void *arg) {
  gs_walsync *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->stop && !w->failed && w->committed == w->durable) pthread_cond_wait(&w->work, &w->mu);
    if (w->failed || (w->stop && w->committed == w->durable)) break;
    uint64_t target = w->committed; /* every commit up to it has written its frames */
    pthread_mutex_unlock(&w->mu);
    int rc = fdatasync(w->wal_fd);
    int e = errno;
    pthread_mutex_lock(&w->mu);
    if (rc != 0) {
      w->failed = 1;
      gs_error("store: fdatasync of the WAL failed: %s; commits after #%llu are not durable and will not be acked; "
               "new batches are refused until the collector restarts (check the disk)",
               strerror(e), (unsigned long long)w->durable);
    } else {
      w->durable = target;
    }
    pthread_cond_broadcast(&w->done);
    uint64_t one = 1;
    if (write(w->event_fd, &one, sizeof one) < 0 && errno != EAGAIN)
      gs_debug("store: walsync eventfd: %s", strerror(errno));
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Everything gs_walsync_start made, the thread aside. */
static void destroy(gs_walsync *w) {
  pthread_cond_destroy(&w->done);
  pthread_cond_destroy(&w->work);
  pthread_mutex_destroy(&w->mu);
  close(w->event_fd);
  close(w->wal_fd);
  gs_free(w);
}

int gs_walsync_start(gs_walsync **out, const char *db_path) {
  char wal[4200];
  if (snprintf(wal, sizeof wal, "%s-wal", db_path) >= (int)sizeof wal) return GS_EINVAL;
  gs_walsync *w = gs_calloc(1, sizeof *w);
  if (!w) return GS_ENOMEM;
  w->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
  if (w->wal_fd < 0) {
    gs_error("store: %s: cannot open the WAL for syncing: %s", wal, strerror(errno));
    gs_free(w);
    return GS_EIO;
  }
  w->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->event_fd < 0) {
    close(w->wal_fd);
    gs_free(w);
    return GS_EIO;
  }
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->work, NULL);
  pthread_cond_init(&w->done, NULL);
  if (gs_thread_start(&w->thread, run, w) != 0) {
    destroy(w);
    return GS_EINTERNAL;
  }
  *out = w;
  return GS_OK;
}

void gs_walsync_committed(gs_walsync *w, uint64_t n) {
  pthread_mutex_lock(&w->mu);
  if (n > w->committed) w->committed = n;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
}

uint64_t gs_walsync_durable(gs_walsync *w) {
  pthread_mutex_lock(&w->mu);
  uint64_t d = w->durable;
  pthread_mutex_unlock(&w->mu);
  return d;
}

int gs_walsync_wait(gs_walsync *w, uint64_t n) {
  pthread_mutex_lock(&w->mu);
  while (!w->failed && w->durable < n) pthread_cond_wait(&w->done, &w->mu);
  int rc = w->durable >= n ? GS_OK : GS_EIO;
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int gs_walsync_fd(const gs_walsync *w) { return w->event_fd; }

void gs_walsync_drain(gs_walsync *w) {
  uint64_t v;
  while (read(w->event_fd, &v, sizeof v) == (ssize_t)sizeof v) {}
}

int gs_walsync_failed(gs_walsync *w) {
  pthread_mutex_lock(&w->mu);
  int f = w->failed;
  pthread_mutex_unlock(&w->mu);
  return f;
}

void gs_walsync_stop(gs_walsync *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  destroy(w);
}
