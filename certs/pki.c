/* pki.c - the PKI directory: lock, CA loading, inventory, atomic file writes.
 *
 * The inventory (inventory.csv) is the source of truth for names and serials.
 * It is only ever replaced whole: written to a temp file, fsync'd, renamed over
 * the old one, and the directory fsync'd, all under an exclusive flock on
 * DIR/.lock, so two gs-certs runs can never interleave rows or leave half a file.
 */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

#include "certs_int.h"
#include "gs_buf.h"
#include "gs_error.h"
#include "gs_mem.h"
#include "gs_util.h"

#define INV_MAX_BYTES (256u * 1024 * 1024)

void certs__err(const char *fmt, ...) {
  va_list ap;
  fputs("gs-certs: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void certs__note(const char *fmt, ...) {
  va_list ap;
  fputs("gs-certs: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

const char *certs__mbed(int ret, char *buf, size_t n) {
  char tmp[160];
  mbedtls_strerror(ret, tmp, sizeof(tmp));
  snprintf(buf, n, "%s (-0x%04x)", tmp, (unsigned)(ret < 0 ? -ret : ret));
  return buf;
}

int certs__path(const gs_certs *c, const char *name, char *out, size_t n) {
  int w = snprintf(out, n, "%s/%s", c->dir, name);
  if (w < 0 || (size_t)w >= n) {
    certs__err("path %s/%s is too long", c->dir, name);
    return GS_EINVAL;
  }
  return GS_OK;
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static int fsync_parent(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else snprintf(dir, sizeof(dir), ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int certs__write_atomic(const char *path, const void *data, size_t len, int mode, int sync) {
  char tmp[PATH_MAX];
  int fd = -1, rc = GS_EIO;
  const char *slash = strrchr(path, '/');
  int dlen = slash ? (int)(slash - path + 1) : 0;
  int w = snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.%ld", dlen, path, slash ? slash + 1 : path, (long)getpid());
  if (w < 0 || (size_t)w >= sizeof(tmp)) {
    certs__err("path %s is too long", path);
    return GS_EINVAL;
  }
  /* Key files are created 0600 and fchmod'ed so that neither umask nor an old
   * file can make them readable by others; other files follow the umask. */
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    certs__err("open(\"%s\") failed: %s; check that the PKI directory is writable", tmp, strerror(errno));
    return GS_EIO;
  }
  if (mode == CERTS_KEY_MODE && fchmod(fd, CERTS_KEY_MODE) != 0) {
    certs__err("fchmod(\"%s\") failed: %s", tmp, strerror(errno));
    goto out;
  }
  if (write_all(fd, data, len) != 0) {
    certs__err("write(\"%s\") failed: %s; is the disk full?", tmp, strerror(errno));
    goto out;
  }
  if (sync && fsync(fd) != 0) {
    certs__err("fsync(\"%s\") failed: %s", tmp, strerror(errno));
    goto out;
  }
  if (close(fd) != 0) {
    fd = -1;
    certs__err("close(\"%s\") failed: %s", tmp, strerror(errno));
    goto out;
  }
  fd = -1;
  if (rename(tmp, path) != 0) {
    certs__err("rename(\"%s\", \"%s\") failed: %s", tmp, path, strerror(errno));
    goto out;
  }
  if (sync && fsync_parent(path) != 0) {
    certs__err("fsync of the directory of %s failed: %s", path, strerror(errno));
    return GS_EIO; /* renamed already: nothing to clean up */
  }
  return GS_OK;
out:
  if (fd >= 0) close(fd);
  unlink(tmp);
  return rc;
}

int certs__sync_dir(const gs_certs *c) {
  int fd = open(c->dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0 || syncfs(fd) != 0) {
    certs__err("syncfs(\"%s\") failed: %s", c->dir, strerror(errno));
    if (fd >= 0) close(fd);
    return GS_EIO;
  }
  close(fd);
  return GS_OK;
}

/* ---------- time ---------- */

void certs__iso_time(int64_t t, char *out, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void certs__x509_time(int64_t t, char *out, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, n, "%Y%m%d%H%M%S", &tm);
}

/* Parses exactly `digits` decimal digits at s. */
static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

static int make_time(int Y, int M, int D, int h, int m, int s, int64_t *out) {
  if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) return GS_EINVAL;
  struct tm tm = {0};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  *out = (int64_t)timegm(&tm);
  return GS_OK;
}

int certs__parse_x509_time(const char *s, int64_t *out) {
  int Y, M, D, h, m, sec;
  if (strlen(s) != 14 || digits(s, 4, &Y) || digits(s + 4, 2, &M) || digits(s + 6, 2, &D) || digits(s + 8, 2, &h) ||
      digits(s + 10, 2, &m) || digits(s + 12, 2, &sec))
    return GS_EINVAL;
  return make_time(Y, M, D, h, m, sec, out);
}

static int parse_iso_time(const char *s, int64_t *out) {
  int Y, M, D, h, m, sec;
  if (strlen(s) != 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
      digits(s + 8, 2, &D) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) ||
      s[16] != ':' || digits(s + 17, 2, &sec) || s[19] != 'Z')
    return GS_EINVAL;
  return make_time(Y, M, D, h, m, sec, out);
}

/* ---------- inventory ---------- */

const char *certs__kind_name(int kind) {
  switch (kind) {
  case GS_CERTS_SERVICE: return "service";
  case GS_CERTS_SERVER: return "server";
  default: return "device";
  }
}

const char *certs__row_status(const certs__row *r, int64_t now) {
  if (strcmp(r->status, "valid") == 0 && r->not_after < now) return "expired";
  return r->status;
}

long certs__inv_current(const gs_certs *c, const char *name) {
  for (size_t i = c->nrows; i-- > 0;) {
    if (strcmp(c->rows[i].name, name) == 0 && strcmp(c->rows[i].status, "superseded") != 0) return (long)i;
  }
  return -1;
}

int certs__serial_known(const gs_certs *c, const char *hex) {
  for (size_t i = 0; i < c->nrows; i++)
    if (strcmp(c->rows[i].serial, hex) == 0) return 1;
  return 0;
}

int certs__inv_add(gs_certs *c, const certs__row *r) {
  if (c->nrows == c->caprows) {
    size_t ncap = c->caprows ? c->caprows * 2 : 64;
    certs__row *p = gs_realloc(c->rows, ncap * sizeof(*p));
    if (!p) {
      certs__err("out of memory growing the inventory");
      return GS_ENOMEM;
    }
    c->rows = p;
    c->caprows = ncap;
  }
  c->rows[c->nrows++] = *r;
  return GS_OK;
}

static int valid_hex(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 2 * CERTS_SERIAL_LEN + 2) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F'))) return 0;
  return 1;
}

static int copy_field(char *dst, size_t n, const char *src) {
  size_t l = strlen(src);
  if (l >= n) return -1;
  memcpy(dst, src, l + 1);
  return 0;
}

/* Parses one data line (NUL-terminated, no newline) into r. */
static int parse_row(char *line, certs__row *r, const char **why) {
  char *f[8];
  int nf = 0;
  char *p = line;
  f[nf++] = p;
  for (; *p; p++) {
    if (*p == ',') {
      if (nf == 8) {
        *why = "more than 8 fields";
        return -1;
      }
      *p = '\0';
      f[nf++] = p + 1;
    }
  }
  if (nf != 8) {
    *why = "fewer than 8 fields";
    return -1;
  }
  memset(r, 0, sizeof(*r));
  if (strcmp(f[0], "device") && strcmp(f[0], "service") && strcmp(f[0], "server")) {
    *why = "kind is not device, service or server";
    return -1;
  }
  copy_field(r->kind, sizeof(r->kind), f[0]);
  if (!gs_valid_device_id(f[1]) || copy_field(r->name, sizeof(r->name), f[1])) {
    *why = "name is not [a-z0-9-]{3,64}";
    return -1;
  }
  if (!valid_hex(f[2]) || copy_field(r->serial, sizeof(r->serial), f[2])) {
    *why = "serial is not upper-case hex";
    return -1;
  }
  if (parse_iso_time(f[3], &r->not_before) || parse_iso_time(f[4], &r->not_after)) {
    *why = "not_before/not_after is not YYYY-MM-DDTHH:MM:SSZ";
    return -1;
  }
  if (strcmp(f[5], "valid") && strcmp(f[5], "revoked") && strcmp(f[5], "superseded")) {
    *why = "status is not valid, revoked or superseded";
    return -1;
  }
  copy_field(r->status, sizeof(r->status), f[5]);
  if (copy_field(r->reason, sizeof(r->reason), f[6])) {
    *why = "reason too long";
    return -1;
  }
  if (f[7][0] && parse_iso_time(f[7], &r->revoked_at)) {
    *why = "revoked_at is not YYYY-MM-DDTHH:MM:SSZ";
    return -1;
  }
  if (strcmp(r->status, "revoked") == 0 && (r->revoked_at == 0 || r->reason[0] == '\0')) {
    *why = "revoked row without reason or revoked_at";
    return -1;
  }
  return 0;
}

static int inv_load(gs_certs *c) {
  char path[PATH_MAX];
  char *buf = NULL;
  size_t len = 0;
  int rc = certs__path(c, "inventory.csv", path, sizeof(path));
  if (rc) return rc;
  rc = gs_read_file(path, INV_MAX_BYTES, &buf, &len);
  if (rc) {
    certs__err("cannot read %s (%s); the PKI directory is incomplete: restore it from backup "
               "or create a new one with 'gs-certs --pki DIR init'",
               path, gs_strerror(rc));
    return rc == GS_ENOTFOUND ? GS_ENOTFOUND : GS_EIO;
  }
  rc = GS_EINVAL;
  if (strlen(buf) != len) {
    certs__err("%s contains NUL bytes: the inventory is corrupted; restore it from backup", path);
    goto out;
  }
  char *line = buf;
  long lineno = 0;
  while (*line) {
    char *nl = strchr(line, '\n');
    if (!nl) {
      certs__err("%s line %ld: no final newline (truncated write?); the inventory is "
                 "corrupted: restore it from backup",
                 path, lineno + 1);
      goto out;
    }
    *nl = '\0';
    lineno++;
    if (lineno == 1) {
      if (strcmp(line, CERTS_INV_HEADER) != 0) {
        certs__err("%s line 1: header is not \"%s\"; the inventory is corrupted or not a "
                   "gs-certs inventory: restore it from backup",
                   path, CERTS_INV_HEADER);
        goto out;
      }
    } else {
      certs__row r;
      const char *why = "";
      if (parse_row(line, &r, &why) != 0) {
        certs__err("%s line %ld: %s; the inventory is corrupted: restore it from backup or "
                   "fix that line by hand",
                   path, lineno, why);
        goto out;
      }
      if (certs__serial_known(c, r.serial)) {
        certs__err("%s line %ld: serial %s appears twice; the inventory is corrupted", path, lineno, r.serial);
        goto out;
      }
      if (certs__inv_add(c, &r)) {
        rc = GS_ENOMEM;
        goto out;
      }
    }
    line = nl + 1;
  }
  if (lineno == 0) {
    certs__err("%s is empty; the inventory is corrupted: restore it from backup", path);
    goto out;
  }
  c->committed_rows = c->nrows;
  rc = GS_OK;
out:
  gs_free(buf);
  return rc;
}

static int inv_render(const gs_certs *c, gs_buf *b) {
  int rc = gs_buf_puts(b, CERTS_INV_HEADER "\n");
  for (size_t i = 0; rc == GS_OK && i < c->nrows; i++) {
    const certs__row *r = &c->rows[i];
    char nb[32], na[32], ra[32] = "";
    certs__iso_time(r->not_before, nb, sizeof(nb));
    certs__iso_time(r->not_after, na, sizeof(na));
    if (r->revoked_at) certs__iso_time(r->revoked_at, ra, sizeof(ra));
    rc = gs_buf_printf(b, "%s,%s,%s,%s,%s,%s,%s,%s\n", r->kind, r->name, r->serial, nb, na, r->status, r->reason, ra);
  }
  return rc;
}

int certs__inv_commit(gs_certs *c) {
  char path[PATH_MAX];
  gs_buf b = GS_BUF_INIT;
  int rc = certs__path(c, "inventory.csv", path, sizeof(path));
  if (rc) return rc;
  if (!c->writable) {
    certs__err("internal: inventory commit without the write lock");
    return GS_EINTERNAL;
  }
  if (inv_render(c, &b) != GS_OK) {
    certs__err("out of memory rendering the inventory");
    rc = GS_ENOMEM;
    goto out;
  }
  rc = certs__write_atomic(path, b.data, b.len, CERTS_FILE_MODE, 1);
  if (rc == GS_OK) c->committed_rows = c->nrows;
out:
  gs_buf_free(&b);
  return rc;
}

/* ---------- open / close ---------- */

static int lock_dir(gs_certs *c, int write) {
  char path[PATH_MAX];
  int rc = certs__path(c, ".lock", path, sizeof(path));
  if (rc) return rc;
  c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (c->lock_fd < 0) {
    certs__err("open(\"%s\") failed: %s; check the PKI directory and its permissions", path, strerror(errno));
    return errno == ENOENT ? GS_ENOTFOUND : GS_EIO;
  }
  if (flock(c->lock_fd, write ? LOCK_EX : LOCK_SH) != 0) {
    certs__err("flock(\"%s\") failed: %s", path, strerror(errno));
    return GS_EIO;
  }
  return GS_OK;
}

static int seed_rng(gs_certs *c) {
  static const char pers[] = "gs-certs";
  int ret =
      mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, (const unsigned char *)pers, sizeof(pers) - 1);
  if (ret != 0) {
    char e[200];
    certs__err("seeding the random generator failed: %s", certs__mbed(ret, e, sizeof(e)));
    return GS_ECRYPTO;
  }
  return GS_OK;
}

static gs_certs *certs_new(const char *dir) {
  gs_certs *c = gs_calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->lock_fd = -1;
  mbedtls_entropy_init(&c->entropy);
  mbedtls_ctr_drbg_init(&c->drbg);
  mbedtls_x509_crt_init(&c->ca);
  mbedtls_pk_init(&c->ca_key);
  mbedtls_ecp_group_init(&c->grp);
  c->dir = gs_strdup(dir);
  if (!c->dir) {
    gs_free(c);
    return NULL;
  }
  /* Strip trailing slashes so that paths read well in messages. */
  size_t l = strlen(c->dir);
  while (l > 1 && c->dir[l - 1] == '/') c->dir[--l] = '\0';
  return c;
}

void gs_certs_close(gs_certs *c) {
  if (!c) return;
  if (c->lock_fd >= 0) close(c->lock_fd); /* releases the flock */
  mbedtls_ecp_group_free(&c->grp);
  mbedtls_pk_free(&c->ca_key); /* zeroises the private key */
  mbedtls_x509_crt_free(&c->ca);
  mbedtls_ctr_drbg_free(&c->drbg);
  mbedtls_entropy_free(&c->entropy);
  gs_free(c->rows);
  gs_free(c->dir);
  gs_free(c);
}

static int load_ca(gs_certs *c, int need_key) {
  char path[PATH_MAX], e[200];
  int rc = certs__path(c, "ca.crt", path, sizeof(path));
  if (rc) return rc;
  int ret = mbedtls_x509_crt_parse_file(&c->ca, path);
  if (ret != 0) {
    certs__err("cannot load the CA certificate %s: %s; is --pki the right directory "
               "(create one with 'gs-certs --pki DIR init')?",
               path, certs__mbed(ret, e, sizeof(e)));
    return access(path, F_OK) == 0 ? GS_ETLS : GS_ENOTFOUND;
  }
  if (mbedtls_x509_dn_gets(c->ca_issuer, sizeof(c->ca_issuer), &c->ca.subject) < 0) {
    certs__err("the CA certificate %s has a subject gs-certs cannot use", path);
    return GS_ETLS;
  }
  if (!need_key) return GS_OK;
  if ((rc = certs__path(c, "ca.key", path, sizeof(path)))) return rc;
  ret = mbedtls_pk_parse_keyfile(&c->ca_key, path, NULL);
  if (ret != 0) {
    certs__err("cannot load the CA key %s: %s; check that it exists, is readable by you "
               "and is not encrypted",
               path, certs__mbed(ret, e, sizeof(e)));
    return GS_ETLS;
  }
  if ((ret = mbedtls_pk_check_pair(&c->ca.pk, &c->ca_key)) != 0) {
    certs__err("%s does not match ca.crt in %s: the PKI directory is inconsistent; restore "
               "it from backup",
               path, c->dir);
    return GS_ETLS;
  }
  return GS_OK;
}

int gs_certs_open(const char *dir, int write, gs_certs **out) {
  struct stat st;
  int rc;
  *out = NULL;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    certs__err("PKI directory %s does not exist; create it with 'gs-certs --pki %s init'", dir, dir);
    return GS_ENOTFOUND;
  }
  gs_certs *c = certs_new(dir);
  if (!c) {
    certs__err("out of memory");
    return GS_ENOMEM;
  }
  c->writable = write;
  if ((rc = lock_dir(c, write))) goto fail;
  if ((rc = load_ca(c, write))) goto fail;
  if ((rc = seed_rng(c))) goto fail;
  if (mbedtls_ecp_group_load(&c->grp, MBEDTLS_ECP_DP_SECP256R1) != 0) {
    certs__err("loading the P-256 curve failed");
    rc = GS_ECRYPTO;
    goto fail;
  }
  if ((rc = inv_load(c))) goto fail;
  *out = c;
  return GS_OK;
fail:
  gs_certs_close(c);
  return rc;
}

