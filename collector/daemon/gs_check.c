/* gs_check.c - gs-collector --check (see gs_check.h). */
#include "gs_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gs_error.h"
#include "gs_store.h"
#include "gs_tz.h"

typedef struct chk {
  const char *conf;
  FILE *out, *err;
  int problems;
} chk;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
problem(chk *k, const char *fmt, ...) {
  va_list ap;
  fprintf(k->err, "gs-collector: %s: ", k->conf);
  va_start(ap, fmt);
  vfprintf(k->err, fmt, ap);
  va_end(ap);
  fputc('\n', k->err);
  k->problems++;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
note(chk *k, const char *fmt, ...) {
  va_list ap;
  fprintf(k->out, "gs-collector: note: ");
  va_start(ap, fmt);
  vfprintf(k->out, fmt, ap);
  va_end(ap);
  fputc('\n', k->out);
}

/* ---- the store ----------------------------------------------------------- */

/* The SQLite file header (https://www.sqlite.org/fileformat.html, "The
 * Database Header"): 100 bytes, the magic string at 0, the user version (our
 * schema version, PRAGMA user_version) big-endian at 60. */
#define SQLITE_HDR      100
#define SQLITE_MAGIC    "SQLite format 3"
#define SQLITE_USER_VER 60

/* The directory of path db into dir. */
static void store_dir(const char *db, char *dir, size_t len) {
  const char *slash = strrchr(db, '/');
  if (!slash) snprintf(dir, len, ".");
  else if (slash == db) snprintf(dir, len, "/");
  else snprintf(dir, len, "%.*s", (int)(slash - db), db);
}

int gs_check_store_dir(const char *db, char *err, size_t errlen) {
  char dir[GS_CFG_STR];
  struct stat sb;
  if (!db[0] || !strcmp(db, ":memory:") || !strncmp(db, "file:", 5)) return GS_OK;
  store_dir(db, dir, sizeof dir);
  if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return GS_OK;
  snprintf(err, errlen,
           "[store] db '%s': its directory '%s' does not exist; the collector creates the store file only in an "
           "existing directory: create it (owned by the collector's user) or fix the path",
           db, dir);
  return GS_ENOTFOUND;
}

static void check_store(chk *k, const char *db) {
  char dir[GS_CFG_STR], e[2 * GS_CFG_STR + 200];
  store_dir(db, dir, sizeof dir);

  struct stat sb;
  if (stat(db, &sb) != 0) {
    if (errno != ENOENT) {
      problem(k, "[store] db '%s': %s; fix the path or the permissions", db, strerror(errno));
      return;
    }
    if (gs_check_store_dir(db, e, sizeof e)) {
      problem(k, "%s", e);
      return;
    }
    if (access(dir, W_OK | X_OK) != 0)
      problem(k,
              "[store] db '%s': its directory '%s' is not writable by this user; the collector cannot create the "
              "store there",
              db, dir);
    else note(k, "store '%s' does not exist; the collector creates it at its first start", db);
    return;
  }
  if (!S_ISREG(sb.st_mode)) {
    problem(k, "[store] db '%s' is not a regular file", db);
    return;
  }
  int fd = open(db, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problem(k, "[store] db '%s': cannot read: %s; fix the permissions", db, strerror(errno));
    return;
  }
  unsigned char h[SQLITE_HDR];
  ssize_t n = read(fd, h, sizeof h);
  close(fd);
  if (n == 0) {
    note(k, "store '%s' is empty; the collector initializes it at its first start", db);
  } else if (n != (ssize_t)sizeof h || memcmp(h, SQLITE_MAGIC, sizeof SQLITE_MAGIC) != 0) {
    problem(k, "[store] db '%s' is not an SQLite database; fix the path", db);
    return;
  } else {
    int have = gs_store_schema_version();
    int v = (int)((uint32_t)h[SQLITE_USER_VER] << 24 | (uint32_t)h[SQLITE_USER_VER + 1] << 16 |
                  (uint32_t)h[SQLITE_USER_VER + 2] << 8 | (uint32_t)h[SQLITE_USER_VER + 3]);
    if (v > have)
      problem(k,
              "[store] db '%s': schema version %d is newer than this gridsync (knows up to %d); upgrade gridsync "
              "or use a matching store",
              db, v, have);
    else if (v < have)
      note(k,
           "store '%s' is at schema version %d; the collector migrates it to %d at its start (back it up first: "
           "gs-admin backup)",
           db, v, have);
  }
  /* The collector writes the file and makes its -wal and -shm beside it. */
  if (access(db, R_OK | W_OK) != 0)
    problem(k, "[store] db '%s' is not writable by this user; run as the collector's user or fix the permissions", db);
  else if (access(dir, W_OK | X_OK) != 0)
    problem(k,
            "[store] db '%s': its directory '%s' is not writable by this user (SQLite makes the -wal and -shm "
            "files there); fix the permissions",
            db, dir);
  char wal[GS_CFG_STR + 8];
  snprintf(wal, sizeof wal, "%s-wal", db);
  if (stat(wal, &sb) == 0 && sb.st_size > 0)
    note(k,
         "'%s' exists: a collector is running on this store or stopped without finishing; the schema version "
         "above is the file's, its WAL may be newer",
         wal);
}

/* ---- TLS files ----------------------------------------------------------- */

static FILE *open_file(chk *k, const char *sec, const char *key, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) problem(k, "[%s] %s '%s': cannot read: %s; fix the path or the permissions", sec, key, path, strerror(errno));
  return f;
}

