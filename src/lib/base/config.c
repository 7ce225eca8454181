/*
 * config.c — reading, checking and writing <data>/celltrace.conf.
 *
 * One table (KEYS) names every setting with its default, its kind and a
 * line of help; loading, `config set`, `config get` and `config list` all
 * go through it, so a key exists in exactly one place. Every value is
 * checked on the way in (set) and again on the way out (load): a file
 * edited by hand with a bad value fails loudly rather than sending SMS
 * with half a configuration.
 *
 * The file is rewritten whole on every set (temp, fsync, rename: fsio.c)
 * with mode 0600 because it holds the gateway password. Caps: 64 KiB of
 * file, 1024 bytes per value.
 *
 * Below it, a site file the data directory's user only reads: the build's
 * CT_SITE_CONF (the Debian package: /etc/celltrace/celltrace.conf, a
 * conffile the administrator edits; empty in a build from source: none).
 * A key's value is the data directory's, else the site's, else the
 * default; `config set` writes the data directory's file only. The site
 * file is checked as strictly as the other; a missing one is no error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "celltrace_notify.h"
#include "error.h"
#include "fsio.h"

#define CONF_FILE "celltrace.conf"
#define CONF_CAP (64 * 1024)
#define VALUE_MAX 1024

typedef enum kind { K_TEXT, K_URL, K_SECRET, K_LISTEN, K_LANG, K_QUIET, K_RATE, K_SECONDS,
                    K_DAYS, K_ZONE, K_SENDER, K_PROB, K_PROVIDER, K_PATH, K_ENVNAME,
                    K_FILENAME, K_KIB, K_HOURS } kind;

typedef struct key_def {
    const char *name, *def;
    kind k;
    const char *help;
} key_def;

static const key_def KEYS[] = {
    {"sms.gateway_url", "http://127.0.0.1:13013/cgi-bin/sendsms", K_URL,
     "Kannel smsbox sendsms URL"},
    {"sms.username", "celltrace", K_TEXT, "sendsms-user username"},
    {"sms.password", "", K_SECRET, "sendsms-user password"},
    {"sms.sender", "COVID19", K_SENDER, "sender shown on the phone (11 letters or 15 digits)"},
    {"sms.dlr_listen", "127.0.0.1:13080", K_LISTEN,
     "loopback host:port of the delivery-report listener"},
    {"sms.dlr_url", "", K_URL, "dlr-url base given to Kannel (default http://<dlr_listen>/dlr)"},
    {"sms.language", "ru", K_LANG, "message language: ru or en"},
    {"sms.hotline", "8-800-2000-112", K_TEXT, "hotline named in the message"},
    {"sms.quiet_hours", "22:00-08:00", K_QUIET, "no SMS between these local times, or off"},
    {"sms.rate", "10", K_RATE, "messages per second at most"},
    {"sms.retry_base_s", "30", K_SECONDS, "first retry delay after a gateway error (doubles)"},
    {"sms.retry_max_s", "3600", K_SECONDS, "longest retry delay"},
    {"sms.expire_s", "172800", K_SECONDS, "a message not sent or not reported by then expires"},
    {"sms.timeout_s", "10", K_SECONDS, "HTTP timeout of one request to the gateway"},
    {"timezone", "Europe/Moscow", K_ZONE, "local time for night hours, quiet hours and dates"},
    {"quarantine_days", "14", K_DAYS, "quarantine length after the last contact"},
    {"risk.test", "model", K_PROB,
     "p_contact at or above which a contact is invited to a test (model: its recommendation)"},
    {"risk.quarantine", "model", K_PROB,
     "p_contact at or above which a contact is told to self-isolate (model: its recommendation)"},
    {"keys.provider", "file", K_PROVIDER,
     "where the keys are: file, passphrase or credentials (set by init / keys rewrap)"},
    {"keys.dir", "", K_PATH, "file provider: the key folder (default <data>/keys; keep it elsewhere)"},
    {"keys.passphrase_env", "", K_ENVNAME,
     "passphrase provider: the environment variable that holds the passphrase"},
    {"keys.credential", "celltrace.key", K_FILENAME,
     "credentials provider: the systemd credential's name in $CREDENTIALS_DIRECTORY"},
    {"appeals.deadline_hours", "72", K_HOURS,
     "an appeal not decided this long after it was filed is overdue"},
    {"audit.rotate_kb", "65536", K_KIB,
     "audit.log is renamed audit-<last record>.log past this size; the chain goes on"},
};
#define N_KEYS (sizeof KEYS / sizeof *KEYS)

static const key_def *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].name, name) == 0)
            return &KEYS[i];
    return NULL;
}

int ct__conf_parse_quiet(const char *s, int *from, int *to)
{
    if (strcmp(s, "off") == 0) {
        *from = *to = -1;
        return 0;
    }
    int h1, m1, h2, m2;
    char tail;
    if (sscanf(s, "%2d:%2d-%2d:%2d%c", &h1, &m1, &h2, &m2, &tail) != 4 || strlen(s) != 11)
        return -1;
    if (h1 < 0 || h1 > 23 || h2 < 0 || h2 > 23 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59)
        return -1;
    *from = h1 * 60 + m1;
    *to = h2 * 60 + m2;
    return *from == *to ? -1 : 0;
}

static int parse_listen(const char *s, char *host, size_t cap, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= cap)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -1;
    *port = (unsigned)p;
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return -1;
    return (ntohl(a.s_addr) >> 24) == 127 ? 0 : -1; /* loopback only */
}

