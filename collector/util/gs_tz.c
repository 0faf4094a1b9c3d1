/* gs_tz.c - TZif reader and UTC -> local civil time (see gs_tz.h; the file
 * format is RFC 8536). */
#include "gs_tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_error.h"
#include "gs_mem.h"

/* a TZif file larger than this is not one (the biggest zones are ~4 KB) */
#define TZIF_MAX (256 * 1024)

/* One POSIX TZ rule date: Jn (julian, no Feb 29), n (zero-based day of
 * year), or Mm.w.d; secs is the local time of day of the change. */
typedef struct rule_date {
  char kind; /* 'J', 'D', 'M' */
  int m, w, d, n;
  int32_t secs;
} rule_date;

/* The footer's rule: std offset, and optionally dst with its two dates. */
typedef struct posix_rule {
  int valid;
  int32_t std_off, dst_off; /* seconds east of UTC */
  int has_dst;
  rule_date start, end;
} posix_rule;

struct gs_tz {
  char *name;
  size_t ntrans;
  int64_t *trans;    /* transition instants, ascending */
  uint8_t *idx;      /* type index after each transition */
  int32_t *type_off; /* utoff of each local time type */
  size_t ntypes;
  posix_rule rule; /* after the last transition */
};

/* ------------------------------------------------------------------ */
/* calendar (proleptic Gregorian, days since 1970-01-01)                 */

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* ------------------------------------------------------------------ */
/* POSIX TZ strings (the TZif footer), e.g. "CET-1CEST,M3.5.0,M10.5.0/3" */

static const char *skip_name(const char *p) {
  if (*p == '<') {
    while (*p && *p != '>') p++;
    return *p == '>' ? p + 1 : NULL;
  }
  const char *s = p;
  while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) p++;
  return p - s >= 3 ? p : NULL;
}

static const char *parse_num(const char *p, int lo, int hi, int *out) {
  if (*p < '0' || *p > '9') return NULL;
  long v = 0;
  while (*p >= '0' && *p <= '9' && v <= hi) v = v * 10 + (*p++ - '0');
  if (v < lo || v > hi) return NULL;
  *out = (int)v;
  return p;
}

/* [+-]hh[:mm[:ss]] in seconds; hours up to 167 (RFC 8536 extension). */
static const char *parse_hms(const char *p, int32_t *out) {
  int sign = 1, h = 0, m = 0, s = 0;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  if (!(p = parse_num(p, 0, 167, &h))) return NULL;
  if (*p == ':' && !(p = parse_num(p + 1, 0, 59, &m))) return NULL;
  if (*p == ':' && !(p = parse_num(p + 1, 0, 59, &s))) return NULL;
  *out = sign * (h * 3600 + m * 60 + s);
  return p;
}

static const char *parse_date(const char *p, rule_date *r) {
  r->secs = 2 * 3600;
  if (*p == 'M') {
    r->kind = 'M';
    if (!(p = parse_num(p + 1, 1, 12, &r->m)) || *p != '.') return NULL;
    if (!(p = parse_num(p + 1, 1, 5, &r->w)) || *p != '.') return NULL;
    if (!(p = parse_num(p + 1, 0, 6, &r->d))) return NULL;
  } else if (*p == 'J') {
    r->kind = 'J';
    if (!(p = parse_num(p + 1, 1, 365, &r->n))) return NULL;
  } else {
    r->kind = 'D';
    if (!(p = parse_num(p, 0, 365, &r->n))) return NULL;
  }
  if (*p == '/' && !(p = parse_hms(p + 1, &r->secs))) return NULL;
  return p;
}

static int parse_rule(const char *p, posix_rule *r) {
  int32_t off;
  memset(r, 0, sizeof *r);
  if (!(p = skip_name(p)) || !(p = parse_hms(p, &off))) return 0;
  r->std_off = -off; /* POSIX offsets are west of UTC */
  if (*p) {
    if (!(p = skip_name(p))) return 0;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
      if (!(p = parse_hms(p, &off))) return 0;
      r->dst_off = -off;
    }
    if (*p != ',') return 0; /* TZif footers always carry the rule */
    if (!(p = parse_date(p + 1, &r->start)) || *p != ',') return 0;
    if (!(p = parse_date(p + 1, &r->end)) || *p) return 0;
  }
  r->valid = 1;
  return 1;
}

