/*
 * users.c — who may call the HTTP API: users, roles, regions and bearer
 * tokens (docs/API.md).
 *
 * api_users(name PK, role, region, token_hash UNIQUE, created, expires,
 * revoked) in the data directory's SQLite database. A token is "ctk_" and
 * 32 random bytes in base64url (43 characters), shown once by `users add`.
 * Only BLAKE2b-256 of the token is stored: a token carries 256 bits of
 * chance, so a fast unkeyed hash cannot be searched backwards, and a copy
 * of the database opens nothing. A revoked user keeps its row (and name),
 * so the audit log's names stay unambiguous.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "db.h"
#include "error.h"
#include "notifydb.h"
#include "sqlvfs.h"

static const char USERS_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS api_users(name TEXT PRIMARY KEY, role TEXT NOT NULL,"
    " region TEXT NOT NULL DEFAULT '', token_hash BLOB NOT NULL UNIQUE,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0,"
    " revoked INTEGER NOT NULL DEFAULT 0);";

static const char *const ROLE_NAMES[] = {"federal", "regional", "hotline", "auditor"};

const char *ct_role_name(ct_role r)
{
    return (unsigned)r < 4 ? ROLE_NAMES[r] : "?";
}

int ct_role_parse(const char *s, ct_role *r)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, ROLE_NAMES[i])) {
            *r = (ct_role)i;
            return 0;
        }
    return -1;
}

int ct_region_code_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > 6 || s[2] != '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';
        if (i < 2 ? !upper : i > 2 && !upper && !digit)
            return 0;
    }
    return 1;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CT_USER_NAME_MAX)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

ct_code ct__users_open(const char *dir, sqlite3 **sql, ct_err *err)
{
    ct_code rc = ct__ndb_open(dir, sql, err);
    if (!rc)
        rc = ct__ndb_exec(*sql, USERS_SCHEMA, err);
    if (rc && *sql) {
        sqlite3_close(*sql);
        *sql = NULL;
    }
    return rc;
}

void ct__token_hash(const char *token, uint8_t out[CT_TOKEN_HASH_BYTES])
{
    crypto_generichash(out, CT_TOKEN_HASH_BYTES, (const uint8_t *)token, strlen(token), NULL, 0);
}

static void row_user(sqlite3_stmt *st, ct_user *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", (const char *)sqlite3_column_text(st, 0));
    if (ct_role_parse((const char *)sqlite3_column_text(st, 1), &u->role))
        u->role = CT_ROLE_AUDITOR; /* an unknown role gets the least */
    snprintf(u->region, sizeof u->region, "%s", (const char *)sqlite3_column_text(st, 2));
    u->created = sqlite3_column_int64(st, 3);
    u->expires = sqlite3_column_int64(st, 4);
    u->revoked = sqlite3_column_int64(st, 5);
}

ct_code ct__users_authenticate(sqlite3 *sql, const char *token, int64_t now, ct_user *out,
                               ct_err *err)
{
    size_t n = strlen(token);
    if (n != CT_TOKEN_CHARS || strncmp(token, "ctk_", 4) != 0)
        return ct__fail(err, CT_ENOTFOUND, "malformed token");
    uint8_t h[CT_TOKEN_HASH_BYTES];
    ct__token_hash(token, h);
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(sql,
                                 "SELECT name, role, region, created, expires, revoked FROM "
                                 "api_users WHERE token_hash = ?1",
                                 &st, err);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    int r = ct__sql_step(st, &rc, err);
    if (r == SQLITE_ROW)
        row_user(st, out);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (r != SQLITE_ROW)
        return ct__fail(err, CT_ENOTFOUND, "unknown token");
    if (out->revoked)
        return ct__fail(err, CT_ENOTFOUND, "revoked token");
    if (out->expires && out->expires <= now)
        return ct__fail(err, CT_ENOTFOUND, "expired token");
    return CT_OK;
}

ct_code ct_users_add(ct_db *db, const char *name, ct_role role, const char *region,
                     int64_t expires_at, char token[CT_TOKEN_MAX], ct_err *err)
{
    if (!valid_name(name))
        return ct__fail(err, CT_EINVAL,
                        "a user name is 1 to %d letters, digits, '.', '_' or '-'",
                        CT_USER_NAME_MAX);
    if ((unsigned)role > CT_ROLE_AUDITOR)
        return ct__fail(err, CT_EINVAL, "unknown role");
    region = region ? region : "";
    if (role == CT_ROLE_REGIONAL && !ct_region_code_valid(region))
        return ct__fail(err, CT_EINVAL,
                        "a regional user needs --region, an ISO 3166-2 code such as RU-MOW");
    if (role != CT_ROLE_REGIONAL && *region)
        return ct__fail(err, CT_EINVAL, "only a regional user has a region");
    if (expires_at < 0)
        return ct__fail(err, CT_EINVAL, "the expiry must be a time, or 0 for never");
    uint8_t raw[32], h[CT_TOKEN_HASH_BYTES];
    randombytes_buf(raw, sizeof raw);
    memcpy(token, "ctk_", 4);
    sodium_bin2base64(token + 4, CT_TOKEN_MAX - 4, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    ct__token_hash(token, h);
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__users_open(db->dir, &sql, err);
    if (!rc)
        rc = ct__ndb_exec(sql, "BEGIN IMMEDIATE", err);
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "INSERT INTO api_users(name, role, region, token_hash, created, "
                             "expires) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                             &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, ct_role_name(role), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, region, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 4, h, sizeof h, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
        sqlite3_bind_int64(st, 6, expires_at);
        int r = sqlite3_step(st);
        if (r == SQLITE_CONSTRAINT)
            rc = ct__fail(err, CT_EEXIST, "user %s exists already (revoked names stay taken)",
                          name);
        else if (r != SQLITE_DONE)
            rc = ct__ndb_fail(sql, err);
    }
    sqlite3_finalize(st);
    /* the record first: a user nobody can trace back must not exist */
    if (!rc)
        rc = ct__audit(db, "users add", name, 1, err);
    rc = ct__ndb_end(sql, rc, err);
    if (rc)
        sodium_memzero(token, CT_TOKEN_MAX);
    sqlite3_close(sql);
    return rc;
}

ct_code ct_users_revoke(ct_db *db, const char *name, ct_err *err)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__users_open(db->dir, &sql, err);
    if (!rc)
        rc = ct__ndb_exec(sql, "BEGIN IMMEDIATE", err);
    if (!rc)
        rc = ct__ndb_prepare(sql, "UPDATE api_users SET revoked = ?2 WHERE name = ?1 AND revoked = 0",
                             &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = ct__ndb_fail(sql, err);
        else if (sqlite3_changes(sql) == 0)
            rc = ct__fail(err, CT_ENOTFOUND, "no active user %s", name);
    }
    sqlite3_finalize(st);
    if (!rc)
        rc = ct__audit(db, "users revoke", name, 1, err);
    rc = ct__ndb_end(sql, rc, err);
    sqlite3_close(sql);
    return rc;
}

ct_code ct_users_list(ct_db *db, ct_user_fn fn, void *ud, ct_err *err)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__users_open(db->dir, &sql, err);
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "SELECT name, role, region, created, expires, revoked FROM "
                             "api_users ORDER BY name",
                             &st, err);
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        ct_user u;
        row_user(st, &u);
        if (fn(ud, &u))
            break;
    }
    sqlite3_finalize(st);
    sqlite3_close(sql);
    return rc;
}