static int zone_exists(const char *z)
{
    if (strcmp(z, "UTC") == 0)
        return 1;
    if (!*z || z[0] == '/' || strstr(z, ".."))
        return 0;
    for (const char *p = z; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
            return 0;
    char path[256];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", z);
    return access(path, R_OK) == 0;
}

static int is_number(const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    return *s && !*end && v >= lo && v <= hi;
}

static int valid_sender(const char *s)
{
    size_t n = strlen(s), digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != ' ' && s[i] != '-')
            return 0;
        digits += isdigit((unsigned char)s[i]) != 0;
    }
    return n >= 1 && (n <= 11 || (digits == n && n <= 15));
}

/* An environment variable's name (letters, digits, _), or with `dots`
 * a file name without a folder; "" is a valid empty name. */
static int valid_name(const char *s, int dots)
{
    if (strlen(s) > 100 || (dots && (!strcmp(s, ".") || !strcmp(s, ".."))))
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && !(dots && strchr(".-@", *p)))
            return 0;
    return dots || !isdigit((unsigned char)*s);
}

/* Returns NULL when `v` is a good value for `k`, else why not. */
static const char *check_value(const key_def *k, const char *v)
{
    char host[64];
    unsigned port;
    int a, b;
    if (strlen(v) >= VALUE_MAX || strchr(v, '\n'))
        return "value too long or spans lines";
    switch (k->k) {
    case K_URL:
        return !*v || !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8)
                   ? NULL : "must be an http:// or https:// URL";
    case K_LISTEN:
        return parse_listen(v, host, sizeof host, &port) ? "must be 127.x.y.z:PORT (loopback)"
                                                         : NULL;
    case K_LANG: return strcmp(v, "ru") && strcmp(v, "en") ? "must be ru or en" : NULL;
    case K_QUIET: return ct__conf_parse_quiet(v, &a, &b) ? "must be HH:MM-HH:MM or off" : NULL;
    case K_RATE: return is_number(v, 0.01, 100000) ? NULL : "must be 0.01 to 100000";
    case K_SECONDS: return is_number(v, 1, 31536000) ? NULL : "must be 1 to 31536000 seconds";
    case K_DAYS: return is_number(v, 1, 90) && !strchr(v, '.') ? NULL : "must be 1 to 90 days";
    case K_ZONE: return zone_exists(v) ? NULL : "unknown time zone";
    case K_SENDER: return valid_sender(v) ? NULL : "must be 1-11 letters/digits or 15 digits";
    case K_PROB:
        return !strcmp(v, "model") || (is_number(v, 0, 1) && strtod(v, NULL) > 0)
                   ? NULL : "must be a probability in (0, 1], or model";
    case K_PROVIDER: {
        ct_key_provider p;
        return ct_key_provider_parse(v, &p) ? "must be file, passphrase or credentials" : NULL;
    }
    case K_PATH: return !*v || v[0] == '/' ? NULL : "must be an absolute path, or empty";
    case K_ENVNAME: return valid_name(v, 0) ? NULL : "must be an environment variable's name";
    case K_FILENAME: return valid_name(v, 1) && *v ? NULL : "must be a file name (no /)";
    case K_HOURS:
        return is_number(v, 1, 8760) && !strchr(v, '.') ? NULL : "must be 1 to 8760 hours";
    case K_KIB:
        return is_number(v, 1, 4194304) && !strchr(v, '.') ? NULL : "must be 1 to 4194304 KiB";
    case K_TEXT:
    case K_SECRET: return NULL;
    }
    return NULL;
}

