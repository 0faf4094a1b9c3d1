/* gs_notify.h - systemd's service notifications without libsystemd
 * (docs/DEPLOYMENT.md: gs-collector.service is Type=notify with a watchdog).
 *
 * The protocol is sd_notify(3)'s: one AF_UNIX datagram per message, sent to
 * the socket named by $NOTIFY_SOCKET (a path, or an abstract name when it
 * starts with '@'); each message is "KEY=VALUE" lines. The collector sends
 *   READY=1                         once the transports run and the first
 *                                   status is out, and after each reload;
 *   RELOADING=1 + MONOTONIC_USEC=   when a SIGHUP reload starts;
 *   STOPPING=1                      when a stop starts;
 *   WATCHDOG=1                      every $WATCHDOG_USEC / 2 from the event
 *                                   loop, so a stuck loop misses it and
 *                                   systemd restarts the service.
 * Without $NOTIFY_SOCKET every function does nothing. Sending is best
 * effort: a lost notification is logged (once), never an error of the
 * collector.
 *
 * Threading: the event loop's thread.
 */
#ifndef GS_NOTIFY_H
#define GS_NOTIFY_H

#include <stddef.h>

#include "gs_loop.h"

typedef struct gs_notify gs_notify;

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. Returns GS_OK with
 * *out NULL when there is no $NOTIFY_SOCKET (every function below accepts
 * NULL), GS_ECONFIG with one line in err for an unusable $NOTIFY_SOCKET or
 * $WATCHDOG_USEC, GS_EIO when no socket can be made, GS_ENOMEM. Free with
 * gs_notify_free(). */
int gs_notify_new(gs_notify **out, char *err, size_t errlen);
void gs_notify_free(gs_notify *n);

/* Sends state (e.g. "READY=1", "STOPPING=1"). */
void gs_notify_send(gs_notify *n, const char *state);
/* Sends "RELOADING=1" with MONOTONIC_USEC (systemd wants both). */
void gs_notify_reloading(gs_notify *n);
/* With $WATCHDOG_USEC set (and $WATCHDOG_PID, if set, naming this process):
 * a timer on l sending "WATCHDOG=1" every WATCHDOG_USEC / 2. Returns GS_OK
 * (also when there is no watchdog) or GS_ENOMEM (the loop is full). */
int gs_notify_watchdog(gs_notify *n, gs_loop *l);

#endif
