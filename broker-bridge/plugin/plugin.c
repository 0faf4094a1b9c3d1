/* plugin.c - gs_broker_plugin.so: mosquitto 2.0 plugin (API v5) glue.
 *
 *  - MOSQ_EVT_BASIC_AUTH: a client with a certificate is admitted only when its
 *    client id equals its certificate CN and the certificate is not in the
 *    current CRL; its username is set to the CN (mosquitto_set_username), so
 *    acl_file patterns with %u work. Without a certificate: defer to
 *    password_file on the websocket listener (dashboards), refuse elsewhere.
 *    mosquitto 2.0 does not call basic-auth plugins on a listener with
 *    use_identity_as_username (handle_connect.c skips mosquitto_unpwd_check),
 *    which is why the device listener must not set it (docs/CERTS.md).
 *  - MOSQ_EVT_ACL_CHECK: rules.c; allowed -> defer (acl_file must allow too).
 *    Websocket clients are dashboards; every other client is identified by its
 *    username (= CN), also while offline (persistent session, no TLS object).
 *  - MOSQ_EVT_TICK: every 2 s, reload PKI/crl.pem when it changed and kick the
 *    clients of newly revoked certificates (revoke.c).
 * Options: plugin_opt_pki <dir> (required).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include "revoke.h"
#include "rules.h"

#define POLL_INTERVAL_S 2
/* Built with hidden visibility: only the three entry points are exported. */
#define GS_EXPORT __attribute__((visibility("default")))

struct gs_plugin {
  mosquitto_plugin_id_t *id;
  gs_revoke *revoke;
  time_t next_poll;
};

static struct gs_plugin g_plugin;

/* The certificate's CN into cn (empty when absent or not plain); serial hex
 * into serial. */
static void cert_identity(X509 *cert, char *cn, size_t cnlen, char *serial, size_t slen) {
  cn[0] = '\0';
  serial[0] = '\0';
  X509_NAME *subj = X509_get_subject_name(cert);
  int idx = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
  if (idx >= 0) {
    ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    int len = d ? ASN1_STRING_length(d) : 0;
    const unsigned char *p = d ? ASN1_STRING_get0_data(d) : NULL;
    if (p && len > 0 && (size_t)len < cnlen && memchr(p, '\0', (size_t)len) == NULL) {
      memcpy(cn, p, (size_t)len);
      cn[len] = '\0';
    }
  }
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), NULL);
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  if (hex) snprintf(serial, slen, "%s", hex);
  OPENSSL_free(hex);
  BN_free(bn);
}

static void poll_crl(void);

static int on_basic_auth(int event, void *event_data, void *userdata) {
  struct mosquitto_evt_basic_auth *ed = event_data;
  X509 *cert = mosquitto_client_certificate(ed->client);
  char cn[80], serial[80];
  int rc;
  (void)event;
  (void)userdata;
  if (!cert) {
    if (mosquitto_client_protocol(ed->client) == mp_websockets)
      return MOSQ_ERR_PLUGIN_DEFER; /* dashboard: password_file decides */
    /* rules.c trusts the username of every non-websocket client as a CN. */
    mosquitto_log_printf(MOSQ_LOG_WARNING,
                         "gs-plugin: refusing %s: no client certificate on an MQTT listener "
                         "(set require_certificate true there)",
                         mosquitto_client_address(ed->client));
    return MOSQ_ERR_AUTH;
  }
  cert_identity(cert, cn, sizeof(cn), serial, sizeof(serial));
  X509_free(cert);
  const char *id = mosquitto_client_id(ed->client);
  const char *addr = mosquitto_client_address(ed->client);
  if (!gs_rules_valid_cn(cn)) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "gs-plugin: refusing %s: certificate CN is not a gridsync id", addr);
    return MOSQ_ERR_AUTH;
  }
  if (!id || strcmp(id, cn) != 0) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         "gs-plugin: refusing %s: client id \"%s\" is not its certificate CN "
                         "\"%s\" (a device may only use its own id)",
                         addr, id ? id : "", cn);
    return MOSQ_ERR_AUTH;
  }
  poll_crl(); /* a revocation published a moment ago must count already */
  if (gs_revoke_contains(g_plugin.revoke, serial)) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "gs-plugin: refusing %s (%s): certificate serial %s is revoked", addr, cn,
                         serial);
    return MOSQ_ERR_AUTH;
  }
  rc = mosquitto_set_username(ed->client, cn);
  if (rc != MOSQ_ERR_SUCCESS) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "gs-plugin: setting username of %s failed: %s", cn, mosquitto_strerror(rc));
    return MOSQ_ERR_AUTH;
  }
  return MOSQ_ERR_SUCCESS;
}

