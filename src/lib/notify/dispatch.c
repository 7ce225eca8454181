/*
 * dispatch.c — `celltrace notify`: the loop that sends SMS through Kannel.
 *
 * One message at a time, in order of due time:
 *   1. claim it (inflight, attempt counted: committed);
 *   2. write the SMS to the audit log (a send that cannot be audited does
 *      not happen);
 *   3. GET sendsms with the number from the vault, the text (UTF-8, coding
 *      0 for GSM-7 or 2 for UCS-2), dlr-mask 31 and a dlr-url naming the
 *      message and its token;
 *   4. 2xx: sent; anything else (refused connection, timeout, 4xx, 5xx):
 *      queued again after an exponential backoff, so a gateway that is
 *      down for an hour loses nothing, it only delays.
 * At most one message is in flight, so a dispatcher killed at any moment
 * sends at most that one twice after a restart (outbox.h).
 *
 * Quiet hours (local time) hold sending back; the send rate is a simple
 * pacing clock (one message every 1/rate seconds). Messages not sent, or
 * not reported, within sms.expire_s expire. The delivery-report listener
 * (dlr.c) runs beside the loop in its own thread for as long as it runs.
 *
 * --once ends when nothing is waiting any more (no sent message without a
 * final report, no queued one due before the deadline) or at the deadline
 * (--wait); --daemon runs until *stop or max_time_s.
 */
#include "dispatch.h"

#include <sodium.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "celltrace_notify.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "dlr.h"
#include "keys.h"
#include "netlibs.h"
#include "error.h"
#include "notifydb.h"
#include "outbox.h"
#include "tzone.h"

int64_t ct__backoff(int attempts, int64_t base, int64_t max)
{
    int64_t d = base;
    for (int i = 1; i < attempts && d < max; i++)
        d *= 2;
    return d < max ? d : max;
}

int ct__in_quiet(int minute, int from, int to)
{
    if (from < 0)
        return 0;
    return from < to ? minute >= from && minute < to : minute >= from || minute < to;
}

typedef struct sender {
    ct_db *db;
    sqlite3 *sql;
    ct_conf conf;
    unsigned char *key; /* the current dlr key (locked memory) */
    char dlr_base[512];
    CURL *curl;
    double next_slot; /* monotonic time of the next allowed send */
    const ct_notify_opts *opts;
    ct_notify_summary *sum;
} sender;

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* Appends "&name=escaped(value)" to url. */
static void add_param(CURL *c, char *url, size_t cap, const char *name, const char *value)
{
    char *esc = ct__curl.easy_escape(c, value, 0);
    size_t n = strlen(url);
    snprintf(url + n, cap - n, "%s%s=%s", strchr(url, '?') ? "&" : "?", name, esc ? esc : "");
    ct__curl.free(esc);
}

/* The request; returns 0 when the gateway accepted it, else fills why. */
static int http_send(sender *s, const ct_ob_msg *m, const char *msisdn, char *why, size_t cap)
{
    char dlr[700], tok[33], url[4096];
    ct__ndb_token(s->key, m->id, tok);
    snprintf(dlr, sizeof dlr, "%s%sid=%lld&t=%s&s=%%d", s->dlr_base,
             strchr(s->dlr_base, '?') ? "&" : "?", (long long)m->id, tok);
    snprintf(url, sizeof url, "%s", s->conf.gateway_url);
    add_param(s->curl, url, sizeof url, "username", s->conf.username);
    add_param(s->curl, url, sizeof url, "password", s->conf.password);
    add_param(s->curl, url, sizeof url, "from", s->conf.sender);
    add_param(s->curl, url, sizeof url, "to", msisdn);
    add_param(s->curl, url, sizeof url, "text", m->text);
    add_param(s->curl, url, sizeof url, "charset", "UTF-8");
    add_param(s->curl, url, sizeof url, "coding", m->ucs2 ? "2" : "0");
    add_param(s->curl, url, sizeof url, "dlr-mask", "31");
    add_param(s->curl, url, sizeof url, "dlr-url", dlr);
    ct__curl.easy_setopt(s->curl, CURLOPT_URL, url);
    CURLcode cc = ct__curl.easy_perform(s->curl);
    long code = 0;
    ct__curl.easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    if (cc != CURLE_OK)
        snprintf(why, cap, "gateway: %s", ct__curl.easy_strerror(cc));
    else if (code < 200 || code > 299)
        snprintf(why, cap, "gateway: HTTP %ld", code);
    return cc == CURLE_OK && code >= 200 && code <= 299 ? 0 : -1;
}

