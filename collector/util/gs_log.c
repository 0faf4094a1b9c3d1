/* gs_log.c - leveled one-line logging to stderr (see gs_log.h). */
#include "gs_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name = "gridsync";
static int cur_level = GS_LOG_INFO;
static int journal = -1; /* stderr is the journal: 1 yes, 0 no, -1 not yet known */

/* True when stderr is the stream systemd connected to journald. systemd sets
 * JOURNAL_STREAM to "DEVICE:INODE" of that stream (systemd.exec(5),
 * "Environment variables in spawned processes"); a process that inherited
 * the variable but whose stderr was redirected elsewhere (a pipe, a file)
 * must keep the plain format, so compare with what stderr is. */
static int stderr_is_journal(void) {
  const char *v = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  char tail;
  struct stat st;
  if (!v || sscanf(v, "%llu:%llu%c", &dev, &ino, &tail) != 2) return 0;
  if (fstat(STDERR_FILENO, &st) != 0) return 0;
  return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void gs_log_init(const char *prog, int level) {
  if (prog) prog_name = prog;
  cur_level = level;
  journal = stderr_is_journal();
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
  /* sd-daemon(3) priorities: SD_DEBUG, SD_INFO, SD_WARNING, SD_ERR */
  static const char *const sd_prio[] = {"<7>", "<6>", "<4>", "<3>"};
  if (level < cur_level || level >= GS_LOG_OFF || level < 0) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (journal < 0) journal = stderr_is_journal();
  if (journal) {
    /* journald reads one entry per line, with its priority from the prefix,
     * and adds the time, the identifier and the pid itself. A newline inside
     * the message would start an entry of default priority. */
    for (char *p = msg; (p = strchr(p, '\n')) != NULL;) *p = ' ';
    fprintf(stderr, "%s%s %s\n", sd_prio[level], tag[level], msg);
    return;
  }
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03ldZ %s[%ld] %s %s\n", ts, (long)(tv.tv_usec / 1000), prog_name, (long)getpid(), tag[level],
          msg);
}
