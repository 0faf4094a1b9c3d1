/* revoke.h - watches PKI/crl.pem and reports certificates newly revoked.
 *
 * The CRL is parsed with OpenSSL (the broker links it anyway) and its
 * signature checked against PKI/ca.crt; a CRL that does not verify is
 * ignored (logged) and the previous set kept. Serials are mapped to names
 * through PKI/inventory.csv (written by gs-certs).
 * Single-threaded: called from the broker's main loop only.
 */
#ifndef GS_PLUGIN_REVOKE_H
#define GS_PLUGIN_REVOKE_H

typedef struct gs_revoke gs_revoke;

/* Called once per newly revoked serial; cn is NULL when the inventory has no
 * row for it. */
typedef void (*gs_revoke_cb)(const char *serial_hex, const char *cn, void *ud);

/* Allocates a watcher of pki_dir and loads the current CRL as the baseline
 * (nothing is reported for it). Returns NULL on out of memory only; a missing
 * or bad CRL is logged and retried at the next poll. Free with gs_revoke_free. */
gs_revoke *gs_revoke_new(const char *pki_dir);
void gs_revoke_free(gs_revoke *r);

/* Re-reads the CRL when its file changed (inode, size or mtime) and calls cb
 * for each serial that was not revoked before. Returns the number reported. */
int gs_revoke_poll(gs_revoke *r, gs_revoke_cb cb, void *ud);

/* 1 when serial_hex (upper-case, any leading zeros) is in the current CRL. */
int gs_revoke_contains(const gs_revoke *r, const char *serial_hex);

#endif
