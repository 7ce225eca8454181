/*
 * config.h — <data>/celltrace.conf: the settings of notifications (internal).
 *
 * The file is text, one `key = value` per line, `#` comments; unknown
 * keys are an error (a typo must not silently keep a default). Mode 0600:
 * it holds the gateway password.
 */
#ifndef CT_CONFIG_H
#define CT_CONFIG_H

#include <stdint.h>

#include "celltrace.h"

typedef struct ct_conf {
    char gateway_url[512], username[128], password[128], sender[32];
    char dlr_listen[128], dlr_url[512], language[4], hotline[64], timezone[64];
    int quiet_from, quiet_to; /* minutes after local midnight; -1 = no quiet hours */
    double rate;              /* messages per second */
    int64_t retry_base_s, retry_max_s, expire_s, timeout_s;
    int quarantine_days;
    double risk_test, risk_quarantine; /* thresholds; 0 = the model's recommendation */
    ct_key_provider key_provider;      /* keys.* (keys.h) */
    char key_dir[512], passphrase_env[104], credential[104];
    int64_t appeal_deadline_h; /* appeals.c */
    int64_t audit_rotate_kb;   /* audit.c */
} ct_conf;

/* Sets one key without ct_config_set's guard on keys.provider (keys.c
 * moves the keys first, then names their new place). */
ct_code ct__conf_set(const char *dir, const char *key, const char *value, ct_err *err);

/* Names the site file below <data>/celltrace.conf (default: the build's
 * CT_SITE_CONF; "" or NULL: none). For tests; not thread-safe. */
void ct__conf_use_site(const char *path);

/* Loads the file (absent = all defaults) into *c. */
ct_code ct__conf_load(const char *dir, ct_conf *c, ct_err *err);

/* The DLR listener's host and port from c->dlr_listen (checked loopback). */
ct_code ct__conf_listen(const ct_conf *c, char *host, size_t cap, unsigned *port, ct_err *err);

/* The base of the dlr-url given to the gateway: sms.dlr_url, else
 * http://<dlr_listen>/dlr. */
void ct__conf_dlr_base(const ct_conf *c, char *buf, size_t cap);

/* Parses "HH:MM-HH:MM" or "off" into minutes (-1 for off). 0 on success. */
int ct__conf_parse_quiet(const char *s, int *from, int *to);

#endif
