/*
 * fuzz_api.c — the HTTP API's request handling on any request (target
 * `api`): routing, query strings, headers, tokens and JSON bodies, through
 * a real `ct_serve` on loopback in the same process.
 *
 * Once per process: a data directory with the levels fixture (case K1 in
 * RU-MOW with three contacts, after a run), case K2 in RU-SPE, an appeal,
 * and one user per role; the server on a free port, with no rate limit.
 *
 * Input: byte 0 picks the bearer token (none, federal, regional RU-MOW,
 * regional RU-SPE, hotline, auditor, a revoked one, a malformed one); the
 * rest up to the first '\n' is "METHOD PATH" of the request line, and
 * what follows is the body. Bit 7 of byte 0 sends the rest as raw bytes
 * instead (headers and all), for libmicrohttpd's own parser.
 *
 * Properties: the server answers every request (within 30 s: the weekly
 * oversight numbers read every audit record of the week, which a long run
 * makes many) with a status
 * line; the status is one the API documents (500 is a bug); a JSON answer
 * parses; without a valid token nothing under /api/v1 is 2xx; the hotline
 * and auditor roles never get a 2xx from the case, contact and report
 * routes; and the server is still alive for the next input.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "celltrace_api.h"
#include "celltrace_notify.h"
#include "fuzz.h"

#ifndef FZ_FIXTURES
#define FZ_FIXTURES "tests/fixtures/levels"
#endif

enum { T_NONE, T_FED, T_OWN, T_OTHER, T_HOT, T_AUD, T_REVOKED, T_MALFORMED, N_TOKENS };
static char tokens[N_TOKENS][CT_TOKEN_MAX];
static volatile sig_atomic_t stop;
static unsigned port;
static pthread_t server;
static pthread_mutex_t ready_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static char *data_dir;
static ct_keyring *keys;

static void must(ct_code rc, const ct_err *err, const char *what)
{
    if (rc != CT_OK) {
        fprintf(stderr, "fuzz_api: %s: %s\n", what, err->msg);
        abort();
    }
}

static void on_ready(void *ud, unsigned p)
{
    (void)ud;
    pthread_mutex_lock(&ready_mu);
    port = p;
    pthread_cond_signal(&ready_cv);
    pthread_mutex_unlock(&ready_mu);
}

static void *serve(void *arg)
{
    (void)arg;
    ct_serve_opts o;
    memset(&o, 0, sizeof o);
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.rate_per_s = 1e9;
    o.rate_burst = 1e9;
    /* A raw input that sends less than its Content-Length is kept until
     * the idle timeout, and every input comes from 127.0.0.1: at ~500
     * inputs a second, the default 30 s and 128 per address would fill up
     * and refuse the next well-formed request (tests/golden/api_lingering.sh
     * checks the defaults). */
    o.per_ip_max = 512;
    o.idle_timeout_s = 2;
    o.stop = &stop;
    o.ready = on_ready;
    ct_err err;
    must(ct_serve(data_dir, keys, &o, &err), &err, "serve");
    return NULL;
}

static void stop_server(void)
{
    stop = 1;
    pthread_join(server, NULL);
    ct_keys_close(keys);
    free(data_dir);
}

static void add_user(ct_db *db, int slot, const char *name, ct_role role, const char *region)
{
    ct_err err;
    must(ct_users_add(db, name, role, region, 0, tokens[slot], &err), &err, "users add");
}

static void set_up(void)
{
    ct_err err;
    ct_db *db = NULL;
    data_dir = fz_path("data");
    must(ct_init(data_dir, &err), &err, "init");
    must(ct_open(data_dir, 1, &db, &err), &err, "open");
    ct_import_summary sum;
    static char *rejects;
    rejects = fz_path("rejects.csv");
    ct_import_opts opts = {.rejects_path = rejects};
    must(ct_cells_import(db, "250-01", FZ_FIXTURES "/cells.csv", &opts, &sum, &err), &err, "cells");
    ct_ingest *in = NULL;
    must(ct_ingest_begin(db, "250-01", &opts, &in, &err), &err, "ingest");
    must(ct_ingest_file(in, FZ_FIXTURES "/events.csv", &err), &err, "ingest");
    must(ct_ingest_commit(in, &sum, &err), &err, "ingest");
    must(ct_cases_import(db, FZ_FIXTURES "/cases.csv", &opts, &sum, &err), &err, "cases");
    must(ct_case_add(db, "K2", "+79990000201", "2020-03-25", NULL, "RU-SPE", &err), &err, "case");
    ct_run_summary run;
    must(ct_run(db, NULL, &run, &err), &err, "run");
    add_user(db, T_FED, "fed", CT_ROLE_FEDERAL, NULL);
    add_user(db, T_OWN, "moscow", CT_ROLE_REGIONAL, "RU-MOW");
    add_user(db, T_OTHER, "petersburg", CT_ROLE_REGIONAL, "RU-SPE");
    add_user(db, T_HOT, "hotline", CT_ROLE_HOTLINE, NULL);
    add_user(db, T_AUD, "auditor", CT_ROLE_AUDITOR, NULL);
    add_user(db, T_REVOKED, "gone", CT_ROLE_FEDERAL, NULL);
    must(ct_users_revoke(db, "gone", &err), &err, "revoke");
    snprintf(tokens[T_MALFORMED], CT_TOKEN_MAX, "ctk_%s", "not-a-token");
    ct_close(db);
    must(ct_keys_unlock(data_dir, NULL, &keys, &err), &err, "keys");
    pthread_mutex_lock(&ready_mu);
    if (pthread_create(&server, NULL, serve, NULL) != 0)
        abort();
    while (!port)
        pthread_cond_wait(&ready_cv, &ready_mu);
    pthread_mutex_unlock(&ready_mu);
    atexit(stop_server);
}

