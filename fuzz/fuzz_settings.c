/*
 * fuzz_settings.c — the two text files an operator may edit by hand or
 * find damaged: celltrace.conf (ct__conf_load, target `config`) and the
 * file provider's keyring (ct_keys_unlock, target `keyring`). Built twice,
 * FZ_SETTINGS = 1 (config) and 2 (keyring).
 *
 * Each input is written as the file of a scratch data directory and read
 * back. Properties: a refused file is an error with a known code and a
 * message, never a crash or a half-filled result; an accepted
 * configuration holds only values its documentation allows (language ru
 * or en, rate above 0, quiet hours within a day or off, thresholds in
 * [0, 1], quarantine days above 0), and crossed thresholds, which only a
 * hand edit can make, are refused by every scored command;
 * an accepted configuration survives writing one key and reading it back;
 * an accepted keyring has a key for every role, and a second unlock of
 * the same bytes gives the same keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "celltrace.h"
#include "config.h"
#include "keys.h"
#include "fuzz.h"

#ifndef FZ_SETTINGS
#define FZ_SETTINGS 1
#endif

static char *data_dir, *file_path;

static void setup(void)
{
    data_dir = fz_path("data");
    mkdir(data_dir, 0700);
#if FZ_SETTINGS == 2
    char *keys = fz_path("data/keys");
    mkdir(keys, 0700);
    free(keys);
    file_path = fz_path("data/keys/keyring");
    /* ct_keys_unlock reads keys only in a data directory, which it knows
     * by its catalogue: without one every input was refused at that check
     * (cov 17), and a 10 M-execution run fuzzed nothing */
    char *catalog = fz_path("data/catalog.db");
    fz_write(catalog, "", 0);
    free(catalog);
    /* so the harness must accept the keyring a real `init` writes */
    ct_err err;
    char *probe = fz_path("probe"), *probe_ring = fz_path("probe/keys/keyring");
    FZ_CHECK(ct_init(probe, &err) == CT_OK, "a data directory for the probe");
    char buf[8192];
    FILE *f = fopen(probe_ring, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    fz_write(file_path, buf, n);
    ct_keyring *k = NULL;
    ct_key_source src;
    memset(&src, 0, sizeof src);
    FZ_CHECK(n > 0 && ct_keys_unlock(data_dir, &src, &k, &err) == CT_OK,
             "the harness accepts the keyring init writes");
    ct_keys_close(k);
    free(probe_ring);
    free(probe);
#else
    file_path = fz_path("data/celltrace.conf");
#endif
}

#if FZ_SETTINGS == 1
static void check_conf(const ct_conf *c)
{
    FZ_CHECK(strcmp(c->language, "ru") == 0 || strcmp(c->language, "en") == 0,
             "the language is ru or en");
    FZ_CHECK(c->rate > 0, "the send rate is above 0");
    FZ_CHECK((c->quiet_from == -1 && c->quiet_to == -1) ||
                 (c->quiet_from >= 0 && c->quiet_from < 1440 && c->quiet_to >= 0 &&
                  c->quiet_to < 1440),
             "quiet hours are within a day, or off");
    FZ_CHECK(c->risk_test >= 0 && c->risk_test <= 1 && c->risk_quarantine >= 0 &&
                 c->risk_quarantine <= 1,
             "thresholds are probabilities");
    FZ_CHECK(c->quarantine_days > 0, "a quarantine lasts at least a day");
    FZ_CHECK(c->audit_rotate_kb >= 1 && c->audit_rotate_kb <= 4194304,
             "the audit log rotates past 1 KiB to 4 GiB");
    FZ_CHECK(c->appeal_deadline_h >= 1 && c->appeal_deadline_h <= 8760,
             "an appeal's deadline is an hour to a year");
    FZ_CHECK(c->retry_base_s > 0 && c->retry_max_s > 0 && c->expire_s > 0 && c->timeout_s > 0,
             "delays are positive");
    FZ_CHECK(memchr(c->hotline, '\0', sizeof c->hotline) && memchr(c->timezone, '\0', sizeof c->timezone),
             "strings are terminated");
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!data_dir)
        setup();
    fz_write(file_path, data, size);
    ct_err err;
    memset(&err, 0, sizeof err);
