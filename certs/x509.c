/* x509.c - keys, certificates and CSRs: the CA, issue, issue-batch, renew.
 *
 * mbedtls 2.28 writes the certificate body; the extensions it has no setter
 * for (extendedKeyUsage, subjectAltName) are DER-encoded here with asn1write.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_csr.h>

#include "certs_int.h"
#include "gs_error.h"
#include "gs_mem.h"
#include "gs_util.h"

#define PEM_MAX             4096
#define DEFAULT_DAYS_CA     3650
#define DEFAULT_DAYS_DEVICE 365
#define DEFAULT_DAYS_SERVER 825
#define MAX_DAYS            36500
#define BACKDATE_S          300 /* tolerate phones whose clock is a few minutes behind */
#define BATCH_CHECKPOINT    256

int certs__gen_key(gs_certs *c, mbedtls_pk_context *pk) {
  char e[200];
  int ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret == 0) {
    mbedtls_ecp_keypair *kp = mbedtls_pk_ec(*pk);
    ret = mbedtls_ecp_group_load(&kp->grp, MBEDTLS_ECP_DP_SECP256R1);
    /* Generate with the long-lived group: its precomputed table for G is
     * built once per process instead of once per key (no FIXED_POINT_OPTIM). */
    if (ret == 0) ret = mbedtls_ecp_gen_keypair(&c->grp, &kp->d, &kp->Q, mbedtls_ctr_drbg_random, &c->drbg);
  }
  if (ret != 0) {
    certs__err("EC P-256 key generation failed: %s", certs__mbed(ret, e, sizeof(e)));
    return GS_ECRYPTO;
  }
  return GS_OK;
}

void certs__ca_fingerprint(const gs_certs *c, char out[65]) {
  unsigned char h[32];
  mbedtls_sha256_ret(c->ca.raw.p, c->ca.raw.len, h, 0);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Random positive serial of CERTS_SERIAL_LEN bytes, unique in the inventory. */
static int new_serial(gs_certs *c, mbedtls_mpi *serial, char *hex, size_t hexlen) {
  unsigned char b[CERTS_SERIAL_LEN];
  for (int tries = 0; tries < 8; tries++) {
    if (mbedtls_ctr_drbg_random(&c->drbg, b, sizeof(b)) != 0) break;
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, fixed length */
    for (size_t i = 0; i < sizeof(b); i++) snprintf(hex + 2 * i, hexlen - 2 * i, "%02X", b[i]);
    if (certs__serial_known(c, hex)) continue;
    if (mbedtls_mpi_read_binary(serial, b, sizeof(b)) != 0) break;
    return GS_OK;
  }
  certs__err("could not draw a fresh serial number");
  return GS_ECRYPTO;
}

/* extendedKeyUsage: SEQUENCE OF KeyPurposeId. */
static int write_eku(mbedtls_x509write_cert *crt, int server) {
  unsigned char buf[32];
  unsigned char *p = buf + sizeof(buf);
  int len = 0, r;
  if (server) {
    if ((r = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))) < 0)
      return r;
  } else {
    if ((r = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))) < 0)
      return r;
  }
  len += r;
  if ((r = mbedtls_asn1_write_len(&p, buf, (size_t)len)) < 0) return r;
  len += r;
  if ((r = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0) return r;
  len += r;
  return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                             MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, (size_t)len);
}

/* Prepends one GeneralName [tag] value. Returns bytes written or < 0. */
static int write_gn(unsigned char **p, unsigned char *start, int tag, const void *v, size_t n) {
  int r, len = 0;
  if ((r = mbedtls_asn1_write_raw_buffer(p, start, v, n)) < 0) return r;
  len += r;
  if ((r = mbedtls_asn1_write_len(p, start, n)) < 0) return r;
  len += r;
  if ((r = mbedtls_asn1_write_tag(p, start, (unsigned char)(MBEDTLS_ASN1_CONTEXT_SPECIFIC | tag))) < 0) return r;
  return len + r;
}

/* subjectAltName from comma-separated lists (DNS names first, then addresses,
 * each in the order given); entries are validated here. */
