/*
 * outbox.c — state changes of queued messages, and `outbox list`.
 *
 * Every change is one UPDATE whose WHERE clause names the state it
 * expects, so two writers (the dispatcher and the delivery-report
 * listener, each with its own connection) never undo each other: a
 * change that finds the message in another state changes nothing. Each
 * statement runs in autocommit mode (its own transaction, synchronous=FULL).
 */
#include "outbox.h"

#include <stdio.h>
#include <string.h>

#include "celltrace_notify.h"
#include "db.h"
#include "error.h"
#include "notifydb.h"
#include "sqlvfs.h"
#include "tzone.h"

static ct_code step_done(sqlite3 *db, sqlite3_stmt *st, ct_err *err)
{
    ct_code rc = sqlite3_step(st) == SQLITE_DONE ? CT_OK : ct__ndb_fail(db, err);
    sqlite3_finalize(st);
    return rc;
}

ct_code ct__ob_next_due(sqlite3 *db, int64_t now, ct_ob_msg *m, int *found, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    *found = 0;
    ct_code rc = ct__ndb_prepare(db,
        "SELECT id, subscriber, key, text, ucs2, attempts FROM nt_outbox"
        " WHERE state='queued' AND next_at<=?1 ORDER BY next_at, id LIMIT 1", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        memset(m, 0, sizeof *m);
        m->id = sqlite3_column_int64(st, 0);
        m->subscriber = (uint32_t)sqlite3_column_int64(st, 1);
        snprintf(m->key, sizeof m->key, "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(m->text, sizeof m->text, "%s", (const char *)sqlite3_column_text(st, 3));
        m->ucs2 = sqlite3_column_int(st, 4);
        m->attempts = sqlite3_column_int(st, 5);
        *found = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

ct_code ct__ob_claim(sqlite3 *db, ct_ob_msg *m, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(db,
        "UPDATE nt_outbox SET inflight=1, attempts=attempts+1 WHERE id=?1 AND state='queued'",
        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, m->id);
    rc = step_done(db, st, err);
    if (!rc && sqlite3_changes(db) != 1)
        rc = ct__fail(err, CT_ENOTFOUND, "message %lld is no longer queued", (long long)m->id);
    m->attempts++;
    return rc;
}

ct_code ct__ob_sent(sqlite3 *db, int64_t id, int64_t now, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(db,
        "UPDATE nt_outbox SET inflight=0, sent_at=?2, last_error='',"
        " state=CASE WHEN state='queued' THEN 'sent' ELSE state END WHERE id=?1", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    return step_done(db, st, err);
}

ct_code ct__ob_retry(sqlite3 *db, int64_t id, int64_t next_at, const char *why, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(db,
        "UPDATE nt_outbox SET inflight=0, next_at=?2, last_error=?3 WHERE id=?1 AND state='queued'",
        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, next_at);
    sqlite3_bind_text(st, 3, why, -1, SQLITE_TRANSIENT);
    return step_done(db, st, err);
}

ct_code ct__ob_expire(sqlite3 *db, int64_t now, int64_t expire_s, uint64_t *n, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(db,
        "UPDATE nt_outbox SET state='expired', inflight=0, done_at=?1 WHERE"
        " (state='queued' AND created+?2<=?1) OR (state='sent' AND sent_at+?2<=?1)", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, expire_s);
    rc = step_done(db, st, err);
    *n = rc ? 0 : (uint64_t)sqlite3_changes(db);
    return rc;
}

ct_code ct__ob_count(sqlite3 *db, const char *state, int64_t before, uint64_t *n, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    const char *sql = strcmp(state, "sent") == 0
        ? "SELECT count(*) FROM nt_outbox WHERE state='sent' OR (state='queued' AND inflight=1)"
        : before > 0 ? "SELECT count(*) FROM nt_outbox WHERE state=?1 AND next_at<?2"
        : before < 0 ? "SELECT count(*) FROM nt_outbox WHERE ?1='' OR state=?1"
                     : "SELECT count(*) FROM nt_outbox WHERE state=?1";
    ct_code rc = ct__ndb_prepare(db, sql, &st, err);
    if (rc)
        return rc;
    if (strcmp(state, "sent") != 0) {
        sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
        if (before > 0)
            sqlite3_bind_int64(st, 2, before);
    }
    *n = ct__sql_step(st, &rc, err) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc;
}


ct_code ct__ob_add_prepare(sqlite3 *db, sqlite3_stmt **st, ct_err *err)
{
    return ct__ndb_prepare(db,
        "INSERT OR IGNORE INTO nt_outbox(key, subscriber, kind, case_id, region, last_contact,"
        " quarantine_end, text, ucs2, next_at, created) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?10)",
        st, err);
}

ct_code ct__ob_add_with(sqlite3 *db, sqlite3_stmt *st, const ct_conf *conf, int64_t now,
                        uint32_t sub, const char *case_id, const char *region, int64_t last,
                        int64_t q, ct_msg_kind kind, int64_t key_n, int *added, ct_err *err)
{
    char last_day[11], qend[11], text[CT_SMS_TEXT_MAX + 1], key[64];
    int dotted = strcmp(conf->language, "ru") == 0;
    *added = 0;
    /* last ends the contact (exclusive): its last second names the day, so
     * a stay that ends at local midnight is dated that evening */
    ct__tz_date(conf->timezone, last - 1, dotted, last_day);
    ct__tz_date(conf->timezone, q, dotted, qend);
    ct_code rc = ct__template_render(conf->language, kind, last_day, qend, conf->hotline, text,
                                     sizeof text, err);
    if (rc)
        return rc;
    int ucs2;
    ct__sms_parts(text, &ucs2);
    static const char LETTER[] = "?qqtal"; /* by ct_msg_kind */
    snprintf(key, sizeof key, "%c-%u-%lld", LETTER[kind], sub, (long long)key_n);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, sub);
    sqlite3_bind_text(st, 3, ct__msg_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, case_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, last);
    sqlite3_bind_int64(st, 7, q);
    sqlite3_bind_text(st, 8, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 9, ucs2);
    sqlite3_bind_int64(st, 10, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ct__ndb_fail(db, err);
    else
        *added = sqlite3_changes(db) == 1;
    sqlite3_reset(st);
    return rc;
}

ct_code ct__ob_add(sqlite3 *db, const ct_conf *conf, int64_t now, uint32_t sub,
                   const char *case_id, const char *region, int64_t last, int64_t q,
                   ct_msg_kind kind, int64_t key_n, int *added, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    *added = 0;
    ct_code rc = ct__ob_add_prepare(db, &st, err);
    if (!rc)
        rc = ct__ob_add_with(db, st, conf, now, sub, case_id, region, last, q, kind, key_n, added,
                             err);
    sqlite3_finalize(st);
    return rc;
}

/* ---- delivery reports ------------------------------------------------------------- */

const char *ct__dlr_verdict_name(ct_dlr_verdict v)
{
    static const char *const names[] = {"accepted", "bad request", "forged", "unknown message",
                                        "wrong state"};
    return (unsigned)v < 5 ? names[v] : "?";
}

static ct_code load_state(sqlite3 *db, int64_t id, char *state, int *inflight, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(db, "SELECT state, inflight FROM nt_outbox WHERE id=?1", &st, err);
    state[0] = '\0';
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        snprintf(state, 16, "%s", (const char *)sqlite3_column_text(st, 0));
        *inflight = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return rc;
}

ct_code ct__ob_apply_dlr(sqlite3 *db, int64_t id, int status, int64_t now, ct_dlr_verdict *v,
                         int *final, ct_err *err)
{
    char state[16];
    int inflight = 0;
    *final = 0;
    ct_code rc = load_state(db, id, state, &inflight, err);
    if (rc)
        return rc;
    if (!state[0]) {
        *v = CT_DLR_UNKNOWN;
        return CT_OK;
    }
    const char *to = status == 1 ? "delivered" : status == 2 || status == 16 ? "failed" : NULL;
    int waiting = strcmp(state, "sent") == 0 || (strcmp(state, "queued") == 0 && inflight);
    int reported = strcmp(state, "delivered") == 0 || strcmp(state, "failed") == 0;
    /* An intermediate report (buffered, accepted by the SMSC) may arrive
     * after the final one: it is genuine and changes nothing. */
    if (!waiting && !(reported && !to)) {
        *v = CT_DLR_WRONG_STATE;
        return CT_OK;
    }
    *v = CT_DLR_ACCEPTED;
    if (!waiting)
        return CT_OK;
    sqlite3_stmt *st = NULL;
    rc = ct__ndb_prepare(db, to
        ? "UPDATE nt_outbox SET state=?3, done_at=?2 WHERE id=?1 AND"
          " (state='sent' OR (state='queued' AND inflight=1))"
        : "UPDATE nt_outbox SET smsc_ack=1 WHERE id=?1", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (to) {
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    }
    rc = step_done(db, st, err);
    if (!rc && to)
        *final = sqlite3_changes(db) == 1 ? (status == 1 ? 1 : 2) : 0;
    if (!rc && to && !*final)
        *v = CT_DLR_WRONG_STATE; /* changed state under us: nothing applied */
    return rc;
}

ct_code ct__ob_log_dlr(sqlite3 *db, int64_t now, int64_t id, int status, const char *verdict,
                       const char *detail, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(db,
        "INSERT INTO nt_dlr_log(at, msg_id, status, verdict, detail) VALUES(?1,?2,?3,?4,?5)",
        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    if (id > 0)
        sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int(st, 3, status);
    sqlite3_bind_text(st, 4, verdict, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, detail, -1, SQLITE_TRANSIENT);
    return step_done(db, st, err);
}

/* ---- outbox list --------------------------------------------------------------------- */

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

ct_code ct_outbox_list(ct_db *db, const char *state, ct_outbox_fn fn, void *ud, ct_err *err)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    uint64_t n = 0;
    ct_code rc = ct__ndb_open(db->dir, &sql, err);
    if (!rc)
        rc = ct__ob_count(sql, state ? state : "", -1, &n, err);
    /* audited before any number is read: a read that cannot be audited
     * must not happen */
    if (!rc)
        rc = ct__audit(db, "outbox list", state ? state : "all", n, err);
    if (!rc)
        rc = ct__ndb_prepare(sql,
            "SELECT id, key, subscriber, kind, state, case_id, region, text, attempts, created,"
            " sent_at, done_at, last_error FROM nt_outbox WHERE ?1 IS NULL OR state=?1 ORDER BY id",
            &st, err);
    if (rc)
        goto out;
    if (state)
        sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        char msisdn[16];
        rc = ct__subdict_number(db->subs, (uint32_t)sqlite3_column_int64(st, 2), msisdn, err);
        if (rc)
            break;
        ct_outbox_row r = {sqlite3_column_int64(st, 0), col_text(st, 1), msisdn, col_text(st, 3),
                           col_text(st, 4), col_text(st, 5), col_text(st, 6), col_text(st, 7),
                           sqlite3_column_int(st, 8), sqlite3_column_int64(st, 9),
                           sqlite3_column_int64(st, 10), sqlite3_column_int64(st, 11),
                           col_text(st, 12)};
        if (fn(ud, &r))
            break;
    }
out:
    sqlite3_finalize(st);
    sqlite3_close(sql);
    return rc;
}
