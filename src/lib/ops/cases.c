/*
 * cases.c — the case registry (SPEC 3.3) in SQLite.
 *
 * A case names its subscriber by dense id, never by number; the number is
 * in the vault like every other. case_id is unique: a row identical to the
 * registered case is a duplicate, a row that differs is rejected (a case
 * is corrected deliberately, not by a stray second row). One transaction
 * per file; new subscribers are made durable before the transaction that
 * refers to them commits. This file owns the table: the trace, runs,
 * check and stats read it through cases.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cases.h"
#include "celltrace_cluster.h"
#include "csv.h"
#include "db.h"
#include "error.h"
#include "rejects.h"
#include "textparse.h"
#include "sqlvfs.h"

typedef struct case_row {
    char case_id[CT_ID_MAX + 1];
    uint64_t num;
    char digits[16];
    int64_t onset, isolated;
    int has_isolated;
    char region[CT_REGION_MAX + 1];
} case_row;

typedef struct case_cols {
    int case_id, msisdn, onset, isolated, region;
} case_cols;

static int valid_text(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max || s[0] == ' ' || s[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Validates text fields into a row; returns NULL or the reason. */
static const char *parse_case(const char *id, size_t id_len, const char *msisdn, size_t m_len,
                              const char *onset, size_t o_len, const char *iso, size_t i_len,
                              const char *region, size_t r_len, case_row *r, const char **column)
{
    memset(r, 0, sizeof *r);
    *column = "case_id";
    if (!id_len)
        return "missing case_id";
    if (!valid_text(id, id_len, CT_ID_MAX))
        return "case_id must be 1-64 characters without control characters or edge spaces";
    memcpy(r->case_id, id, id_len);
    *column = "msisdn";
    if (!m_len)
        return "missing msisdn";
    if (ct__parse_msisdn(msisdn, m_len, &r->num, r->digits))
        return "invalid phone number (7-15 digits, not starting with 0)";
    *column = "onset";
    if (!o_len)
        return "missing onset";
    if (ct__parse_time(onset, o_len, 1, &r->onset))
        return "invalid onset date or time";
    *column = "isolated";
    if (i_len) {
        if (ct__parse_time(iso, i_len, 1, &r->isolated))
            return "invalid isolated date or time";
        r->has_isolated = 1;
    }
    *column = "region";
    if (r_len) {
        if (!valid_text(region, r_len, CT_REGION_MAX))
            return "region must be 1-32 characters";
        memcpy(r->region, region, r_len);
    }
    *column = NULL;
    return NULL;
}

/* Inserts the case, or says why not: 0 stored, 1 duplicate, 2 conflict. */
static ct_code insert_case(ct_db *db, const case_row *r, uint32_t sub, int *outcome, ct_err *err)
{
    sqlite3 *sql = ct__catalog_db(db->cat);
    sqlite3_stmt *st = NULL;
    ct_code rc = CT_OK;
    *outcome = 0;
    if (sqlite3_prepare_v2(sql, "SELECT subscriber, onset, isolated, region FROM cases WHERE case_id=?", -1, &st, NULL))
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    sqlite3_bind_text(st, 1, r->case_id, -1, SQLITE_STATIC);
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        const char *reg = (const char *)sqlite3_column_text(st, 3);
        int same = (uint32_t)sqlite3_column_int64(st, 0) == sub && sqlite3_column_int64(st, 1) == r->onset &&
                   (sqlite3_column_type(st, 2) == SQLITE_NULL) == !r->has_isolated &&
                   (!r->has_isolated || sqlite3_column_int64(st, 2) == r->isolated) &&
                   strcmp(reg ? reg : "", r->region) == 0;
        *outcome = same ? 1 : 2;
    }
    sqlite3_finalize(st);
    if (rc || *outcome)
        return rc;
    if (sqlite3_prepare_v2(sql, "INSERT INTO cases(case_id, subscriber, onset, isolated, region, added) VALUES(?,?,?,?,?,?)", -1, &st, NULL))
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    sqlite3_bind_text(st, 1, r->case_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, sub);
    sqlite3_bind_int64(st, 3, r->onset);
    if (r->has_isolated)
        sqlite3_bind_int64(st, 4, r->isolated);
    else
        sqlite3_bind_null(st, 4);
    if (r->region[0])
        sqlite3_bind_text(st, 5, r->region, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    sqlite3_finalize(st);
    return rc;
}

/* A cluster's cases import reads every row on every shard, in the same
 * order: the shard of each case_id's first good row in the file, kept by
 * every shard alike (open addressing on the id's FNV-1a hash). */