#if FZ_SETTINGS == 1
    ct_conf c;
    ct_code rc = ct__conf_load(data_dir, &c, &err);
    FZ_CHECK(rc <= CT_ECRYPTO, "a known code");
    if (rc != CT_OK) {
        FZ_CHECK(err.msg[0] != '\0', "a refused configuration says why");
        return 0;
    }
    check_conf(&c);
    /* a hand-edited file may cross the thresholds (`config set` refuses
     * to), also against the model's recommendation where one says
     * "model"; then every scored command must refuse it, with a message */
    ct_risk_opts risk;
    ct_code scored = ct_risk_opts_configured(data_dir, NULL, &risk, &err);
    if (c.risk_test > 0 && c.risk_quarantine > 0 && c.risk_test > c.risk_quarantine)
        FZ_CHECK(scored == CT_EINVAL && err.msg[0] != '\0',
                 "crossed thresholds are refused by the scored commands");
    /* so may the retry delays (base above the cap); the backoff then stays
     * at the cap, and `config set` refuses to write anything but a fix */
    int delays_crossed = c.retry_base_s > c.retry_max_s;
    if (scored == CT_EINVAL || delays_crossed) {
        FZ_CHECK(ct__conf_set(data_dir, "quarantine_days", "10", &err) == CT_EINVAL,
                 "a set keeps crossed thresholds or delays out");
        if (delays_crossed)
            FZ_CHECK(ct__conf_set(data_dir, "sms.retry_max_s", "31536000", &err) == CT_OK,
                     "a set that uncrosses the delays is accepted");
        if (scored == CT_EINVAL)
            FZ_CHECK(ct__conf_set(data_dir, "risk.quarantine", "1", &err) == CT_OK,
                     "a set that uncrosses the thresholds is accepted");
        return 0;
    }
    /* writing a key keeps the rest readable and as it was */
    rc = ct__conf_set(data_dir, "quarantine_days", "10", &err);
    if (rc != CT_OK)
        fprintf(stderr, "fuzz: set after load: %s\n", err.msg);
    FZ_CHECK(rc == CT_OK, "a key can be set in an accepted configuration");
    ct_conf again;
    rc = ct__conf_load(data_dir, &again, &err);
    FZ_CHECK(rc == CT_OK, "the configuration reads back after a set");
    FZ_CHECK(again.quarantine_days == 10 && again.rate == c.rate &&
                 strcmp(again.language, c.language) == 0 &&
                 strcmp(again.timezone, c.timezone) == 0 && again.risk_test == c.risk_test,
             "a set changes that key only");
#else
    ct_key_source src;
    memset(&src, 0, sizeof src);
    ct_keyring *k = NULL;
    ct_code rc = ct_keys_unlock(data_dir, &src, &k, &err);
    FZ_CHECK(rc <= CT_ECRYPTO, "a known code");
    if (rc != CT_OK) {
        FZ_CHECK(k == NULL && err.msg[0] != '\0', "a refused keyring says why and gives nothing");
        return 0;
    }
    const ct_keyset *set = &k->s->set;
    FZ_CHECK(set->pseudonym.gen >= 1 && set->vault.gen >= 1 && set->dlr.gen >= 1,
             "every role has a key");
    ct_keyring *k2 = NULL;
    FZ_CHECK(ct_keys_unlock(data_dir, &src, &k2, &err) == CT_OK, "the same bytes unlock again");
    FZ_CHECK(memcmp(&k2->s->set, set, sizeof *set) == 0, "and give the same keys");
    ct_keys_close(k2);
    ct_keys_close(k);
#endif
    return 0;
}
