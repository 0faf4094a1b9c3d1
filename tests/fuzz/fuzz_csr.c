/* fuzz_csr.c - certificate requests given to gs-certs (issue --csr FILE):
 * mbedtls PKCS#10 parsing plus gs-certs' own checks (self-signature, key
 * type and size, CN == device id) through the public gs_certs_issue().
 * A PKI dir is created once per process; an accepted CSR is issued and then
 * revoked so that the next accepted one can be issued again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "gs_certs.h"
#include "gs_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static gs_certs *c;
  static char csr[256];
  if (!c) {
    char pki[256];
    fz_path("pki", pki, sizeof pki);
    if (gs_certs_init(pki, "fuzz CA", 30) != GS_OK || gs_certs_open(pki, 1, &c) != GS_OK) {
      fprintf(stderr, "fuzz fixture: cannot create the PKI in %s\n", pki);
      abort();
    }
    fz_path("req.csr", csr, sizeof csr);
  }
  fz_write(csr, data, size);
  gs_certs_issue_opts o;
  memset(&o, 0, sizeof o);
  o.kind = GS_CERTS_DEVICE;
  o.csr_path = csr;
  if (gs_certs_issue(c, "fuzz-dev", &o) == GS_OK)
    fz_check(gs_certs_revoke(c, "fuzz-dev", NULL) == GS_OK, "revoke after an accepted CSR", data, size);
  return 0;
}