static int write_san(mbedtls_x509write_cert *crt, const char *dns, const char *ips) {
  unsigned char buf[2048];
  unsigned char *p = buf + sizeof(buf);
  struct {
    int tag;
    size_t len;
    unsigned char v[256];
  } items[32];
  size_t n_items = 0;
  int len = 0, r;
  const char *lists[2] = {dns, ips};
  for (int k = 0; k < 2; k++) {
    const char *s = lists[k];
    const char *opt = k ? "--ip" : "--dns";
    while (s && *s) {
      const char *comma = strchr(s, ',');
      size_t n = comma ? (size_t)(comma - s) : strlen(s);
      char item[256];
      if (n == 0 || n >= sizeof(item)) {
        certs__err("%s: empty or over-long entry", opt);
        return GS_EINVAL;
      }
      if (n_items == sizeof(items) / sizeof(items[0])) {
        certs__err("too many subjectAltName entries (at most 32)");
        return GS_EINVAL;
      }
      memcpy(item, s, n);
      item[n] = '\0';
      if (k == 1) {
        items[n_items].tag = 7; /* iPAddress */
        if (inet_pton(AF_INET, item, items[n_items].v) == 1) items[n_items].len = 4;
        else if (inet_pton(AF_INET6, item, items[n_items].v) == 1) items[n_items].len = 16;
        else {
          certs__err("--ip: \"%s\" is not an IPv4 or IPv6 address", item);
          return GS_EINVAL;
        }
      } else {
        for (size_t i = 0; i < n; i++) {
          char ch = item[i];
          if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                ch == '.' || (ch == '*' && i == 0))) {
            certs__err("--dns: \"%s\" is not a DNS name", item);
            return GS_EINVAL;
          }
        }
        items[n_items].tag = 2; /* dNSName */
        items[n_items].len = n;
        memcpy(items[n_items].v, item, n);
      }
      n_items++;
      s = comma ? comma + 1 : NULL;
    }
  }
  if (n_items == 0) return GS_OK;
  for (size_t i = n_items; i-- > 0;) { /* asn1write works backwards */
    if ((r = write_gn(&p, buf, items[i].tag, items[i].v, items[i].len)) < 0) return GS_EINVAL;
    len += r;
  }
  if ((r = mbedtls_asn1_write_len(&p, buf, (size_t)len)) < 0) return GS_EINVAL;
  len += r;
  if ((r = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0) return GS_EINVAL;
  len += r;
  if (mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                          MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, (size_t)len) != 0)
    return GS_ECRYPTO;
  return GS_OK;
}

/* Validity window from opts. */
static int validity(const gs_certs_issue_opts *o, int64_t *nb, int64_t *na) {
  int64_t now = gs_now_ms() / 1000;
  if (o->not_before || o->not_after) {
    if (!o->not_before || !o->not_after || certs__parse_x509_time(o->not_before, nb) ||
        certs__parse_x509_time(o->not_after, na) || *na < *nb) {
      certs__err("--not-before/--not-after need both, as YYYYMMDDhhmmss (UTC), in order");
      return GS_EINVAL;
    }
    return GS_OK;
  }
  int days = o->days;
  if (days <= 0) days = o->kind == GS_CERTS_SERVER ? DEFAULT_DAYS_SERVER : DEFAULT_DAYS_DEVICE;
  *nb = now - BACKDATE_S;
  *na = now + (int64_t)days * 86400;
  return GS_OK;
}

