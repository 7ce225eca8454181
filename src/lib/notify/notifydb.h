/*
 * notifydb.h — the tables of tracing runs, contacts and the outbox, in the
 * data directory's SQLite database (internal).
 *
 *   nt_runs(case_id PK, data_version, params, ran_at)
 *       the store version and parameters each case was last traced with
 *   nt_contacts(case_id, subscriber PK, exposure_s, first_contact,
 *               last_contact, min_radius_m, home_region, quarantine_end,
 *               found_at, updated_at, p_contact, expected_near_s, level,
 *               found_day)
 *       every contact of the net of the traced cases; level is 'none',
 *       'test' or 'quarantine' under the thresholds of its case's last run;
 *       found_day the local date of found_at when it was stored
 *   nt_latest, nt_day_sub, nt_day_case, nt_day, nt_meta
 *       the report's counters, kept by triggers (report.c)
 *   nt_outbox(id PK, key UNIQUE, subscriber, kind, case_id, region,
 *             last_contact, quarantine_end, text, ucs2, state, inflight,
 *             attempts, next_at, created, sent_at, done_at, smsc_ack,
 *             last_error)
 *       state is queued, sent, delivered, failed or expired; inflight = 1
 *       while a request to the gateway may have reached it (set and
 *       committed before the request, cleared after)
 *   nt_dlr_log(id PK, at, msg_id, status, verdict, detail)
 *       every delivery report received, accepted or not
 *   nt_appeals(id PK, case_id, subscriber, region, last_contact, reason,
 *              filed_by, filed_at, deadline, state, decided_by, decided_at,
 *              note)
 *       appeals against a contact (appeals.c); state pending, upheld or
 *       rejected. An upheld appeal covers its contact up to last_contact:
 *       runs notify nobody for it again
 *
 * Each user of these tables opens its own connection (ct__ndb_open): the
 * dispatcher and the delivery-report listener run in different threads,
 * and a read-only data directory handle must still be able to write them.
 */
#ifndef CT_NOTIFYDB_H
#define CT_NOTIFYDB_H

#include <sqlite3.h>
#include <stdint.h>

#include "celltrace.h"

/* Opens <dir>/catalog.db read-write (WAL, synchronous=FULL, busy timeout),
 * creates the tables when missing and adds the columns an older data
 * directory lacks. Returns new (*out): sqlite3_close. */
ct_code ct__ndb_open(const char *dir, sqlite3 **out, ct_err *err);

/* Runs SQL without results; BEGIN IMMEDIATE / COMMIT helpers. */
ct_code ct__ndb_exec(sqlite3 *db, const char *sql, ct_err *err);

/* Prepares a statement or fails with the database's message. */
ct_code ct__ndb_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, ct_err *err);

/* Ends a transaction begun with BEGIN [IMMEDIATE]: COMMIT when rc is 0
 * (a failed COMMIT becomes the result), else ROLLBACK, which is harmless
 * when the BEGIN itself failed or db is NULL. Returns the outcome. */
ct_code ct__ndb_end(sqlite3 *db, ct_code rc, ct_err *err);

/* Fails with the connection's current message. */
ct_code ct__ndb_fail(sqlite3 *db, ct_err *err);


/* The token of message `id` in its dlr-url: 32 hex characters. */
void ct__ndb_token(const unsigned char key[32], int64_t id, char out[33]);

#endif
