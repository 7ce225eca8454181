/*
 * oversight.c — the weekly numbers for an oversight body, per region
 * (issue 12, item 6; docs/API.md): cases, contacts by level, SMS sent and
 * delivered, appeals filed, decided in time, upheld and overdue, reads of
 * personal data per user, and what retention deleted. Counts only: no
 * number, no case id, so the auditor role may read them.
 *
 * Sources: the cases, nt_contacts, nt_outbox and nt_appeals tables, and
 * the audit log (who read how many records, and "purge retention"). The
 * week is an ISO week in the `timezone` setting.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cases.h"
#include "celltrace_notify.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "notifydb.h"
#include "sqlvfs.h"
#include "textparse.h"
#include "tzone.h"

/* ---- the week ---------------------------------------------------------------------- */

static int64_t weekday_of(int64_t days) /* Monday 0 ... Sunday 6 */
{
    return ((days + 3) % 7 + 7) % 7;
}

static int64_t monday_of_week1(int64_t year)
{
    int64_t jan4 = ct__days_from_civil(year, 1, 4);
    return jan4 - weekday_of(jan4);
}

/* "YYYY-Www" to the day number of its Monday; -1 when malformed or absent. */
static int64_t parse_week(const char *s, int64_t *year, int *week)
{
    char tail;
    long long y;
    int w;
    if (strlen(s) != 8 || sscanf(s, "%4lld-W%2d%c", &y, &w, &tail) != 2 || s[5] != 'W' ||
        y < 1970 || y > 9999 || w < 1 || w > 53)
        return -1;
    int64_t monday = monday_of_week1(y) + 7 * (int64_t)(w - 1);
    int64_t yy;
    unsigned m, d;
    ct__civil_from_days(monday + 3, &yy, &m, &d); /* a week belongs to its Thursday's year */
    if (yy != y)
        return -1;
    *year = y;
    *week = w;
    return monday;
}

/* The ISO week holding local day `days`: its Monday. */
static int64_t week_of_day(int64_t days, int64_t *year, int *week)
{
    int64_t monday = days - weekday_of(days), yy;
    unsigned m, d;
    ct__civil_from_days(monday + 3, &yy, &m, &d);
    *year = yy;
    *week = (int)((monday - monday_of_week1(yy)) / 7) + 1;
    return monday;
}

static int64_t local_midnight(const char *zone, int64_t days)
{
    int64_t t = days * 86400;
    return t - ct__tz_offset(zone, t);
}

/* ---- accumulating ------------------------------------------------------------------ */

static ct_oversight_region *region_slot(ct_oversight *o, size_t *cap, const char *name)
{
    const char *r = name && *name ? name : "UNKNOWN";
    for (size_t i = 0; i < o->n_regions; i++)
        if (!strcmp(o->regions[i].region, r))
            return &o->regions[i];
    CT_GROW(o->regions, o->n_regions + 1, *cap);
    ct_oversight_region *g = &o->regions[o->n_regions++];
    memset(g, 0, sizeof *g);
    snprintf(g->region, sizeof g->region, "%s", r);
    return g;
}

typedef struct count_query {
    const char *sql;
    size_t field; /* offsetof the counter; for contacts, 0 = by level */
} count_query;

#define FIELD(f) offsetof(ct_oversight_region, f)

static const count_query QUERIES[] = {
    {"SELECT home_region, count(*), level FROM nt_contacts WHERE found_at >= ?1 AND found_at < ?2"
     " GROUP BY 1, 3",
     0},
    {"SELECT region, count(*) FROM nt_outbox WHERE sent_at >= ?1 AND sent_at < ?2 GROUP BY 1",
     FIELD(sms_sent)},
    {"SELECT region, count(*) FROM nt_outbox WHERE state = 'delivered' AND done_at >= ?1"
     " AND done_at < ?2 GROUP BY 1",
     FIELD(sms_delivered)},
    {"SELECT region, count(*) FROM nt_appeals WHERE filed_at >= ?1 AND filed_at < ?2 GROUP BY 1",
     FIELD(appeals_filed)},
    {"SELECT region, count(*) FROM nt_appeals WHERE decided_at >= ?1 AND decided_at < ?2"
     " GROUP BY 1",
     FIELD(appeals_decided)},
    {"SELECT region, count(*) FROM nt_appeals WHERE decided_at >= ?1 AND decided_at < ?2"
     " AND decided_at <= deadline GROUP BY 1",
     FIELD(appeals_decided_in_time)},
    {"SELECT region, count(*) FROM nt_appeals WHERE decided_at >= ?1 AND decided_at < ?2"
     " AND state = 'upheld' GROUP BY 1",
     FIELD(appeals_upheld)},
    {"SELECT region, count(*) FROM nt_appeals WHERE deadline >= ?1 AND deadline < ?2"
     " AND ((decided_at = 0 AND ?3 > deadline) OR decided_at > deadline) GROUP BY 1",
     FIELD(appeals_overdue)},
};

typedef struct cases_ctx {
    ct_oversight *o;
    size_t *cap;
} cases_ctx;

static void add_cases(void *ud, const char *region, uint64_t n)
{
    cases_ctx *x = ud;
    region_slot(x->o, x->cap, region)->cases += n;
}

