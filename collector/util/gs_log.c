#include "gs_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name = "gridsync";
static int cur_level = GS_LOG_INFO;

void gs_log_init(const char *prog, int level) {
  if (prog) prog_name = prog;
  cur_level = level;
}

void gs_log_set_level(int level) { cur_level = level; }
int gs_log_level(void) { return cur_level; }

int gs_log_level_parse(const char *s) {
  static const char *const n[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++)
    if (s && strcmp(s, n[i]) == 0) return i;
  return -1;
}

void gs_log(int level, const char *fmt, ...) {
  static const char *const tag[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  if (level < cur_level || level >= GS_LOG_OFF) return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s.%03ldZ %s[%ld] %s %s\n", ts, (long)(tv.tv_usec / 1000), prog_name, (long)getpid(), tag[level],
          msg);
}
