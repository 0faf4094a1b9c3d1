/* gs_store_backup.c - an online copy of the store (gs-admin backup) while a
 * collector keeps writing to it, with SQLite's backup API
 * (sqlite3_backup_init/step/finish).
 *
 * The store runs in WAL mode, where a reader never blocks the writer, but a
 * long read transaction keeps the checkpointer from recycling the WAL. So
 * the copy goes in steps of STEP_PAGES pages, each its own short read
 * transaction, with a short sleep between them. A commit by another
 * connection (the collector) between two steps makes SQLite restart the copy
 * from page 1, so the result is always one consistent snapshot, taken no
 * earlier than the call: every change committed (acked) before it is in the
 * copy. Under a writer that commits faster than the copy advances, steps
 * would restart forever: after MAX_RESTARTS the rest is copied in one step
 * (one read transaction, which in WAL mode still lets the collector commit).
 *
 * The copy is written to FILE.tmp (0600: it holds what the store holds),
 * checked with PRAGMA quick_check, fsynced, then renamed (or, without
 * force, linked, so that an existing FILE is never replaced) to FILE and
 * the directory fsynced: FILE is either absent or a whole, checked copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_store_int.h"
#include "gs_util.h"

#define STEP_PAGES    256 /* 1 MiB of 4 KiB pages per read transaction */
#define STEP_SLEEP_MS 2   /* between steps: the writer's window */
#define BUSY_SLEEP_MS 20  /* after SQLITE_BUSY/LOCKED, before trying the step again */
#define MAX_RESTARTS  3
#define MAX_BUSY      500 /* x BUSY_SLEEP_MS: 10 s of a locked source or destination */

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* fsync of path (a file, or a directory after a rename in it). */
static int sync_path(const char *path, int dir) {
  int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

/* PRAGMA quick_check on db: GS_OK when it answers the single row "ok". */
static int quick_check(sqlite3 *db, const char *path, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  int rc = GS_ESTORE, src = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
  if (src == SQLITE_OK) src = sqlite3_step(st);
  if (src != SQLITE_ROW) {
    snprintf(err, errlen, "backup %s: quick_check failed: %s", path, sqlite3_errmsg(db));
    goto out;
  }
  const char *r = (const char *)sqlite3_column_text(st, 0);
  if (!r || strcmp(r, "ok") != 0) {
    snprintf(err, errlen, "backup %s: quick_check found damage: %.200s", path, r ? r : "(null)");
    goto out;
  }
  rc = GS_OK;
out:
  sqlite3_finalize(st);
  return rc;
}

int gs_store_backup_write(gs_store *s, const char *path, int force, gs_store_backup_stats *stats, char *err,
                          size_t errlen) {
  char tmp[PATH_MAX + 8], dir[PATH_MAX];
  sqlite3 *dst = NULL;
  sqlite3_backup *b = NULL;
  struct stat st;
  int rc = GS_EIO, fd = -1, made_tmp = 0, src;
  gs_store_backup_stats x;
  int64_t t0 = gs_mono_ms();
  memset(&x, 0, sizeof x);
  err[0] = '\0';
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp || strlen(path) >= sizeof dir) {
    snprintf(err, errlen, "backup: path too long");
    return GS_EINVAL;
  }
  if (!force && lstat(path, &st) == 0) {
    snprintf(err, errlen, "backup: %s exists; give another FILE, or --force to replace it", path);
    return GS_EEXISTS;
  }
  if (force) unlink(tmp); /* a leftover of an interrupted backup */
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    rc = errno == EEXIST ? GS_EEXISTS : GS_EIO;
    snprintf(err, errlen, "backup: cannot create %s: %s%s", tmp, strerror(errno),
             errno == EEXIST ? " (another backup running, or a leftover: remove it or give --force)" : "");
    return rc;
  }
  made_tmp = 1;
  if (fchmod(fd, 0600) != 0) { /* exactly 0600 whatever the umask; its journal gets the same */
    snprintf(err, errlen, "backup: chmod %s: %s", tmp, strerror(errno));
    goto out;
  }
  close(fd);
  fd = -1;
  src = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (src != SQLITE_OK) {
    snprintf(err, errlen, "backup: open %s: %s", tmp, dst ? sqlite3_errmsg(dst) : sqlite3_errstr(src));
    goto out;
  }
  b = sqlite3_backup_init(dst, "main", s->db, "main");
  if (!b) {
    snprintf(err, errlen, "backup: start: %s", sqlite3_errmsg(dst));
    goto out;
  }
  int last_remaining = -1, busy = 0, whole = 0;
  for (;;) {
    src = sqlite3_backup_step(b, whole ? -1 : STEP_PAGES);
    x.steps++;
    if (src == SQLITE_DONE) break;
    if (src == SQLITE_BUSY || src == SQLITE_LOCKED) {
      if (++busy > MAX_BUSY) {
        snprintf(err, errlen, "backup: the store stayed locked for %d s; try again", MAX_BUSY * BUSY_SLEEP_MS / 1000);
        rc = GS_EBUSY;
        goto out;
      }
      sleep_ms(BUSY_SLEEP_MS);
      continue;
    }
    if (src != SQLITE_OK) {
      snprintf(err, errlen, "backup: copying to %s: %s", tmp, sqlite3_errstr(src));
      rc = gs_store_err(src);
      goto out;
    }
    /* After a commit by another connection, the next step starts over: the
     * pages left grow back. */
    int remaining = sqlite3_backup_remaining(b);
    if (last_remaining >= 0 && remaining > last_remaining && ++x.restarts >= MAX_RESTARTS) whole = 1;
    last_remaining = remaining;
    sleep_ms(STEP_SLEEP_MS);
  }
  x.pages = sqlite3_backup_pagecount(b);
  src = sqlite3_backup_finish(b);
  b = NULL;
  if (src != SQLITE_OK) {
    snprintf(err, errlen, "backup: finishing %s: %s", tmp, sqlite3_errmsg(dst));
    rc = gs_store_err(src);
    goto out;
  }
  if ((rc = quick_check(dst, tmp, err, errlen))) goto out;
  rc = GS_EIO;
  src = sqlite3_close(dst);
  dst = NULL;
  if (src != SQLITE_OK) {
    snprintf(err, errlen, "backup: closing %s: %s", tmp, sqlite3_errstr(src));
    goto out;
  }
  if (sync_path(tmp, 0) != 0) {
    snprintf(err, errlen, "backup: fsync %s: %s", tmp, strerror(errno));
    goto out;
  }
  if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
    snprintf(err, errlen, "backup: %s %s to %s: %s", force ? "rename" : "link", tmp, path, strerror(errno));
    if (errno == EEXIST) rc = GS_EEXISTS;
    goto out;
  }
  if (!force) unlink(tmp);
  made_tmp = 0;
  memcpy(dir, path, strlen(path) + 1);
  if (sync_path(dirname(dir), 1) != 0) gs_warn("backup: fsync of the directory of %s: %s", path, strerror(errno));
  if (stat(path, &st) == 0) x.bytes = (int64_t)st.st_size;
  x.ms = gs_mono_ms() - t0;
  if (stats) *stats = x;
  rc = GS_OK;
out:
  if (fd >= 0) close(fd);
  if (b) sqlite3_backup_finish(b);
  if (dst) sqlite3_close(dst);
  if (made_tmp) unlink(tmp);
  return rc;
}