/* Builds and signs a certificate; PEM into out (NUL-terminated). */
static int sign_cert(gs_certs *c, const char *name, const gs_certs_issue_opts *o, mbedtls_pk_context *key, int64_t nb,
                     int64_t na, mbedtls_mpi *serial, unsigned char *out, size_t outlen) {
  mbedtls_x509write_cert crt;
  char subject[CERTS_NAME_MAX + 8], tnb[16], tna[16], e[200];
  int ret, rc = GS_ECRYPTO;
  mbedtls_x509write_crt_init(&crt);
  snprintf(subject, sizeof(subject), "CN=%s", name);
  certs__x509_time(nb, tnb, sizeof(tnb));
  certs__x509_time(na, tna, sizeof(tna));
  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, key);
  mbedtls_x509write_crt_set_issuer_key(&crt, &c->ca_key);
  if ((ret = mbedtls_x509write_crt_set_serial(&crt, serial)) ||
      (ret = mbedtls_x509write_crt_set_validity(&crt, tnb, tna)) ||
      (ret = mbedtls_x509write_crt_set_subject_name(&crt, subject)) ||
      (ret = mbedtls_x509write_crt_set_issuer_name(&crt, c->ca_issuer)) ||
      (ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1)) ||
      (ret = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) ||
      (ret = write_eku(&crt, o->kind == GS_CERTS_SERVER)) ||
      (ret = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) ||
      (ret = mbedtls_x509write_crt_set_authority_key_identifier(&crt)))
    goto fail;
  if (o->kind == GS_CERTS_SERVER && (rc = write_san(&crt, o->dns, o->ips)) != GS_OK) goto out;
  rc = GS_ECRYPTO;
  ret = mbedtls_x509write_crt_pem(&crt, out, outlen, mbedtls_ctr_drbg_random, &c->drbg);
  if (ret != 0) goto fail;
  rc = GS_OK;
  goto out;
fail:
  certs__err("building the certificate of %s failed: %s", name, certs__mbed(ret, e, sizeof(e)));
out:
  mbedtls_x509write_crt_free(&crt);
  return rc;
}

int certs__check_free(const gs_certs *c, const char *name, int quiet, int *replacing) {
  long i = certs__inv_current(c, name);
  *replacing = 0;
  if (i < 0) return GS_OK;
  const certs__row *r = &c->rows[i];
  const char *st = certs__row_status(r, gs_now_ms() / 1000);
  if (strcmp(st, "valid") == 0) {
    if (!quiet) {
      char na[32];
      certs__iso_time(r->not_after, na, sizeof(na));
      certs__err("%s %s already has a valid certificate (serial %s, expires %s) in %s/"
                 "inventory.csv; use 'renew %s' to extend it, or 'revoke %s' first to "
                 "replace it",
                 r->kind, name, r->serial, na, c->dir, name, name);
    }
    return GS_EEXISTS;
  }
  *replacing = 1;
  return GS_OK;
}

int certs__issue_one(gs_certs *c, const char *name, const gs_certs_issue_opts *o, mbedtls_pk_context *subject_key,
                     int key_mode, int sync, certs__row *row) {
  unsigned char *pem = NULL, *keypem = NULL;
  char path[PATH_MAX], fname[CERTS_NAME_MAX + 8], e[200];
  mbedtls_mpi serial;
  int64_t nb, na;
  int rc, ret;
  mbedtls_mpi_init(&serial);
  memset(row, 0, sizeof(*row));
  if ((rc = validity(o, &nb, &na))) goto out;
  if ((rc = new_serial(c, &serial, row->serial, sizeof(row->serial)))) goto out;
  pem = gs_malloc(PEM_MAX);
  keypem = gs_malloc(PEM_MAX);
  if (!pem || !keypem) {
    certs__err("out of memory");
    rc = GS_ENOMEM;
    goto out;
  }
  if ((rc = sign_cert(c, name, o, subject_key, nb, na, &serial, pem, PEM_MAX))) goto out;
  /* Key first, then certificate: NAME.crt appearing means the pair is complete. */
  if (key_mode == CERTS_KEY_WRITE) {
    if ((ret = mbedtls_pk_write_key_pem(subject_key, keypem, PEM_MAX)) != 0) {
      certs__err("encoding the key of %s failed: %s", name, certs__mbed(ret, e, sizeof(e)));
      rc = GS_ECRYPTO;
      goto out;
    }
    snprintf(fname, sizeof(fname), "%s.key", name);
    if ((rc = certs__path(c, fname, path, sizeof(path))) ||
        (rc = certs__write_atomic(path, keypem, strlen((char *)keypem), CERTS_KEY_MODE, sync)))
      goto out;
  } else if (key_mode == CERTS_KEY_DROP) {
    /* A key left from an earlier (revoked) certificate no longer matches. */
    snprintf(fname, sizeof(fname), "%s.key", name);
    if ((rc = certs__path(c, fname, path, sizeof(path)))) goto out;
    if (unlink(path) != 0 && errno != ENOENT) {
      certs__err("unlink(\"%s\") failed: %s", path, strerror(errno));
      rc = GS_EIO;
      goto out;
    }
  }
  snprintf(fname, sizeof(fname), "%s.crt", name);
  if ((rc = certs__path(c, fname, path, sizeof(path))) ||
      (rc = certs__write_atomic(path, pem, strlen((char *)pem), CERTS_FILE_MODE, sync)))
    goto out;
  snprintf(row->kind, sizeof(row->kind), "%s", certs__kind_name(o->kind));
  snprintf(row->name, sizeof(row->name), "%s", name);
  row->not_before = nb;
  row->not_after = na;
  snprintf(row->status, sizeof(row->status), "valid");
out:
  if (keypem) mbedtls_platform_zeroize(keypem, PEM_MAX);
  gs_free(keypem);
  gs_free(pem);
  mbedtls_mpi_free(&serial);
  return rc;
}