/* ---- the file ------------------------------------------------------------ */

typedef struct conf_file {
    char *vals[N_KEYS]; /* <data>/celltrace.conf; NULL = not set there */
    char *site[N_KEYS]; /* the site file; NULL = not set there */
} conf_file;

#ifndef CT_SITE_CONF
#define CT_SITE_CONF ""
#endif
static const char *site_path = CT_SITE_CONF;

void ct__conf_use_site(const char *path)
{
    site_path = path ? path : "";
}

const char *ct_config_site(void)
{
    return site_path;
}

static void file_free(conf_file *f)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        ct__free(f->vals[i]);
        ct__free(f->site[i]);
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static ct_code parse_line(char **vals, char *line, const char *path, int lineno, ct_err *err)
{
    char *s = trim(line);
    if (!*s || *s == '#')
        return CT_OK;
    char *eq = strchr(s, '=');
    if (!eq)
        return ct__fail(err, CT_EINVAL, "%s:%d: expected key = value", path, lineno);
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    const key_def *k = find_key(key);
    if (!k)
        return ct__fail(err, CT_EINVAL, "%s:%d: unknown key '%s'", path, lineno, key);
    const char *why = check_value(k, val);
    if (why)
        return ct__fail(err, CT_EINVAL, "%s:%d: %s %s", path, lineno, key, why);
    size_t i = (size_t)(k - KEYS);
    ct__free(vals[i]);
    vals[i] = ct__strdup(val);
    return CT_OK;
}

/* Parses the file at path into vals; a missing file sets nothing. */
static ct_code read_values(const char *path, char **vals, ct_err *err)
{
    char *data = NULL;
    size_t len;
    ct_code rc = ct__fs_read_file(path, CONF_CAP, &data, &len, err);
    if (rc == CT_ENOTFOUND)
        return CT_OK;
    int lineno = 0;
    for (char *line = data, *next; !rc && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        rc = parse_line(vals, line, path, ++lineno, err);
    }
    ct__free(data);
    return rc;
}

static ct_code file_read(const char *dir, conf_file *f, ct_err *err)
{
    memset(f, 0, sizeof *f);
    ct_code rc = *site_path ? read_values(site_path, f->site, err) : CT_OK;
    if (!rc) {
        char *path = ct__path_join(dir, CONF_FILE);
        rc = read_values(path, f->vals, err);
        ct__free(path);
    }
    if (rc)
        file_free(f);
    return rc;
}

static ct_code file_write(const char *dir, const conf_file *f, ct_err *err)
{
    size_t cap = 256, n = 0;
    for (size_t i = 0; i < N_KEYS; i++)
        cap += f->vals[i] ? strlen(KEYS[i].name) + strlen(f->vals[i]) + 8 : 0;
    char *buf = ct__malloc(cap);
    n += (size_t)snprintf(buf, cap, "# celltrace settings (celltrace config set KEY VALUE)\n");
    for (size_t i = 0; i < N_KEYS; i++)
        if (f->vals[i])
            n += (size_t)snprintf(buf + n, cap - n, "%s = %s\n", KEYS[i].name, f->vals[i]);
    char *path = ct__path_join(dir, CONF_FILE);
    ct_code rc = ct__fs_write_file(path, buf, n, 0600, err);
    ct__free(path);
    ct__free(buf);
    return rc;
}