/* Day the certificate x stops (or starts) being valid, for the message. */
static void cert_day(const ASN1_TIME *t, char out[16]) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (ASN1_TIME_to_tm(t, &tm) != 1 || !strftime(out, 16, "%Y-%m-%d", &tm)) snprintf(out, 16, "?");
}

/* Loads the PEM certificates of path; returns the first (caller frees), or
 * NULL after a problem. */
static X509 *load_certs(chk *k, const char *sec, const char *key, const char *path) {
  FILE *f = open_file(k, sec, key, path);
  if (!f) return NULL;
  X509 *first = NULL, *x;
  while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
    if (!first) first = x;
    else X509_free(x);
  }
  ERR_clear_error();
  fclose(f);
  if (!first) {
    problem(k, "[%s] %s '%s' holds no PEM certificate; give the PEM file (-----BEGIN CERTIFICATE-----)", sec, key,
            path);
    return NULL;
  }
  return first;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return 0; /* never prompt: the collector has no one to ask */
}

/* Checks one certificate/key pair (and the CA file) of section sec. */
static void check_pair(chk *k, const char *sec, const char *cafile, const char *certfile, const char *keyfile) {
  X509 *ca = NULL, *cert = NULL;
  EVP_PKEY *pkey = NULL;
  FILE *f = NULL;
  if (cafile[0]) ca = load_certs(k, sec, "cafile", cafile);
  if (!certfile[0] != !keyfile[0]) {
    problem(k, "[%s] %s is set without %s; set both or neither", sec, certfile[0] ? "certfile" : "keyfile",
            certfile[0] ? "keyfile" : "certfile");
    goto out;
  }
  if (!certfile[0]) goto out;
  cert = load_certs(k, sec, "certfile", certfile);
  if (cert) {
    char day[16];
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
      cert_day(X509_get0_notAfter(cert), day);
      problem(k, "[%s] certfile '%s' expired on %s; issue a new one (gs-certs)", sec, certfile, day);
    } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
      cert_day(X509_get0_notBefore(cert), day);
      problem(k, "[%s] certfile '%s' is not valid before %s; check this machine's clock", sec, certfile, day);
    }
  }
  if (!(f = open_file(k, sec, "keyfile", keyfile))) goto out;
  pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
  ERR_clear_error();
  if (!pkey) {
    problem(k, "[%s] keyfile '%s' holds no unencrypted PEM private key; give the key issued with the certificate", sec,
            keyfile);
    goto out;
  }
  if (cert && X509_check_private_key(cert, pkey) != 1) {
    ERR_clear_error();
    problem(k, "[%s] keyfile '%s' does not match certfile '%s'; give the key issued with that certificate", sec,
            keyfile, certfile);
  }
out:
  if (f) fclose(f);
  EVP_PKEY_free(pkey);
  X509_free(cert);
  X509_free(ca);
}

static void check_crl(chk *k, const char *path) {
  FILE *f = open_file(k, "coap", "crlfile", path);
  if (!f) return;
  int n = 0;
  X509_CRL *crl;
  while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
    n++;
    X509_CRL_free(crl);
  }
  ERR_clear_error();
  fclose(f);
  if (n == 0) problem(k, "[coap] crlfile '%s' holds no PEM CRL; make one with gs-certs", path);
}

static void check_tls(chk *k, const gs_config *c) {
  if (c->mqtt_cafile[0]) check_pair(k, "mqtt", c->mqtt_cafile, c->mqtt_certfile, c->mqtt_keyfile);
  else note(k, "no [mqtt] cafile: the collector connects to the broker WITHOUT TLS (only for local experiments)");
  if (!c->coap_enabled) return;
  static const char *const need[] = {"cafile", "certfile", "keyfile", "crlfile"};
  const char *have[] = {c->coap_cafile, c->coap_certfile, c->coap_keyfile, c->coap_crlfile};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
    if (!have[i][0]) problem(k, "[coap] %s is not set; the CoAP listener needs it (docs/CONFIG.md)", need[i]);
  check_pair(k, "coap", c->coap_cafile, c->coap_certfile, c->coap_keyfile);
  if (c->coap_crlfile[0]) check_crl(k, c->coap_crlfile);
}

/* ---- the time zone ------------------------------------------------------- */

static void check_tz(chk *k, const gs_config *c) {
  gs_tz *z = NULL;
  char e[512];
  if (gs_tz_load(&z, c->timezone, e, sizeof e) != 0) problem(k, "[status] timezone: %s", e);
  gs_tz_free(z);
}

int gs_check_run(const gs_config *c, const char *config_path, FILE *out, FILE *err) {
  chk k = {config_path, out, err, 0};
  check_store(&k, c->db);
  check_tls(&k, c);
  check_tz(&k, c);
  return k.problems;
}