static int on_acl_check(int event, void *event_data, void *userdata) {
  struct mosquitto_evt_acl_check *ed = event_data;
  X509 *cert = mosquitto_client_certificate(ed->client);
  const char *cn = NULL;
  (void)event;
  (void)userdata;
  if (cert) X509_free(cert);
  /* A device or service: connected with a certificate, or offline (a persistent
   * session keeps its username but has no TLS session to ask) - everything not
   * on the websocket listener, where basic auth demanded a certificate and set
   * the username to its CN. Only websocket clients are dashboards. */
  if (cert || mosquitto_client_protocol(ed->client) != mp_websockets) {
    cn = mosquitto_client_username(ed->client);
    if (!cn) return MOSQ_ERR_ACL_DENIED;
  }
  if (gs_rules_allowed(cn, ed->topic, ed->access)) return MOSQ_ERR_PLUGIN_DEFER;
  if (ed->access != MOSQ_ACL_READ) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "gs-plugin: denied %s %s on \"%s\"", cn ? cn : "(dashboard)",
                         ed->access == MOSQ_ACL_WRITE ? "publish" : "subscribe", ed->topic);
  }
  return MOSQ_ERR_ACL_DENIED;
}

static void kick_revoked(const char *serial, const char *cn, void *ud) {
  (void)ud;
  if (!cn) {
    mosquitto_log_printf(MOSQ_LOG_WARNING,
                         "gs-plugin: revoked serial %s is not in inventory.csv; cannot tell "
                         "which client to disconnect",
                         serial);
    return;
  }
  mosquitto_log_printf(MOSQ_LOG_NOTICE, "gs-plugin: certificate %s of %s revoked: disconnecting %s", serial, cn, cn);
  mosquitto_kick_client_by_username(cn, false);
}

static void poll_crl(void) {
  if (g_plugin.revoke) gs_revoke_poll(g_plugin.revoke, kick_revoked, NULL);
  g_plugin.next_poll = time(NULL) + POLL_INTERVAL_S;
}

static int on_tick(int event, void *event_data, void *userdata) {
  (void)event;
  (void)event_data;
  (void)userdata;
  if (time(NULL) >= g_plugin.next_poll) poll_crl();
  return MOSQ_ERR_SUCCESS;
}

GS_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions) {
  for (int i = 0; i < supported_version_count; i++)
    if (supported_versions[i] == 5) return 5;
  return -1;
}

GS_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
                                    int option_count) {
  const char *pki = NULL;
  int rc;
  for (int i = 0; i < option_count; i++)
    if (strcmp(options[i].key, "pki") == 0) pki = options[i].value;
  if (!pki || !pki[0]) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "gs-plugin: plugin_opt_pki <PKI dir> is required");
    return MOSQ_ERR_INVAL;
  }
  memset(&g_plugin, 0, sizeof(g_plugin));
  g_plugin.id = identifier;
  g_plugin.revoke = gs_revoke_new(pki);
  if (!g_plugin.revoke) return MOSQ_ERR_NOMEM;
  g_plugin.next_poll = time(NULL) + POLL_INTERVAL_S;
  *userdata = &g_plugin;
  if ((rc = mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL)) ||
      (rc = mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL)) ||
      (rc = mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, NULL))) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "gs-plugin: registering callbacks failed: %s", mosquitto_strerror(rc));
    return rc;
  }
  mosquitto_log_printf(MOSQ_LOG_NOTICE, "gs-plugin: loaded (pki %s)", pki);
  return MOSQ_ERR_SUCCESS;
}

GS_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count) {
  (void)userdata;
  (void)options;
  (void)option_count;
  if (g_plugin.id) {
    mosquitto_callback_unregister(g_plugin.id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
    mosquitto_callback_unregister(g_plugin.id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
    mosquitto_callback_unregister(g_plugin.id, MOSQ_EVT_TICK, on_tick, NULL);
  }
  gs_revoke_free(g_plugin.revoke);
  memset(&g_plugin, 0, sizeof(g_plugin));
  return MOSQ_ERR_SUCCESS;
}
