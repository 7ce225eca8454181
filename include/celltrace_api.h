/*
 * celltrace_api.h — the HTTP API for the regional headquarters: its users
 * and roles, and the server (docs/API.md).
 *
 *   ct_users_*   who may call the API: a name, a role, for `regional` a
 *                region, and a bearer token shown once and stored only as
 *                its BLAKE2b-256 hash.
 *   ct_serve     the server (libmicrohttpd, a thread pool on epoll; JSON
 *                through jansson) until *stop is set (SIGTERM).
 *
 * Conventions are those of celltrace.h.
 */
#ifndef CELLTRACE_API_H
#define CELLTRACE_API_H

#include <signal.h>
#include <stdint.h>

#include "celltrace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- users ------------------------------------------------------------------ */

typedef enum ct_role {
    CT_ROLE_FEDERAL,  /* everything: registers cases, starts runs */
    CT_ROLE_REGIONAL, /* one region's contacts, evidence and appeals */
    CT_ROLE_HOTLINE,  /* files appeals, looks up one number's own status */
    CT_ROLE_AUDITOR   /* the audit log and oversight numbers, no personal data */
} ct_role;

const char *ct_role_name(ct_role r);
/* 0 and *r for federal, regional, hotline, auditor; -1 otherwise. */
int ct_role_parse(const char *s, ct_role *r);

/* An ISO 3166-2 subdivision code as the API takes it: two capital letters,
 * '-', one to three capitals or digits ("RU-MOW", "RU-77"). 1 if valid. */
int ct_region_code_valid(const char *s);

#define CT_USER_NAME_MAX 64
#define CT_TOKEN_MAX 64 /* "ctk_" and 43 base64url characters, NUL */

typedef struct ct_user {
    char name[CT_USER_NAME_MAX + 1];
    ct_role role;
    char region[CT_REGION_MAX + 1]; /* "" unless regional */
    int64_t created, expires;       /* expires 0 = never */
    int64_t revoked;                /* 0 = active */
} ct_user;

/* Adds user `name` (letters, digits, . _ -; 1-64) with `role`; region is
 * required for regional and refused for the others. expires_at: unix
 * seconds, 0 = never. Writes the new token (shown once) into token.
 * CT_EEXIST for a name in use (revoked names stay taken), CT_EINVAL for a
 * bad name, role or region. Audited ("users add"). */
ct_code ct_users_add(ct_db *db, const char *name, ct_role role, const char *region,
                     int64_t expires_at, char token[CT_TOKEN_MAX], ct_err *err);

/* Revokes the user's token at once. CT_ENOTFOUND when there is no such
 * active user. Audited ("users revoke"). */
ct_code ct_users_revoke(ct_db *db, const char *name, ct_err *err);

/* Every user, revoked too, by name. */
typedef int (*ct_user_fn)(void *ud, const ct_user *u);
ct_code ct_users_list(ct_db *db, ct_user_fn fn, void *ud, ct_err *err);

/* ---- the server ------------------------------------------------------------- */

typedef struct ct_serve_opts {
    const char *listen;       /* "HOST:PORT"; port 0 = any free one */
    const char *tls_cert;     /* PEM files; both or neither */
    const char *tls_key;
    unsigned threads;         /* worker threads (0: 4) */
    size_t body_max;          /* bytes of a request body (0: 64 KiB) */
    size_t header_max;        /* bytes of a request's headers (0: 16 KiB) */
    unsigned json_depth_max;  /* nesting of a JSON body (0: 16) */
    double rate_per_s;        /* requests per second per token (0: 50) */
    double rate_burst;        /* bucket size (0: 100) */
    unsigned per_ip_max;      /* open connections from one address (0: 128); more are
                                 closed at once, so that one client cannot hold all 512 */
    unsigned idle_timeout_s;  /* a connection with nothing sent or received is closed
                                 (0: 30 s) */
    volatile sig_atomic_t *stop; /* set (by a signal handler) to stop */
    /* called once listening, with the port (for port 0) */
    void (*ready)(void *ud, unsigned port);
    void *ud;
} ct_serve_opts;

/* Serves data directory `dir` (keys: unlocked, borrowed) until *o->stop
 * is set, then lets running requests finish and returns CT_OK. */
ct_code ct_serve(const char *dir, ct_keyring *keys, const ct_serve_opts *o, ct_err *err);

#ifdef __cplusplus
}
#endif

#endif
