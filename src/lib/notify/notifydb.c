/*
 * notifydb.c — schema and connections of the notification tables.
 *
 * The tables live in catalog.db beside the cases they come from, so that
 * "store the contacts and queue their notifications" is one SQLite
 * transaction (WAL, synchronous=FULL: committed means on disk). The schema
 * is created on first use with IF NOT EXISTS, so a data directory made by
 * an older celltrace gains the tables without a migration step; columns
 * added later (ADDED below: the risk of each contact) are added to older
 * tables with ALTER TABLE on open, checked first without a lock and then
 * again under BEGIN IMMEDIATE, so two processes opening an old directory
 * at once add each column once. Every added column has a default, so rows
 * stored before read as level 'none' until the next run re-levels them
 * (a run re-traces every case whose parameters, model or thresholds
 * differ from its last run's, see runs.c).
 *
 * The export filters a region's rows by its own index; no index leads
 * with nt_contacts.level alone, whose three values over all contacts
 * would not narrow anything (LATER_INDEXES pairs it with a case).
 *
 * Delivery reports come back over HTTP with the message id in the URL, so
 * anyone who can reach the listener could forge one. Each dlr-url carries
 * a token: keyed BLAKE2b-128 of the id under the dlr key (keys.h); a report whose
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
#include "report.h"
#include "sqlvfs.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS nt_runs(case_id TEXT PRIMARY KEY, data_version INTEGER NOT NULL,"
    " params TEXT NOT NULL, ran_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nt_contacts(case_id TEXT NOT NULL, subscriber INTEGER NOT NULL,"
    " exposure_s INTEGER NOT NULL, first_contact INTEGER NOT NULL, last_contact INTEGER NOT NULL,"
    " min_radius_m REAL NOT NULL, home_region TEXT NOT NULL, quarantine_end INTEGER NOT NULL,"
    " found_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, p_contact REAL NOT NULL DEFAULT 0,"
    " expected_near_s REAL NOT NULL DEFAULT 0, level TEXT NOT NULL DEFAULT 'none',"
    " found_day TEXT NOT NULL DEFAULT '', PRIMARY KEY(case_id, subscriber));"
    "CREATE INDEX IF NOT EXISTS nt_contacts_region ON nt_contacts(home_region, updated_at);"

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
    " msg_id INTEGER, status INTEGER, verdict TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nt_appeals(id INTEGER PRIMARY KEY, case_id TEXT NOT NULL,"
    " subscriber INTEGER NOT NULL, region TEXT NOT NULL, last_contact INTEGER NOT NULL,"
    " reason TEXT NOT NULL, filed_by TEXT NOT NULL, filed_at INTEGER NOT NULL,"
    " deadline INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',"
    " decided_by TEXT NOT NULL DEFAULT '', decided_at INTEGER NOT NULL DEFAULT 0,"
    " note TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS nt_appeals_contact ON nt_appeals(case_id, subscriber);"
    "CREATE INDEX IF NOT EXISTS nt_appeals_region ON nt_appeals(region, state);";

/* A subscriber's contacts are looked up only at a level that gets a
 * message (runs.c, whose question says `level <> 'none'` so that SQLite
 * may use this): the index holds those rows alone, 0.6 % of them at 100k.
 * It used to hold every contact, which cost a run about 6 % of its
 * inserts; partial_sub_index converts an older directory's. */
#define SUB_INDEX                                                                          \
    "CREATE INDEX IF NOT EXISTS nt_contacts_sub ON nt_contacts(subscriber)"                 \
    " WHERE level <> 'none';"

/* Indexes on columns that came later (ADDED): made once those exist. A
 * case's contacts best first, and counted by level, without reading the
 * whole net (the API's pages: 43 447 contacts in a case at 100k). */
static const char LATER_INDEXES[] =
    "CREATE INDEX IF NOT EXISTS nt_contacts_rank ON nt_contacts(case_id, p_contact DESC,"
    " exposure_s DESC, subscriber);"
    "CREATE INDEX IF NOT EXISTS nt_contacts_level ON nt_contacts(case_id, level, home_region);"
    SUB_INDEX;

/* Columns that came after the first schema, as ADD COLUMN clauses. */
typedef struct added_column {
    const char *table, *name, *definition;
} added_column;

static const added_column ADDED[] = {
    {"nt_contacts", "p_contact", "p_contact REAL NOT NULL DEFAULT 0"},
    {"nt_contacts", "expected_near_s", "expected_near_s REAL NOT NULL DEFAULT 0"},
    {"nt_contacts", "level", "level TEXT NOT NULL DEFAULT 'none'"},
    {"nt_contacts", "found_day", "found_day TEXT NOT NULL DEFAULT ''"},
};
#define N_ADDED (sizeof ADDED / sizeof *ADDED)

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

