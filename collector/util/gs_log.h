/* gs_log.h - leveled one-line logging to stderr.
 *
 * Format: "2026-11-23T18:00:00.123Z gs-collector[pid] LEVEL message".
 * Under systemd, when stderr is the journal stream (JOURNAL_STREAM names
 * stderr's device and inode, systemd.exec(5)): "<P>LEVEL message", P the
 * sd-daemon(3) priority (3 error, 4 warning, 6 info, 7 debug), no time, name
 * or pid (journald records them); a newline inside the message becomes a
 * space so that the entry keeps its priority.
 * A message says the operation, the object, the peer and the cause, so that
 * an operator knows what to do next. Never log secrets (keys, passwords).
 */
#ifndef GS_LOG_H
#define GS_LOG_H

enum gs_log_level { GS_LOG_DEBUG = 0, GS_LOG_INFO, GS_LOG_WARN, GS_LOG_ERROR, GS_LOG_OFF };

/* Sets the program name (kept, not copied: a string literal or argv[0]) and
 * the level, and looks at JOURNAL_STREAM and stderr once; call again after
 * redirecting stderr. Call from main before starting threads. */
void gs_log_init(const char *prog, int level);
void gs_log_set_level(int level);
int gs_log_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int gs_log_level_parse(const char *s);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void gs_log(int level, const char *fmt, ...);

#define gs_debug(...) gs_log(GS_LOG_DEBUG, __VA_ARGS__)
#define gs_info(...)  gs_log(GS_LOG_INFO, __VA_ARGS__)
#define gs_warn(...)  gs_log(GS_LOG_WARN, __VA_ARGS__)
#define gs_error(...) gs_log(GS_LOG_ERROR, __VA_ARGS__)

#endif
