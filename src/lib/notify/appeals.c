/*
 * appeals.c — appeals against a contact, and their decision (docs/API.md).
 *
 * An appeal names one stored contact (case, subscriber) and keeps its home
 * region (who decides) and its last contact as it was filed. Deciding it:
 *   upheld    the orders and invitations still queued for that contact
 *             are withdrawn (state expired, "withdrawn: appeal upheld");
 *             if a message had gone out, an SMS says the order is lifted
 *             (kind "lifted"); and runs leave the contact out from now on,
 *             up to that last contact (runs.c, latest_of), so the same
 *             exposure is never notified again. A later contact still is.
 *   rejected  nothing else changes.
 * Both in one transaction, audited before COMMIT; the appeal cannot be
 * decided twice. Numbers: found through the pseudonym (no decryption to
 * file), decrypted to list (audited).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "celltrace_notify.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "notifydb.h"
#include "outbox.h"
#include "sqlvfs.h"
#include "textparse.h"

#define APPEAL_COLUMNS                                                                       \
    "a.id, a.case_id, a.subscriber, a.region, a.state, a.reason, a.note, a.filed_by,"        \
    " a.decided_by, a.filed_at, a.deadline, a.decided_at, a.last_contact,"                  \
    " c.first_contact, c.exposure_s, c.p_contact, c.min_radius_m, c.level"

static void text_of(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", s ? (const char *)s : "");
}

static void row_appeal(sqlite3_stmt *st, ct_appeal *a, uint32_t *sub, int64_t now)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    text_of(st, 1, a->case_id, sizeof a->case_id);
    *sub = (uint32_t)sqlite3_column_int64(st, 2);
    text_of(st, 3, a->region, sizeof a->region);
    text_of(st, 4, a->state, sizeof a->state);
    text_of(st, 5, a->reason, sizeof a->reason);
    text_of(st, 6, a->note, sizeof a->note);
    text_of(st, 7, a->filed_by, sizeof a->filed_by);
    text_of(st, 8, a->decided_by, sizeof a->decided_by);
    a->filed_at = sqlite3_column_int64(st, 9);
    a->deadline = sqlite3_column_int64(st, 10);
    a->decided_at = sqlite3_column_int64(st, 11);
    a->last_contact = sqlite3_column_int64(st, 12);
    a->first_contact = sqlite3_column_int64(st, 13);
    a->exposure_s = sqlite3_column_int64(st, 14);
    a->p_contact = sqlite3_column_double(st, 15);
    a->min_radius_m = sqlite3_column_double(st, 16);
    text_of(st, 17, a->level, sizeof a->level);
    a->overdue = a->decided_at ? a->decided_at > a->deadline : now > a->deadline;
}

/* One appeal by id (any region when region is ""). CT_ENOTFOUND if none. */
static ct_code load(sqlite3 *sql, int64_t id, const char *region, ct_appeal *a, uint32_t *sub,
                    int64_t now, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(sql,
                                 "SELECT " APPEAL_COLUMNS " FROM nt_appeals a LEFT JOIN nt_contacts c"
                                 " ON c.case_id = a.case_id AND c.subscriber = a.subscriber"
                                 " WHERE a.id = ?1 AND (?2 = '' OR a.region = ?2)",
                                 &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, region, -1, SQLITE_TRANSIENT);
    int r = ct__sql_step(st, &rc, err);
    if (r == SQLITE_ROW)
        row_appeal(st, a, sub, now);
    sqlite3_finalize(st);
    if (!rc && r != SQLITE_ROW)
        rc = ct__fail(err, CT_ENOTFOUND, "no appeal %lld", (long long)id);
    return rc;
}