/* *has = 1 when `table` has a column `name` (PRAGMA table_info). */
static ct_code has_column(sqlite3 *db, const char *table, const char *name, int *has,
                          ct_err *err)
{
    char sql[128];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    ct_code rc = ct__ndb_prepare(db, sql, &st, err);
    *has = 0;
    if (rc)
        return rc;
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        if (strcmp((const char *)sqlite3_column_text(st, 1), name) == 0)
            *has = 1;
    sqlite3_finalize(st);
    return rc;
}

/* Counts the columns of ADDED the tables lack; with `alter`, adds them. */
static ct_code column_pass(sqlite3 *db, int alter, size_t *missing, ct_err *err)
{
    *missing = 0;
    for (size_t i = 0; i < N_ADDED; i++) {
        int has;
        char sql[256];
        ct_code rc = has_column(db, ADDED[i].table, ADDED[i].name, &has, err);
        if (rc)
            return rc;
        if (has)
            continue;
        ++*missing;
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s", ADDED[i].table,
                 ADDED[i].definition);
        if (alter && (rc = ct__ndb_exec(db, sql, err)) != CT_OK)
            return rc;
    }
    return CT_OK;
}

ct_code ct__ndb_end(sqlite3 *db, ct_code rc, ct_err *err)
{
    if (!rc)
        rc = ct__ndb_exec(db, "COMMIT", err);
    if (rc && db)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Adds the columns of ADDED that an older data directory lacks: looked
 * for without a lock (the usual case: none missing), added under a write
 * lock after looking again (another process may have added them). */
static ct_code add_columns(sqlite3 *db, ct_err *err)
{
    size_t missing;
    ct_code rc = column_pass(db, 0, &missing, err);
    if (rc || !missing)
        return rc;
    rc = ct__ndb_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    rc = column_pass(db, 1, &missing, err);
    rc = ct__ndb_end(db, rc, err);
    return rc;
}

/* *whole = 1 when nt_contacts_sub is an older directory's index of every
 * contact (no WHERE). */
static ct_code sub_index_is_whole(sqlite3 *db, int *whole, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(db, "SELECT sql FROM sqlite_master WHERE type = 'index'"
                                     " AND name = 'nt_contacts_sub'", &st, err);
    *whole = 0;
    if (rc)
        return rc;
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(st, 0);
        *whole = sql && !strstr(sql, " WHERE ");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Replaces an older directory's whole nt_contacts_sub with the partial
 * one (SUB_INDEX), in one transaction, after looking again under the
 * write lock. The name stays: an older binary still running against the
 * directory finds it and does not build the whole index again at each
 * open (its own question by subscriber then reads the table: slower, the
 * same answer). */
static ct_code partial_sub_index(sqlite3 *db, ct_err *err)
{
    int whole;
    ct_code rc = sub_index_is_whole(db, &whole, err);
    if (rc || !whole)
        return rc;
    rc = ct__ndb_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    rc = sub_index_is_whole(db, &whole, err);
    if (!rc && whole)
        rc = ct__ndb_exec(db, "DROP INDEX nt_contacts_sub;" SUB_INDEX, err);
    return ct__ndb_end(db, rc, err);
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
    /* recursive_triggers: a REPLACE's implicit delete runs the delete
     * triggers, which the report's counters rely on (report.c).
     * temp_store: an upsert that fires triggers keeps a statement journal
     * of every page it changes, in a file under /var/tmp by default: two
     * write calls per page and statement (a run's millions of contacts
     * made 17 M of them). Temporary tables are small here. */
    rc = ct__ndb_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA recursive_triggers=ON; PRAGMA temp_store=MEMORY;", err);
    if (!rc)
        rc = ct__ndb_exec(db, SCHEMA, err);
    if (!rc)
        rc = add_columns(db, err);
    if (!rc)
        rc = partial_sub_index(db, err);
    if (!rc)
        rc = ct__ndb_exec(db, LATER_INDEXES, err);
    if (!rc)
        rc = ct__report_tables(db, dir, err);
out:
    ct__free(path);
    if (rc) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return CT_OK;
}

void ct__ndb_token(const unsigned char key[32], int64_t id, char out[33])
{
    char msg[32];
    unsigned char mac[16];
    int n = snprintf(msg, sizeof msg, "dlr:%lld", (long long)id);
    crypto_generichash(mac, sizeof mac, (const unsigned char *)msg, (size_t)n, key, 32);
    sodium_bin2hex(out, 33, mac, sizeof mac);
}