static void pace(sender *s)
{
    double now = ct__now_s();
    if (s->next_slot > now)
        sleep_s(s->next_slot - now);
    now = ct__now_s();
    s->next_slot = (s->next_slot > now - 1.0 ? s->next_slot : now) + 1.0 / s->conf.rate;
}

/* Sends one claimed message; gateway errors are not errors of the call. */
static ct_code send_one(sender *s, ct_ob_msg *m, ct_err *err)
{
    char msisdn[16], why[256] = "";
    ct_code rc = ct__ob_claim(s->sql, m, err);
    if (!rc)
        rc = ct__audit(s->db, "sms", m->key, 1, err);
    if (!rc)
        rc = ct__subdict_number(s->db->subs, m->subscriber, msisdn, err);
    if (rc) {
        ct_err ignored;
        ct__ob_retry(s->sql, m->id, (int64_t)time(NULL), "not sent: local error", &ignored);
        return rc;
    }
    double t0 = ct__now_s();
    int bad = http_send(s, m, msisdn, why, sizeof why);
    s->sum->send_seconds += ct__now_s() - t0;
    int64_t now = (int64_t)time(NULL);
    if (!bad) {
        s->sum->sent++;
        if (s->opts->verbose)
            ct__notice("sent message %lld (%s)", (long long)m->id, m->key);
        return ct__ob_sent(s->sql, m->id, now, err);
    }
    s->sum->retried++;
    int64_t delay = ct__backoff(m->attempts, s->conf.retry_base_s, s->conf.retry_max_s);
    ct__notice("message %lld not sent (%s); retry in %llds", (long long)m->id,
            why, (long long)delay);
    return ct__ob_retry(s->sql, m->id, now + delay, why, err);
}

static int stopped(const sender *s, double deadline)
{
    return (s->opts->stop && *s->opts->stop) || (deadline > 0 && ct__now_s() >= deadline);
}

/* Sends every message due now; stops early on a gateway error (the next
 * messages would most likely fail the same way: wait for the backoff). */
static ct_code send_due(sender *s, double deadline, ct_err *err)
{
    while (!stopped(s, deadline)) {
        int64_t now = (int64_t)time(NULL);
        if (ct__in_quiet(ct__tz_minute(s->conf.timezone, now), s->conf.quiet_from,
                         s->conf.quiet_to)) {
            s->sum->quiet_hours = 1;
            return CT_OK;
        }
        ct_ob_msg m;
        int found;
        ct_code rc = ct__ob_next_due(s->sql, now, &m, &found, err);
        if (rc || !found)
            return rc;
        pace(s);
        uint64_t retried = s->sum->retried;
        rc = send_one(s, &m, err);
        if (rc || s->sum->retried != retried)
            return rc;
    }
    return CT_OK;
}

/* --once: is anything still worth waiting for before the deadline? */
static ct_code waiting(sender *s, double deadline, int *more, ct_err *err)
{
    uint64_t inflight, due;
    int64_t until = (int64_t)time(NULL) + (int64_t)(deadline - ct__now_s()) + 1;
    ct_code rc = ct__ob_count(s->sql, "sent", 0, &inflight, err);
    if (!rc)
        rc = ct__ob_count(s->sql, "queued", until, &due, err);
    *more = !rc && (inflight > 0 || (due > 0 && !s->sum->quiet_hours));
    return rc;
}

