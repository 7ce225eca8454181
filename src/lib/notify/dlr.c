/*
 * dlr.c — receiving delivery reports from Kannel.
 *
 * Kannel substitutes %d in the dlr-url with the report type; the rest of
 * the URL is ours: the message id and its token (notifydb.h). A report is
 * checked in this order, and the first failure decides the answer:
 *   400 bad request   not GET /dlr, or id / t / s missing or malformed
 *   403 forged        the token is not the id's (constant-time compare)
 *   404 unknown       no message with that id
 *   409 wrong state   the message is not waiting for a report
 *   200 accepted      the one message changed (or an intermediate report)
 * Every report is written to nt_dlr_log with its verdict; rejected ones
 * also to stderr. Nothing but the named message is ever touched, and only
 * through outbox.c's state-checked updates.
 *
 * Threads: libmicrohttpd's one internal polling thread runs every handler,
 * so the SQLite connection opened here is used by that thread only; the
 * counters are read by the dispatcher under a mutex. The daemon listens on
 * the configured loopback address only, with a connection limit and a
 * timeout so a stuck client cannot hold it.
 */
#include "dlr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "keys.h"
#include "netlibs.h"
#include "notifydb.h"
#include "outbox.h"

struct ct_dlr {
    struct MHD_Daemon *mhd;
    sqlite3 *sql;
    uint8_t (*keys)[CT_KEY_BYTES]; /* accepted token keys (locked memory) */
    int n_keys;
    int verbose;
    pthread_mutex_t mu;
    ct_dlr_counts counts;
};

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    long long v = strtoll(s, NULL, 10);
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int valid_status(int64_t s)
{
    return s == 1 || s == 2 || s == 4 || s == 8 || s == 16;
}

static unsigned http_code(ct_dlr_verdict v)
{
    switch (v) {
    case CT_DLR_ACCEPTED: return MHD_HTTP_OK;
    case CT_DLR_BAD: return MHD_HTTP_BAD_REQUEST;
    case CT_DLR_FORGED: return MHD_HTTP_FORBIDDEN;
    case CT_DLR_UNKNOWN: return MHD_HTTP_NOT_FOUND;
    case CT_DLR_WRONG_STATE: return MHD_HTTP_CONFLICT;
    }
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* Checks and applies one report; returns the verdict. */
static ct_dlr_verdict judge(ct_dlr *d, struct MHD_Connection *c, const char *method,
                            const char *url, int64_t *id, int64_t *status, int *final)
{
    const char *sid = ct__mhd.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
    const char *tok = ct__mhd.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "t");
    const char *ss = ct__mhd.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "s");
    *id = 0;
    *status = 0;
    if (strcmp(method, "GET") != 0 || strcmp(url, "/dlr") != 0)
        return CT_DLR_BAD;
    if (parse_int(sid, 1, INT64_MAX / 2, id) || parse_int(ss, 0, 255, status) ||
        !valid_status(*status) || !tok || strlen(tok) != 32)
        return CT_DLR_BAD;
    /* The current key, or an older one whose grace has not ended: a
     * message sent before `keys rotate --dlr` is still answered. */
    char want[33];
    int match = 0;
    for (int i = 0; i < d->n_keys; i++) {
        ct__ndb_token(d->keys[i], *id, want);
        match |= sodium_memcmp(want, tok, 32) == 0;
    }
    if (!match)
        return CT_DLR_FORGED;
    ct_dlr_verdict v = CT_DLR_BAD;
    ct_err err;
    if (ct__ob_apply_dlr(d->sql, *id, (int)*status, (int64_t)time(NULL), &v, final, &err)) {
        ct__notice("delivery report for %lld: %s", (long long)*id, err.msg);
        return CT_DLR_UNKNOWN == v ? v : CT_DLR_WRONG_STATE;
    }
    return v;
}

static void count(ct_dlr *d, ct_dlr_verdict v, int final)
{
    pthread_mutex_lock(&d->mu);
    if (v != CT_DLR_ACCEPTED)
        d->counts.rejected++;
    else if (final == 1)
        d->counts.delivered++;
    else if (final == 2)
        d->counts.failed++;
    else
        d->counts.intermediate++;
    pthread_mutex_unlock(&d->mu);
}