typedef struct first_shard {
    char (*ids)[CT_ID_MAX + 1];
    uint32_t *shard;
    size_t cap, n;
} first_shard;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot of id: its entry, or the empty slot where it goes. */
static size_t first_slot(const first_shard *f, const char *id)
{
    size_t k = (size_t)fnv1a(id) & (f->cap - 1);
    while (f->ids[k][0] && strcmp(f->ids[k], id) != 0)
        k = (k + 1) & (f->cap - 1);
    return k;
}

/* The shard of id's first good row, noting `shard` when id is new. */
static uint32_t first_shard_of(first_shard *f, const char *id, uint32_t shard)
{
    if ((f->n + 1) * 2 > f->cap) {
        first_shard old = *f;
        f->cap = old.cap ? old.cap * 2 : 256;
        f->ids = ct__calloc(f->cap, sizeof *f->ids);
        f->shard = ct__calloc(f->cap, sizeof *f->shard);
        for (size_t i = 0; i < old.cap; i++)
            if (old.ids[i][0]) {
                size_t k = first_slot(f, old.ids[i]);
                memcpy(f->ids[k], old.ids[i], sizeof f->ids[k]);
                f->shard[k] = old.shard[i];
            }
        ct__free(old.ids);
        ct__free(old.shard);
    }
    size_t k = first_slot(f, id);
    if (!f->ids[k][0]) {
        snprintf(f->ids[k], sizeof f->ids[k], "%s", id);
        f->shard[k] = shard;
        f->n++;
    }
    return f->shard[k];
}

/* In a cluster's shard: is the row (reason: it cannot be read) this
 * shard's? A row whose case_id the cluster already holds, or an earlier
 * row of the file gave, in another shard is its own shard's, to reject as
 * one machine does. */
static int row_is_here(const ct_import_opts *o, first_shard *first, const char **reason,
                       const char **column, const case_row *r)
{
    if (!o || o->n_shards < 2)
        return 1;
    if (*reason)
        return o->shard == 0;
    uint32_t mine = ct_shard_of_number(r->digits, o->n_shards);
    uint32_t held = o->case_shard ? o->case_shard(o->case_shard_ud, r->case_id) : UINT32_MAX;
    uint32_t shard = held != UINT32_MAX ? held : first_shard_of(first, r->case_id, mine);
    if (shard != mine) { /* another number: one machine would say so */
        *reason = "case_id already registered with different values";
        *column = "case_id";
    }
    return mine == o->shard;
}

static ct_code import_rows(ct_db *db, ct_csv *csv, const case_cols *k, ct_rejects *rej,
                           const ct_import_opts *opts, first_shard *first, ct_import_summary *sum,
                           ct_err *err)
{
    for (;;) {
        const char *reason = NULL, *column = NULL;
        int got = ct__csv_next(csv, &reason, err);
        if (got == CT_CSV_EOF)
            return CT_OK;
        if (got < 0)
            return err ? err->code : CT_EIO;
        sum->rows_read++;
        size_t l[5];
        const char *f[5];
        const int idx[5] = {k->case_id, k->msisdn, k->onset, k->isolated, k->region};
        for (int i = 0; i < 5; i++)
            f[i] = ct__csv_field(csv, idx[i], &l[i]);
        case_row r;
        uint32_t sub = 0;
        int outcome = 0;
        ct_code rc = CT_OK;
        if (got == CT_CSV_ROW)
            reason = parse_case(f[0], l[0], f[1], l[1], f[2], l[2], f[3], l[3], f[4], l[4], &r, &column);
        const char *parsed = reason;
        if (!row_is_here(opts, first, &reason, &column, &r))
            continue;
        if (reason && !parsed) /* one machine interns the number, then rejects the case */
            rc = ct__subdict_intern(db->subs, r.num, r.digits, &sub, err);
        if (rc)
            return rc;
        if (!reason) {
            rc = ct__subdict_intern(db->subs, r.num, r.digits, &sub, err);
            if (!rc)
                rc = insert_case(db, &r, sub, &outcome, err);
            if (rc)
                return rc;
            if (outcome == 2) {
                reason = "case_id already registered with different values";
                column = "case_id";
            }
        }
        if (reason) {
            sum->rejected++;
            rc = ct__rejects_add(rej, ct__csv_name(csv), ct__csv_line(csv), column, reason, f[1], l[1], err);
        } else if (outcome == 1) {
            sum->duplicates++;
        } else {
            sum->stored++;
        }
        if (rc)
            return rc;
    }
}

static ct_code case_columns(ct_csv *csv, case_cols *k, ct_err *err)
{
    static const char *const names[] = {"case_id", "msisdn", "onset", "isolated", "region"};
    int c[5];
    ct_code rc = ct__csv_columns(csv, names, 5, 3, c, err);
    *k = (case_cols){c[0], c[1], c[2], c[3], c[4]};
    return rc;
}

