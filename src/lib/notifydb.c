/*
 * notifydb.c — schema and connections of the notification tables.
 *
 * The tables live in catalog.db beside the cases they come from, so that
 * "store the contacts and queue their notifications" is one SQLite
 * transaction (WAL, synchronous=FULL: committed means on disk). The schema
 * is created on first use with IF NOT EXISTS, so a data directory made by
 * an older celltrace gains the tables without a migration step.
 *
 * Delivery reports come back over HTTP with the message id in the URL, so
 * anyone who can reach the listener could forge one. Each dlr-url carries
 * a token: keyed BLAKE2b-128 of the id under keys/dlr.key; a report whose
 * token does not match is rejected (compared in constant time).
 */
#include "notifydb.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "fsio.h"
#include "sqlvfs.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS nt_runs(case_id TEXT PRIMARY KEY, data_version INTEGER NOT NULL,"
    " params TEXT NOT NULL, ran_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nt_contacts(case_id TEXT NOT NULL, subscriber INTEGER NOT NULL,"
    " exposure_s INTEGER NOT NULL, first_contact INTEGER NOT NULL, last_contact INTEGER NOT NULL,"
    " min_radius_m REAL NOT NULL, home_region TEXT NOT NULL, quarantine_end INTEGER NOT NULL,"
    " found_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY(case_id, subscriber));"
    "CREATE INDEX IF NOT EXISTS nt_contacts_region ON nt_contacts(home_region, updated_at);"
    "CREATE INDEX IF NOT EXISTS nt_contacts_sub ON nt_contacts(subscriber);"
    "CREATE TABLE IF NOT EXISTS nt_outbox(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
    " subscriber INTEGER NOT NULL, kind TEXT NOT NULL, case_id TEXT NOT NULL,"
    " region TEXT NOT NULL, last_contact INTEGER NOT NULL, quarantine_end INTEGER NOT NULL,"
    " text TEXT NOT NULL, ucs2 INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'queued',"
    " inflight INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL, created INTEGER NOT NULL, sent_at INTEGER NOT NULL DEFAULT 0,"
    " done_at INTEGER NOT NULL DEFAULT 0, smsc_ack INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS nt_outbox_due ON nt_outbox(state, next_at);"
    "CREATE INDEX IF NOT EXISTS nt_outbox_sub ON nt_outbox(subscriber);"
    "CREATE TABLE IF NOT EXISTS nt_dlr_log(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    " msg_id INTEGER, status INTEGER, verdict TEXT NOT NULL, detail TEXT NOT NULL);";

ct_code ct__ndb_fail(sqlite3 *db, ct_err *err)
{
    return ct__fail(err, CT_EIO, "notification database: %s", sqlite3_errmsg(db));
}

ct_code ct__ndb_exec(sqlite3 *db, const char *sql, ct_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ct_code rc = ct__fail(err, CT_EIO, "notification database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return CT_OK;
}

ct_code ct__ndb_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, ct_err *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return ct__ndb_fail(db, err);
    return CT_OK;
}

ct_code ct__ndb_open(const char *dir, sqlite3 **out, ct_err *err)
{
    char *path = ct__path_join(dir, "catalog.db");
    sqlite3 *db = NULL;
    ct_code rc = CT_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        ct__sqlite_vfs()) != SQLITE_OK) {
        rc = ct__fail(err, CT_EIO, "cannot open %s: %s", path,
                      db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, 30000);
    rc = ct__ndb_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err);
    if (!rc)
        rc = ct__ndb_exec(db, SCHEMA, err);
out:
    ct__free(path);
    if (rc) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return CT_OK;
}

static ct_code create_key(const char *path, ct_err *err)
{
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? CT_OK
                               : ct__fail_errno(err, CT_EIO, errno, "cannot create %s", path);
    ct_code rc = ct__fs_append_sync(fd, key, sizeof key, path, err);
    close(fd);
    sodium_memzero(key, sizeof key);
    return rc;
}

ct_code ct__ndb_dlr_key(const char *dir, unsigned char key[32], ct_err *err)
{
    if (sodium_init() < 0)
        return ct__fail(err, CT_ECRYPTO, "libsodium cannot start");
    char *path = ct__path_join(dir, "keys/dlr.key"), *data = NULL;
    size_t len = 0;
    ct_code rc = create_key(path, err);
    if (!rc)
        rc = ct__fs_read_file(path, 64, &data, &len, err);
    if (!rc && len != 32)
        rc = ct__fail(err, CT_ECRYPTO, "%s is not a 32-byte key", path);
    if (!rc)
        memcpy(key, data, 32);
    if (data)
        sodium_memzero(data, len);
    ct__free(data);
    ct__free(path);
    return rc;
}

void ct__ndb_token(const unsigned char key[32], int64_t id, char out[33])
{
    char msg[32];
    unsigned char mac[16];
    int n = snprintf(msg, sizeof msg, "dlr:%lld", (long long)id);
    crypto_generichash(mac, sizeof mac, (const unsigned char *)msg, (size_t)n, key, 32);
    sodium_bin2hex(out, 33, mac, sizeof mac);
}