/* ---------- CSR ---------- */

/* Parses path as a CSR, checks its self-signature and its CN (absent or == name).
 * csr is initialised and freed by the caller (mbedtls_x509_csr_free). */
static int load_csr(const char *path, const char *name, mbedtls_x509_csr *csr) {
  char *buf = NULL, e[200];
  size_t len = 0;
  int rc = gs_read_file(path, 64 * 1024, &buf, &len), ret;
  if (rc) {
    certs__err("cannot read CSR %s: %s", path, gs_strerror(rc));
    return rc == GS_ENOTFOUND ? GS_ENOTFOUND : GS_EIO;
  }
  /* PEM needs the terminating NUL counted; DER must not have it. */
  int is_pem = strstr(buf, "-----BEGIN") != NULL;
  ret = mbedtls_x509_csr_parse(csr, (unsigned char *)buf, is_pem ? len + 1 : len);
  if (ret != 0) {
    certs__err("%s is not a valid PKCS#10 certificate request: %s", path, certs__mbed(ret, e, sizeof(e)));
    rc = GS_ETLS;
    goto out;
  }
  /* mbedtls_x509_csr_parse does not check the signature: do it, so that a
   * request can only carry a public key whose private key the phone holds. */
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr->sig_md);
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  if (!md || mbedtls_md(md, csr->cri.p, csr->cri.len, hash) != 0 ||
      mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk, csr->sig_md, hash, mbedtls_md_get_size(md),
                            csr->sig.p, csr->sig.len) != 0) {
    certs__err("CSR %s: the signature does not verify (corrupted or forged request); ask the "
               "phone to generate a new CSR",
               path);
    rc = GS_ETLS;
    goto out;
  }
  if (!mbedtls_pk_can_do(&csr->pk, MBEDTLS_PK_ECKEY) &&
      !(mbedtls_pk_can_do(&csr->pk, MBEDTLS_PK_RSA) && mbedtls_pk_get_bitlen(&csr->pk) >= 2048)) {
    certs__err("CSR %s: key must be EC or RSA >= 2048 bits", path);
    rc = GS_ETLS;
    goto out;
  }
  for (const mbedtls_x509_name *n = &csr->subject; n; n = n->next) {
    if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
      if (n->val.len != strlen(name) || memcmp(n->val.p, name, n->val.len) != 0) {
        char cn[80];
        size_t l = n->val.len < sizeof(cn) - 1 ? n->val.len : sizeof(cn) - 1;
        for (size_t i = 0; i < l; i++) {
          unsigned char ch = n->val.p[i];
          cn[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
        cn[l] = '\0';
        certs__err("CSR %s: its CN \"%s\" is not the device id \"%s\"; issue it under its own "
                   "id or make the phone put \"%s\" (or no CN) in the request",
                   path, cn, name, name);
        rc = GS_EINVAL;
        goto out;
      }
    }
  }
  rc = GS_OK;
out:
  gs_free(buf);
  return rc;
}