ct_code ct_cases_import(ct_db *db, const char *path, const ct_import_opts *opts,
                        ct_import_summary *sum, ct_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "the data directory is open read-only");
    ct_csv *csv = NULL;
    case_cols k;
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    if (rc)
        return rc;
    if ((rc = case_columns(csv, &k, err)) != CT_OK || (rc = ct__catalog_begin(db->cat, err)) != CT_OK) {
        ct__csv_close(csv);
        return rc;
    }
    ct_rejects *rej = ct__rejects_new(db->dir, opts ? opts->rejects_path : NULL, path);
    first_shard first = {NULL, NULL, 0, 0};
    rc = import_rows(db, csv, &k, rej, opts, &first, sum, err);
    ct__free(first.ids);
    ct__free(first.shard);
    if (!rc)
        rc = ct__subdict_flush(db->subs, err); /* ids durable before they are named */
    if (!rc)
        rc = ct__rejects_close(rej, sum->rejects_path, sizeof sum->rejects_path, err);
    else
        ct__rejects_close(rej, NULL, 0, NULL);
    if (!rc)
        rc = ct__catalog_commit(db->cat, err);
    if (rc)
        ct__catalog_rollback(db->cat);
    ct__csv_close(csv);
    return rc;
}

static size_t len_of(const char *s)
{
    return s ? strlen(s) : 0;
}

ct_code ct_case_add(ct_db *db, const char *case_id, const char *msisdn, const char *onset,
                    const char *isolated, const char *region, ct_err *err)
{
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "the data directory is open read-only");
    case_row r;
    const char *column = NULL;
    const char *reason = parse_case(case_id, len_of(case_id), msisdn, len_of(msisdn), onset, len_of(onset),
                                    isolated, len_of(isolated), region, len_of(region), &r, &column);
    if (reason)
        return ct__fail(err, CT_EINVAL, "%s: %s", column, reason);
    uint32_t sub;
    int outcome = 0;
    ct_code rc = ct__catalog_begin(db->cat, err);
    if (!rc)
        rc = ct__subdict_intern(db->subs, r.num, r.digits, &sub, err);
    if (!rc)
        rc = insert_case(db, &r, sub, &outcome, err);
    if (!rc && outcome == 2)
        rc = ct__fail(err, CT_EEXIST, "case %s is already registered with different values", r.case_id);
    if (!rc)
        rc = ct__subdict_flush(db->subs, err);
    if (!rc)
        rc = ct__catalog_commit(db->cat, err);
    if (rc)
        ct__catalog_rollback(db->cat);
    return rc;
}

ct_code ct_case_ids(ct_db *db, ct_case_id_fn fn, void *ud, ct_err *err)
{
    sqlite3 *sql = ct__catalog_db(db->cat);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sql, "SELECT case_id FROM cases ORDER BY case_id", -1, &st, NULL))
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    ct_code rc = CT_OK;
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        if (fn(ud, (const char *)sqlite3_column_text(st, 0)) != 0)
            break;
    sqlite3_finalize(st);
    return rc;
}

