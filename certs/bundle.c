/* bundle.c - what leaves the PKI directory: the inventory table (list), the
 * provisioning bundle for a phone, and the provisioning QR code.
 *
 * The QR code carries only public data (ids, host, ports, the CA fingerprint
 * the phone pins); keys travel in the bundle (or are made on the phone, CSR).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qrencode.h>

#include "certs_int.h"
#include "gs_buf.h"
#include "gs_error.h"
#include "gs_mem.h"
#include "gs_util.h"

#define DEFAULT_HOST      "localhost"
#define DEFAULT_MQTT_PORT 8883
#define DEFAULT_COAP_PORT 5684

int gs_certs_list(gs_certs *c, const char *status, int expiring_days) {
  int64_t now = gs_now_ms() / 1000;
  if (status && strcmp(status, "valid") && strcmp(status, "revoked") && strcmp(status, "expired") &&
      strcmp(status, "superseded")) {
    certs__err("--status must be valid, revoked, expired or superseded");
    return GS_EINVAL;
  }
  printf("%-8s %-32s %-34s %-20s %-20s %s\n", "KIND", "NAME", "SERIAL", "NOT_BEFORE", "NOT_AFTER", "STATUS");
  for (size_t i = 0; i < c->nrows; i++) {
    const certs__row *r = &c->rows[i];
    const char *st = certs__row_status(r, now);
    if (status && strcmp(st, status) != 0) continue;
    if (expiring_days >= 0 && (strcmp(st, "valid") != 0 || r->not_after > now + (int64_t)expiring_days * 86400))
      continue;
    char nb[32], na[32];
    certs__iso_time(r->not_before, nb, sizeof(nb));
    certs__iso_time(r->not_after, na, sizeof(na));
    printf("%-8s %-32s %-34s %-20s %-20s %s\n", r->kind, r->name, r->serial, nb, na, st);
  }
  return fflush(stdout) == 0 ? GS_OK : GS_EIO;
}

/* The row a bundle or QR code is made for: current and valid. */
static int bundle_row(gs_certs *c, const char *name) {
  long i = certs__inv_current(c, name);
  if (i < 0) {
    certs__err("%s is not in %s/inventory.csv; issue it first", name, c->dir);
    return GS_ENOTFOUND;
  }
  const char *st = certs__row_status(&c->rows[i], gs_now_ms() / 1000);
  if (strcmp(st, "valid") != 0) {
    certs__err("the certificate of %s is %s; issue a new one before provisioning", name, st);
    return GS_EINVAL;
  }
  return GS_OK;
}

static int valid_host(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 253) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = h[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
          ch == ':'))
      return 0;
  }
  return 1;
}

static int norm_opts(const gs_certs_bundle_opts *in, gs_certs_bundle_opts *o) {
  *o = *in;
  if (!o->host) o->host = DEFAULT_HOST;
  if (!o->mqtt_port) o->mqtt_port = DEFAULT_MQTT_PORT;
  if (!o->coap_port) o->coap_port = DEFAULT_COAP_PORT;
  if (!valid_host(o->host)) {
    certs__err("--host \"%s\" is not a host name or IP address", o->host);
    return GS_EINVAL;
  }
  if (o->mqtt_port < 1 || o->mqtt_port > 65535 || o->coap_port < 1 || o->coap_port > 65535) {
    certs__err("ports must be between 1 and 65535");
    return GS_EINVAL;
  }
  return GS_OK;
}

/* Reads DIR/<name><ext> into *out (gs_free). Missing is GS_ENOTFOUND (quiet
 * when quiet_missing). */
static int read_pki_file(gs_certs *c, const char *name, const char *ext, int quiet_missing, char **out, size_t *len) {
  char fname[CERTS_NAME_MAX + 16], path[PATH_MAX];
  snprintf(fname, sizeof(fname), "%s%s", name, ext);
  int rc = certs__path(c, fname, path, sizeof(path));
  if (rc) return rc;
  rc = gs_read_file(path, 1024 * 1024, out, len);
  if (rc && !(rc == GS_ENOTFOUND && quiet_missing)) certs__err("cannot read %s: %s", path, gs_strerror(rc));
  return rc;
}

static int render_conf(gs_buf *b, const char *name, const gs_certs_bundle_opts *o) {
  return gs_buf_printf(b,
                       "# gridsync device provisioning\n[device]\nid=%s\n\n[mqtt]\nhost=%s\n"
                       "port=%d\n\n[coap]\nhost=%s\nport=%d\n",
                       name, o->host, o->mqtt_port, o->host, o->coap_port);
}