static void log_report(ct_dlr *d, ct_dlr_verdict v, int64_t id, int64_t status, const char *url)
{
    char detail[160];
    snprintf(detail, sizeof detail, "%.120s", url);
    for (char *p = detail; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    ct_err err;
    if (ct__ob_log_dlr(d->sql, (int64_t)time(NULL), id, (int)status, ct__dlr_verdict_name(v),
                       detail, &err))
        ct__notice("cannot log a delivery report: %s", err.msg);
    if (v != CT_DLR_ACCEPTED)
        ct__notice("rejected delivery report (%s): id %lld status %lld %s",
                ct__dlr_verdict_name(v), (long long)id, (long long)status, detail);
    else if (d->verbose)
        ct__notice("delivery report: message %lld status %lld",
                (long long)id, (long long)status);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    ct_dlr *d = cls;
    if (*con_cls == NULL) { /* first call: headers only */
        *con_cls = d;
        return MHD_YES;
    }
    if (*upload_size) { /* a body is never expected: drop it */
        *upload_size = 0;
        return MHD_YES;
    }
    int64_t id, status;
    int final = 0;
    /* The change and its log line: one transaction, one fsync. */
    int tx = sqlite3_exec(d->sql, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    ct_dlr_verdict v = judge(d, c, method, url, &id, &status, &final);
    log_report(d, v, id, status, url);
    if (tx && sqlite3_exec(d->sql, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(d->sql, "ROLLBACK", NULL, NULL, NULL);
        ct__notice("cannot store a delivery report: %s", sqlite3_errmsg(d->sql));
        v = CT_DLR_WRONG_STATE;
        final = 0;
    }
    count(d, v, final);
    const char *body = ct__dlr_verdict_name(v);
    struct MHD_Response *r =
        ct__mhd.create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = ct__mhd.queue_response(c, http_code(v), r);
    ct__mhd.destroy_response(r);
    return ret;
}

ct_code ct__dlr_start(const char *dir, const char *host, unsigned port, ct_keyring *keys,
                      int verbose, ct_dlr **out, ct_err *err)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
        return ct__fail(err, CT_EINVAL, "the delivery-report listener must be on loopback, not %s",
                        host);
    ct_code loaded = ct__mhd_load(err);
    if (loaded)
        return loaded;
    ct_dlr *d = ct__calloc(1, sizeof *d);
    d->verbose = verbose;
    pthread_mutex_init(&d->mu, NULL);
    ct_code rc = CT_OK;
    d->keys = sodium_malloc((1 + CT_DLR_PREVIOUS_MAX) * CT_KEY_BYTES);
    if (!d->keys) {
        rc = ct__fail(err, CT_ENOMEM, "cannot lock memory for the keys");
        goto out;
    }
    pthread_mutex_lock(&keys->mu);
    ct__keyring_dlr_keys(keys, (int64_t)time(NULL), d->keys, 1 + CT_DLR_PREVIOUS_MAX, &d->n_keys);
    pthread_mutex_unlock(&keys->mu);
    rc = ct__ndb_open(dir, &d->sql, err);
    if (rc)
        goto out;
    d->mhd = ct__mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port,
                              NULL, NULL, handle, d, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_END);
    if (!d->mhd)
        rc = ct__fail(err, CT_EIO, "cannot listen for delivery reports on %s:%u (in use?)", host,
                      port);
out:
    if (rc) {
        ct__dlr_stop(d);
        return rc;
    }
    *out = d;
    return CT_OK;
}

void ct__dlr_counts(ct_dlr *d, ct_dlr_counts *c)
{
    pthread_mutex_lock(&d->mu);
    *c = d->counts;
    pthread_mutex_unlock(&d->mu);
}

void ct__dlr_stop(ct_dlr *d)
{
    if (!d)
        return;
    if (d->mhd)
        ct__mhd.stop_daemon(d->mhd);
    sqlite3_close(d->sql);
    pthread_mutex_destroy(&d->mu);
    if (d->keys)
        sodium_free(d->keys);
    ct__free(d);
}
