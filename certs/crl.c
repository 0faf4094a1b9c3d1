/* crl.c - revocation and the X.509 v2 CRL writer.
 *
 * mbedtls 2.28 parses CRLs but cannot write them, so the CertificateList of
 * RFC 5280 section 5.1 is DER-encoded here with mbedtls_asn1_write_* (which
 * writes backwards, from the end of the buffer) and signed with mbedtls_pk_sign:
 *
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version INTEGER (1 = v2), signature AlgorithmIdentifier,
 *       issuer Name, thisUpdate Time, nextUpdate Time,
 *       revokedCertificates SEQUENCE OF SEQUENCE { serial INTEGER, revocationDate Time,
 *           crlEntryExtensions (reasonCode) OPTIONAL } OPTIONAL (omitted when empty),
 *       crlExtensions [0] EXPLICIT SEQUENCE { authorityKeyIdentifier, cRLNumber } }
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha1.h>

#include "certs_int.h"
#include "gs_error.h"
#include "gs_mem.h"
#include "gs_util.h"

#define DEFAULT_CRL_DAYS 30
#define OID_CRL_REASON   MBEDTLS_OID_ID_CE "\x15" /* id-ce-cRLReasons 2.5.29.21 */

/* Adds the bytes an asn1write call wrote to len, or jumps to asn1_fail. */
#define W(call)                                                                                                        \
  do {                                                                                                                 \
    int r_ = (call);                                                                                                   \
    if (r_ < 0) goto asn1_fail;                                                                                        \
    len += (size_t)r_;                                                                                                 \
  } while (0)

static const struct {
  const char *name;
  int code;
} reasons[] = {{"unspecified", 0}, {"keyCompromise", 1}, {"superseded", 4}, {"cessationOfOperation", 5}};

static int reason_code(const char *name) {
  for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
    if (strcmp(reasons[i].name, name) == 0) return reasons[i].code;
  return -1;
}

int gs_certs_revoke(gs_certs *c, const char *name, const char *reason) {
  if (!reason) reason = "unspecified";
  if (reason_code(reason) < 0) {
    certs__err("--reason must be keyCompromise, superseded, cessationOfOperation or unspecified");
    return GS_EINVAL;
  }
  long cur = certs__inv_current(c, name);
  if (cur < 0) {
    certs__err("%s is not in %s/inventory.csv: nothing to revoke (check the name with 'list')", name, c->dir);
    return GS_ENOTFOUND;
  }
  if (strcmp(c->rows[cur].status, "revoked") == 0) {
    certs__note("%s (serial %s) is already revoked; nothing changed", name, c->rows[cur].serial);
    return GS_OK;
  }
  int64_t now = gs_now_ms() / 1000;
  int n = 0;
  /* Every certificate of the name, including ones superseded by renewal that
   * have not expired yet: a renewed device must not keep a usable old cert. */
  for (size_t i = 0; i < c->nrows; i++) {
    certs__row *r = &c->rows[i];
    if (strcmp(r->name, name) != 0 || strcmp(r->status, "revoked") == 0) continue;
    snprintf(r->status, sizeof(r->status), "revoked");
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    r->revoked_at = now;
    n++;
  }
  int rc = certs__inv_commit(c);
  if (rc == GS_OK)
    certs__note("revoked %d certificate(s) of %s (%s); run 'gs-certs --pki %s crl' to publish "
                "the CRL",
                n, name, reason, c->dir);
  return rc;
}

static int write_time(unsigned char **p, unsigned char *start, int64_t t) {
  char s[24];
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  if (tm.tm_year + 1900 < 2050) {
    /* UTCTime: YYMMDDhhmmssZ, i.e. the GeneralizedTime form minus the century. */
    strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm);
    return mbedtls_asn1_write_tagged_string(p, start, MBEDTLS_ASN1_UTC_TIME, s + 2, strlen(s + 2));
  }
  strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm);
  return mbedtls_asn1_write_tagged_string(p, start, MBEDTLS_ASN1_GENERALIZED_TIME, s, strlen(s));
}

/* Serial from upper-case hex as a DER INTEGER (bytes are positive already,
 * as gs-certs issues them; a leading 0x00 is added when the top bit is set). */