/* ---------- init ---------- */

int gs_certs_init(const char *dir, const char *cn, int days) {
  char path[PATH_MAX];
  int rc;
  gs_certs *c = NULL;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    certs__err("mkdir(\"%s\") failed: %s", dir, strerror(errno));
    return GS_EIO;
  }
  if (!(c = certs_new(dir))) {
    certs__err("out of memory");
    return GS_ENOMEM;
  }
  c->writable = 1;
  if ((rc = lock_dir(c, 1))) goto out;
  const char *guard[] = {"ca.crt", "ca.key", "inventory.csv"};
  for (size_t i = 0; i < sizeof(guard) / sizeof(guard[0]); i++) {
    if ((rc = certs__path(c, guard[i], path, sizeof(path)))) goto out;
    if (access(path, F_OK) == 0) {
      certs__err("%s already exists: %s already holds a CA; refusing to overwrite it (use "
                 "another --pki directory)",
                 path, dir);
      rc = GS_EEXISTS;
      goto out;
    }
  }
  if ((rc = seed_rng(c))) goto out;
  if (mbedtls_ecp_group_load(&c->grp, MBEDTLS_ECP_DP_SECP256R1) != 0) {
    rc = GS_ECRYPTO;
    goto out;
  }
  if ((rc = certs__make_ca(c, cn, days))) goto out;
  /* An empty, valid CRL: mosquitto refuses to start when crlfile is missing. */
  if ((rc = certs__write_crl(c, 0))) goto out;
  rc = certs__inv_commit(c);
out:
  gs_certs_close(c);
  return rc;
}
