/*
 * export.c — what regional headquarters receive.
 *
 * `export --region R`: every contact whose home region is R (at a level
 * at or above a minimum: none = all), with the number, the case, the last
 * contact, the quarantine end, the state of the subscriber's latest
 * message, and the contact's p_contact, expected_near_s and level as its
 * case's last run stored them. Rows are collected without numbers, the
 * read is audited with its row count, and only then are numbers taken
 * from the vault (a read that cannot be audited does not happen), so a
 * level filter also keeps the other numbers unread. Sorted by last
 * contact, then number, then case.
 *
 * The report (per region and day) is report.c's, and uses ct_localdate
 * from here.
 */
#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "celltrace_notify.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "notifydb.h"
#include "tzone.h"
#include "sqlvfs.h"

static void localdate_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    char buf[11];
    ct__tz_date(sqlite3_user_data(ctx), sqlite3_value_int64(argv[0]), 0, buf);
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

ct_code ct__export_register_date(sqlite3 *db, const char *zone, ct_err *err)
{
    if (sqlite3_create_function(db, "ct_localdate", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                (void *)(uintptr_t)zone, localdate_fn, NULL, NULL) != SQLITE_OK)
        return ct__ndb_fail(db, err);
    return CT_OK;
}

/* ---- export ----------------------------------------------------------------- */

typedef struct xrow {
    char case_id[CT_ID_MAX + 1], state[16];
    char msisdn[CT_MSISDN_MAX + 1];
    uint32_t sub;
    int64_t exposure, first, last, qend, updated;
    double p_contact, near_s;
    ct_level level;
} xrow;

static int xrow_cmp(const void *a, const void *b)
{
    const xrow *x = a, *y = b;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    int c = strcmp(x->msisdn, y->msisdn);
    return c ? c : strcmp(x->case_id, y->case_id);
}

/* The stored level of a row; anything unknown reads as none. */
static ct_level level_of(const unsigned char *s)
{
    ct_level l = CT_LEVEL_NONE;
    if (s && ct_level_parse((const char *)s, &l) != 0)
        l = CT_LEVEL_NONE;
    return l;
}

static ct_code collect(sqlite3 *sql, const char *region, int64_t since, ct_level min_level,
                       xrow **rows, size_t *n, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    ct_code rc = ct__ndb_prepare(sql,
        "SELECT c.case_id, c.subscriber, c.exposure_s, c.first_contact, c.last_contact,"
        " c.quarantine_end, c.updated_at, coalesce((SELECT state FROM nt_outbox o WHERE"
        " o.subscriber=c.subscriber ORDER BY id DESC LIMIT 1), 'none'),"
        " c.p_contact, c.expected_near_s, c.level"
        " FROM nt_contacts c WHERE c.home_region=?1 AND c.updated_at>=?2", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, since);
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        ct_level level = level_of(sqlite3_column_text(st, 10));
        if (level < min_level)
            continue;
        CT_GROW(*rows, *n + 1, cap);
        xrow *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof *r);
        snprintf(r->case_id, sizeof r->case_id, "%s", (const char *)sqlite3_column_text(st, 0));
        r->sub = (uint32_t)sqlite3_column_int64(st, 1);
        r->exposure = sqlite3_column_int64(st, 2);
        r->first = sqlite3_column_int64(st, 3);
        r->last = sqlite3_column_int64(st, 4);
        r->qend = sqlite3_column_int64(st, 5);
        r->updated = sqlite3_column_int64(st, 6);
        snprintf(r->state, sizeof r->state, "%s", (const char *)sqlite3_column_text(st, 7));
        r->p_contact = sqlite3_column_double(st, 8);
        r->near_s = sqlite3_column_double(st, 9);
        r->level = level;
    }
    sqlite3_finalize(st);
    return rc;
}

ct_code ct_export(ct_db *db, const char *region, int64_t since, ct_level min_level,
                  ct_export_fn fn, void *ud, ct_err *err)
{
    sqlite3 *sql = NULL;
    xrow *rows = NULL;
    size_t n = 0;
    ct_code rc = ct__ndb_open(db->dir, &sql, err);
    if (!rc)
        rc = collect(sql, region, since, min_level, &rows, &n, err);
    if (!rc)
        rc = ct__audit(db, "export", region, n, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = ct__subdict_number(db->subs, rows[i].sub, rows[i].msisdn, err);
    if (!rc && n)
        qsort(rows, n, sizeof *rows, xrow_cmp);
    for (size_t i = 0; !rc && i < n; i++) {
        const xrow *r = &rows[i];
        ct_export_row e = {r->msisdn,  r->case_id, region,    r->exposure,
                           r->first,   r->last,    r->qend,   r->state,
                           r->updated, r->p_contact, r->near_s, r->level};
        if (fn(ud, &e))
            break;
    }
    ct__free(rows);
    sqlite3_close(sql);
    return rc;
}