/* Unix time of rule date r in year y, given as local time with offset off. */
static int64_t rule_time(const rule_date *r, int64_t y, int32_t off) {
  int64_t day;
  if (r->kind == 'J') {
    day = days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60);
  } else if (r->kind == 'D') {
    day = days_from_civil(y, 1, 1) + r->n;
  } else {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t first = days_from_civil(y, r->m, 1);
    int wd1 = (int)((first % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int64_t dd = (r->d - wd1 + 7) % 7 + (int64_t)(r->w - 1) * 7;
    int len = mdays[r->m - 1] + (r->m == 2 && is_leap(y));
    while (dd >= len) dd -= 7;
    day = first + dd;
  }
  return day * 86400 + r->secs - off;
}

static int32_t rule_off(const posix_rule *r, int64_t t) {
  if (!r->has_dst) return r->std_off;
  int y, m, d;
  civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
  int64_t start = rule_time(&r->start, y, r->std_off), end = rule_time(&r->end, y, r->dst_off);
  int dst;
  if (start < end) dst = t >= start && t < end;
  else dst = !(t >= end && t < start); /* southern hemisphere */
  return dst ? r->dst_off : r->std_off;
}

/* ------------------------------------------------------------------ */
/* TZif                                                                 */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

struct tzif_hdr {
  char version;
  uint32_t isut, isstd, leap, time, type, chr;
};

static int read_hdr(const unsigned char *p, size_t n, struct tzif_hdr *h) {
  if (n < 44 || memcmp(p, "TZif", 4) != 0) return 0;
  h->version = (char)p[4];
  h->isut = be32(p + 20);
  h->isstd = be32(p + 24);
  h->leap = be32(p + 28);
  h->time = be32(p + 32);
  h->type = be32(p + 36);
  h->chr = be32(p + 40);
  return h->type >= 1 && h->type <= 256 && h->time <= 100000 && h->leap <= 100000;
}

static size_t block_len(const struct tzif_hdr *h, size_t tsz) {
  return (size_t)h->time * tsz + h->time + (size_t)h->type * 6 + h->chr + (size_t)h->leap * (tsz + 4) + h->isstd +
         h->isut;
}

/* Fills z from the TZif bytes p[0..n); 0 when malformed. */
static int parse_tzif(gs_tz *z, const unsigned char *p, size_t n) {
  struct tzif_hdr h;
  size_t tsz = 4;
  if (!read_hdr(p, n, &h)) return 0;
  if (h.version >= '2') { /* skip the 32-bit block: the 64-bit one follows */
    size_t skip = 44 + block_len(&h, 4);
    if (skip > n) return 0;
    p += skip;
    n -= skip;
    if (!read_hdr(p, n, &h)) return 0;
    tsz = 8;
  }
  if (44 + block_len(&h, tsz) > n) return 0;
  const unsigned char *q = p + 44;
  z->ntrans = h.time;
  z->ntypes = h.type;
  z->trans = gs_malloc((h.time ? h.time : 1) * sizeof *z->trans);
  z->idx = gs_malloc(h.time ? h.time : 1);
  z->type_off = gs_malloc(h.type * sizeof *z->type_off);
  if (!z->trans || !z->idx || !z->type_off) return -1;
  for (size_t i = 0; i < h.time; i++, q += tsz) z->trans[i] = tsz == 8 ? be64(q) : (int32_t)be32(q);
  for (size_t i = 0; i < h.time; i++, q++) {
    if (*q >= h.type) return 0;
    z->idx[i] = *q;
  }
  for (size_t i = 0; i < h.type; i++, q += 6) z->type_off[i] = (int32_t)be32(q);
  q += h.chr + (size_t)h.leap * (tsz + 4) + h.isstd + h.isut;
  /* footer: "\n" POSIX-TZ "\n" (version 2+) */
  if (tsz == 8 && q < p + n && *q == '\n') {
    const unsigned char *e = memchr(q + 1, '\n', (size_t)(p + n - q - 1));
    if (e && e > q + 1) {
      char tz[128];
      size_t len = (size_t)(e - q - 1);
      if (len < sizeof tz) {
        memcpy(tz, q + 1, len);
        tz[len] = '\0';
        parse_rule(tz, &z->rule); /* unreadable: the last transition's type stays in force */
      }
    }
  }
  return 1;
}

static int load_utc(gs_tz *z) {
  z->ntypes = 1;
  z->type_off = gs_calloc(1, sizeof *z->type_off);
  z->trans = gs_malloc(sizeof *z->trans);
  z->idx = gs_malloc(1);
  return z->type_off && z->trans && z->idx ? GS_OK : GS_ENOMEM;
}

/* A zone name is a relative path of letters, digits, '_', '-', '+', '/',
 * never "..": it must not reach outside the database. */
static int valid_name(const char *s) {
  if (!s[0] || s[0] == '/' || strlen(s) > 128 || strstr(s, "..")) return 0;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
          *s == '+' || *s == '/'))
      return 0;
  return 1;
}