ct_code ct_appeal_file(ct_db *db, const char *by, const char *msisdn, const char *case_id,
                       const char *reason, ct_appeal *out, ct_err *err)
{
    uint64_t num;
    char digits[16];
    if (!msisdn || ct__parse_msisdn(msisdn, strlen(msisdn), &num, digits))
        return ct__fail(err, CT_EINVAL, "not a phone number: %s", msisdn ? msisdn : "");
    if (!reason || !*reason || strlen(reason) >= sizeof out->reason)
        return ct__fail(err, CT_EINVAL, "an appeal needs a reason of 1 to %zu bytes",
                        sizeof out->reason - 1);
    ct_conf conf;
    ct_code rc = ct__conf_load(db->dir, &conf, err);
    uint32_t sub = 0;
    if (!rc)
        rc = ct__subdict_find(db->subs, digits, &sub, err);
    if (rc == CT_ENOTFOUND)
        return ct__fail(err, CT_ENOTFOUND, "%s has no contact to appeal", msisdn);
    if (rc)
        return rc;
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL), id = 0;
    rc = ct__ndb_open(db->dir, &sql, err);
    if (!rc)
        rc = ct__ndb_exec(sql, "BEGIN IMMEDIATE", err);
    /* the contact: the one named, else the case of the latest order */
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "SELECT case_id, home_region, last_contact FROM nt_contacts"
                             " WHERE subscriber = ?1 AND case_id = coalesce(?2,"
                             "  (SELECT case_id FROM nt_outbox WHERE subscriber = ?1"
                             "   AND kind IN ('new', 'extension', 'test') ORDER BY id DESC LIMIT 1))",
                             &st, err);
    char found_case[CT_ID_MAX + 1] = "", region[CT_REGION_MAX + 1] = "";
    int64_t last = 0;
    if (!rc) {
        sqlite3_bind_int64(st, 1, sub);
        if (case_id)
            sqlite3_bind_text(st, 2, case_id, -1, SQLITE_TRANSIENT);
        if (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
            text_of(st, 0, found_case, sizeof found_case);
            text_of(st, 1, region, sizeof region);
            last = sqlite3_column_int64(st, 2);
        } else if (!rc) {
            rc = ct__fail(err, CT_ENOTFOUND, "%s has no contact%s%s to appeal", msisdn,
                          case_id ? " with case " : "", case_id ? case_id : "");
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "SELECT id FROM nt_appeals WHERE case_id = ?1 AND subscriber = ?2"
                             " AND state = 'pending'",
                             &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, found_case, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, sub);
        if (ct__sql_step(st, &rc, err) == SQLITE_ROW)
            rc = ct__fail(err, CT_EEXIST, "appeal %lld on this contact is pending already",
                          (long long)sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "INSERT INTO nt_appeals(case_id, subscriber, region, last_contact,"
                             " reason, filed_by, filed_at, deadline) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                             &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, found_case, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, sub);
        sqlite3_bind_text(st, 3, region, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, last);
        sqlite3_bind_text(st, 5, reason, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, by ? by : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, now);
        sqlite3_bind_int64(st, 8, now + conf.appeal_deadline_h * 3600);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = ct__ndb_fail(sql, err);
        id = sqlite3_last_insert_rowid(sql);
        sqlite3_finalize(st);
    }
    char object[32];
    snprintf(object, sizeof object, "%lld", (long long)id);
    if (!rc)
        rc = ct__audit_as(db, by, db->why, "appeal file", object, 1, err); /* not the
                                                 appellant's words: auditors read the log */
    rc = ct__ndb_end(sql, rc, err);
    if (!rc) {
        rc = load(sql, id, "", out, &sub, now, err);
        snprintf(out->msisdn, sizeof out->msisdn, "%s", digits);
    }
    sqlite3_close(sql);
    return rc;
}

ct_code ct_appeals_list(ct_db *db, const char *region, const char *state, ct_appeal_fn fn,
                        void *ud, ct_err *err)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    uint64_t n = 0;
    int64_t now = (int64_t)time(NULL);
    region = region ? region : "";
    ct_code rc = ct__ndb_open(db->dir, &sql, err);
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "SELECT count(*) FROM nt_appeals WHERE (?1 = '' OR region = ?1)"
                             " AND (?2 IS NULL OR state = ?2)",
                             &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, region, -1, SQLITE_TRANSIENT);
        if (state)
            sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
        if (ct__sql_step(st, &rc, err) == SQLITE_ROW)
            n = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
    }
    /* audited before any number is read */
    if (!rc && n)
        rc = ct__audit(db, "appeals list", *region ? region : "all", n, err);
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "SELECT " APPEAL_COLUMNS " FROM nt_appeals a LEFT JOIN nt_contacts c"
                             " ON c.case_id = a.case_id AND c.subscriber = a.subscriber"
                             " WHERE (?1 = '' OR a.region = ?1) AND (?2 IS NULL OR a.state = ?2)"
                             " ORDER BY a.id",
                             &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, region, -1, SQLITE_TRANSIENT);
        if (state)
            sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
    }
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        ct_appeal a;
        uint32_t sub;
        row_appeal(st, &a, &sub, now);
        rc = ct__subdict_number(db->subs, sub, a.msisdn, err);
        if (!rc && fn(ud, &a))
            break;
    }
    sqlite3_finalize(st);
    sqlite3_close(sql);
    return rc;
}

