/* main.c - gs-certs command line: argument parsing only; the work is in the
 * gs_certs_* library (gs_certs.h). Exit status: 0 ok, 1 error, 2 usage. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gs_certs.h"
#include "gs_error.h"
#include "gs_util.h"

static const char usage[] =
    "usage: gs-certs --pki DIR COMMAND [options]\n"
    "commands:\n"
    "  init [--cn NAME] [--days N]             create the CA (ca.crt, ca.key, crl.pem, inventory)\n"
    "  issue DEVICE [--csr FILE] [--days N]    device certificate (key made here unless --csr)\n"
    "  issue-service NAME [--csr FILE] [--days N]  service account (gs-collector, bridge-<name>)\n"
    "  issue-server NAME [--dns a,b] [--ip x,y] [--days N]  TLS/DTLS server certificate\n"
    "  issue-batch FILE [--days N] [--skip-existing]  one device id per line or CSV 'id,...'\n"
    "  renew NAME [--days N]                   new certificate for the same key\n"
    "  revoke NAME [--reason keyCompromise|superseded|cessationOfOperation|unspecified]\n"
    "  crl [--days N]                          write crl.pem (signed by the CA)\n"
    "  list [--status valid|revoked|expired|superseded] [--expiring-days N]\n"
    "  bundle DEVICE [--host H] [--mqtt-port P] [--coap-port P] [--out DIR | --file F]\n"
    "  qr DEVICE [--host H] [--mqtt-port P] [--coap-port P]\n"
    "see docs/CERTS.md\n";

static int bad_usage(const char *msg, const char *arg) {
  fprintf(stderr, "gs-certs: %s%s%s\n%s", msg, arg ? " " : "", arg ? arg : "", usage);
  return 2;
}

static int parse_int(const char *opt, const char *s, int min, int max, int *out) {
  int64_t v;
  if (!s || gs_parse_i64(s, min, max, &v) != GS_OK) {
    fprintf(stderr, "gs-certs: error: %s needs a number between %d and %d\n", opt, min, max);
    return -1;
  }
  *out = (int)v;
  return 0;
}

int main(int argc, char **argv) {
  const char *pki = NULL, *cmd = NULL, *arg = NULL;
  const char *cn = NULL, *reason = NULL, *status = NULL;
  gs_certs_issue_opts io = {0};
  gs_certs_bundle_opts bo = {0};
  int expiring = -1, i, rc;
  gs_certs *c = NULL;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(dst)                                                                                                      \
  do {                                                                                                                 \
    if (!v) return bad_usage("missing value for", a);                                                                  \
    dst = v;                                                                                                           \
    i++;                                                                                                               \
  } while (0)
#define TAKE_INT(dst, min, max)                                                                                        \
  do {                                                                                                                 \
    if (parse_int(a, v, min, max, &dst)) return 2;                                                                     \
    i++;                                                                                                               \
  } while (0)
    if (!strcmp(a, "--pki")) TAKE(pki);
    else if (!strcmp(a, "--cn")) TAKE(cn);
    else if (!strcmp(a, "--csr")) TAKE(io.csr_path);
    else if (!strcmp(a, "--days")) TAKE_INT(io.days, 1, 36500);
    else if (!strcmp(a, "--dns")) TAKE(io.dns);
    else if (!strcmp(a, "--ip")) TAKE(io.ips);
    else if (!strcmp(a, "--not-before")) TAKE(io.not_before); /* tests only */
    else if (!strcmp(a, "--not-after")) TAKE(io.not_after);   /* tests only */
    else if (!strcmp(a, "--skip-existing")) io.skip_existing = 1;
    else if (!strcmp(a, "--reason")) TAKE(reason);
    else if (!strcmp(a, "--status")) TAKE(status);
    else if (!strcmp(a, "--expiring-days")) TAKE_INT(expiring, 0, 36500);
    else if (!strcmp(a, "--host")) TAKE(bo.host);
    else if (!strcmp(a, "--mqtt-port")) TAKE_INT(bo.mqtt_port, 1, 65535);
    else if (!strcmp(a, "--coap-port")) TAKE_INT(bo.coap_port, 1, 65535);
    else if (!strcmp(a, "--out")) TAKE(bo.out_dir);
    else if (!strcmp(a, "--file")) TAKE(bo.out_file);
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    } else if (a[0] == '-' && a[1] == '-') return bad_usage("unknown option", a);
    else if (!cmd) cmd = a;
    else if (!arg) arg = a;
    else return bad_usage("unexpected argument", a);
#undef TAKE
#undef TAKE_INT
  }
  if (!pki) return bad_usage("--pki DIR is required", NULL);
  if (!cmd) return bad_usage("no command given", NULL);
  if (bo.out_dir && bo.out_file) return bad_usage("use --out or --file, not both", NULL);

  static const struct {
    const char *name;
    int needs_arg, writes;
  } cmds[] = {{"init", 0, 1},  {"issue", 1, 1},  {"issue-service", 1, 1}, {"issue-server", 1, 1}, {"issue-batch", 1, 1},
              {"renew", 1, 1}, {"revoke", 1, 1}, {"crl", 0, 1},           {"list", 0, 0},         {"bundle", 1, 0},
              {"qr", 1, 0}};
  int k = -1;
  for (size_t j = 0; j < sizeof(cmds) / sizeof(cmds[0]); j++)
    if (!strcmp(cmds[j].name, cmd)) k = (int)j;
  if (k < 0) return bad_usage("unknown command", cmd);
  if (cmds[k].needs_arg && !arg) return bad_usage("missing NAME/FILE for", cmd);
  if (!cmds[k].needs_arg && arg) return bad_usage("unexpected argument", arg);

  /* Files other than keys follow the caller's umask; keys are always 0600. */
  if (!strcmp(cmd, "init")) return gs_certs_init(pki, cn, io.days) == GS_OK ? 0 : 1;

  if ((rc = gs_certs_open(pki, cmds[k].writes, &c)) != GS_OK) return 1;
  if (!strcmp(cmd, "issue")) {
    io.kind = GS_CERTS_DEVICE;
    rc = gs_certs_issue(c, arg, &io);
  } else if (!strcmp(cmd, "issue-service")) {
    io.kind = GS_CERTS_SERVICE;
    rc = gs_certs_issue(c, arg, &io);
  } else if (!strcmp(cmd, "issue-server")) {
    io.kind = GS_CERTS_SERVER;
    if (io.csr_path) rc = bad_usage("issue-server makes its own key; --csr is not supported", NULL);
    else rc = gs_certs_issue(c, arg, &io);
  } else if (!strcmp(cmd, "issue-batch")) {
    io.kind = GS_CERTS_DEVICE;
    if (io.csr_path) rc = bad_usage("issue-batch makes the keys; --csr is not supported", NULL);
    else rc = gs_certs_issue_batch(c, arg, &io);
  } else if (!strcmp(cmd, "renew")) {
    rc = gs_certs_renew(c, arg, io.days);
  } else if (!strcmp(cmd, "revoke")) {
    rc = gs_certs_revoke(c, arg, reason);
  } else if (!strcmp(cmd, "crl")) {
    rc = gs_certs_crl(c, io.days);
  } else if (!strcmp(cmd, "list")) {
    rc = gs_certs_list(c, status, expiring);
  } else if (!strcmp(cmd, "bundle")) {
    rc = gs_certs_bundle(c, arg, &bo);
  } else {
    rc = gs_certs_qr(c, arg, &bo);
  }
  gs_certs_close(c);
  return rc == GS_OK ? 0 : 1;
}
