/* gs_notify.c - sd_notify's datagrams (see gs_notify.h). */
#include "gs_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

struct gs_notify {
  int fd;
  struct sockaddr_un addr;
  socklen_t addrlen;
  int64_t watchdog_ms; /* 0 = no watchdog */
  int warned;          /* a failed send is logged once */
};

int gs_notify_new(gs_notify **out, char *err, size_t errlen) {
  const char *path = getenv("NOTIFY_SOCKET");
  const char *wd = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
  gs_notify *n = NULL;
  int rc = GS_OK;
  size_t len;
  *out = NULL;
  if (!path || !path[0]) return GS_OK;
  len = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof n->addr.sun_path) {
    snprintf(err, errlen,
             "NOTIFY_SOCKET '%.200s' is not a socket path (/...) or abstract name (@...) of at most %zu bytes", path,
             sizeof n->addr.sun_path - 1);
    return GS_ECONFIG;
  }
  if (!(n = gs_calloc(1, sizeof *n))) return GS_ENOMEM;
  n->fd = -1;
  n->addr.sun_family = AF_UNIX;
  memcpy(n->addr.sun_path, path, len);
  /* an abstract name: a leading NUL, and the length says where it ends */
  if (path[0] == '@') n->addr.sun_path[0] = '\0';
  n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
  if (wd && wd[0]) {
    int64_t usec;
    if (gs_parse_i64(wd, 1, INT64_MAX, &usec) != GS_OK) {
      snprintf(err, errlen, "WATCHDOG_USEC '%.64s' is not a positive number of microseconds", wd);
      rc = GS_ECONFIG;
      goto out;
    }
    int64_t pid = 0;
    /* WATCHDOG_PID names the process systemd watches; another's is not ours */
    if (!wpid || !wpid[0] || (gs_parse_i64(wpid, 1, INT64_MAX, &pid) == GS_OK && pid == (int64_t)getpid())) {
      n->watchdog_ms = usec / 2000;
      if (n->watchdog_ms < 1) n->watchdog_ms = 1;
    }
  }
  if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
    snprintf(err, errlen, "NOTIFY_SOCKET: cannot make a socket: %s", strerror(errno));
    rc = GS_EIO;
    goto out;
  }
out:
  if (rc) gs_notify_free(n);
  else *out = n;
  return rc;
}

void gs_notify_free(gs_notify *n) {
  if (!n) return;
  if (n->fd >= 0) close(n->fd);
  gs_free(n);
}

void gs_notify_send(gs_notify *n, const char *state) {
  if (!n) return;
  ssize_t w = sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addrlen);
  if (w < 0 && !n->warned) {
    n->warned = 1;
    gs_warn("notify: cannot send '%s' to NOTIFY_SOCKET: %s (further failures are not logged)", state, strerror(errno));
  }
}

void gs_notify_reloading(gs_notify *n) {
  struct timespec ts;
  char msg[96];
  if (!n) return;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld",
           (long long)ts.tv_sec * 1000000LL + (long long)(ts.tv_nsec / 1000));
  gs_notify_send(n, msg);
}

static void on_watchdog(void *ctx) { gs_notify_send(ctx, "WATCHDOG=1"); }

int gs_notify_watchdog(gs_notify *n, gs_loop *l) {
  if (!n || !n->watchdog_ms) return GS_OK;
  if (gs_loop_timer(l, n->watchdog_ms, on_watchdog, n)) return GS_ENOMEM;
  gs_info("notify: watchdog every %lld ms", (long long)n->watchdog_ms);
  return GS_OK;
}