static const char *effective(const conf_file *f, size_t i)
{
    return f->vals[i] ? f->vals[i] : f->site[i] ? f->site[i] : KEYS[i].def;
}

/* risk.test must not exceed risk.quarantine ("model" stands for the
 * built-in model's recommendation): every scored trace would fail. */
static ct_code thresholds_in_order(const conf_file *f, ct_err *err)
{
    const char *tv = effective(f, (size_t)(find_key("risk.test") - KEYS));
    const char *qv = effective(f, (size_t)(find_key("risk.quarantine") - KEYS));
    double mt, mq;
    ct_risk_model_thresholds(ct_risk_model_builtin(), &mt, &mq);
    double t = strcmp(tv, "model") ? strtod(tv, NULL) : mt;
    double q = strcmp(qv, "model") ? strtod(qv, NULL) : mq;
    if (t > q)
        return ct__fail(err, CT_EINVAL,
                        "risk.test (%s = %g) must not be above risk.quarantine (%s = %g)", tv, t,
                        qv, q);
    return CT_OK;
}

/* sms.retry_base_s must not exceed sms.retry_max_s: the backoff would
 * start above its own cap. */
static ct_code delays_in_order(const conf_file *f, ct_err *err)
{
    const char *bv = effective(f, (size_t)(find_key("sms.retry_base_s") - KEYS));
    const char *mv = effective(f, (size_t)(find_key("sms.retry_max_s") - KEYS));
    if (strtoll(bv, NULL, 10) > strtoll(mv, NULL, 10))
        return ct__fail(err, CT_EINVAL, "sms.retry_base_s (%s) must not be above sms.retry_max_s (%s)",
                        bv, mv);
    return CT_OK;
}

/* ---- public --------------------------------------------------------------- */

ct_code ct_config_set(const char *dir, const char *key, const char *value, ct_err *err)
{
    if (!strcmp(key, "keys.provider"))
        return ct__fail(err, CT_EINVAL,
                        "keys.provider moves the keys: use `celltrace keys rewrap --provider %s`",
                        value);
    char *probe = ct__path_join(dir, "catalog.db");
    int ok = access(probe, F_OK) == 0;
    ct__free(probe);
    if (!ok)
        return ct__fail(err, CT_ENOTFOUND, "%s is not a celltrace data directory", dir);
    return ct__conf_set(dir, key, value, err);
}

ct_code ct__conf_set(const char *dir, const char *key, const char *value, ct_err *err)
{
    const key_def *k = find_key(key);
    if (!k)
        return ct__fail(err, CT_EINVAL, "unknown key '%s' (see `celltrace config list`)", key);
    const char *why = check_value(k, value);
    if (why)
        return ct__fail(err, CT_EINVAL, "%s %s", key, why);
    conf_file f;
    ct_code rc = file_read(dir, &f, err);
    if (rc)
        return rc;
    size_t i = (size_t)(k - KEYS);
    ct_err ignored;
    int crossed_before = (thresholds_in_order(&f, &ignored) != CT_OK) +
                         (delays_in_order(&f, &ignored) != CT_OK);
    ct__free(f.vals[i]);
    f.vals[i] = ct__strdup(value);
    /* A set may not leave a pair of keys crossed, unless it uncrosses one
     * of the pairs a hand edit crossed (so they can be fixed one by one). */
    ct_err t_why, d_why;
    ct_code t_bad = thresholds_in_order(&f, &t_why), d_bad = delays_in_order(&f, &d_why);
    int crossed_after = (t_bad != CT_OK) + (d_bad != CT_OK);
    if (crossed_after && crossed_after >= crossed_before)
        rc = ct__fail(err, CT_EINVAL, "%s", t_bad ? t_why.msg : d_why.msg);
    if (!rc)
        rc = file_write(dir, &f, err);
    file_free(&f);
    return rc;
}