ct_code ct_appeal_decide(ct_db *db, const char *by, int64_t id, const char *region, int upheld,
                         const char *note, ct_appeal *out, ct_err *err)
{
    if (note && strlen(note) >= sizeof out->note)
        return ct__fail(err, CT_EINVAL, "the note is longer than %zu bytes",
                        sizeof out->note - 1);
    ct_conf conf;
    ct_code rc = ct__conf_load(db->dir, &conf, err);
    if (rc)
        return rc;
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL);
    uint32_t sub = 0;
    rc = ct__ndb_open(db->dir, &sql, err);
    if (!rc)
        rc = ct__ndb_exec(sql, "BEGIN IMMEDIATE", err);
    if (!rc)
        rc = load(sql, id, region ? region : "", out, &sub, now, err);
    if (!rc && strcmp(out->state, "pending") != 0)
        rc = ct__fail(err, CT_EEXIST, "appeal %lld was %s already", (long long)id, out->state);
    if (!rc)
        rc = ct__ndb_prepare(sql,
                             "UPDATE nt_appeals SET state = ?2, decided_by = ?3, decided_at = ?4,"
                             " note = ?5 WHERE id = ?1 AND state = 'pending'",
                             &st, err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, upheld ? "upheld" : "rejected", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, by ? by : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_text(st, 5, note ? note : "", -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = ct__ndb_fail(sql, err);
        sqlite3_finalize(st);
        st = NULL;
    }
    int went_out = 0;
    if (!rc && upheld) { /* was anything sent about this contact? */
        rc = ct__ndb_prepare(sql,
                             "SELECT count(*) FROM nt_outbox WHERE subscriber = ?1 AND case_id = ?2"
                             " AND kind IN ('new', 'extension', 'test')"
                             " AND (state IN ('sent', 'delivered') OR inflight = 1)",
                             &st, err);
        if (!rc) {
            sqlite3_bind_int64(st, 1, sub);
            sqlite3_bind_text(st, 2, out->case_id, -1, SQLITE_TRANSIENT);
            if (ct__sql_step(st, &rc, err) == SQLITE_ROW)
                went_out = sqlite3_column_int64(st, 0) > 0;
            sqlite3_finalize(st);
            st = NULL;
        }
    }
    if (!rc && upheld)
        rc = ct__ndb_prepare(sql,
                             "UPDATE nt_outbox SET state = 'expired', done_at = ?3,"
                             " last_error = 'withdrawn: appeal upheld' WHERE subscriber = ?1"
                             " AND case_id = ?2 AND kind IN ('new', 'extension', 'test')"
                             " AND state = 'queued' AND inflight = 0",
                             &st, err);
    if (!rc && upheld) {
        sqlite3_bind_int64(st, 1, sub);
        sqlite3_bind_text(st, 2, out->case_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = ct__ndb_fail(sql, err);
        sqlite3_finalize(st);
        st = NULL;
    }
    int added = 0;
    if (!rc && upheld && went_out)
        rc = ct__ob_add(sql, &conf, now, sub, out->case_id, out->region, out->last_contact, 0,
                        CT_MSG_LIFTED, id, &added, err);
    char object[32];
    snprintf(object, sizeof object, "%lld", (long long)id);
    if (!rc)
        rc = ct__audit_as(db, by, db->why, upheld ? "appeal upheld" : "appeal rejected",
                          object, 1, err);
    rc = ct__ndb_end(sql, rc, err);
    if (!rc)
        rc = load(sql, id, "", out, &sub, now, err);
    sqlite3_close(sql);
    return rc;
}
