/*
 * server.c — `celltrace serve`: the HTTP API (docs/API.md).
 *
 * libmicrohttpd runs a pool of worker threads on epoll; each request is
 * answered by one call of on_request once its body is in. That call:
 *   1. matches the path against ROUTES (unknown: 404) and the method
 *      against the route's methods (else 405 with Allow);
 *   2. authenticates the bearer token (api_users, users.c; 401 without a
 *      valid one), rate-limits per user (429 with Retry-After), and checks
 *      the role against the route's table (403);
 *   3. runs the handler (routes.c), which answers another region's objects
 *      with 404, as if they did not exist, and audits every read of
 *      personal data with the user, the route, the object and the count.
 * Limits: request bodies past body_max get 413, JSON nested deeper than
 * json_depth_max 400, headers past header_max are refused by
 * libmicrohttpd (431).
 *
 * Data: each worker thread keeps its own SQLite connection (cases,
 * contacts, messages, users) and its own read-only data handle (numbers,
 * the report, appeals), opened again when subscribers.dat or the manifest
 * changes under it (an ingest). Requests on different threads share
 * nothing but the keys, so a slow report holds up no one else.
 *
 * Stop: when *stop is set the daemon stops accepting, lets the answers
 * being made finish (up to 10 s), closes the other connections (idle, or
 * still sending) and returns.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "api.h"
#include "clock.h"
#include "error.h"
#include "fsio.h"
#include "jobs.h"
#include "netlibs.h"
#include "routes.h"
#include "web_assets.h"

/* ---- routes ------------------------------------------------------------------------- */

#define ROLE(r) (1u << (r))
#define FED ROLE(CT_ROLE_FEDERAL)
#define REG ROLE(CT_ROLE_REGIONAL)
#define HOT ROLE(CT_ROLE_HOTLINE)
#define AUD ROLE(CT_ROLE_AUDITOR)
#define PUBLIC 0xFFFFu /* no token needed */

typedef struct route {
    const char *pattern; /* "{}" matches one path segment */
    unsigned get, post;  /* roles allowed; 0 = method not served */
    api_handler on_get, on_post;
} route;

static const route ROUTES[] = {
    {"/healthz", PUBLIC, 0, api_healthz, NULL},
    {"/metrics", PUBLIC, 0, NULL, NULL}, /* answered here */
    {"/", PUBLIC, 0, NULL, NULL},          /* the web page (web_assets.h): here too */
    {"/assets/{}", PUBLIC, 0, NULL, NULL},
    {"/api/v1/cases", FED | REG, FED, api_cases_list, api_cases_add},
    {"/api/v1/cases/{}", FED | REG, 0, api_case_get, NULL},
    {"/api/v1/cases/{}/contacts", FED | REG, 0, api_contacts_list, NULL},
    {"/api/v1/cases/{}/contacts/{}/evidence", FED | REG, 0, api_evidence, NULL},
    {"/api/v1/report", FED | REG, 0, api_report, NULL},
    {"/api/v1/export", FED | REG, 0, api_export, NULL},
    {"/api/v1/appeals", FED | REG, FED | HOT, api_appeals_list, api_appeals_file},
    {"/api/v1/appeals/{}/decision", 0, FED | REG, NULL, api_appeal_decide},
    {"/api/v1/status/{}", FED | HOT, 0, api_status, NULL},
    {"/api/v1/runs", 0, FED, NULL, api_run_start},
    {"/api/v1/runs/{}", FED, 0, api_run_get, NULL},
    {"/api/v1/oversight", FED | AUD, 0, api_oversight, NULL},
    {"/api/v1/audit", FED | AUD, 0, api_audit_list, NULL},
    {"/api/v1/audit/verify", FED | AUD, 0, api_audit_verify, NULL},
    {"/api/v1/me", FED | REG | HOT | AUD, 0, api_me, NULL},
    {"/api/v1/cases/{}/places", FED | REG, 0, api_case_places, NULL},
    {"/api/v1/places", FED | REG, 0, api_places_many, NULL},
    {"/api/v1/cells", FED | REG, 0, api_cells, NULL},
    {"/api/v1/hotspots", FED | REG, 0, api_hotspots, NULL},
    {"/api/v1/geography", FED | REG, 0, api_geography, NULL},
};
#define N_ROUTES (sizeof ROUTES / sizeof *ROUTES)
#define ROUTE_UNKNOWN N_ROUTES