ct_code ct_config_get(const char *dir, const char *key, char *buf, size_t cap, ct_err *err)
{
    const key_def *k = find_key(key);
    if (!k)
        return ct__fail(err, CT_EINVAL, "unknown key '%s'", key);
    conf_file f;
    ct_code rc = file_read(dir, &f, err);
    if (rc)
        return rc;
    snprintf(buf, cap, "%s", effective(&f, (size_t)(k - KEYS)));
    file_free(&f);
    return CT_OK;
}

ct_code ct_config_list(const char *dir, ct_config_fn fn, void *ud, ct_err *err)
{
    conf_file f;
    ct_code rc = file_read(dir, &f, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *v = effective(&f, i);
        if (KEYS[i].k == K_SECRET && *v)
            v = "***";
        if (fn(ud, KEYS[i].name, v, !f.vals[i] && !f.site[i], KEYS[i].help))
            break;
    }
    file_free(&f);
    return CT_OK;
}

/* ---- the typed view -------------------------------------------------------- */

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

ct_code ct__conf_load(const char *dir, ct_conf *c, ct_err *err)
{
    conf_file f;
    ct_code rc = file_read(dir, &f, err);
    if (rc)
        return rc;
    memset(c, 0, sizeof *c);
    copy(c->gateway_url, sizeof c->gateway_url, effective(&f, 0));
    copy(c->username, sizeof c->username, effective(&f, 1));
    copy(c->password, sizeof c->password, effective(&f, 2));
    copy(c->sender, sizeof c->sender, effective(&f, 3));
    copy(c->dlr_listen, sizeof c->dlr_listen, effective(&f, 4));
    copy(c->dlr_url, sizeof c->dlr_url, effective(&f, 5));
    copy(c->language, sizeof c->language, effective(&f, 6));
    copy(c->hotline, sizeof c->hotline, effective(&f, 7));
    ct__conf_parse_quiet(effective(&f, 8), &c->quiet_from, &c->quiet_to);
    c->rate = strtod(effective(&f, 9), NULL);
    c->retry_base_s = strtoll(effective(&f, 10), NULL, 10);
    c->retry_max_s = strtoll(effective(&f, 11), NULL, 10);
    c->expire_s = strtoll(effective(&f, 12), NULL, 10);
    c->timeout_s = strtoll(effective(&f, 13), NULL, 10);
    copy(c->timezone, sizeof c->timezone, effective(&f, 14));
    c->quarantine_days = atoi(effective(&f, 15));
    c->risk_test = strcmp(effective(&f, 16), "model") ? strtod(effective(&f, 16), NULL) : 0.0;
    c->risk_quarantine = strcmp(effective(&f, 17), "model") ? strtod(effective(&f, 17), NULL) : 0.0;
    ct_key_provider_parse(effective(&f, 18), &c->key_provider);
    copy(c->key_dir, sizeof c->key_dir, effective(&f, 19));
    copy(c->passphrase_env, sizeof c->passphrase_env, effective(&f, 20));
    copy(c->credential, sizeof c->credential, effective(&f, 21));
    c->appeal_deadline_h = strtoll(effective(&f, 22), NULL, 10);
    c->audit_rotate_kb = strtoll(effective(&f, 23), NULL, 10);
    file_free(&f);
    return CT_OK;
}

ct_code ct__conf_listen(const ct_conf *c, char *host, size_t cap, unsigned *port, ct_err *err)
{
    if (parse_listen(c->dlr_listen, host, cap, port))
        return ct__fail(err, CT_EINVAL, "sms.dlr_listen must be a loopback host:port");
    return CT_OK;
}

void ct__conf_dlr_base(const ct_conf *c, char *buf, size_t cap)
{
    if (*c->dlr_url)
        snprintf(buf, cap, "%s", c->dlr_url);
    else
        snprintf(buf, cap, "http://%s/dlr", c->dlr_listen);
}
