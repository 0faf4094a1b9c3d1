/* gs_loop.h - the collector's single event loop (poll(2)).
 *
 * Transports register their file descriptors and a prepare hook that runs
 * before every poll (to set POLLOUT or bound the timeout, e.g. libmosquitto's
 * want_write, libcoap's next retransmission). Everything that touches the
 * store runs on this one thread.
 */
#ifndef GS_LOOP_H
#define GS_LOOP_H

#include <stdint.h>

typedef struct gs_loop gs_loop;
typedef void (*gs_loop_io_cb)(void *ctx, int fd, short revents);
/* Returns the longest the loop may sleep before calling again, in ms (-1 = no limit). */
typedef int64_t (*gs_loop_prepare_cb)(void *ctx);
typedef void (*gs_loop_timer_cb)(void *ctx);

gs_loop *gs_loop_new(void);
void gs_loop_free(gs_loop *l);
/* Adds or updates fd. At most 64 fds. Returns 0 or GS_ENOMEM. */
int gs_loop_fd(gs_loop *l, int fd, short events, gs_loop_io_cb cb, void *ctx);
void gs_loop_fd_events(gs_loop *l, int fd, short events);
void gs_loop_fd_del(gs_loop *l, int fd);
int gs_loop_prepare(gs_loop *l, gs_loop_prepare_cb cb, void *ctx);
/* A periodic timer, first run after interval_ms. */
int gs_loop_timer(gs_loop *l, int64_t interval_ms, gs_loop_timer_cb cb, void *ctx);
/* Runs until gs_loop_stop(). */
void gs_loop_run(gs_loop *l);
void gs_loop_stop(gs_loop *l);

#endif
