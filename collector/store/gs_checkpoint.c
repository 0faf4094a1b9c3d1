#include "gs_checkpoint.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

/* WAL frames (pages) past which the writer finishes a catch-up
 * checkpoint: 4000 x 4 KiB = 16 MiB. Below 4096 frames the WAL index is one
 * hash table; every page the writer reads is looked up in each table of it,
 * so a long WAL slows every statement (measured: a 300 MB WAL let by a
 * writer that never paused made the collector ~1.5x slower per change). */
#define CATCHUP_FRAMES 4000
/* passes of this thread before the writer's, and the growth of the WAL during
 * a pass below which one more is not worth it (frames) */
#define CATCHUP_PASSES 4
#define CATCHUP_REST   256

struct gs_checkpointer {
  sqlite3 *db;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  int interval_ms;
  int restart_frames; /* see CATCHUP_FRAMES */
  /* set by this thread, taken by the writer before its next transaction:
   * copy what is left of a long WAL (see run) */
  atomic_int want_final;
};

static void *run(void *arg) {
  gs_checkpointer *c = arg;
  /* Copying the WAL is background work: on a small server it shares the
   * cores with the writer, the broker and TLS, and the writer's latency
   * matters more. Raising one's own nice needs no privilege. */
  if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
    gs_debug("store: checkpoint thread keeps its priority: %s", strerror(errno));
  pthread_mutex_lock(&c->mu);
  while (!c->stop) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += c->interval_ms / 1000;
    until.tv_nsec += (long)(c->interval_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    int w = 0;
    while (!c->stop && w != ETIMEDOUT) w = pthread_cond_timedwait(&c->cv, &c->mu, &until);
    if (c->stop) break;
    pthread_mutex_unlock(&c->mu);
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_OK && log > c->restart_frames) {
      /* A PASSIVE checkpoint never catches up with a writer that keeps
       * writing, and SQLite starts the WAL over only when every frame was
       * copied. So past the threshold this thread gets close, each pass
       * copying what the writer added during the one before, and the writer
       * copies the rest itself before its next transaction, which then
       * starts the WAL from its beginning. (Measured at 4,000 changes/s:
       * a RESTART checkpoint here, which waits for the write lock, p99
       * publish->ack 59-71 ms and a maximum of ~7,500 changes/s; the writer
       * held on a mutex while this thread made one pass, 76-117 ms, the
       * writer held 40 ms on average and up to 100 ms; with the passes
       * first, 38-76 ms, held 19 ms on average.) Done by the writer, the
       * last pass runs at the writer's priority, not this thread's, and no
       * lock is held across the writer's transactions. */
      for (int i = 0, prev = 0; i < CATCHUP_PASSES && rc == SQLITE_OK && log - prev > CATCHUP_REST; i++) {
        prev = log;
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
      }
      /* unless the writer started the WAL over meanwhile */
      if (rc == SQLITE_OK && log > c->restart_frames) atomic_store(&c->want_final, 1);
    }
    gs_debug("store: checkpoint rc=%d wal=%d done=%d", rc, log, done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      gs_warn("store: background checkpoint failed: %s (code %d); retrying next interval", sqlite3_errmsg(c->db), rc);
    pthread_mutex_lock(&c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

int gs_checkpointer_start(gs_checkpointer **out, const char *path, int interval_ms, int restart_frames) {
  gs_checkpointer *c = gs_calloc(1, sizeof *c);
  if (!c) return GS_ENOMEM;
  c->interval_ms = interval_ms > 0 ? interval_ms : 1000;
  c->restart_frames = restart_frames <= 0             ? CATCHUP_FRAMES
                      : restart_frames > CATCHUP_REST ? restart_frames
                                                      : CATCHUP_REST + 1;
  /* its own connection, used by its own thread only */
  if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    gs_error("store: %s: cannot open a checkpoint connection: %s", path, c->db ? sqlite3_errmsg(c->db) : "?");
    sqlite3_close(c->db);
    gs_free(c);
    return GS_EIO;
  }
  sqlite3_busy_timeout(c->db, 1000);
  /* a new connection learns that the database is in WAL mode only when it
   * first reads it; until then checkpoints do nothing (log = -1) */
  if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
    gs_error("store: %s: checkpoint connection: %s", path, sqlite3_errmsg(c->db));
    sqlite3_close(c->db);
    gs_free(c);
    return GS_EIO;
  }
  pthread_mutex_init(&c->mu, NULL);
  atomic_init(&c->want_final, 0);
  pthread_cond_init(&c->cv, NULL);
  if (gs_thread_start(&c->thread, run, c) != 0) {
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close(c->db);
    gs_free(c);
    return GS_EINTERNAL;
  }
  *out = c;
  return GS_OK;
}

void gs_checkpointer_stop(gs_checkpointer *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->stop = 1;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->thread, NULL);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  sqlite3_close(c->db);
  gs_free(c);
}

void gs_checkpointer_writer_turn(gs_checkpointer *c, sqlite3 *db) {
  if (!c || !atomic_exchange(&c->want_final, 0)) return;
  /* PASSIVE never waits: BUSY when this thread is in a pass of its own, and
   * then it asks again */
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  gs_debug("store: writer's catch-up checkpoint rc=%d wal=%d done=%d", rc, log, done);
}
