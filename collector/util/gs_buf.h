/* gs_buf.h - a growable, length-carrying byte buffer (always NUL-terminated).
 *
 * Ownership: the buffer owns b->data; gs_buf_free() releases it and leaves an
 * empty buffer. gs_buf_steal() hands the data to the caller (free with gs_free).
 * Append functions return GS_OK or GS_ENOMEM; on failure the buffer keeps its
 * previous contents.
 */
#ifndef GS_BUF_H
#define GS_BUF_H

#include <stddef.h>

typedef struct gs_buf {
  char *data;
  size_t len;
  size_t cap;
} gs_buf;

#define GS_BUF_INIT                                                                                                    \
  { NULL, 0, 0 }

int gs_buf_reserve(gs_buf *b, size_t extra);
int gs_buf_append(gs_buf *b, const void *p, size_t n);
int gs_buf_puts(gs_buf *b, const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int gs_buf_printf(gs_buf *b, const char *fmt, ...);
/* Appends s as a JSON string literal with quotes and escapes. */
int gs_buf_json_str(gs_buf *b, const char *s);
void gs_buf_reset(gs_buf *b);
void gs_buf_free(gs_buf *b);
char *gs_buf_steal(gs_buf *b);

#endif