static int valid_name(int kind, const char *name) {
  if (!gs_valid_device_id(name)) {
    certs__err("\"%s\" is not a valid %s name: use 3 to 64 characters of a-z, 0-9 and '-'", name,
               certs__kind_name(kind));
    return 0;
  }
  if (kind == GS_CERTS_DEVICE && (strcmp(name, "gs-collector") == 0 || strncmp(name, "bridge-", 7) == 0)) {
    certs__err("\"%s\" is reserved for service accounts; use issue-service", name);
    return 0;
  }
  return 1;
}

int gs_certs_issue(gs_certs *c, const char *name, const gs_certs_issue_opts *o) {
  mbedtls_pk_context key;
  mbedtls_x509_csr csr;
  certs__row row;
  int rc, replacing = 0;
  mbedtls_pk_init(&key);
  mbedtls_x509_csr_init(&csr);
  if (!valid_name(o->kind, name)) {
    rc = GS_EINVAL;
    goto out;
  }
  if (o->days < 0 || o->days > MAX_DAYS) {
    certs__err("--days must be between 1 and %d", MAX_DAYS);
    rc = GS_EINVAL;
    goto out;
  }
  if ((rc = certs__check_free(c, name, 0, &replacing))) goto out;
  certs__row prev = {0};
  if (replacing) prev = c->rows[certs__inv_current(c, name)];
  mbedtls_pk_context *subject = &key;
  if (o->csr_path) {
    if ((rc = load_csr(o->csr_path, name, &csr))) goto out;
    subject = &csr.pk;
  } else if ((rc = certs__gen_key(c, &key))) {
    goto out;
  }
  if ((rc = certs__issue_one(c, name, o, subject, o->csr_path ? CERTS_KEY_DROP : CERTS_KEY_WRITE, 1, &row))) goto out;
  if ((rc = certs__inv_add(c, &row)) || (rc = certs__inv_commit(c))) goto out;
  if (replacing)
    certs__note("%s: this replaces its %s certificate (serial %s), which stays in the inventory", name,
                certs__row_status(&prev, gs_now_ms() / 1000), prev.serial);
  certs__note("issued %s %s serial %s -> %s/%s.crt%s%s%s", row.kind, name, row.serial, c->dir, name,
              o->csr_path ? "" : " + ", o->csr_path ? "" : name, o->csr_path ? "" : ".key");
out:
  mbedtls_x509_csr_free(&csr);
  mbedtls_pk_free(&key);
  return rc;
}

/* ---------- renew ---------- */

