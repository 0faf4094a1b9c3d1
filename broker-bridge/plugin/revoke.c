/* revoke.c - CRL watcher for the broker plugin (see revoke.h). */
#include "revoke.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct gs_revoke {
  char crl_path[PATH_MAX];
  char ca_path[PATH_MAX];
  char inv_path[PATH_MAX];
  struct stat last; /* of the CRL loaded last; st_ino == 0: none yet */
  char **serials;   /* sorted, normalised (no leading zeros) */
  size_t n;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *norm(const char *hex) {
  while (hex[0] == '0' && hex[1]) hex++;
  return hex;
}

static void free_set(char **s, size_t n) {
  for (size_t i = 0; i < n; i++) OPENSSL_free(s[i]);
  free(s);
}

int gs_revoke_contains(const gs_revoke *r, const char *serial_hex) {
  if (!r || !r->n || !serial_hex) return 0;
  const char *key = norm(serial_hex);
  return bsearch(&key, r->serials, r->n, sizeof(char *), cmp_str) != NULL;
}

/* Reads and verifies the CRL; on success *out (sorted) and *n are set. */
static int load_crl(gs_revoke *r, char ***out, size_t *n) {
  FILE *f = NULL;
  X509_CRL *crl = NULL;
  X509 *ca = NULL;
  char **set = NULL;
  int rc = -1;
  if (!(f = fopen(r->ca_path, "r")) || !(ca = PEM_read_X509(f, NULL, NULL, NULL))) {
    mosquitto_log_printf(MOSQ_LOG_WARNING, "gs-plugin: cannot read CA %s; CRL not (re)loaded", r->ca_path);
    goto out;
  }
  fclose(f);
  if (!(f = fopen(r->crl_path, "r")) || !(crl = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
    mosquitto_log_printf(MOSQ_LOG_WARNING, "gs-plugin: cannot parse CRL %s; keeping the previous one", r->crl_path);
    goto out;
  }
  EVP_PKEY *pub = X509_get0_pubkey(ca);
  if (!pub || X509_CRL_verify(crl, pub) != 1) {
    mosquitto_log_printf(MOSQ_LOG_WARNING,
                         "gs-plugin: CRL %s is not signed by %s; ignoring it (regenerate it with "
                         "gs-certs crl)",
                         r->crl_path, r->ca_path);
    goto out;
  }
  STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
  int cnt = revs ? sk_X509_REVOKED_num(revs) : 0;
  set = calloc((size_t)cnt + 1, sizeof(char *));
  if (!set) goto out;
  size_t k = 0;
  for (int i = 0; i < cnt; i++) {
    const ASN1_INTEGER *ai = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, i));
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    if (!hex) goto out;
    /* BN_bn2hex gives upper case without leading zeros except "0". */
    set[k++] = hex;
  }
  qsort(set, k, sizeof(char *), cmp_str);
  *out = set;
  *n = k;
  set = NULL;
  rc = 0;
out:
  if (set) {
    for (size_t i = 0; set[i]; i++) OPENSSL_free(set[i]);
    free(set);
  }
  if (f) fclose(f);
  X509_CRL_free(crl);
  X509_free(ca);
  return rc;
}

/* Name of serial in inventory.csv (kind,name,serial,...) into cn; 0 when found. */
static int lookup_cn(const gs_revoke *r, const char *serial, char *cn, size_t cnlen) {
  FILE *f = fopen(r->inv_path, "r");
  char line[512];
  int rc = -1;
  if (!f) return -1;
  const char *want = norm(serial);
  while (rc != 0 && fgets(line, sizeof(line), f)) {
    char *c1 = strchr(line, ',');
    char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    char *c3 = c2 ? strchr(c2 + 1, ',') : NULL;
    if (!c3) continue;
    *c2 = '\0';
    *c3 = '\0';
    if (strcmp(norm(c2 + 1), want) == 0 && (size_t)(c2 - c1) <= cnlen) {
      memcpy(cn, c1 + 1, (size_t)(c2 - c1 - 1));
      cn[c2 - c1 - 1] = '\0';
      rc = 0;
    }
  }
  fclose(f);
  return rc;
}

static int changed(const struct stat *a, const struct stat *b) {
  return a->st_ino != b->st_ino || a->st_size != b->st_size || a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
         a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

gs_revoke *gs_revoke_new(const char *pki) {
  gs_revoke *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  snprintf(r->crl_path, sizeof(r->crl_path), "%s/crl.pem", pki);
  snprintf(r->ca_path, sizeof(r->ca_path), "%s/ca.crt", pki);
  snprintf(r->inv_path, sizeof(r->inv_path), "%s/inventory.csv", pki);
  gs_revoke_poll(r, NULL, NULL); /* baseline: report nothing */
  return r;
}

void gs_revoke_free(gs_revoke *r) {
  if (!r) return;
  free_set(r->serials, r->n);
  free(r);
}

int gs_revoke_poll(gs_revoke *r, gs_revoke_cb cb, void *ud) {
  struct stat st;
  char **set = NULL;
  size_t n = 0;
  int reported = 0;
  if (stat(r->crl_path, &st) != 0) return 0;
  if (r->last.st_ino != 0 && !changed(&st, &r->last)) return 0;
  if (load_crl(r, &set, &n) != 0) {
    r->last = st; /* do not re-parse the same bad file every tick */
    return 0;
  }
  r->last = st;
  for (size_t i = 0; i < n; i++) {
    if (gs_revoke_contains(r, set[i])) continue;
    char cn[80];
    int found = lookup_cn(r, set[i], cn, sizeof(cn)) == 0;
    if (cb) cb(set[i], found ? cn : NULL, ud);
    reported++;
  }
  free_set(r->serials, r->n);
  r->serials = set;
  r->n = n;
  mosquitto_log_printf(MOSQ_LOG_NOTICE, "gs-plugin: loaded CRL %s: %zu revoked, %d new", r->crl_path, n,
                       cb ? reported : 0);
  return reported;
}