static ct_code loop(sender *s, ct_err *err)
{
    double start = ct__now_s();
    double deadline = !s->opts->daemon ? start + (double)s->opts->wait_s
                      : s->opts->max_time_s > 0 ? start + (double)s->opts->max_time_s : 0;
    ct_code rc = CT_OK;
    for (;;) {
        uint64_t expired;
        rc = ct__ob_expire(s->sql, (int64_t)time(NULL), s->conf.expire_s, &expired, err);
        s->sum->expired += expired;
        if (!rc)
            rc = send_due(s, deadline, err);
        if (rc || stopped(s, deadline))
            break;
        if (!s->opts->daemon) {
            int more;
            rc = waiting(s, deadline, &more, err);
            if (rc || !more)
                break;
        }
        sleep_s(0.05);
    }
    return rc;
}

static ct_code sender_open(sender *s, ct_db *db, ct_err *err)
{
    s->db = db;
    ct_code rc = ct__conf_load(db->dir, &s->conf, err);
    if (!rc)
        rc = ct__ndb_open(db->dir, &s->sql, err);
    if (!rc)
        rc = (s->key = sodium_malloc(CT_KEY_BYTES)) ? CT_OK
                                                     : ct__fail(err, CT_ENOMEM, "cannot lock memory");
    if (!rc) {
        pthread_mutex_lock(&db->keys->mu);
        rc = ct__keyring_refresh(db->keys, err);
        memcpy(s->key, db->keys->s->set.dlr.k, CT_KEY_BYTES);
        pthread_mutex_unlock(&db->keys->mu);
    }
    if (rc)
        return rc;
    ct__conf_dlr_base(&s->conf, s->dlr_base, sizeof s->dlr_base);
    s->curl = ct__curl.easy_init();
    if (!s->curl)
        return ct__fail(err, CT_ENOMEM, "cannot start libcurl");
    ct__curl.easy_setopt(s->curl, CURLOPT_TIMEOUT, (long)s->conf.timeout_s);
    ct__curl.easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, (long)s->conf.timeout_s);
    ct__curl.easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    ct__curl.easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, discard);
    ct__curl.easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    return CT_OK;
}

ct_code ct_notify(ct_db *db, const ct_notify_opts *opts, ct_notify_summary *sum, ct_err *err)
{
    sender s;
    memset(&s, 0, sizeof s);
    memset(sum, 0, sizeof *sum);
    s.opts = opts;
    s.sum = sum;
    ct_dlr *listener = NULL;
    char host[64];
    unsigned port;
    ct_code loaded = ct__curl_load(err);
    if (loaded)
        return loaded;
    if (ct__curl.global_init(CURL_GLOBAL_DEFAULT) != 0)
        return ct__fail(err, CT_EIO, "cannot start libcurl");
    ct_code rc = sender_open(&s, db, err);
    if (!rc)
        rc = ct__conf_listen(&s.conf, host, sizeof host, &port, err);
    if (!rc)
        rc = ct__dlr_start(db->dir, host, port, db->keys, opts->verbose, &listener, err);
    if (!rc)
        rc = loop(&s, err);
    if (listener) {
        sleep_s(0.2); /* let a report that is being answered finish */
        ct_dlr_counts c;
        ct__dlr_counts(listener, &c);
        sum->delivered = c.delivered;
        sum->failed = c.failed;
        sum->dlr_rejected = c.rejected;
    }
    ct__dlr_stop(listener);
    uint64_t q = 0, w = 0;
    if (s.sql && !ct__ob_count(s.sql, "queued", 0, &q, NULL) &&
        !ct__ob_count(s.sql, "sent", 0, &w, NULL))
        sum->waiting = q + w;
    if (s.curl)
        ct__curl.easy_cleanup(s.curl);
    sqlite3_close(s.sql);
    if (s.key)
        sodium_free(s.key);
    ct__curl.global_cleanup();
    return rc;
}
