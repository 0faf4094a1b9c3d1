/* gs_status_table - prints the status field and org level tables
 * (gs_status_fields.h) as JSON, for the dashboard page, which reads them
 * instead of spelling the fields and levels again. Run at build time:
 *   gs_status_table          JSON
 *   gs_status_table --js     the same JSON as `window.GS_STATUS_TABLE = ...;`,
 *                            so the page loads it with a <script> tag, with no
 *                            request its server must answer.
 * Needs nothing but the header: the dashboard's build compiles it alone. */
#include <stdio.h>
#include <string.h>

#include "gs_status_fields.h"

/* The table's strings are literals of this project; escape anyway. */
static void str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

static int first;
static void field(const char *name, const char *key, const char *kind, const char *store, int sums, const char *head,
                  const char *dash) {
  printf("%s\n  {\"name\":", first ? "" : ",");
  first = 0;
  str(name);
  printf(",\"key\":");
  str(key);
  printf(",\"kind\":\"%s\",\"store\":\"%s\",\"sums\":%s,\"head\":", kind, store, sums ? "true" : "false");
  str(head);
  printf(",\"dash\":");
  str(dash);
}

int main(int argc, char **argv) {
  int js = argc > 1 && strcmp(argv[1], "--js") == 0;
  if (js)
    printf("/* generated from collector/status/gs_status_fields.h by gs_status_table: do not edit */\n"
           "window.GS_STATUS_TABLE = ");
  printf("{\"v\":1,\"fields\":[");
  first = 1;
#define C_(name, key, store, sums, head, width, dash)                                                                  \
  field(#name, key, "count", #store, sums, head, dash);                                                                \
  printf("}");
#define SUB_(a, sub)                                                                                                   \
  printf("%s\"%s\"", a ? "" : ",", #sub);                                                                              \
  a = 0;
#define M_(name, key, SUBS, prefix, store, sums, head, width, dash)                                                    \
  {                                                                                                                    \
    int lead = 1;                                                                                                      \
    field(#name, key, "map", #store, sums, head, dash);                                                                \
    printf(",\"subs\":[");                                                                                             \
    SUBS(SUB_, lead)                                                                                                   \
    printf("]}");                                                                                                      \
  }
  GS_STATUS_FIELDS(C_, M_)
  printf("\n],\"levels\":[");
  first = 1;
#define L_(name, label, kids)                                                                                          \
  printf("%s\n  {\"name\":\"%s\",\"label\":", first ? "" : ",", #name);                                                \
  first = 0;                                                                                                           \
  str(label);                                                                                                          \
  printf(",\"children\":");                                                                                            \
  str(kids);                                                                                                           \
  printf("}");
  GS_ORG_LEVELS(L_)
  printf("\n]}%s\n", js ? ";" : "");
  return ferror(stdout) ? 1 : 0;
}
