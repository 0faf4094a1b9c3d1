/* main.c - gs-certs command line: argument parsing only; the work is in the
 * gs_certs_* library (gs_certs.h). Exit status: 0 ok, 1 error, 2 usage
 * (nothing done). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gs_certs.h"
#include "gs_cli.h"
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
    "Options go before or after the command, as \"--opt VALUE\" or \"--opt=VALUE\".\n"
    "  --help, --version\n"
    "see docs/CERTS.md\n";

static const char prog[] = "gs-certs";

static int bad_usage(const char *msg, const char *arg) {
  if (arg) return gs_cli_usage_error(prog, "%s '%s'", msg, arg);
  return gs_cli_usage_error(prog, "%s", msg);
}

enum {
  OPT_PKI = 256,
  OPT_CN,
  OPT_CSR,
  OPT_DAYS,
  OPT_DNS,
  OPT_IP,
  OPT_NOT_BEFORE,
  OPT_NOT_AFTER,
  OPT_SKIP_EXISTING,
  OPT_REASON,
  OPT_STATUS,
  OPT_EXPIRING_DAYS,
  OPT_HOST,
  OPT_MQTT_PORT,
  OPT_COAP_PORT,
  OPT_OUT,
  OPT_FILE,
  OPT_VERSION
};

static const struct option opts[] = {{"pki", required_argument, NULL, OPT_PKI},
                                     {"cn", required_argument, NULL, OPT_CN},
                                     {"csr", required_argument, NULL, OPT_CSR},
                                     {"days", required_argument, NULL, OPT_DAYS},
                                     {"dns", required_argument, NULL, OPT_DNS},
                                     {"ip", required_argument, NULL, OPT_IP},
                                     {"not-before", required_argument, NULL, OPT_NOT_BEFORE}, /* tests only */
                                     {"not-after", required_argument, NULL, OPT_NOT_AFTER},   /* tests only */
                                     {"skip-existing", no_argument, NULL, OPT_SKIP_EXISTING},
                                     {"reason", required_argument, NULL, OPT_REASON},
                                     {"status", required_argument, NULL, OPT_STATUS},
                                     {"expiring-days", required_argument, NULL, OPT_EXPIRING_DAYS},
                                     {"host", required_argument, NULL, OPT_HOST},
                                     {"mqtt-port", required_argument, NULL, OPT_MQTT_PORT},
                                     {"coap-port", required_argument, NULL, OPT_COAP_PORT},
                                     {"out", required_argument, NULL, OPT_OUT},
                                     {"file", required_argument, NULL, OPT_FILE},
                                     {"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, OPT_VERSION},
                                     {NULL, 0, NULL, 0}};

int main(int argc, char **argv) {
  const char *pki = NULL, *cmd = NULL, *arg = NULL;
  const char *cn = NULL, *reason = NULL, *status = NULL;
  gs_certs_issue_opts io = {0};
  gs_certs_bundle_opts bo = {0};
  int expiring = -1, c, rc;
  gs_certs *cs = NULL;

  /* Options may come before or after the command (getopt_long permutes). */
  while ((c = gs_cli_getopt(prog, argc, argv, "h", opts)) != -1) {
    switch (c) {
    case OPT_PKI: pki = optarg; break;
    case OPT_CN: cn = optarg; break;
    case OPT_CSR: io.csr_path = optarg; break;
    case OPT_DAYS:
      if (gs_cli_int(prog, "--days", optarg, 1, 36500, &io.days)) return GS_CLI_EXIT_USAGE;
      break;
    case OPT_DNS: io.dns = optarg; break;
    case OPT_IP: io.ips = optarg; break;
    case OPT_NOT_BEFORE: io.not_before = optarg; break;
    case OPT_NOT_AFTER: io.not_after = optarg; break;
    case OPT_SKIP_EXISTING: io.skip_existing = 1; break;
    case OPT_REASON: reason = optarg; break;
    case OPT_STATUS: status = optarg; break;
    case OPT_EXPIRING_DAYS:
      if (gs_cli_int(prog, "--expiring-days", optarg, 0, 36500, &expiring)) return GS_CLI_EXIT_USAGE;
      break;
    case OPT_HOST: bo.host = optarg; break;
    case OPT_MQTT_PORT:
      if (gs_cli_int(prog, "--mqtt-port", optarg, 1, 65535, &bo.mqtt_port)) return GS_CLI_EXIT_USAGE;
      break;
    case OPT_COAP_PORT:
      if (gs_cli_int(prog, "--coap-port", optarg, 1, 65535, &bo.coap_port)) return GS_CLI_EXIT_USAGE;
      break;
    case OPT_OUT: bo.out_dir = optarg; break;
    case OPT_FILE: bo.out_file = optarg; break;
    case 'h': fputs(usage, stdout); return GS_CLI_EXIT_OK;
    case OPT_VERSION: gs_cli_version(prog); return GS_CLI_EXIT_OK;
    default: return GS_CLI_EXIT_USAGE;
    }
  }
  if (optind < argc) cmd = argv[optind++];
  if (optind < argc) arg = argv[optind++];
  if (optind < argc) return bad_usage("unexpected argument", argv[optind]);
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

  if ((rc = gs_certs_open(pki, cmds[k].writes, &cs)) != GS_OK) return 1;
  if (!strcmp(cmd, "issue")) {
    io.kind = GS_CERTS_DEVICE;
    rc = gs_certs_issue(cs, arg, &io);
  } else if (!strcmp(cmd, "issue-service")) {
    io.kind = GS_CERTS_SERVICE;
    rc = gs_certs_issue(cs, arg, &io);
  } else if (!strcmp(cmd, "issue-server")) {
    io.kind = GS_CERTS_SERVER;
    if (io.csr_path) rc = bad_usage("issue-server makes its own key; --csr is not supported", NULL);
    else rc = gs_certs_issue(cs, arg, &io);
  } else if (!strcmp(cmd, "issue-batch")) {
    io.kind = GS_CERTS_DEVICE;
    if (io.csr_path) rc = bad_usage("issue-batch makes the keys; --csr is not supported", NULL);
    else rc = gs_certs_issue_batch(cs, arg, &io);
  } else if (!strcmp(cmd, "renew")) {
    rc = gs_certs_renew(cs, arg, io.days);
  } else if (!strcmp(cmd, "revoke")) {
    rc = gs_certs_revoke(cs, arg, reason);
  } else if (!strcmp(cmd, "crl")) {
    rc = gs_certs_crl(cs, io.days);
  } else if (!strcmp(cmd, "list")) {
    rc = gs_certs_list(cs, status, expiring);
  } else if (!strcmp(cmd, "bundle")) {
    rc = gs_certs_bundle(cs, arg, &bo);
  } else {
    rc = gs_certs_qr(cs, arg, &bo);
  }
  gs_certs_close(cs);
  return rc == GS_OK ? 0 : 1;
}