ct_code ct_cases_list(ct_db *db, ct_case_fn fn, void *ud, ct_err *err)
{
    sqlite3 *sql = ct__catalog_db(db->cat);
    sqlite3_stmt *st = NULL;
    ct_code rc = CT_OK;
    uint64_t n = 0;
    /* audited before any number is read: a read that cannot be audited
     * must not happen (it counts the cases it is about to show) */
    if (sqlite3_prepare_v2(sql, "SELECT count(*) FROM cases", -1, &st, NULL))
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (!rc)
        rc = ct__audit(db, "cases list", NULL, n, err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(sql, "SELECT case_id, subscriber, onset, isolated, region FROM cases ORDER BY case_id", -1, &st, NULL))
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    while (rc == CT_OK && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        ct_case c;
        memset(&c, 0, sizeof c);
        snprintf(c.case_id, sizeof c.case_id, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = ct__subdict_number(db->subs, (uint32_t)sqlite3_column_int64(st, 1), c.msisdn, err);
        c.onset = sqlite3_column_int64(st, 2);
        c.has_isolated = sqlite3_column_type(st, 3) != SQLITE_NULL;
        c.isolated = sqlite3_column_int64(st, 3);
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            snprintf(c.region, sizeof c.region, "%s", (const char *)sqlite3_column_text(st, 4));
        if (!rc && fn(ud, &c) != 0)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- reads for the rest of the library (cases.h) ------------------------------------- */

#define CASE_COLUMNS "case_id, subscriber, onset, isolated, region"

static void row_of(sqlite3_stmt *st, ct__case_row *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->case_id, sizeof r->case_id, "%s", (const char *)sqlite3_column_text(st, 0));
    r->sub = (uint32_t)sqlite3_column_int64(st, 1);
    r->onset = sqlite3_column_int64(st, 2);
    r->has_isolated = sqlite3_column_type(st, 3) != SQLITE_NULL;
    r->isolated = sqlite3_column_int64(st, 3);
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        snprintf(r->region, sizeof r->region, "%s", (const char *)sqlite3_column_text(st, 4));
}

static ct_code prepare(ct_db *db, const char *text, sqlite3_stmt **st, ct_err *err)
{
    sqlite3 *sql = ct__catalog_db(db->cat);
    if (sqlite3_prepare_v2(sql, text, -1, st, NULL) != SQLITE_OK)
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    return CT_OK;
}

ct_code ct__case_get(ct_db *db, const char *case_id, ct__case_row *row, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = prepare(db, "SELECT " CASE_COLUMNS " FROM cases WHERE case_id=?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_TRANSIENT);
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW)
        row_of(st, row);
    else if (!rc)
        rc = ct__fail(err, CT_ENOTFOUND, "no case with case_id %s", case_id);
    sqlite3_finalize(st);
    return rc;
}

#define CASES_CHOSEN                                                                          \
    " FROM cases WHERE ?1 = '' OR region = ?1 OR case_id IN (SELECT value FROM json_each(?2))"

ct_code ct__cases_select(ct_db *db, const char *region, const char *also_ids, size_t offset,
                         size_t limit, ct__case_row **rows, size_t *n, uint64_t *total,
                         ct_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *rows = NULL;
    *n = 0;
    *total = 0;
    ct_code rc = prepare(db, "SELECT count(*)" CASES_CHOSEN, &st, err);
    for (int pass = 0; !rc && pass < 2; pass++) {
        sqlite3_bind_text(st, 1, region, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, also_ids ? also_ids : "[]", -1, SQLITE_TRANSIENT);
        if (pass == 1) {
            sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : -1);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)offset);
        }
        while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
            if (pass == 0) {
                *total = (uint64_t)sqlite3_column_int64(st, 0);
                continue;
            }
            CT_GROW(*rows, *n + 1, cap);
            row_of(st, &(*rows)[(*n)++]);
        }
        sqlite3_finalize(st);
        st = NULL;
        if (!rc && pass == 0)
            rc = prepare(db, "SELECT " CASE_COLUMNS CASES_CHOSEN
                             " ORDER BY case_id LIMIT ?3 OFFSET ?4", &st, err);
    }
    if (rc) {
        ct__free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

ct_code ct__cases_by_region(ct_db *db, int64_t from, int64_t to,
                            void (*fn)(void *ud, const char *region, uint64_t n), void *ud,
                            ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = prepare(db, "SELECT coalesce(region, ''), count(*) FROM cases"
                             " WHERE onset >= ?1 AND onset < ?2 GROUP BY 1", &st, err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int64(st, 2, to);
    }
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        fn(ud, (const char *)sqlite3_column_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc;
}

ct_code ct__cases_all(ct_db *db, ct__case_row **rows, size_t *n, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *rows = NULL;
    *n = 0;
    ct_code rc = prepare(db, "SELECT " CASE_COLUMNS " FROM cases ORDER BY case_id", &st, err);
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        CT_GROW(*rows, *n + 1, cap);
        row_of(st, &(*rows)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (rc) {
        ct__free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

ct_code ct__cases_count(ct_db *db, uint64_t *n, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    *n = 0;
    ct_code rc = prepare(db, "SELECT count(*) FROM cases", &st, err);
    if (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

ct_code ct__cases_dangling(ct_db *db, uint32_t n_subs,
                           void (*fn)(void *ud, const char *case_id, int64_t sub), void *ud,
                           ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = prepare(db, "SELECT case_id, subscriber FROM cases WHERE subscriber < 0 OR "
                             "subscriber >= ?",
                         &st, err);
    if (!rc)
        sqlite3_bind_int64(st, 1, n_subs);
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        fn(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc;
}

ct_code ct_cases_unnumbered(ct_db *db, ct_case **out, size_t *n, ct_err *err)
{
    ct__case_row *rows = NULL;
    *out = NULL;
    *n = 0;
    ct_code rc = ct__cases_all(db, &rows, n, err);
    if (rc)
        return rc;
    *out = calloc(*n + 1, sizeof **out);
    if (!*out) {
        ct__free(rows);
        *n = 0;
        return ct__fail(err, CT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < *n; i++) {
        ct_case *c = &(*out)[i];
        snprintf(c->case_id, sizeof c->case_id, "%s", rows[i].case_id);
        snprintf(c->region, sizeof c->region, "%s", rows[i].region);
        c->onset = rows[i].onset;
        c->isolated = rows[i].isolated;
        c->has_isolated = rows[i].has_isolated;
    }
    ct__free(rows);
    return CT_OK;
}
