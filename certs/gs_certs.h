/* gs_certs.h - the administrators' PKI: CA, issuing, renewal, revocation, CRL,
 * inventory, provisioning bundles (the library behind the gs-certs CLI).
 *
 * A PKI directory holds (docs/CERTS.md):
 *   ca.crt ca.key(0600) crl.pem inventory.csv .lock  NAME.crt [NAME.key(0600)]
 *
 * Every command opens the directory with gs_certs_open(), which takes the lock
 * file (flock: exclusive for commands that write, shared for readers), loads
 * the CA and the inventory; gs_certs_close() releases everything.
 * A command that fails leaves inventory.csv byte-identical.
 *
 * Errors: every function returns GS_OK or a positive gs_err (gs_error.h) and
 * has already printed one line "gs-certs: error: ..." on stderr saying what
 * failed, on which object, and what to do. Key material is never printed.
 * Not thread-safe: one gs_certs per process.
 */
#ifndef GS_CERTS_H
#define GS_CERTS_H

#include <stdint.h>

typedef struct gs_certs gs_certs;

enum gs_certs_kind { GS_CERTS_DEVICE = 0, GS_CERTS_SERVICE, GS_CERTS_SERVER };

typedef struct gs_certs_issue_opts {
  int kind;               /* enum gs_certs_kind */
  const char *csr_path;   /* issue from this CSR (PEM or DER); NULL: generate a key */
  int days;               /* validity in days; 0: default of the kind */
  const char *dns;        /* issue-server: comma-separated DNS names */
  const char *ips;        /* issue-server: comma-separated IPv4/IPv6 addresses */
  const char *not_before; /* tests only: YYYYMMDDhhmmss (UTC), overrides days */
  const char *not_after;
  int skip_existing; /* issue-batch: skip names that already hold a valid cert */
} gs_certs_issue_opts;

typedef struct gs_certs_bundle_opts {
  const char *host; /* broker/CoAP host the phone connects to */
  int mqtt_port;
  int coap_port;
  const char *out_dir;  /* bundle as a directory ... */
  const char *out_file; /* ... or as one text file */
} gs_certs_bundle_opts;

/* Creates the PKI dir (if needed) with a new CA (EC P-256), an empty CRL and an
 * empty inventory. Refuses (GS_EEXISTS) when a CA is already there. */
int gs_certs_init(const char *dir, const char *cn, int days);

/* Opens an existing PKI dir. write != 0 takes the lock exclusively.
 * On success *out is owned by the caller: release with gs_certs_close(). */
int gs_certs_open(const char *dir, int write, gs_certs **out);
/* NULL-safe. Releases the lock and all memory (keys are zeroised). */
void gs_certs_close(gs_certs *c);

/* Issues a certificate for name (issue, issue-service, issue-server). */
int gs_certs_issue(gs_certs *c, const char *name, const gs_certs_issue_opts *o);
/* Issues one device certificate per line of path (see docs/CERTS.md). */
int gs_certs_issue_batch(gs_certs *c, const char *path, const gs_certs_issue_opts *o);
/* New certificate (new serial, new validity) for the same public key. */
int gs_certs_renew(gs_certs *c, const char *name, int days);
/* Marks every unexpired certificate of name revoked. reason may be NULL. */
int gs_certs_revoke(gs_certs *c, const char *name, const char *reason);
/* Writes DIR/crl.pem (X.509 v2 CRL signed by the CA) valid for days. */
int gs_certs_crl(gs_certs *c, int days);
/* Prints the inventory table on stdout. status may be NULL; expiring_days < 0: no filter. */
int gs_certs_list(gs_certs *c, const char *status, int expiring_days);
/* Writes a provisioning bundle of name. */
int gs_certs_bundle(gs_certs *c, const char *name, const gs_certs_bundle_opts *o);
/* Prints a terminal QR code of the provisioning URI (no key material). */
int gs_certs_qr(gs_certs *c, const char *name, const gs_certs_bundle_opts *o);

#endif
