/* slow_fsync.c - LD_PRELOAD shim for test_coap_durable_wait.sh: makes the
 * fdatasync of a SQLite WAL file ("...-wal") take GS_SLOW_FSYNC_MS longer
 * while the file named by GS_SLOW_FSYNC_FLAG exists, so that a test can hold
 * a commit "not durable yet" for as long as it needs (the collector's WAL
 * sync thread, collector/store/gs_walsync.c, calls fdatasync). Everything
 * else goes straight to libc. Not part of any product. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int is_wal(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  return n > 4 && memcmp(target + n - 4, "-wal", 4) == 0;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  const char *flag = getenv("GS_SLOW_FSYNC_FLAG"), *ms = getenv("GS_SLOW_FSYNC_MS");
  if (flag && ms && access(flag, F_OK) == 0 && is_wal(fd)) {
    long v = strtol(ms, NULL, 10);
    struct timespec ts = {v / 1000, (v % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  }
  return real(fd);
}
