#include "gs_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_mem.h"

int gs_buf_reserve(gs_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return GS_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) return GS_ENOMEM;
    cap *= 2;
  }
  char *p = gs_realloc(b->data, cap);
  if (!p) return GS_ENOMEM;
  b->data = p;
  b->cap = cap;
  return GS_OK;
}

int gs_buf_append(gs_buf *b, const void *p, size_t n) {
  if (gs_buf_reserve(b, n)) return GS_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return GS_OK;
}

int gs_buf_puts(gs_buf *b, const char *s) { return gs_buf_append(b, s, strlen(s)); }

int gs_buf_printf(gs_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return GS_EINVAL;
  if (gs_buf_reserve(b, (size_t)n)) return GS_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return GS_OK;
}

int gs_buf_json_str(gs_buf *b, const char *s) {
  size_t n = strlen(s);
  /* worst case \u00XX for every byte: reserve once, write in place */
  if (n > ((size_t)-1 - 2) / 6 || gs_buf_reserve(b, n * 6 + 2)) return GS_ENOMEM;
  char *o = b->data + b->len;
  *o++ = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    if (c >= 0x20 && c != '"' && c != '\\') {
      *o++ = (char)c;
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    default: {
      static const char hex[] = "0123456789abcdef";
      *o++ = 'u';
      *o++ = '0';
      *o++ = '0';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
    }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  b->data[b->len] = '\0';
  return GS_OK;
}

void gs_buf_reset(gs_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void gs_buf_free(gs_buf *b) {
  gs_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *gs_buf_steal(gs_buf *b) {
  char *d = b->data;
  if (!d) d = gs_strdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}