/* Matches path against pattern; the {} segments go to params. 1 if it matches. */
static int match(const char *pattern, const char *path, char params[API_PARAMS][API_PARAM_MAX])
{
    int k = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++, path++;
        const char *pe = strchrnul(pattern, '/'), *qe = strchrnul(path, '/');
        size_t pl = (size_t)(pe - pattern), ql = (size_t)(qe - path);
        if (pl == 2 && !memcmp(pattern, "{}", 2)) {
            if (ql == 0 || ql >= API_PARAM_MAX || k >= API_PARAMS)
                return 0;
            memcpy(params[k], path, ql);
            params[k++][ql] = '\0';
        } else if (pl != ql || memcmp(pattern, path, pl)) {
            return 0;
        }
        pattern = pe, path = qe;
    }
    return !*pattern && !*path;
}

/* ---- metrics ------------------------------------------------------------------------ */

static const int STATUSES[] = {200, 201, 400, 401, 403, 404, 405, 409, 413, 429, 500, 503};
#define N_STATUSES (sizeof STATUSES / sizeof *STATUSES)
static const double BUCKETS[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define N_BUCKETS (sizeof BUCKETS / sizeof *BUCKETS)

typedef struct route_metrics {
    uint64_t by_status[N_STATUSES + 1]; /* + other */
    uint64_t le[N_BUCKETS + 1];         /* cumulative at render; + +Inf */
    double seconds;
    uint64_t count;
} route_metrics;

/* ---- rate limits -------------------------------------------------------------------- */

#define BUCKETS_MAX 1024
typedef struct bucket {
    char name[CT_USER_NAME_MAX + 1];
    double tokens, at;
} bucket;

struct api_server {
    char *dir;
    ct_keyring *keys;
    ct_serve_opts o;
    pthread_key_t thread_key; /* each worker's worker_data */
    pthread_mutex_t mu; /* metrics and buckets */
    route_metrics metrics[N_ROUTES + 1];
    bucket buckets[BUCKETS_MAX];
    size_t n_buckets;
    long connections; /* open now: __atomic, from on_connection */
    long answering;   /* requests whose answer is being made: __atomic */
    long jobs;        /* runs going on their own threads (jobs.c): __atomic */
    struct MHD_Daemon *mhd; /* the main thread's: workers never read it */
};

/* 0 if the user may make a request now, else the seconds to wait. */
static double rate_take(api_server *s, const char *user)
{
    double t = ct__now_s(), wait = 0;
    pthread_mutex_lock(&s->mu);
    bucket *b = NULL;
    for (size_t i = 0; i < s->n_buckets && !b; i++)
        if (!strcmp(s->buckets[i].name, user))
            b = &s->buckets[i];
    if (!b) {
        if (s->n_buckets == BUCKETS_MAX) /* more users than slots: the stalest goes */
            s->n_buckets--;
        b = &s->buckets[s->n_buckets++];
        snprintf(b->name, sizeof b->name, "%s", user);
        b->tokens = s->o.rate_burst;
        b->at = t;
    }
    b->tokens += (t - b->at) * s->o.rate_per_s;
    if (b->tokens > s->o.rate_burst)
        b->tokens = s->o.rate_burst;
    b->at = t;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (1 - b->tokens) / s->o.rate_per_s;
    pthread_mutex_unlock(&s->mu);
    return wait;
}

static void record_metrics(api_server *s, size_t route_at, int status, double seconds)
{
    pthread_mutex_lock(&s->mu);
    route_metrics *m = &s->metrics[route_at];
    size_t k = 0;
    while (k < N_STATUSES && STATUSES[k] != status)
        k++;
    m->by_status[k]++;
    size_t b = 0;
    while (b < N_BUCKETS && seconds > BUCKETS[b])
        b++;
    m->le[b]++;
    m->seconds += seconds;
    m->count++;
    pthread_mutex_unlock(&s->mu);
}

static char *render_metrics(api_server *s, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
#define EMIT(...) n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__)
    uint64_t queued = 0, active = 0, pending = 0, overdue = 0;
    sqlite3 *sql = api_sql(s);
    sqlite3_stmt *st = NULL;
    if (sql && sqlite3_prepare_v2(sql, "SELECT count(*) FROM nt_outbox WHERE state = 'queued'",
                                  -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        queued = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (sql && sqlite3_prepare_v2(sql,
                                  "SELECT count(*), total(deadline < strftime('%s')) FROM "
                                  "nt_appeals WHERE state = 'pending'",
                                  -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        pending = (uint64_t)sqlite3_column_int64(st, 0);
        overdue = (uint64_t)sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    active = (uint64_t)__atomic_load_n(&s->connections, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->mu);
    EMIT("# HELP celltrace_http_requests_total Requests answered, by route and status.\n"
         "# TYPE celltrace_http_requests_total counter\n");
    for (size_t r = 0; r <= N_ROUTES; r++)
        for (size_t k = 0; k <= N_STATUSES; k++)
            if (s->metrics[r].by_status[k]) {
                char code[8];
                snprintf(code, sizeof code, "%d", k < N_STATUSES ? STATUSES[k] : 0);
                EMIT("celltrace_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                     r < N_ROUTES ? ROUTES[r].pattern : "unknown",
                     k < N_STATUSES ? code : "other",
                     (unsigned long long)s->metrics[r].by_status[k]);
            }
    EMIT("# HELP celltrace_http_request_seconds Time to answer, by route.\n"
         "# TYPE celltrace_http_request_seconds histogram\n");
    for (size_t r = 0; r <= N_ROUTES; r++) {
        const route_metrics *m = &s->metrics[r];
        if (!m->count)
            continue;
        const char *name = r < N_ROUTES ? ROUTES[r].pattern : "unknown";
        uint64_t cum = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cum += m->le[b];
            EMIT("celltrace_http_request_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", name,
                 BUCKETS[b], (unsigned long long)cum);
        }
        EMIT("celltrace_http_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name,
             (unsigned long long)m->count);
        EMIT("celltrace_http_request_seconds_sum{route=\"%s\"} %.6f\n", name, m->seconds);
        EMIT("celltrace_http_request_seconds_count{route=\"%s\"} %llu\n", name,
             (unsigned long long)m->count);
    }
    pthread_mutex_unlock(&s->mu);
    EMIT("# HELP celltrace_outbox_queued SMS waiting to be sent.\n"
         "# TYPE celltrace_outbox_queued gauge\ncelltrace_outbox_queued %llu\n",
         (unsigned long long)queued);
    EMIT("# HELP celltrace_appeals_pending Appeals waiting for a decision.\n"
         "# TYPE celltrace_appeals_pending gauge\ncelltrace_appeals_pending %llu\n"
         "# HELP celltrace_appeals_overdue Pending appeals past their deadline.\n"
         "# TYPE celltrace_appeals_overdue gauge\ncelltrace_appeals_overdue %llu\n",
         (unsigned long long)pending, (unsigned long long)overdue);
    EMIT("# HELP celltrace_http_connections Open connections.\n"
         "# TYPE celltrace_http_connections gauge\ncelltrace_http_connections %llu\n",
         (unsigned long long)active);
#undef EMIT
    if (n >= cap) { /* cannot happen with a fixed route table; be safe */
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}

/* ---- data --------------------------------------------------------------------------- */

/* What each worker thread keeps for itself: nothing is shared between
 * requests of different threads but the keys (which lock themselves). */
typedef struct worker_data {
    sqlite3 *sql;
    ct_db *db; /* read-only; opened again when the files under it change */
    int64_t subs_mtime_ns, manifest_mtime_ns;
    uint64_t subs_size;
} worker_data;

static void worker_data_free(void *p)
{
    worker_data *w = p;
    sqlite3_close(w->sql);
    if (w->db)
        ct_close(w->db);
    ct__free(w);
}

static worker_data *worker(api_server *s)
{
    worker_data *w = pthread_getspecific(s->thread_key);
    if (!w) {
        w = ct__calloc(1, sizeof *w);
        pthread_setspecific(s->thread_key, w);
    }
    return w;
}

sqlite3 *api_sql(api_server *s)
{
    worker_data *w = worker(s);
    if (!w->sql) {
        ct_err err;
        if (ct__users_open(s->dir, &w->sql, &err) != CT_OK)
            return NULL;
    }
    return w->sql;
}

static void file_version(const char *dir, const char *name, int64_t *mtime_ns, uint64_t *size)
{
    char *p = ct__path_join(dir, name);
    struct stat st;
    *mtime_ns = 0;
    if (size)
        *size = 0;
    if (stat(p, &st) == 0) {
        *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (size)
            *size = (uint64_t)st.st_size;
    }
    ct__free(p);
}

ct_db *api_db(api_server *s, ct_err *err)
{
    worker_data *w = worker(s);
    int64_t sm, mm;
    uint64_t ss;
    file_version(s->dir, "subscribers.dat", &sm, &ss);
    file_version(s->dir, "store/MANIFEST", &mm, NULL);
    if (w->db && (sm != w->subs_mtime_ns || ss != w->subs_size || mm != w->manifest_mtime_ns)) {
        ct_close(w->db);
        w->db = NULL;
    }
    if (!w->db) {
        if (ct_open_keyed(s->dir, 0, s->keys, &w->db, err) != CT_OK)
            return NULL;
        w->subs_mtime_ns = sm;
        w->subs_size = ss;
        w->manifest_mtime_ns = mm;
    }
    ct_set_actor(w->db, NULL, NULL);
    return w->db;
}

long *api_jobs(api_server *s)
{
    return &s->jobs;
}

const char *api_dir(const api_server *s)
{
    return s->dir;
}

ct_keyring *api_keys(const api_server *s)
{
    return s->keys;
}

/* ---- answers ------------------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *body, size_t len,
                                 const char *type, const char *retry_after, const char *allow)
{
    struct MHD_Response *r =
        ct__mhd.create_response_from_buffer(len, body, body ? MHD_RESPMEM_MUST_FREE
                                                        : MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    ct__mhd.add_response_header(r, "Content-Type", type);
    ct__mhd.add_response_header(r, "Cache-Control", "no-store");
    ct__mhd.add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (retry_after)
        ct__mhd.add_response_header(r, "Retry-After", retry_after);
    if (allow)
        ct__mhd.add_response_header(r, "Allow", allow);
    if (status == 401)
        ct__mhd.add_response_header(r, "WWW-Authenticate", "Bearer realm=\"celltrace\"");
    enum MHD_Result ok = ct__mhd.queue_response(c, (unsigned)status, r);
    ct__mhd.destroy_response(r);
    return ok;
}

/* The page loads only its own files and talks only to this server: a
 * script injected through data it shows could reach nothing else. */
#define PAGE_POLICY                                                                           \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"                \
    " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self';"               \
    " frame-ancestors 'none'"

/* GET / (index.html) and /assets/NAME from the embedded page. */
static enum MHD_Result send_asset(struct MHD_Connection *c, const char *name, int *status)
{
    const ct_web_asset *a = NULL;
    for (size_t i = 0; i < ct__web_asset_count && !a; i++)
        if (!strcmp(ct__web_assets[i].name, name))
            a = &ct__web_assets[i];
    if (!a) {
        static const char missing[] =
            "<!doctype html><meta charset=utf-8><title>celltrace</title>"
            "<p>The web page was not built into this binary: run scripts/setup.sh (npm ci and"
            " node build.mjs in web/), then make.</p>";
        int built = ct__web_asset_count > 0;
        *status = built ? 404 : 503;
        return send_text(c, *status, built ? NULL : strdup(missing),
                         built ? 0 : sizeof missing - 1, "text/html; charset=utf-8", NULL, NULL);
    }
    struct MHD_Response *r = ct__mhd.create_response_from_buffer(a->size, (void *)a->data,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    ct__mhd.add_response_header(r, "Content-Type", a->type);
    ct__mhd.add_response_header(r, "Cache-Control", "no-cache");
    ct__mhd.add_response_header(r, "X-Content-Type-Options", "nosniff");
    ct__mhd.add_response_header(r, "Content-Security-Policy", PAGE_POLICY);
    ct__mhd.add_response_header(r, "Referrer-Policy", "no-referrer");
    ct__mhd.add_response_header(r, "X-Frame-Options", "DENY");
    *status = 200;
    enum MHD_Result ok = ct__mhd.queue_response(c, 200, r);
    ct__mhd.destroy_response(r);
    return ok;
}

json_t *api_error(int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* messages quote what the client sent, which need not be text: jansson
     * takes only UTF-8 (the fuzzer's first find: a bad week gave 500) */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
            *p = '?';
    return json_pack("{s:i,s:s}", "status", status, "error", msg);
}

int api_status_of(ct_code rc)
{
    switch (rc) {
    case CT_OK: return 200;
    case CT_ENOTFOUND: return 404;
    case CT_EEXIST: return 409;
    case CT_EINVAL:
    case CT_ELIMIT: return 400;
    default: return 500;
    }
}

/* Nesting of a JSON text, outside strings; stops counting past `limit`. */
static unsigned json_depth(const char *s, size_t n, unsigned limit)
{
    unsigned depth = 0, most = 0;
    int in_string = 0;
    for (size_t i = 0; i < n && most <= limit; i++) {
        char ch = s[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = 0;
        } else if (ch == '"') {
            in_string = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > most)
                most = depth;
        } else if ((ch == ']' || ch == '}') && depth) {
            depth--;
        }
    }
    return most;
}

/* ---- a request ------------------------------------------------------------------------ */

typedef struct request {
    char *body;
    size_t len, cap;
    int too_big;
    double started;
} request;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode what)
{
    (void)c, (void)socket_context;
    api_server *s = cls;
    __atomic_add_fetch(&s->connections, what == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1,
                       __ATOMIC_RELAXED);
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    request *q = *con_cls;
    if (q) {
        free(q->body);
        free(q);
        *con_cls = NULL;
    }
}

static enum MHD_Result answer_json(api_server *s, struct MHD_Connection *c, size_t route_at,
                                   const request *q, int status, json_t *body,
                                   const char *retry_after, const char *allow)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(body);
    if (!text) {
        status = 500;
        text = strdup("{\"status\":500,\"error\":\"cannot write the answer\"}");
    }
    size_t len = text ? strlen(text) : 0;
    record_metrics(s, route_at, status, ct__now_s() - q->started);
    return send_text(c, status, text, len, "application/json", retry_after, allow);
}

static const char *bearer(struct MHD_Connection *c)
{
    const char *h = ct__mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return NULL;
    return h + 7;
}

static enum MHD_Result answer_request(api_server *s, struct MHD_Connection *c, const char *url,
                                      const char *method, request *q);

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    api_server *s = cls;
    request *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->started = ct__now_s();
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->too_big || q->len + n > s->o.body_max) {
            q->too_big = 1;
            return MHD_YES;
        }
        if (q->len + n + 1 > q->cap) {
            size_t cap = q->cap ? q->cap : 4096;
            while (cap < q->len + n + 1)
                cap *= 2;
            char *b = realloc(q->body, cap);
            if (!b)
                return MHD_NO;
            q->body = b;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload_data, n);
        q->len += n;
        q->body[q->len] = '\0';
        return MHD_YES;
    }

    __atomic_add_fetch(&s->answering, 1, __ATOMIC_ACQ_REL);
    enum MHD_Result ok = answer_request(s, c, url, method, q);
    __atomic_sub_fetch(&s->answering, 1, __ATOMIC_ACQ_REL);
    return ok;
}

/* X-Reason may be percent-encoded UTF-8 (a header carries Latin-1 only, and
 * reasons are written in Russian): %XX sequences are decoded, anything
 * else is kept as sent; cut to fit. The audit makes bytes that are not
 * UTF-8 '?'. */
static const char *percent_decode(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < cap; p++) {
        unsigned hi, lo;
        if (p[0] == '%' && sscanf(p + 1, "%1x%1x", &hi, &lo) == 2 && p[1] && p[2]) {
            out[n++] = (char)(hi << 4 | lo);
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return out;
}

/* The body is in: route, check, run the handler, answer. */
static enum MHD_Result answer_request(api_server *s, struct MHD_Connection *c, const char *url,
                                      const char *method, request *q)
{
    api_call call;
    memset(&call, 0, sizeof call);
    size_t r = 0;
    while (r < N_ROUTES && !match(ROUTES[r].pattern, url, call.params))
        r++;
    if (r == N_ROUTES)
        return answer_json(s, c, ROUTE_UNKNOWN, q, 404, api_error(404, "no such resource"), NULL,
                           NULL);
    const route *rt = &ROUTES[r];
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int is_post = !strcmp(method, "POST");
    unsigned allowed = is_get ? rt->get : is_post ? rt->post : 0;
    if (!allowed)
        return answer_json(s, c, r, q, 405, api_error(405, "method %s not allowed here", method),
                           NULL, rt->get && rt->post ? "GET, POST" : rt->post ? "POST" : "GET");
    if (q->too_big)
        return answer_json(s, c, r, q, 413,
                           api_error(413, "the body is larger than %zu bytes", s->o.body_max),
                           NULL, NULL);
    if (rt->get == PUBLIC && !rt->on_get && strcmp(rt->pattern, "/metrics")) { /* the page */
        int status = 500;
        enum MHD_Result ok =
            send_asset(c, !strcmp(rt->pattern, "/") ? "index.html" : call.params[0], &status);
        record_metrics(s, r, status, ct__now_s() - q->started);
        return ok;
    }
    if (r == 1) { /* /metrics */
        size_t len = 0;
        char *text = render_metrics(s, &len);
        record_metrics(s, r, text ? 200 : 500, ct__now_s() - q->started);
        return send_text(c, text ? 200 : 500, text, len, "text/plain; version=0.0.4", NULL, NULL);
    }
    call.server = s;
    call.conn = c;
    if (allowed != PUBLIC) {
        const char *token = bearer(c);
        ct_err err;
        sqlite3 *sql = api_sql(s);
        if (!sql)
            return answer_json(s, c, r, q, 503, api_error(503, "the database cannot be opened"),
                               NULL, NULL);
        ct_code rc = token ? ct__users_authenticate(sql, token, (int64_t)time(NULL), &call.user,
                                                    &err)
                           : CT_ENOTFOUND;
        if (rc == CT_ENOTFOUND) /* the same words whatever was wrong with the token */
            return answer_json(s, c, r, q, 401,
                               api_error(401, "a valid bearer token is required"), NULL, NULL);
        if (rc)
            return answer_json(s, c, r, q, 500, api_error(500, "%s", err.msg), NULL, NULL);
        double wait = rate_take(s, call.user.name);
        if (wait > 0) {
            char after[24];
            snprintf(after, sizeof after, "%.0f", wait < 1 ? 1.0 : wait + 0.5);
            return answer_json(s, c, r, q, 429, api_error(429, "too many requests"), after,
                               NULL);
        }
        if (!(allowed & ROLE(call.user.role)))
            return answer_json(s, c, r, q, 403,
                               api_error(403, "the %s role may not %s this",
                                         ct_role_name(call.user.role), method),
                               NULL, NULL);
    }
    if (is_post) {
        if (q->len && json_depth(q->body, q->len, s->o.json_depth_max) > s->o.json_depth_max)
            return answer_json(s, c, r, q, 400,
                               api_error(400, "the JSON body is nested deeper than %u",
                                         s->o.json_depth_max),
                               NULL, NULL);
        json_error_t je;
        call.body = q->len ? json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES, &je) : NULL;
        if (!call.body)
            return answer_json(s, c, r, q, 400,
                               api_error(400, "the body must be a JSON object%s%s",
                                         q->len ? ": " : "", q->len ? je.text : ""),
                               NULL, NULL);
    }
    const char *reason = ct__mhd.lookup_connection_value(c, MHD_HEADER_KIND, "X-Reason");
    char decoded[512];
    call.reason = reason && *reason ? percent_decode(reason, decoded, sizeof decoded) : "api";
    call.status = 200;
    json_t *answer = (is_get ? rt->on_get : rt->on_post)(&call);
    json_decref(call.body);
    return answer_json(s, c, r, q, call.status, answer, NULL, NULL);
}

const char *api_query(const api_call *call, const char *name)
{
    return ct__mhd.lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- the daemon ----------------------------------------------------------------------- */

static ct_code parse_listen(const char *s, struct sockaddr_in *a, ct_err *err)
{
    const char *colon = strrchr(s ? s : "", ':');
    char host[64];
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return ct__fail(err, CT_EINVAL, "--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return ct__fail(err, CT_EINVAL, "--listen must be an IPv4 HOST:PORT, e.g. 127.0.0.1:8080");
    a->sin_port = htons((uint16_t)port);
    return CT_OK;
}

ct_code ct_serve(const char *dir, ct_keyring *keys, const ct_serve_opts *o, ct_err *err)
{
    api_server *s = ct__calloc(1, sizeof *s);
    s->dir = ct__strdup(dir);
    s->keys = keys;
    s->o = *o;
    if (!s->o.threads)
        s->o.threads = 4;
    if (!s->o.body_max)
        s->o.body_max = 64 * 1024;
    if (!s->o.header_max)
        s->o.header_max = 16 * 1024;
    if (!s->o.per_ip_max)
        s->o.per_ip_max = 128;
    if (!s->o.idle_timeout_s)
        s->o.idle_timeout_s = 30;
    if (!s->o.json_depth_max)
        s->o.json_depth_max = 16;
    if (s->o.rate_per_s <= 0)
        s->o.rate_per_s = 50;
    if (s->o.rate_burst < 1)
        s->o.rate_burst = 100;
    pthread_mutex_init(&s->mu, NULL);
    pthread_key_create(&s->thread_key, worker_data_free);
    char *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    struct sockaddr_in addr;
    ct_code rc = parse_listen(o->listen, &addr, err);
    if (!rc)
        rc = ct__mhd_load(err);
    if (!rc && !!o->tls_cert != !!o->tls_key)
        rc = ct__fail(err, CT_EINVAL, "--tls-cert and --tls-key go together");
    if (!rc && o->tls_cert && ct__mhd.is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        rc = ct__fail(err, CT_EINVAL, "this libmicrohttpd was built without TLS");
    if (!rc && o->tls_cert)
        rc = ct__fs_read_file(o->tls_cert, 1 << 20, &cert, &cert_len, err);
    if (!rc && o->tls_key)
        rc = ct__fs_read_file(o->tls_key, 1 << 20, &key, &key_len, err);
    /* the database opens (and the tables exist) before the first request */
    sqlite3 *probe = NULL;
    if (!rc)
        rc = ct__users_open(dir, &probe, err);
    if (!rc)
        rc = ct__jobs_recover(probe, err);
    sqlite3_close(probe);
    if (!rc) {
        ct_db *db = NULL;
        rc = ct_open_keyed(dir, 0, keys, &db, err);
        if (db)
            ct_close(db);
    }
    if (!rc) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                         MHD_USE_ERROR_LOG;
        if (o->tls_cert)
            flags |= MHD_USE_TLS;
        struct MHD_OptionItem tls[] = {
            {o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
            {MHD_OPTION_END, 0, NULL}};
        s->mhd = ct__mhd.start_daemon(
            flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr,
            MHD_OPTION_THREAD_POOL_SIZE, s->o.threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)s->o.header_max + 4096, MHD_OPTION_CONNECTION_TIMEOUT, s->o.idle_timeout_s,
            MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->o.per_ip_max,
            MHD_OPTION_NOTIFY_COMPLETED, request_done, s,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
            MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
        if (!s->mhd)
            rc = ct__fail(err, CT_EIO, "cannot listen on %s (in use, or not allowed)", o->listen);
    }
    if (!rc && o->ready) {
        const union MHD_DaemonInfo *info = ct__mhd.get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
        o->ready(o->ud, info ? info->port : ntohs(addr.sin_port));
    }
    while (!rc && !*o->stop)
        usleep(50 * 1000);
    if (s->mhd) {
        /* no new connections; the answers being made are finished (up to
         * 10 s); idle connections and clients still sending are closed */
        ct__mhd.quiesce_daemon(s->mhd);
        for (int i = 0; i < 200 && __atomic_load_n(&s->answering, __ATOMIC_ACQUIRE) > 0; i++)
            usleep(50 * 1000);
        ct__mhd.stop_daemon(s->mhd);
    }
    /* a run started here finishes (it is one transaction either way) */
    while (__atomic_load_n(&s->jobs, __ATOMIC_ACQUIRE) > 0)
        usleep(100 * 1000);
    if (cert)
        ct__free(cert);
    if (key) {
        memset(key, 0, key_len);
        ct__free(key);
    }
    pthread_key_delete(s->thread_key);
    pthread_mutex_destroy(&s->mu);
    ct__free(s->dir);
    ct__free(s);
    return rc;
}