static int write_serial_hex(unsigned char **p, unsigned char *start, const char *hex) {
  unsigned char b[CERTS_SERIAL_LEN + 2];
  size_t n = strlen(hex), off = n % 2, nb = (n + 1) / 2, len = 0;
  if (nb > sizeof(b) - 1) return MBEDTLS_ERR_ASN1_INVALID_DATA;
  for (size_t i = 0; i < nb; i++) {
    unsigned v = 0;
    for (size_t k = 0; k < 2; k++) {
      long idx = (long)(2 * i + k) - (long)off;
      char ch = idx < 0 ? '0' : hex[idx];
      v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : ch - 'A' + 10);
    }
    b[i] = (unsigned char)v;
  }
  int r;
  if ((r = mbedtls_asn1_write_raw_buffer(p, start, b, nb)) < 0) return r;
  len += (size_t)r;
  if (b[0] & 0x80) {
    if (*p - start < 1) return MBEDTLS_ERR_ASN1_BUF_TOO_SMALL;
    *--(*p) = 0x00;
    len++;
  }
  if ((r = mbedtls_asn1_write_len(p, start, len)) < 0) return r;
  len += (size_t)r;
  if ((r = mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_INTEGER)) < 0) return r;
  return (int)(len + (size_t)r);
}

/* AlgorithmIdentifier; ECDSA takes no parameters (RFC 5758), RSA takes NULL. */
static int write_alg(unsigned char **p, unsigned char *start, const char *oid, size_t oid_len, int rsa) {
  size_t len = 0;
  if (rsa) W(mbedtls_asn1_write_null(p, start));
  W(mbedtls_asn1_write_oid(p, start, oid, oid_len));
  W(mbedtls_asn1_write_len(p, start, len));
  W(mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  return (int)len;
asn1_fail:
  return MBEDTLS_ERR_ASN1_BUF_TOO_SMALL;
}

/* Extension ::= SEQUENCE { extnID, extnValue OCTET STRING } with value already
 * written just before *p (value_len bytes). */
static int wrap_ext(unsigned char **p, unsigned char *start, const char *oid, size_t oid_len, size_t value_len) {
  size_t len = value_len;
  W(mbedtls_asn1_write_len(p, start, value_len));
  W(mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_OCTET_STRING));
  W(mbedtls_asn1_write_oid(p, start, oid, oid_len));
  W(mbedtls_asn1_write_len(p, start, len));
  W(mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  return (int)len;
asn1_fail:
  return MBEDTLS_ERR_ASN1_BUF_TOO_SMALL;
}

/* keyIdentifier as mbedtls computes the CA's subjectKeyIdentifier: SHA-1 of
 * the subjectPublicKey bits. OpenSSL matches a CRL to its issuer with it. */
static int ca_key_id(gs_certs *c, unsigned char id[20]) {
  unsigned char buf[1024];
  unsigned char *p = buf + sizeof(buf);
  int len = mbedtls_pk_write_pubkey(&p, buf, &c->ca.pk);
  if (len < 0) return len;
  return mbedtls_sha1_ret(p, (size_t)len, id);
}

int certs__write_crl(gs_certs *c, int days) {
  size_t cap = 4096 + c->nrows * 64;
  unsigned char *tbs = gs_malloc(cap), *out = gs_malloc(cap + 256), *pem = NULL;
  unsigned char *p, sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], hash[32], keyid[20];
  const char *sig_oid;
  size_t sig_oid_len, len = 0, sig_len = 0, nrev = 0;
  char path[PATH_MAX], e[200];
  int rc = GS_ECRYPTO, ret = 0;
  mbedtls_mpi num;
  mbedtls_mpi_init(&num);
  if (!tbs || !out) {
    certs__err("out of memory building the CRL");
    rc = GS_ENOMEM;
    goto out;
  }
  if (days <= 0) days = DEFAULT_CRL_DAYS;
  int rsa = mbedtls_pk_can_do(&c->ca_key, MBEDTLS_PK_RSA);
  if ((ret = mbedtls_oid_get_oid_by_sig_alg(rsa ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECDSA, MBEDTLS_MD_SHA256, &sig_oid,
                                            &sig_oid_len)) != 0)
    goto mbed_fail;
  if ((ret = ca_key_id(c, keyid)) != 0) goto mbed_fail;
  int64_t now = gs_now_ms() / 1000;

  /* tbsCertList, backwards from the end of tbs. */
  p = tbs + cap;
  /* crlExtensions [0] { SEQUENCE { cRLNumber, authorityKeyIdentifier } } */
  {
    size_t elen = 0, vlen = 0;
    size_t save = len;
    len = 0;
    /* cRLNumber: milliseconds since the epoch, increasing across runs. */
    {
      int64_t ms = gs_now_ms();
      unsigned char nb[8];
      for (int i = 0; i < 8; i++) nb[7 - i] = (unsigned char)(ms >> (8 * i));
      if ((ret = mbedtls_mpi_read_binary(&num, nb, sizeof(nb))) != 0) goto mbed_fail;
    }
    W(mbedtls_asn1_write_mpi(&p, tbs, &num));
    vlen = len;
    len = 0;
    W(wrap_ext(&p, tbs, MBEDTLS_OID_CRL_NUMBER, MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_NUMBER), vlen));
    elen += len;
    /* authorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier } */
    len = 0;
    W(mbedtls_asn1_write_raw_buffer(&p, tbs, keyid, sizeof(keyid)));
    W(mbedtls_asn1_write_len(&p, tbs, sizeof(keyid)));
    W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0));
    W(mbedtls_asn1_write_len(&p, tbs, len));
    W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    vlen = len;
    len = 0;
    W(wrap_ext(&p, tbs, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER, MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER),
               vlen));
    elen += len;
    len = elen;
    W(mbedtls_asn1_write_len(&p, tbs, len));
    W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    W(mbedtls_asn1_write_len(&p, tbs, len));
    W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
    len += save;
  }
  /* revokedCertificates, omitted when empty (RFC 5280). */
  {
    size_t save = len, all = 0;
    for (size_t i = c->nrows; i-- > 0;) {
      const certs__row *r = &c->rows[i];
      if (strcmp(r->status, "revoked") != 0) continue;
      len = 0;
      int code = reason_code(r->reason);
      if (code > 0) {
        size_t v = 0;
        W(mbedtls_asn1_write_enum(&p, tbs, code));
        v = len;
        len = 0;
        W(wrap_ext(&p, tbs, OID_CRL_REASON, MBEDTLS_OID_SIZE(OID_CRL_REASON), v));
        W(mbedtls_asn1_write_len(&p, tbs, len));
        W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
      }
      W(write_time(&p, tbs, r->revoked_at));
      W(write_serial_hex(&p, tbs, r->serial));
      W(mbedtls_asn1_write_len(&p, tbs, len));
      W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
      all += len;
      nrev++;
    }
    len = all;
    if (nrev > 0) {
      W(mbedtls_asn1_write_len(&p, tbs, all));
      W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    }
    len += save;
  }
  W(write_time(&p, tbs, now + (int64_t)days * 86400)); /* nextUpdate */
  W(write_time(&p, tbs, now));                         /* thisUpdate */
  W(mbedtls_asn1_write_raw_buffer(&p, tbs, c->ca.subject_raw.p, c->ca.subject_raw.len));
  W(write_alg(&p, tbs, sig_oid, sig_oid_len, rsa));
  W(mbedtls_asn1_write_int(&p, tbs, 1)); /* v2 */
  W(mbedtls_asn1_write_len(&p, tbs, len));
  W(mbedtls_asn1_write_tag(&p, tbs, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  size_t tbs_len = len;
  const unsigned char *tbs_start = p;

  if ((ret = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), tbs_start, tbs_len, hash)) ||
      (ret = mbedtls_pk_sign(&c->ca_key, MBEDTLS_MD_SHA256, hash, 0, sig, &sig_len, mbedtls_ctr_drbg_random, &c->drbg)))
    goto mbed_fail;

  /* CertificateList */
  size_t ocap = cap + 256;
  p = out + ocap;
  len = 0;
  W(mbedtls_asn1_write_bitstring(&p, out, sig, sig_len * 8));
  W(write_alg(&p, out, sig_oid, sig_oid_len, rsa));
  W(mbedtls_asn1_write_raw_buffer(&p, out, tbs_start, tbs_len));
  W(mbedtls_asn1_write_len(&p, out, len));
  W(mbedtls_asn1_write_tag(&p, out, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));

  size_t pem_cap = len * 2 + 128, olen = 0;
  if (!(pem = gs_malloc(pem_cap))) {
    rc = GS_ENOMEM;
    certs__err("out of memory building the CRL");
    goto out;
  }
  if ((ret = mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n", p, len, pem, pem_cap,
                                      &olen)) != 0)
    goto mbed_fail;
  if ((rc = certs__path(c, "crl.pem", path, sizeof(path))) ||
      (rc = certs__write_atomic(path, pem, strlen((char *)pem), CERTS_FILE_MODE, 1)))
    goto out;
  certs__note("wrote %s: %zu revoked certificate(s), next update in %d day(s)", path, nrev, days);
  rc = GS_OK;
  goto out;
asn1_fail:
  certs__err("encoding the CRL failed (buffer too small)");
  rc = GS_EINTERNAL;
  goto out;
mbed_fail:
  certs__err("signing the CRL failed: %s", certs__mbed(ret, e, sizeof(e)));
  rc = GS_ECRYPTO;
out:
  mbedtls_mpi_free(&num);
  gs_free(pem);
  gs_free(out);
  gs_free(tbs);
  return rc;
}

int gs_certs_crl(gs_certs *c, int days) {
  if (days < 0 || days > 3650) {
    certs__err("--days must be between 1 and 3650");
    return GS_EINVAL;
  }
  return certs__write_crl(c, days);
}
