#include "gs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gs_error.h"
#include "gs_mem.h"

static int id_chars(const char *s, size_t minlen, size_t maxlen, int lower_only) {
  if (!s) return 0;
  size_t n = 0;
  for (const char *p = s; *p; p++, n++) {
    char c = *p;
    if (n >= maxlen) return 0;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') continue;
    if (!lower_only && ((c >= 'A' && c <= 'Z') || c == '_')) continue;
    return 0;
  }
  return n >= minlen;
}

int gs_valid_org_id(const char *s) { return id_chars(s, 1, 64, 0); }
int gs_valid_device_id(const char *s) { return id_chars(s, 3, 64, 1); }
int gs_valid_entity_id(const char *s) { return id_chars(s, 1, 64, 0); }

int gs_valid_utf8(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) {
      k = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      k = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      k = 3;
      cp = c & 0x07;
    } else return 0;
    if (i + k >= n) return 0; /* truncated sequence */
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000)) return 0;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += k + 1;
  }
  return 1;
}

size_t gs_utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
  return n;
}

/* East Asian Wide and Fullwidth ranges (Unicode UAX #11), the ones Chinese
 * names and addresses use; everything else counts one column. */
static int wide(uint32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) || (c >= 0x3041 && c <= 0x33FF) ||
         (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
         (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);
}

size_t gs_utf8_width(const char *s) {
  size_t w = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    uint32_t c = *p;
    int n = c < 0x80 ? 0 : c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (n) c &= 0x3Fu >> n;
    p++;
    for (; n > 0 && (*p & 0xC0) == 0x80; n--, p++) c = (c << 6) | (*p & 0x3F);
    w += wide(c) ? 2 : 1;
  }
  return w;
}

int gs_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
  if (!s || !*s) return GS_EINVAL;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno || !end || *end || v < min || v > max) return GS_EINVAL;
  *out = v;
  return GS_OK;
}

int64_t gs_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gs_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int gs_read_file(const char *path, size_t max, char **out, size_t *len) {
  int rc = GS_EIO;
  char *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return errno == ENOENT ? GS_ENOTFOUND : GS_EIO;
  size_t cap = 4096, n = 0;
  buf = gs_malloc(cap);
  if (!buf) {
    rc = GS_ENOMEM;
    goto out;
  }
  for (;;) {
    if (n + 1 >= cap) {
      if (cap >= max + 1) {
        rc = GS_ETOO_LARGE;
        goto out;
      }
      size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
      char *p = gs_realloc(buf, ncap);
      if (!p) {
        rc = GS_ENOMEM;
        goto out;
      }
      buf = p;
      cap = ncap;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) goto out;
  if (n > max) {
    rc = GS_ETOO_LARGE;
    goto out;
  }
  buf[n] = '\0';
  *out = buf;
  if (len) *len = n;
  buf = NULL;
  rc = GS_OK;
out:
  gs_free(buf);
  fclose(f);
  return rc;
}

int gs_thread_start(pthread_t *t, void *(*fn)(void *), void *arg) {
  /* the new thread inherits the mask in effect at create */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

static void random_bytes(unsigned char *r, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = getrandom(r + got, n - got, 0);
    if (k <= 0) continue; /* cannot fail for 16 bytes after boot; keep going on EINTR */
    got += (size_t)k;
  }
}

static void uuid_format(unsigned char r[16], int version, char out[37]) {
  r[6] = (unsigned char)((r[6] & 0x0F) | (version << 4));
  r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
           r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

void gs_uuid4(char out[37]) {
  unsigned char r[16];
  random_bytes(r, sizeof r);
  uuid_format(r, 4, out);
}

void gs_uuid7(int64_t ms, char out[37]) {
  unsigned char r[16];
  random_bytes(r + 6, sizeof r - 6);
  uint64_t t = ms > 0 ? (uint64_t)ms : 0;
  for (int i = 5; i >= 0; i--, t >>= 8) r[i] = (unsigned char)(t & 0xFF);
  uuid_format(r, 7, out);
}
