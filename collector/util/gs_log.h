/* gs_log.h - leveled one-line logging to stderr.
 *
 * Format: "2026-11-23T18:00:00.123Z gs-collector[pid] LEVEL message".
 * A message says the operation, the object, the peer and the cause, so that
 * an operator knows what to do next. Never log secrets (keys, passwords).
 */
#ifndef GS_LOG_H
#define GS_LOG_H

enum gs_log_level { GS_LOG_DEBUG = 0, GS_LOG_INFO, GS_LOG_WARN, GS_LOG_ERROR, GS_LOG_OFF };

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