int gs_tz_load(gs_tz **out, const char *name, char *err, size_t errlen) {
  unsigned char *buf = NULL;
  FILE *f = NULL;
  char path[4200];
  int rc = GS_ENOMEM;
  int sys = !name || !name[0];
  gs_tz *z = gs_calloc(1, sizeof *z);
  if (!z || !(z->name = gs_strdup(sys ? "" : name))) goto out;
  const char *dir = getenv("TZDIR");
  if (!dir || !dir[0]) dir = "/usr/share/zoneinfo";
  if (sys) {
    snprintf(path, sizeof path, "/etc/localtime");
  } else if (!valid_name(name)) {
    rc = GS_ECONFIG;
    snprintf(err, errlen,
             "time zone '%.64s' is not a zone name; use an IANA name such as Asia/Shanghai, Europe/Berlin or UTC",
             name);
    goto out;
  } else {
    snprintf(path, sizeof path, "%s/%s", dir, name);
  }
  f = fopen(path, "rb");
  if (!f) {
    if (sys || strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) { /* no database: UTC needs none */
      rc = load_utc(z);
      goto out;
    }
    rc = GS_ECONFIG;
    snprintf(err, errlen,
             "time zone '%.64s' is unknown: cannot open %s (%s); use an IANA name such as Asia/Shanghai "
             "(ls %s), install the tzdata package, or set TZDIR to the zoneinfo directory",
             name, path, strerror(errno), dir);
    goto out;
  }
  if (!(buf = gs_malloc(TZIF_MAX))) goto out;
  size_t n = fread(buf, 1, TZIF_MAX, f);
  int ok = ferror(f) ? 0 : parse_tzif(z, buf, n);
  if (ok < 0) goto out;
  if (!ok) {
    rc = GS_ECONFIG;
    snprintf(err, errlen,
             "time zone '%.64s': %s is not a TZif file (RFC 8536); reinstall the tzdata package or point TZDIR "
             "at a zoneinfo directory",
             sys ? "(system)" : name, path);
    goto out;
  }
  rc = GS_OK;
out:
  if (f) fclose(f);
  gs_free(buf);
  if (rc == GS_OK) *out = z;
  else gs_tz_free(z);
  return rc;
}

void gs_tz_free(gs_tz *z) {
  if (!z) return;
  gs_free(z->name);
  gs_free(z->trans);
  gs_free(z->idx);
  gs_free(z->type_off);
  gs_free(z);
}

const char *gs_tz_name(const gs_tz *z) { return z ? z->name : "UTC"; }

int gs_tz_utcoff(const gs_tz *z, int64_t t) {
  if (!z) return 0;
  if (z->ntrans == 0) return z->rule.valid ? rule_off(&z->rule, t) : z->type_off[0];
  if (t < z->trans[0]) return z->type_off[0]; /* RFC 8536 3.2: before the first, type 0 */
  if (t >= z->trans[z->ntrans - 1] && z->rule.valid) return rule_off(&z->rule, t);
  /* the last transition at or before t */
  size_t lo = 0, hi = z->ntrans;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (z->trans[mid] <= t) lo = mid;
    else hi = mid;
  }
  return z->type_off[z->idx[lo]];
}

void gs_tz_civil_of(const gs_tz *z, int64_t ms, gs_tz_civil *c) {
  int64_t t = floor_div(ms, 1000);
  c->utcoff = gs_tz_utcoff(z, t);
  int64_t lt = t + c->utcoff, days = floor_div(lt, 86400), secs = lt - days * 86400;
  civil_from_days(days, &c->year, &c->month, &c->day);
  c->hour = (int)(secs / 3600);
  c->min = (int)(secs / 60 % 60);
  c->sec = (int)(secs % 60);
}

int64_t gs_tz_to_utc(const gs_tz *z, int y, int mo, int d, int h, int mi, int s) {
  int64_t local = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  /* the offset of a day earlier; if another is in force at the result, local
   * is after a change (use the new offset) or in its gap (keep the old one) */
  int32_t before = gs_tz_utcoff(z, local - 86400);
  int64_t t = local - before;
  int32_t at = gs_tz_utcoff(z, t);
  if (at != before && gs_tz_utcoff(z, local - at) == at) t = local - at;
  return t * 1000;
}

void gs_tz_period(const gs_tz *z, int64_t ms, char out[8]) {
  gs_tz_civil c;
  gs_tz_civil_of(z, ms, &c);
  /* unsigned and bounded so the compiler can see the sizes */
  snprintf(out, 8, "%04u-%02u", (unsigned)c.year % 10000u, (unsigned)c.month % 100u);
}

void gs_tz_day(const gs_tz *z, int64_t ms, char out[11]) {
  gs_tz_civil c;
  gs_tz_civil_of(z, ms, &c);
  snprintf(out, 11, "%04u-%02u-%02u", (unsigned)c.year % 10000u, (unsigned)c.month % 100u, (unsigned)c.day % 100u);
}

void gs_tz_iso(const gs_tz *z, int64_t ms, char out[32]) {
  gs_tz_civil c;
  gs_tz_civil_of(z, ms, &c);
  int off = c.utcoff < 0 ? -c.utcoff : c.utcoff;
  snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year % 10000, c.month, c.day, c.hour, c.min, c.sec,
           c.utcoff < 0 ? '-' : '+', off / 3600 % 100, off / 60 % 60);
}
