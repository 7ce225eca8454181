/*
 * api.h — the HTTP API's internals (include/celltrace_api.h; docs/API.md).
 */
#ifndef CT_API_H
#define CT_API_H

#include <sqlite3.h>
#include <stdint.h>

#include "celltrace_api.h"

#define CT_TOKEN_HASH_BYTES 32
#define CT_TOKEN_CHARS 47 /* "ctk_" + 43 base64url */

/* Opens <dir>/catalog.db with the notification tables and api_users. */
ct_code ct__users_open(const char *dir, sqlite3 **sql, ct_err *err);

/* BLAKE2b-256 of a token's text. */
void ct__token_hash(const char *token, uint8_t out[CT_TOKEN_HASH_BYTES]);

/* The active user of a token at time now; CT_ENOTFOUND (with why: malformed,
 * unknown, revoked, expired) otherwise. */
ct_code ct__users_authenticate(sqlite3 *sql, const char *token, int64_t now, ct_user *out,
                               ct_err *err);

#endif