/* The cases (cases.c owns their table), then the counts of the queries. */
static ct_code run_counts(ct_db *db, sqlite3 *sql, ct_oversight *o, size_t *cap, int64_t now,
                          ct_err *err)
{
    cases_ctx cx = {o, cap};
    ct_code rc = ct__cases_by_region(db, o->from, o->to, add_cases, &cx, err);
    for (size_t q = 0; !rc && q < sizeof QUERIES / sizeof *QUERIES; q++) {
        sqlite3_stmt *st = NULL;
        rc = ct__ndb_prepare(sql, QUERIES[q].sql, &st, err);
        if (rc)
            break;
        sqlite3_bind_int64(st, 1, o->from);
        sqlite3_bind_int64(st, 2, o->to);
        if (sqlite3_bind_parameter_count(st) >= 3)
            sqlite3_bind_int64(st, 3, now);
        while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
            ct_oversight_region *g =
                region_slot(o, cap, (const char *)sqlite3_column_text(st, 0));
            uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
            if (QUERIES[q].field) {
                *(uint64_t *)((char *)g + QUERIES[q].field) += n;
                continue;
            }
            const char *level = (const char *)sqlite3_column_text(st, 2);
            g->contacts += n;
            if (level && !strcmp(level, "quarantine"))
                g->quarantine += n;
            else if (level && !strcmp(level, "test"))
                g->test += n;
            else
                g->none += n;
        }
        sqlite3_finalize(st);
    }
    return rc;
}

typedef struct audit_ctx {
    ct_oversight *o;
    size_t cap;
    char to[21]; /* the week's end as the log writes times */
} audit_ctx;

static int audit_record(void *ud, const char *line, size_t len)
{
    audit_ctx *x = ud;
    ct_oversight *o = x->o;
    static const char TAG[] = "{\"time\":\"";
    if (len > sizeof TAG - 1 + 20 && !memcmp(line, TAG, sizeof TAG - 1) &&
        memcmp(line + sizeof TAG - 1, x->to, 20) >= 0)
        return 1; /* past the week: the log is in time order */
    json_t *rec = json_loadb(line, len, 0, NULL);
    const char *when = json_string_value(json_object_get(rec, "time"));
    const char *who = json_string_value(json_object_get(rec, "who"));
    const char *what = json_string_value(json_object_get(rec, "what"));
    json_t *records = json_object_get(rec, "records");
    int64_t t;
    if (when && who && what && json_is_integer(records) &&
        ct__parse_time(when, strlen(when), 0, &t) == 0 && t >= o->from && t < o->to) {
        uint64_t n = (uint64_t)json_integer_value(records);
        ct_oversight_reader *r = NULL;
        for (size_t i = 0; i < o->n_readers && !r; i++)
            if (!strcmp(o->readers[i].who, who))
                r = &o->readers[i];
        if (!r) {
            CT_GROW(o->readers, o->n_readers + 1, x->cap);
            r = &o->readers[o->n_readers++];
            memset(r, 0, sizeof *r);
            snprintf(r->who, sizeof r->who, "%s", who);
        }
        r->reads++;
        r->records += n;
        if (!strcmp(what, "purge retention")) {
            o->retention_purges++;
            o->retention_events_deleted += n;
        }
    }
    json_decref(rec);
    return 0;
}

static int by_region(const void *a, const void *b)
{
    return strcmp(((const ct_oversight_region *)a)->region,
                  ((const ct_oversight_region *)b)->region);
}

static int by_who(const void *a, const void *b)
{
    return strcmp(((const ct_oversight_reader *)a)->who, ((const ct_oversight_reader *)b)->who);
}

ct_code ct_oversight_get(ct_db *db, const char *week, ct_oversight *out, ct_err *err)
{
    memset(out, 0, sizeof *out);
    ct_conf conf;
    ct_code rc = ct__conf_load(db->dir, &conf, err);
    if (rc)
        return rc;
    int64_t now = (int64_t)time(NULL), year, monday;
    int w;
    if (week) {
        monday = parse_week(week, &year, &w);
        if (monday < 0)
            return ct__fail(err, CT_EINVAL, "a week is YYYY-Www, such as 2020-W13: %s", week);
    } else {
        int64_t local = now + ct__tz_offset(conf.timezone, now);
        monday = week_of_day(local >= 0 ? local / 86400 : (local - 86399) / 86400, &year, &w);
    }
    snprintf(out->week, sizeof out->week, "%04lld-W%02d", (long long)year, w);
    out->from = local_midnight(conf.timezone, monday);
    out->to = local_midnight(conf.timezone, monday + 7);
    sqlite3 *sql = NULL;
    size_t cap = 0;
    rc = ct__ndb_open(db->dir, &sql, err);
    if (!rc)
        rc = run_counts(db, sql, out, &cap, now, err);
    sqlite3_close(sql);
    audit_ctx x = {out, 0, ""};
    ct__format_time(out->to, x.to);
    if (!rc)
        rc = ct__audit_each(db->dir, out->from, 0, audit_record, &x, err);
    if (rc) {
        ct_oversight_free(out);
        return rc;
    }
    if (out->n_regions)
        qsort(out->regions, out->n_regions, sizeof *out->regions, by_region);
    if (out->n_readers)
        qsort(out->readers, out->n_readers, sizeof *out->readers, by_who);
    return CT_OK;
}

void ct_oversight_free(ct_oversight *o)
{
    ct__free(o->regions);
    ct__free(o->readers);
    o->regions = NULL;
    o->readers = NULL;
    o->n_regions = o->n_readers = 0;
}