int gs_certs_bundle(gs_certs *c, const char *name, const gs_certs_bundle_opts *in) {
  gs_certs_bundle_opts o;
  char *crt = NULL, *key = NULL, *ca = NULL, path[PATH_MAX];
  size_t crt_len = 0, key_len = 0, ca_len = 0;
  gs_buf b = GS_BUF_INIT;
  int rc;
  if ((rc = bundle_row(c, name)) || (rc = norm_opts(in, &o))) return rc;
  if ((rc = read_pki_file(c, name, ".crt", 0, &crt, &crt_len))) goto out;
  rc = read_pki_file(c, name, ".key", 1, &key, &key_len);
  if (rc && rc != GS_ENOTFOUND) goto out; /* missing key: issued from a CSR */
  if ((rc = read_pki_file(c, "ca", ".crt", 0, &ca, &ca_len))) goto out;
  if (o.out_file) {
    rc = render_conf(&b, name, &o);
    if (!rc) rc = gs_buf_printf(&b, "\n# device.crt\n%s", crt);
    if (!rc && key) rc = gs_buf_printf(&b, "\n# device.key\n%s", key);
    if (!rc) rc = gs_buf_printf(&b, "\n# ca.crt\n%s", ca);
    if (rc) goto oom;
    rc = certs__write_atomic(o.out_file, b.data, b.len, key ? CERTS_KEY_MODE : CERTS_FILE_MODE, 1);
    if (!rc)
      certs__note("wrote provisioning bundle %s%s", o.out_file, key ? " (contains the private key: mode 0600)" : "");
    goto out;
  }
  char defdir[PATH_MAX];
  const char *dir = o.out_dir;
  if (!dir) {
    snprintf(defdir, sizeof(defdir), "%s-bundle", name);
    dir = defdir;
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    certs__err("mkdir(\"%s\") failed: %s", dir, strerror(errno));
    rc = GS_EIO;
    goto out;
  }
  if ((rc = render_conf(&b, name, &o))) goto oom;
  const struct {
    const char *file;
    const char *data;
    size_t len;
    int mode;
  } files[] = {{"device.crt", crt, crt_len, CERTS_FILE_MODE},
               {"device.key", key, key_len, CERTS_KEY_MODE},
               {"ca.crt", ca, ca_len, CERTS_FILE_MODE},
               {"device.conf", b.data, b.len, CERTS_FILE_MODE}};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    if (!files[i].data) continue;
    int w = snprintf(path, sizeof(path), "%s/%s", dir, files[i].file);
    if (w < 0 || (size_t)w >= sizeof(path)) {
      certs__err("--out path too long");
      rc = GS_EINVAL;
      goto out;
    }
    if ((rc = certs__write_atomic(path, files[i].data, files[i].len, files[i].mode, 1))) goto out;
  }
  certs__note("wrote provisioning bundle %s/ (device.crt, %sca.crt, device.conf)", dir, key ? "device.key, " : "");
  goto out;
oom:
  certs__err("out of memory building the bundle");
  rc = GS_ENOMEM;
out:
  if (key) {
    memset(key, 0, key_len);
    gs_free(key);
  }
  if (b.data) memset(b.data, 0, b.len);
  gs_buf_free(&b);
  gs_free(crt);
  gs_free(ca);
  return rc;
}

int gs_certs_qr(gs_certs *c, const char *name, const gs_certs_bundle_opts *in) {
  gs_certs_bundle_opts o;
  char fp[65], uri[512];
  int rc;
  if ((rc = bundle_row(c, name)) || (rc = norm_opts(in, &o))) return rc;
  certs__ca_fingerprint(c, fp);
  snprintf(uri, sizeof(uri), "gridsync://provision?id=%s&host=%s&mqtt=%d&coap=%d&fp=%s", name, o.host, o.mqtt_port,
           o.coap_port, fp);
  QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!qr) {
    certs__err("QR encoding failed: %s", strerror(errno));
    return GS_EINTERNAL;
  }
  /* Two modules per text row with half blocks; dark = module set. A quiet zone
   * of 2 modules; printed as light-on-dark-safe: spaces are light. */
  const int q = 2, w = qr->width;
  for (int y = -q; y < w + q; y += 2) {
    for (int x = -q; x < w + q; x++) {
      int top = y >= 0 && y < w && x >= 0 && x < w && (qr->data[y * w + x] & 1);
      int bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w && (qr->data[(y + 1) * w + x] & 1);
      /* Inverted so that scanners see dark modules on a light background in a
       * dark terminal: print the light modules as blocks. */
      const char *s = !top && !bot ? "\xe2\x96\x88" : !top ? "\xe2\x96\x80" : !bot ? "\xe2\x96\x84" : " ";
      fputs(s, stdout);
    }
    fputc('\n', stdout);
  }
  QRcode_free(qr);
  printf("%s\n", uri);
  return fflush(stdout) == 0 ? GS_OK : GS_EIO;
}
