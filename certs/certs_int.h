/* certs_int.h - internals shared by the gs-certs modules (not a public API).
 *
 *   pki.c     PKI directory: lock, CA load, inventory read/commit, atomic files
 *   x509.c    key generation, certificate and CSR handling, issue/renew
 *   crl.c     revoke and the CRL writer (mbedtls 2.28 has none)
 *   bundle.c  provisioning bundle, QR code, list
 */
#ifndef GS_CERTS_INT_H
#define GS_CERTS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "gs_certs.h"

#define CERTS_SERIAL_LEN 16 /* bytes: 127 random bits, top bit clear */
#define CERTS_NAME_MAX   64
#define CERTS_KEY_MODE   0600
#define CERTS_FILE_MODE  0666 /* umask applies */
#define CERTS_INV_HEADER "kind,name,serial,not_before,not_after,status,reason,revoked_at"

/* One inventory row. status is what is stored: valid, revoked or superseded;
 * "expired" is derived from not_after at read time. */
typedef struct certs__row {
  char kind[12];
  char name[CERTS_NAME_MAX + 1];
  char serial[2 * CERTS_SERIAL_LEN + 3]; /* upper-case hex, as openssl prints it */
  int64_t not_before;                    /* Unix seconds */
  int64_t not_after;
  char status[12];
  char reason[24];
  int64_t revoked_at; /* 0 when not revoked */
} certs__row;

struct gs_certs {
  char *dir;
  int lock_fd;
  int writable;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_pk_context ca_key;
  char ca_issuer[256];   /* CA subject as a string, for the issuer field */
  mbedtls_ecp_group grp; /* P-256 kept loaded: its comb table is reused per keygen */
  certs__row *rows;
  size_t nrows, caprows;
  size_t committed_rows; /* rows already in inventory.csv (for batch checkpoints) */
};

/* --- pki.c --- */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void certs__err(const char *fmt, ...);
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void certs__note(const char *fmt, ...);
/* mbedtls error code -> "text (-0x....)" in buf. Returns buf. */
const char *certs__mbed(int ret, char *buf, size_t n);
/* dir/name into out (PATH_MAX). GS_EINVAL when too long. */
int certs__path(const gs_certs *c, const char *name, char *out, size_t n);
/* Writes data to path atomically (temp file in the same dir + rename).
 * mode CERTS_KEY_MODE for keys (fchmod: umask cannot widen it). sync: fsync first. */
int certs__write_atomic(const char *path, const void *data, size_t len, int mode, int sync);
/* Rewrites inventory.csv atomically (temp + fsync + rename + dir fsync). */
int certs__inv_commit(gs_certs *c);
/* Appends a row in memory (not yet committed). */
int certs__inv_add(gs_certs *c, const certs__row *r);
/* Index of the current (last non-superseded) row of name, or -1. */
long certs__inv_current(const gs_certs *c, const char *name);
int certs__serial_known(const gs_certs *c, const char *hex);
/* "valid", "revoked", "superseded" or "expired" (derived) for display/filtering. */
const char *certs__row_status(const certs__row *r, int64_t now);
const char *certs__kind_name(int kind);
/* UTC formatting helpers. */
void certs__iso_time(int64_t t, char *out, size_t n);  /* 2026-11-23T18:00:00Z */
void certs__x509_time(int64_t t, char *out, size_t n); /* 20261123180000 */
int certs__parse_x509_time(const char *s, int64_t *out);
/* Flushes pending file data of the directory to disk (syncfs). */
int certs__sync_dir(const gs_certs *c);

/* --- x509.c --- */
/* Generates an EC P-256 key into pk (initialised by the caller). */
int certs__gen_key(gs_certs *c, mbedtls_pk_context *pk);
/* What certs__issue_one does with NAME.key. */
enum {
  CERTS_KEY_DROP = 0, /* CSR: remove a stale key of an earlier certificate */
  CERTS_KEY_WRITE,    /* generated here: write it (0600) */
  CERTS_KEY_KEEP
}; /* renew: same key, leave the file alone */
/* Issues one certificate for name and writes NAME.crt (+ NAME.key per key_mode)
 * atomically, key before certificate; fills *row (not added to the inventory).
 * sync: fsync each file (single issue) or not (batch: syncfs at checkpoints). */
int certs__issue_one(gs_certs *c, const char *name, const gs_certs_issue_opts *o, mbedtls_pk_context *subject_key,
                     int key_mode, int sync, certs__row *row);
/* Checks that name may get a new certificate now (not held valid). replacing set
 * when it replaces a revoked/expired one. GS_EEXISTS otherwise (message printed
 * unless quiet). */
int certs__check_free(const gs_certs *c, const char *name, int quiet, int *replacing);
/* Creates ca.key and a self-signed ca.crt (CA:true, keyCertSign|cRLSign). */
int certs__make_ca(gs_certs *c, const char *cn, int days);
/* SHA-256 fingerprint of the CA certificate (DER) as 64 lower-case hex chars. */
void certs__ca_fingerprint(const gs_certs *c, char out[65]);

/* --- crl.c --- */
/* Writes DIR/crl.pem listing every revoked row; days <= 0: default. */
int certs__write_crl(gs_certs *c, int days);

#endif