int gs_certs_renew(gs_certs *c, const char *name, int days) {
  mbedtls_x509_crt old;
  char path[PATH_MAX], fname[CERTS_NAME_MAX + 8], hex[2 * CERTS_SERIAL_LEN + 3];
  certs__row row;
  int rc;
  mbedtls_x509_crt_init(&old);
  long i = certs__inv_current(c, name);
  if (i < 0) {
    certs__err("%s is not in %s/inventory.csv; use 'issue %s'", name, c->dir, name);
    rc = GS_ENOTFOUND;
    goto out;
  }
  if (strcmp(c->rows[i].status, "revoked") == 0) {
    certs__err("%s is revoked: issue a new certificate with 'issue %s' instead of renewing", name, name);
    rc = GS_EINVAL;
    goto out;
  }
  if (days < 0 || days > MAX_DAYS) {
    certs__err("--days must be between 1 and %d", MAX_DAYS);
    rc = GS_EINVAL;
    goto out;
  }
  snprintf(fname, sizeof(fname), "%s.crt", name);
  if ((rc = certs__path(c, fname, path, sizeof(path)))) goto out;
  if (mbedtls_x509_crt_parse_file(&old, path) != 0) {
    certs__err("cannot read %s: renewing reuses its public key; restore the file or "
               "revoke and re-issue %s",
               path, name);
    rc = GS_EIO;
    goto out;
  }
  size_t n = old.serial.len < CERTS_SERIAL_LEN + 1 ? old.serial.len : CERTS_SERIAL_LEN + 1;
  for (size_t k = 0; k < n; k++) snprintf(hex + 2 * k, sizeof(hex) - 2 * k, "%02X", old.serial.p[k]);
  if (strcmp(hex, c->rows[i].serial) != 0) {
    certs__err("%s has serial %s but the inventory says %s: the PKI directory is "
               "inconsistent; restore it from backup",
               path, hex, c->rows[i].serial);
    rc = GS_EINVAL;
    goto out;
  }
  gs_certs_issue_opts o = {0};
  o.kind = strcmp(c->rows[i].kind, "service") == 0  ? GS_CERTS_SERVICE
           : strcmp(c->rows[i].kind, "server") == 0 ? GS_CERTS_SERVER
                                                    : GS_CERTS_DEVICE;
  o.days = days;
  if (o.kind == GS_CERTS_SERVER) {
    certs__err("renew of server certificates is not supported (SANs are not carried over); "
               "revoke and run issue-server again");
    rc = GS_EINVAL;
    goto out;
  }
  rc = certs__issue_one(c, name, &o, &old.pk, CERTS_KEY_KEEP, 1, &row);
  if (rc) goto out;
  snprintf(c->rows[i].status, sizeof(c->rows[i].status), "superseded");
  if ((rc = certs__inv_add(c, &row)) || (rc = certs__inv_commit(c))) goto out;
  certs__note("renewed %s: new serial %s, the old certificate %s stays usable until it expires", name, row.serial,
              c->rows[i].serial);
out:
  mbedtls_x509_crt_free(&old);
  return rc;
}

/* ---------- CA ---------- */

int certs__make_ca(gs_certs *c, const char *cn, int days) {
  mbedtls_x509write_cert crt;
  mbedtls_mpi serial;
  unsigned char *pem = gs_malloc(PEM_MAX), *keypem = gs_malloc(PEM_MAX);
  char subject[200], tnb[16], tna[16], hex[2 * CERTS_SERIAL_LEN + 3], path[PATH_MAX], e[200];
  int rc = GS_ECRYPTO, ret = 0;
  mbedtls_x509write_crt_init(&crt);
  mbedtls_mpi_init(&serial);
  if (!pem || !keypem) {
    rc = GS_ENOMEM;
    certs__err("out of memory");
    goto out;
  }
  if (!cn) cn = "gridsync CA";
  for (const char *p = cn; *p; p++) {
    if (*p == ',' || *p == '=' || *p == '\\' || *p == '+' || *p == '"' || (unsigned char)*p < 0x20) {
      certs__err("--cn must not contain , = + \\ \" or control characters");
      rc = GS_EINVAL;
      goto out;
    }
  }
  if (strlen(cn) == 0 || strlen(cn) > 64) {
    certs__err("--cn must be 1 to 64 bytes");
    rc = GS_EINVAL;
    goto out;
  }
  if (days <= 0) days = DEFAULT_DAYS_CA;
  if (days > MAX_DAYS) {
    certs__err("--days must be between 1 and %d", MAX_DAYS);
    rc = GS_EINVAL;
    goto out;
  }
  snprintf(subject, sizeof(subject), "CN=%s", cn);
  if ((rc = certs__gen_key(c, &c->ca_key))) goto out;
  rc = GS_ECRYPTO;
  int64_t now = gs_now_ms() / 1000;
  certs__x509_time(now - BACKDATE_S, tnb, sizeof(tnb));
  certs__x509_time(now + (int64_t)days * 86400, tna, sizeof(tna));
  if (new_serial(c, &serial, hex, sizeof(hex))) goto out;
  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, &c->ca_key);
  mbedtls_x509write_crt_set_issuer_key(&crt, &c->ca_key);
  if ((ret = mbedtls_x509write_crt_set_serial(&crt, &serial)) ||
      (ret = mbedtls_x509write_crt_set_validity(&crt, tnb, tna)) ||
      (ret = mbedtls_x509write_crt_set_subject_name(&crt, subject)) ||
      (ret = mbedtls_x509write_crt_set_issuer_name(&crt, subject)) ||
      (ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0)) ||
      (ret = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)) ||
      (ret = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) ||
      (ret = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) ||
      (ret = mbedtls_x509write_crt_pem(&crt, pem, PEM_MAX, mbedtls_ctr_drbg_random, &c->drbg)) ||
      (ret = mbedtls_pk_write_key_pem(&c->ca_key, keypem, PEM_MAX))) {
    certs__err("creating the CA failed: %s", certs__mbed(ret, e, sizeof(e)));
    goto out;
  }
  if ((rc = certs__path(c, "ca.key", path, sizeof(path))) ||
      (rc = certs__write_atomic(path, keypem, strlen((char *)keypem), CERTS_KEY_MODE, 1)))
    goto out;
  if ((rc = certs__path(c, "ca.crt", path, sizeof(path))) ||
      (rc = certs__write_atomic(path, pem, strlen((char *)pem), CERTS_FILE_MODE, 1)))
    goto out;
  rc = GS_ETLS;
  if ((ret = mbedtls_x509_crt_parse(&c->ca, pem, strlen((char *)pem) + 1)) != 0 ||
      mbedtls_x509_dn_gets(c->ca_issuer, sizeof(c->ca_issuer), &c->ca.subject) < 0) {
    certs__err("re-reading the new CA certificate failed: %s", certs__mbed(ret, e, sizeof(e)));
    goto out;
  }
  certs__note("created CA \"%s\" in %s (ca.crt, ca.key, crl.pem, inventory.csv)", cn, c->dir);
  rc = GS_OK;
