/* rules.h - the broker plugin's authorisation rules as pure functions
 * (no mosquitto, no I/O) so that they can be unit-tested and read in one place.
 * docs/CERTS.md "Broker plugin rules" is the prose version of this file.
 */
#ifndef GS_PLUGIN_RULES_H
#define GS_PLUGIN_RULES_H

/* Same values as MOSQ_ACL_* in mosquitto.h. */
enum { GS_ACC_READ = 1, GS_ACC_WRITE = 2, GS_ACC_SUBSCRIBE = 4, GS_ACC_UNSUBSCRIBE = 8 };

/* 1 when s is usable as an identity: [a-z0-9-]{3,64} (what gs-certs issues). */
int gs_rules_valid_cn(const char *s);

/* 1 when every topic matched by the MQTT filter (or the concrete topic) is
 * also matched by pattern ('+' and '#' allowed in both). */
int gs_rules_topic_within(const char *filter, const char *pattern);

/* 1 when a client may do access on topic. cn is the certificate CN, NULL for
 * a client without certificate (dashboard password account). */
int gs_rules_allowed(const char *cn, const char *topic, int access);

#endif