/* Sends req, reads the whole answer (the server closes) into *out. */
static size_t exchange(const char *req, size_t len, int raw, char **out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FZ_CHECK(fd >= 0, "a socket");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* a raw request may be cut short: then no answer is due, and the wait is short */
    struct timeval tv = {raw ? 0 : 30, raw ? 200000 : 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    FZ_CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "the server accepts connections");
    for (size_t sent = 0; sent < len;) {
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early (413, 431): read what it said */
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r <= 0) {
            if (!raw && r < 0 && n == 0) { /* say whether the server is still there */
                char *probe = NULL;
                static const char HEALTH[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                             "Connection: close\r\n\r\n";
                size_t got = exchange(HEALTH, sizeof HEALTH - 1, 1, &probe);
                fprintf(stderr, "fuzz_api: no answer in 30 s to:\n%.*s\nthe server %s\n",
                        (int)(len < 300 ? len : 300), req,
                        got ? "still answers /healthz" : "answers nothing any more");
                free(probe);
            }
            FZ_CHECK(raw || r == 0 || n > 0, "the server answers within 30 s");
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    return n;
}

static int documented(int status)
{
    static const int OK[] = {200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 414, 429, 431, 503};
    for (size_t i = 0; i < sizeof OK / sizeof *OK; i++)
        if (status == OK[i])
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!data_dir)
        set_up();
    if (size < 1)
        return 0;
    int raw = data[0] & 0x80, who = (data[0] & 0x7F) % N_TOKENS;
    const char *rest = (const char *)data + 1;
    size_t rest_len = size - 1;
    char *req;
    size_t req_len;
    char method[64] = "", path[2048] = "";
    if (raw) {
        req = malloc(rest_len + 1);
        memcpy(req, rest, rest_len);
        req_len = rest_len;
    } else {
        const char *nl = memchr(rest, '\n', rest_len);
        size_t line = nl ? (size_t)(nl - rest) : rest_len;
        const char *body = nl ? nl + 1 : rest + rest_len;
        size_t body_len = rest_len - (size_t)(body - rest);
        /* "METHOD PATH": no line breaks or NULs in the request line */
        char first[2200];
        size_t k = 0;
        for (size_t i = 0; i < line && k + 1 < sizeof first; i++)
            if (rest[i] != '\r' && rest[i] != '\0')
                first[k++] = rest[i];
        first[k] = '\0';
        if (sscanf(first, "%63s %2047s", method, path) != 2)
            return 0;
        size_t cap = strlen(method) + strlen(path) + body_len + 512;
        req = malloc(cap);
        int h = snprintf(req, cap,
                         "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                         method, path, body_len);
        if (who != T_NONE)
            h += snprintf(req + h, cap - (size_t)h, "Authorization: Bearer %s\r\n", tokens[who]);
        h += snprintf(req + h, cap - (size_t)h, "X-Reason: fuzz\r\n\r\n");
        memcpy(req + h, body, body_len);
        req_len = (size_t)h + body_len;
    }
    char *ans = NULL;
    size_t n = exchange(req, req_len, raw, &ans);
    free(req);
    int status = 0;
    if (n > 0) {
        FZ_CHECK(sscanf(ans, "HTTP/1.%*1d %3d", &status) == 1, "a status line");
        if (!raw) {
            FZ_CHECK(documented(status), "a documented status (500 is a bug)");
            int valid = who != T_NONE && who != T_REVOKED && who != T_MALFORMED;
            int api = strncmp(path, "/api/v1/", 8) == 0;
            if (api && !valid)
                FZ_CHECK(status >= 300, "nothing under /api/v1 without a valid token");
            if (api && (who == T_HOT || who == T_AUD) &&
                (!strncmp(path, "/api/v1/cases", 13) || !strncmp(path, "/api/v1/report", 14)))
                FZ_CHECK(status >= 300, "hotline and auditor read no cases, contacts or report");
            const char *body = strstr(ans, "\r\n\r\n");
            if (body && strstr(ans, "Content-Type: application/json") && status != 431 &&
                strcmp(method, "HEAD") != 0) { /* HEAD: headers only */
                json_error_t je;
                json_t *j = json_loads(body + 4, 0, &je);
                FZ_CHECK(j != NULL, "a JSON answer parses");
                json_decref(j);
            }
        }
    } else {
        FZ_CHECK(raw, "an answer to every well-formed request");
    }
    free(ans);
    return 0;
}