out:
  if (keypem) mbedtls_platform_zeroize(keypem, PEM_MAX);
  gs_free(keypem);
  gs_free(pem);
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&crt);
  return rc;
}

/* ---------- batch ---------- */

static volatile sig_atomic_t g_stop;
static void on_stop(int sig) {
  (void)sig;
  g_stop = 1;
}

typedef struct {
  char **ids;
  size_t n, cap;
} id_list;

static void ids_free(id_list *l) {
  for (size_t i = 0; i < l->n; i++) gs_free(l->ids[i]);
  gs_free(l->ids);
}

/* Reads ids: one per line, or CSV with header "id,..." (first column). Blank
 * lines and '#' comments are skipped. Every problem is reported, then it fails. */
static int read_ids(const char *path, id_list *l) {
  char *buf = NULL;
  size_t len = 0;
  int rc = gs_read_file(path, 64u * 1024 * 1024, &buf, &len), bad = 0;
  if (rc) {
    certs__err("cannot read batch file %s: %s", path, gs_strerror(rc));
    return rc == GS_ENOTFOUND ? GS_ENOTFOUND : GS_EIO;
  }
  char *line = buf;
  long lineno = 0;
  while (line && *line) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    lineno++;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = '\0';
    while (*line == ' ' || *line == '\t') line++;
    char *comma = strchr(line, ',');
    if (comma) *comma = '\0';
    if (lineno == 1 && strcmp(line, "id") == 0) goto next; /* CSV header */
    if (*line == '\0' || *line == '#') goto next;
    if (!gs_valid_device_id(line)) {
      if (bad < 5) certs__err("%s line %ld: \"%.70s\" is not a valid device id ([a-z0-9-]{3,64})", path, lineno, line);
      bad++;
      goto next;
    }
    for (size_t i = 0; i < l->n; i++) {
      if (strcmp(l->ids[i], line) == 0) {
        if (bad < 5) certs__err("%s line %ld: device %s appears twice", path, lineno, line);
        bad++;
        goto next;
      }
    }
    if (l->n == l->cap) {
      size_t ncap = l->cap ? l->cap * 2 : 256;
      char **p = gs_realloc(l->ids, ncap * sizeof(*p));
      if (!p) {
        rc = GS_ENOMEM;
        goto out;
      }
      l->ids = p;
      l->cap = ncap;
    }
    if (!(l->ids[l->n] = gs_strdup(line))) {
      rc = GS_ENOMEM;
      goto out;
    }
    l->n++;
  next:
    line = nl ? nl + 1 : NULL;
  }
  rc = bad ? GS_EINVAL : GS_OK;
  if (bad) certs__err("%s: %d bad line(s); nothing was issued", path, bad);
out:
  if (rc == GS_ENOMEM) certs__err("out of memory reading %s", path);
  gs_free(buf);
  return rc;
}

static void progress(size_t done, size_t total, int tty, const char *name) {
  if (tty) {
    int width = 40, fill = total ? (int)(done * (size_t)width / total) : width;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu %-24.24s", fill, "########################################", width - fill, "",
            done, total, name);
    if (done == total) fputc('\n', stderr);
  } else if (done == total || done % 100 == 0) {
    fprintf(stderr, "gs-certs: issued %zu/%zu\n", done, total);
  }
}

/* Checkpoint: flush the certificate files written so far to disk, then commit
 * their inventory rows in one atomic rewrite. */
static int checkpoint(gs_certs *c) {
  int rc;
  if (c->nrows == c->committed_rows) return GS_OK;
  if ((rc = certs__sync_dir(c))) return rc;
  return certs__inv_commit(c);
}

int gs_certs_issue_batch(gs_certs *c, const char *path, const gs_certs_issue_opts *o) {
  id_list l = {0};
  int rc, tty = isatty(2);
  size_t issued = 0, skipped = 0;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  if (o->days < 0 || o->days > MAX_DAYS) {
    certs__err("--days must be between 1 and %d", MAX_DAYS);
    rc = GS_EINVAL;
    goto out;
  }
  if ((rc = read_ids(path, &l))) goto out;
  /* Refuse the whole batch up front when a name is taken, unless resuming. */
  int taken = 0;
  for (size_t i = 0; i < l.n; i++) {
    int repl;
    if (certs__check_free(c, l.ids[i], 1, &repl) != GS_OK && !o->skip_existing) {
      if (taken < 5) certs__err("device %s already has a valid certificate", l.ids[i]);
      taken++;
    }
  }
  if (taken) {
    certs__err("%s: %d device(s) already hold a valid certificate; nothing was issued (renew "
               "or revoke them, or rerun with --skip-existing to resume an interrupted batch)",
               path, taken);
    rc = GS_EEXISTS;
    goto out;
  }
  for (size_t i = 0; i < l.n && !g_stop; i++) {
    mbedtls_pk_context key;
    certs__row row;
    int repl;
    if (certs__check_free(c, l.ids[i], 1, &repl) != GS_OK) {
      skipped++;
      progress(i + 1, l.n, tty, l.ids[i]);
      continue;
    }
    mbedtls_pk_init(&key);
    rc = certs__gen_key(c, &key);
    /* Per device: key and certificate renamed into place (no fsync each);
     * the inventory rows follow at the next checkpoint, after a syncfs. */
    if (rc == GS_OK) rc = certs__issue_one(c, l.ids[i], o, &key, CERTS_KEY_WRITE, 0, &row);
    mbedtls_pk_free(&key);
    if (rc == GS_OK) rc = certs__inv_add(c, &row);
    if (rc) break;
    issued++;
    if (c->nrows - c->committed_rows >= BATCH_CHECKPOINT && (rc = checkpoint(c))) break;
    progress(i + 1, l.n, tty, l.ids[i]);
  }
  int crc = checkpoint(c);
  if (rc == GS_OK) rc = crc;
  if (tty && (rc || g_stop)) fputc('\n', stderr);
  if (g_stop && rc == GS_OK) {
    certs__err("interrupted: %zu issued and recorded; rerun with --skip-existing to finish", issued);
    rc = GS_EIO;
  } else {
    certs__note("batch %s: %zu issued, %zu skipped%s", path, issued, skipped,
                rc ? " (stopped by the error above; what was issued is recorded)" : "");
  }
out:
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  ids_free(&l);
  return rc;
}
