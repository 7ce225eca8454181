/*
 * runs.c — `celltrace run`: trace what changed, store contacts, queue SMS.
 *
 * A case needs tracing when it has no run yet, or when the store version
 * of its window (ct_data_version over [W.start - max_presence, W.end))
 * or the parameter signature differs from the one its last run recorded.
 * The signature holds the SPEC 4 parameters, the risk model's version,
 * both effective thresholds (risk.test, risk.quarantine) and the time
 * zone (night hours are evidence of the model), so changing any of them
 * re-traces and re-levels every case at the next run. One SQLite
 * transaction holds the whole run: the cases are traced on every CPU
 * (ct_trace_many; scored, every level kept, no number read) and each
 * replaces its stored contacts (with p_contact, expected_near_s and level)
 * as it comes; then the run is audited, the notifications queued and the
 * runs recorded. A crash or a failure before COMMIT leaves the previous
 * state, so the next run does the same work again; after COMMIT the runs
 * say there is nothing to do. Running twice therefore queues nothing new.
 *
 * Notifications are per subscriber, not per contact, over all cases, in
 * two steps (docs/NOTIFY.md):
 *   quarantine  over the subscriber's contacts at level quarantine: the
 *               quarantine ends quarantine_days after the latest last
 *               contact. One message per quarantine; an exposure that
 *               pushes the end out by a day or more queues an extension
 *               notice; one after the previous quarantine ended starts a
 *               new one (ct__notice_kind). Test invitations do not count
 *               as quarantines, so a contact moved up from test to
 *               quarantine gets its order. Key "q-<subscriber>-<end>".
 *   test        then, over its contacts at level test: an invitation when
 *               no message of any kind (the order just queued included)
 *               covers the latest of them, i.e. every message's
 *               quarantine_end is before its last contact (ct__invite_due).
 *               Its end is that last contact + quarantine_days, so a new
 *               test-level contact after it gets a new invitation. Key
 *               "t-<subscriber>-<end>".
 * Contacts at level none get nothing. An area query (ct_run_area,
 * docs/AREA.md) queues its own invitation (kind "area", key
 * "a-<subscriber>-<end>") to everyone present whom no message of any kind
 * covers yet; it never counts as a quarantine, and covers a later test
 * invitation as any message does. Nothing queued is ever withdrawn:
 * a contact whose level goes down keeps the messages it had. The outbox
 * holds each key UNIQUE, so even two runs racing cannot queue one
 * message twice.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "runs.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "area.h"
#include "cases.h"
#include "celltrace_cluster.h"
#include "celltrace_notify.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "notifydb.h"
#include "outbox.h"
#include "risk.h"
#include "textparse.h"
#include "templates.h"
#include "tzone.h"
#include "u32map.h"
#include "sqlvfs.h"

/* ---- home region ------------------------------------------------------------ */

#define MAX_REGIONS 64

typedef struct region_acc {
    const char *zone;
    int64_t max_presence, first, last;
    int has_prev;
    ct_place_event prev;
    const char *prev_region; /* the catalogue's, or "" (a point has none) */
    /* what the last event's account found again (a phone's events run in
     * the same region and day): the slot of region pointer slot_of, and
     * UTC day off_day's offset when it holds all that day (OFF_WHOLE_DAY;
     * OFF_CHANGES: it changes that day, asked at each event) */
    const char *slot_of;
    size_t slot;
    enum { OFF_UNKNOWN, OFF_WHOLE_DAY, OFF_CHANGES } off_state;
    int64_t off_day;
    long off;
    size_t n;
    char names[MAX_REGIONS][CT_REGION_MAX + 1];
    int64_t night[MAX_REGIONS], exposure[MAX_REGIONS];
} region_acc;

static size_t region_slot(region_acc *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], name) == 0)
            return i;
    if (a->n == MAX_REGIONS)
        return MAX_REGIONS;
    snprintf(a->names[a->n], sizeof a->names[0], "%s", name);
    return a->n++;
}

/* The zone's offset at t, remembered for t's UTC day when the offset is
 * the same at its first and last second (the rule of ct__tz_offset's own
 * memo, which this saves a lookup of per event). */
static long offset_at(region_acc *a, int64_t t)
{
    int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    if (a->off_state != OFF_UNKNOWN && a->off_day == day)
        return a->off_state == OFF_WHOLE_DAY ? a->off : ct__tz_offset(a->zone, t);
    long off = ct__tz_offset(a->zone, t);
    int whole = ct__tz_offset(a->zone, day * 86400) == off &&
                ct__tz_offset(a->zone, day * 86400 + 86399) == off;
    a->off_state = whole ? OFF_WHOLE_DAY : OFF_CHANGES;
    a->off_day = day;
    a->off = off;
    return off;
}

static void account(region_acc *a, int64_t from, int64_t to)
{
    if (!a->prev_region || !a->prev_region[0] || to <= from)
        return;
    if (a->prev_region != a->slot_of) {
        a->slot = region_slot(a, a->prev_region);
        a->slot_of = a->prev_region;
    }
    size_t i = a->slot;
    if (i == MAX_REGIONS)
        return;
    a->night[i] += ct__tz_night_seconds_at(offset_at(a, from), from, to);
    int64_t s = from > a->first ? from : a->first, e = to < a->last ? to : a->last;
    if (e > s)
        a->exposure[i] += e - s;
}

static int on_event(void *ud, const ct_place_event *e)
{
    region_acc *a = ud;
    if (a->has_prev) {
        int64_t end = a->prev.ts + a->max_presence;
        account(a, a->prev.ts, e->ts < end ? e->ts : end);
    }
    a->prev = *e;
    a->has_prev = 1;
    a->prev_region = e->region ? e->region : "";
    return 0;
}

static const char *best(const region_acc *a, const int64_t *score)
{
    const char *r = NULL;
    int64_t top = 0;
    for (size_t i = 0; i < a->n; i++)
        if (score[i] > top || (score[i] == top && top > 0 && strcmp(a->names[i], r) < 0)) {
            top = score[i];
            r = a->names[i];
        }
    return r;
}

ct_code ct__home_region(ct_db *db, uint32_t sub, const char *zone, int64_t max_presence_s,
                        int64_t first, int64_t last, const char *fallback, char *out,
                        ct_err *err)
{
    region_acc *a = ct__calloc(1, sizeof *a);
    a->zone = zone;
    a->max_presence = max_presence_s;
    a->first = first;
    a->last = last;
    ct_code rc = ct_subscriber_events(db, sub, 0, INT64_MAX, on_event, a, err);
    if (rc)
        goto out;
    if (a->has_prev)
        account(a, a->prev.ts, a->prev.ts + max_presence_s);
    const char *r = best(a, a->night);
    if (!r)
        r = best(a, a->exposure);
    if (!r)
        r = fallback && *fallback ? fallback : CT_REGION_UNKNOWN;
    snprintf(out, CT_REGION_MAX + 1, "%s", r);
out:
    ct__free(a);
    return rc;
}

int ct__notice_kind(int64_t prev, int64_t last, int64_t q)
{
    if (prev == 0 || prev <= last)
        return CT_MSG_FIRST;
    return q >= prev + 86400 ? CT_MSG_EXTENSION : 0;
}

int ct__invite_due(int64_t covered, int64_t last)
{
    return covered < last;
}

/* ---- the run ------------------------------------------------------------------ */

typedef struct run_case {
    char case_id[CT_ID_MAX + 1];
    char region[CT_REGION_MAX + 1];
    uint64_t version;
    const ct_contacts *contacts; /* while the case is being stored */
    /* per contact: from the worker that traced the case (homes_on_worker)
     * until store_case stores it, or run_with ends */
    char (*homes)[CT_REGION_MAX + 1];
} run_case;

/* A subscriber's night-time home, the same for every case of a run: one
 * pass over its events instead of one per (case, contact). */
typedef struct home_memo {
    uint32_t sub; /* the key (u32map.h): first */
    char region[CT_REGION_MAX + 1];
} home_memo;

/* The parameter signature: SPEC 4 parameters, model version, thresholds,
 * time zone. Longer ones are cut, which only makes them compare equal
 * more often than they should: the model version is the only free text,
 * and it is short. */
#define PARAMS_MAX 512

typedef struct run_state {
    ct_db *db;
    sqlite3 *sql;
    ct_conf conf;
    ct_params p;
    ct_risk_opts risk;
    char params[PARAMS_MAX];
    int64_t now;
    run_case *cases;
    size_t n, cap;
    ct_run_summary *sum;
    ct_u32map homes; /* home_memo by subscriber (u32map.h), under homes_lock */
    pthread_mutex_t homes_lock;
    /* the run's statements, prepared once: a run stores millions of
     * contacts and asks about each subscriber, and preparing a statement
     * costs more than running it */
    sqlite3_stmt *st_stage, *st_contact, *st_stored, *st_undone, *st_at_risk, *st_latest,
        *st_message;
    /* every subscriber of the traced cases, once, in the order their
     * contacts came (queue_all) */
    uint32_t *subs;
    size_t n_subs, subs_cap;
    ct_u32map seen;
    ct_code failed; /* store_case's, with its message in *err */
    ct_err *err;
    const ct_run_cluster *cluster; /* a cluster's shard (ct_run_shard), or NULL */
} run_state;

/* The home of contact k, read through db (a worker's handle, or the
 * run's): its night region when it has one (memoised for the run, under
 * homes_lock: workers ask at once), else the region where it met the
 * case, else the case's region. Two workers may both work out a new
 * subscriber's home; they find the same, and the first one kept stands. */
static ct_code home_of(run_state *r, ct_db *db, const ct_contact *k, const char *case_region,
                       char *out, ct_err *err)
{
    char region[CT_REGION_MAX + 1];
    pthread_mutex_lock(&r->homes_lock);
    const home_memo *m = ct__u32map_find(&r->homes, k->subscriber);
    int known = m != NULL;
    if (known)
        memcpy(region, m->region, sizeof region);
    pthread_mutex_unlock(&r->homes_lock);
    if (!known) {
        ct_code rc = ct__home_region(db, k->subscriber, r->conf.timezone, r->p.max_presence_s, 0, 0,
                                     NULL, region, err);
        if (rc)
            return rc;
        int added;
        pthread_mutex_lock(&r->homes_lock);
        home_memo *put = ct__u32map_put(&r->homes, k->subscriber, &added);
        if (added)
            memcpy(put->region, region, sizeof region);
        pthread_mutex_unlock(&r->homes_lock);
    }
    if (strcmp(region, CT_REGION_UNKNOWN) != 0) {
        snprintf(out, CT_REGION_MAX + 1, "%s", region);
        return CT_OK;
    }
    return ct__home_region(db, k->subscriber, r->conf.timezone, r->p.max_presence_s, k->first_contact,
                           k->last_contact, case_region, out, err);
}

/* The store version and parameter signature (PARAMS_MAX bytes) of the
 * case's last run; UINT64_MAX and "" when it has none. */
static ct_code last_run(run_state *r, const char *case_id, uint64_t *version, char *params,
                        ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(r->sql, "SELECT data_version, params FROM nt_runs WHERE case_id=?",
                                 &st, err);
    *version = UINT64_MAX;
    params[0] = '\0';
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_TRANSIENT);
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        *version = (uint64_t)sqlite3_column_int64(st, 0);
        snprintf(params, PARAMS_MAX, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return rc;
}

/* The homes of case c's contacts cs, into c->homes (NULL again on failure). */
static ct_code homes_of(run_state *r, ct_db *db, run_case *c, const ct_contacts *cs, ct_err *err)
{
    c->homes = ct__calloc(cs->n + 1, sizeof *c->homes);
    for (size_t i = 0; i < cs->n; i++) {
        ct_code rc = home_of(r, db, &cs->items[i], c->region, c->homes[i], err);
        if (rc) {
            ct__free(c->homes);
            c->homes = NULL;
            return rc;
        }
    }
    return CT_OK;
}

/* ct_trace_many's after_trace: the homes of case `index`, on the worker
 * that traced it (a third of a run's time at 100k, where the calling
 * thread, which stores, was the one everything waited for). */
static ct_code homes_on_worker(void *ud, ct_db *db, size_t index, const ct_contacts *cs,
                               ct_err *err)
{
    run_state *r = ud;
    return homes_of(r, db, &r->cases[index], cs, err);
}

/* Adds the case to r->cases when its data or the parameters changed
 * since its last run. */
/* Does case `row` need tracing here: no run yet, or its window's data or
 * the parameter signature changed since (*version: the window's now)? */
static ct_code needs_run(run_state *r, const ct__case_row *row, uint64_t *version, int *need,
                         ct_err *err)
{
    int64_t w_start = row->onset - r->p.infectious_before_s;
    int64_t w_end = row->has_isolated ? row->isolated : row->onset + r->p.infectious_after_s;
    uint64_t prev;
    char prev_params[PARAMS_MAX];
    ct_code rc = ct_data_version(r->db, w_start - r->p.max_presence_s, w_end, version, err);
    if (!rc)
        rc = last_run(r, row->case_id, &prev, prev_params, err);
    *need = !rc && !(prev == *version && strcmp(prev_params, r->params) == 0);
    return rc;
}

static void add_case(run_state *r, const ct__case_row *row, uint64_t version)
{
    CT_GROW(r->cases, r->n + 1, r->cap);
    run_case *c = &r->cases[r->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->case_id, sizeof c->case_id, "%s", row->case_id);
    snprintf(c->region, sizeof c->region, "%s", row->region);
    c->version = version;
}

/* A cluster's shard: every case of the cluster (from the cluster), traced
 * when any shard needs it (a shard's data of the window changed, or it
 * has no run of the case yet), so that every shard traces the same cases
 * in the same order. Each shard records its own window's version. Every
 * shard takes part in the vote, also one that failed before (`prior`):
 * the vote's last flag says a shard failed, and then every shard fails. */
static ct_code select_cluster_cases(run_state *r, ct_code prior, ct_err *err)
{
    ct_case *cases = NULL;
    size_t n = 0;
    ct_code rc = r->cluster->cases(r->cluster->ud, &cases, &n, err);
    if (prior)
        rc = prior;
    unsigned char *need = ct__calloc(n + 2, 1);
    uint64_t *version = ct__calloc(n + 1, sizeof *version);
    ct__case_row *rows = ct__calloc(n + 1, sizeof *rows);
    for (size_t i = 0; i < n && !rc; i++) {
        ct__case_row *row = &rows[i];
        snprintf(row->case_id, sizeof row->case_id, "%s", cases[i].case_id);
        snprintf(row->region, sizeof row->region, "%s", cases[i].region);
        row->onset = cases[i].onset;
        row->isolated = cases[i].isolated;
        row->has_isolated = cases[i].has_isolated;
        int need_here = 0;
        rc = needs_run(r, row, &version[i], &need_here, err);
        need[i] = (unsigned char)need_here;
    }
    need[n] = rc != CT_OK;
    r->cluster->need(r->cluster->ud, need, n + 1);
    if (!rc && need[n])
        rc = ct__fail(err, CT_EIO, "another shard of the cluster failed (see its message)");
    for (size_t i = 0; i < n && !rc; i++) {
        r->sum->cases_total++;
        if (need[i])
            add_case(r, &rows[i], version[i]);
    }
    free(cases);
    ct__free(need);
    ct__free(version);
    ct__free(rows);
    return rc;
}

/* The cases to trace, into r->cases. */
static ct_code select_cases(run_state *r, ct_err *err)
{
    ct__case_row *cases = NULL;
    size_t n = 0;
    ct_code rc = ct__cases_all(r->db, &cases, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        r->sum->cases_total++;
        uint64_t version;
        int need = 0;
        rc = needs_run(r, &cases[i], &version, &need, err);
        if (!rc && need)
            add_case(r, &cases[i], version);
    }
    ct__free(cases);
    return rc;
}

/* ---- storing ------------------------------------------------------------------ */

/* An upheld appeal lifts its contact as it was then: that contact, and the
 * messages about it, count for nothing any more (neither as a contact to
 * notify nor as a quarantine that covers a later one). `t` is a row of
 * nt_contacts or nt_outbox: both have case_id, subscriber, last_contact. */
#define NOT_LIFTED(t)                                                                      \
    "NOT EXISTS (SELECT 1 FROM nt_appeals a WHERE a.case_id = " t ".case_id"              \
    " AND a.subscriber = " t ".subscriber AND a.state = 'upheld'"                         \
    " AND a.last_contact >= " t ".last_contact)"

/* Prepares the run's statements (finalized by finalize_store). */
static ct_code prepare_store(run_state *r, ct_err *err)
{
    /* One case's contacts are staged in a temporary table, then go in
     * with one statement: a statement that fires triggers keeps a journal
     * of the pages it changes, so one per contact would copy every page
     * it touches again for each contact. */
    static const char *const stage =
        "INSERT INTO temp.nt_stage VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";
    static const char *const upsert =
        "INSERT INTO nt_contacts(case_id, subscriber, exposure_s, first_contact, last_contact,"
        " min_radius_m, home_region, quarantine_end, found_at, updated_at, p_contact,"
        " expected_near_s, level, found_day) SELECT ?1, subscriber, exposure_s, first_contact,"
        " last_contact, min_radius_m, home_region, quarantine_end, ?2, ?2, p_contact,"
        " expected_near_s, level, ?3 FROM temp.nt_stage WHERE true"
        " ON CONFLICT(case_id, subscriber) DO UPDATE SET updated_at = CASE WHEN"
        "  exposure_s IS NOT excluded.exposure_s OR first_contact IS NOT excluded.first_contact"
        "  OR last_contact IS NOT excluded.last_contact OR home_region IS NOT excluded.home_region"
        "  OR p_contact IS NOT excluded.p_contact OR expected_near_s IS NOT"
        "  excluded.expected_near_s OR level IS NOT excluded.level"
        "  THEN excluded.updated_at ELSE updated_at END,"
        " exposure_s = excluded.exposure_s, first_contact = excluded.first_contact,"
        " last_contact = excluded.last_contact, min_radius_m = excluded.min_radius_m,"
        " home_region = excluded.home_region, quarantine_end = excluded.quarantine_end,"
        " p_contact = excluded.p_contact, expected_near_s = excluded.expected_near_s,"
        " level = excluded.level";
    /* latest_of's question; `level<>'none'` says what level=?2 always
     * is, in the words of the partial index nt_contacts_sub (notifydb.c),
     * which SQLite uses only then */
    static const char *const latest =
        "SELECT case_id, home_region, last_contact, quarantine_end,"
        " (SELECT coalesce(max(quarantine_end), 0) FROM nt_outbox o WHERE subscriber=?1"
        "  AND (?3 = 0 OR kind IN ('new', 'extension')) AND " NOT_LIFTED("o") ")"
        " FROM nt_contacts c WHERE subscriber=?1 AND level=?2 AND level<>'none' AND "
        NOT_LIFTED("c")
        " ORDER BY quarantine_end DESC, case_id LIMIT 1";
    ct_code rc = ct__ndb_exec(r->sql, "CREATE TEMP TABLE IF NOT EXISTS nt_stage(subscriber INTEGER,"
                                      " exposure_s INTEGER, first_contact INTEGER, last_contact INTEGER,"
                                      " min_radius_m REAL, home_region TEXT, quarantine_end INTEGER,"
                                      " p_contact REAL, expected_near_s REAL, level TEXT)", err);
    if (!rc)
        rc = ct__ndb_prepare(r->sql, stage, &r->st_stage, err);
    if (!rc)
        rc = ct__ndb_prepare(r->sql, upsert, &r->st_contact, err);
    if (!rc)
        rc = ct__ndb_prepare(r->sql, "SELECT subscriber FROM nt_contacts WHERE case_id=?1"
                                     " ORDER BY subscriber", &r->st_stored, err);
    if (!rc)
        rc = ct__ndb_prepare(r->sql, "DELETE FROM nt_contacts WHERE case_id=?1 AND subscriber=?2",
                             &r->st_undone, err);
    if (!rc)
        rc = ct__ndb_prepare(r->sql, "SELECT DISTINCT subscriber FROM nt_contacts WHERE level<>'none'",
                             &r->st_at_risk, err);
    if (!rc)
        rc = ct__ndb_prepare(r->sql, latest, &r->st_latest, err);
    if (!rc)
        rc = ct__ob_add_prepare(r->sql, &r->st_message, err);
    return rc;
}

static void finalize_store(run_state *r)
{
    sqlite3_finalize(r->st_stage);
    sqlite3_finalize(r->st_contact);
    sqlite3_finalize(r->st_stored);
    sqlite3_finalize(r->st_undone);
    sqlite3_finalize(r->st_at_risk);
    sqlite3_finalize(r->st_latest);
    sqlite3_finalize(r->st_message);
    r->st_stage = r->st_contact = r->st_stored = r->st_undone = r->st_at_risk = r->st_latest = NULL;
    r->st_message = NULL;
}

/* Runs a prepared statement that returns no row, and resets it. */
static ct_code step_done(run_state *r, sqlite3_stmt *st, ct_err *err)
{
    ct_code rc = sqlite3_step(st) == SQLITE_DONE ? CT_OK : ct__ndb_fail(r->sql, err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* A contact of the case being stored, by subscriber. */
typedef struct by_sub {
    uint32_t sub, index;
} by_sub;

static int cmp_by_sub(const void *a, const void *b)
{
    const by_sub *x = a, *y = b;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* Removes the contacts an earlier run stored for the case that this trace
 * no longer finds (a new event shortened a presence). order: the new
 * contacts by subscriber. */
static ct_code drop_undone(run_state *r, const run_case *c, const by_sub *order, ct_err *err)
{
    uint32_t *gone = NULL;
    size_t n_gone = 0, cap = 0, at = 0, n = c->contacts->n;
    ct_code rc = CT_OK;
    sqlite3_stmt *st = r->st_stored;
    sqlite3_bind_text(st, 1, c->case_id, -1, SQLITE_STATIC);
    while (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        uint32_t sub = (uint32_t)sqlite3_column_int64(st, 0);
        while (at < n && order[at].sub < sub)
            at++;
        if (at == n || order[at].sub != sub) {
            CT_GROW(gone, n_gone + 1, cap);
            gone[n_gone++] = sub;
        }
    }
    sqlite3_reset(st);
    for (size_t i = 0; !rc && i < n_gone; i++) {
        sqlite3_bind_text(r->st_undone, 1, c->case_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(r->st_undone, 2, gone[i]);
        rc = step_done(r, r->st_undone, err);
    }
    ct__free(gone);
    return rc;
}

/* Stores one case's contacts. They go in by subscriber, the order of the
 * table's key. */
static ct_code store_contacts(run_state *r, const run_case *c, ct_err *err)
{
    char found_day[11]; /* the report's day (report.c) */
    ct__tz_date(r->conf.timezone, r->now, 0, found_day);
    by_sub *order = ct__malloc((c->contacts->n + 1) * sizeof *order);
    for (size_t i = 0; i < c->contacts->n; i++)
        order[i] = (by_sub){c->contacts->items[i].subscriber, (uint32_t)i};
    qsort(order, c->contacts->n, sizeof *order, cmp_by_sub);
    ct_code rc = drop_undone(r, c, order, err);
    if (!rc)
        rc = ct__ndb_exec(r->sql, "DELETE FROM temp.nt_stage", err);
    sqlite3_stmt *st = r->st_stage;
    for (size_t o = 0; !rc && o < c->contacts->n; o++) {
        const ct_contact *k = &c->contacts->items[order[o].index];
        sqlite3_bind_int64(st, 1, k->subscriber);
        sqlite3_bind_int64(st, 2, k->exposure_s);
        sqlite3_bind_int64(st, 3, k->first_contact);
        sqlite3_bind_int64(st, 4, k->last_contact);
        sqlite3_bind_double(st, 5, k->min_radius_m);
        sqlite3_bind_text(st, 6, c->homes[order[o].index], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, k->last_contact + (int64_t)r->conf.quarantine_days * 86400);
        sqlite3_bind_double(st, 8, k->p_contact);
        sqlite3_bind_double(st, 9, k->expected_near_s);
        sqlite3_bind_text(st, 10, ct_level_name(k->level), -1, SQLITE_STATIC);
        rc = step_done(r, st, err);
    }
    if (!rc) {
        sqlite3_bind_text(r->st_contact, 1, c->case_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(r->st_contact, 2, r->now);
        sqlite3_bind_text(r->st_contact, 3, found_day, -1, SQLITE_STATIC);
        rc = step_done(r, r->st_contact, err);
    }
    ct__free(order);
    return rc;
}

static ct_code record_run(run_state *r, const run_case *c, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(r->sql, "INSERT OR REPLACE INTO nt_runs VALUES(?1,?2,?3,?4)",
                                 &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, c->case_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)c->version);
    sqlite3_bind_text(st, 3, r->params, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, r->now);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ct__ndb_fail(r->sql, err);
    sqlite3_finalize(st);
    return rc;
}


/* The subscriber's latest contact at one level over all cases, and the
 * end of the latest message that counts against it. */
typedef struct latest {
    char case_id[CT_ID_MAX + 1], region[CT_REGION_MAX + 1];
    int64_t last, q, prev_q; /* q = 0: no contact at that level */
} latest;

/* The latest contact of `sub` at `level`, and in prev_q the latest
 * quarantine_end of its messages: the quarantine orders only (`new`,
 * `extension`) when quarantines_only, else of every kind, invitations
 * after an area query included. A contact an upheld appeal covers (the
 * same case, no later last contact) is left out: nobody is told again
 * what an appeal lifted. */
static ct_code latest_of(run_state *r, uint32_t sub, ct_level level, int quarantines_only,
                         latest *l, ct_err *err)
{
    sqlite3_stmt *st = r->st_latest;
    ct_code rc = CT_OK;
    memset(l, 0, sizeof *l);
    sqlite3_bind_int64(st, 1, sub);
    sqlite3_bind_text(st, 2, ct_level_name(level), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, quarantines_only);
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        snprintf(l->case_id, sizeof l->case_id, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(l->region, sizeof l->region, "%s", (const char *)sqlite3_column_text(st, 1));
        l->last = sqlite3_column_int64(st, 2);
        l->q = sqlite3_column_int64(st, 3);
        l->prev_q = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    return rc;
}

static ct_code queue_message(run_state *r, uint32_t sub, const latest *l, ct_msg_kind kind,
                             ct_err *err)
{
    int added = 0;
    ct_code rc = ct__ob_add_with(r->sql, r->st_message, &r->conf, r->now, sub, l->case_id,
                                 l->region, l->last, l->q, kind, l->q, &added, err);
    if (!rc && added)
        kind == CT_MSG_TEST || kind == CT_MSG_AREA ? r->sum->invitations++
        : kind == CT_MSG_EXTENSION ? r->sum->extensions++
                                   : r->sum->queued++;
    return rc;
}

/* The quarantine step, then the test step (see the top of this file).
 * Calling it again for the same subscriber in the same run queues nothing:
 * the messages just queued cover the same contacts. */
static ct_code queue_for(run_state *r, uint32_t sub, ct_err *err)
{
    latest l;
    ct_code rc = latest_of(r, sub, CT_LEVEL_QUARANTINE, 1, &l, err);
    if (!rc && l.q) {
        int kind = ct__notice_kind(l.prev_q, l.last, l.q);
        if (kind)
            rc = queue_message(r, sub, &l, (ct_msg_kind)kind, err);
    }
    if (!rc)
        rc = latest_of(r, sub, CT_LEVEL_TEST, 0, &l, err);
    if (!rc && l.q && ct__invite_due(l.prev_q, l.last))
        rc = queue_message(r, sub, &l, CT_MSG_TEST, err);
    return rc;
}

/* Asks queue_for about every subscriber of the traced cases, once each,
 * in the order the contacts named them: it is a question about the
 * subscriber over all its contacts, and asking it again in the same run
 * queues nothing. */
static ct_code queue_all(run_state *r, ct_err *err)
{
    ct_u32map at_risk;
    ct__u32map_init(&at_risk, sizeof(uint32_t));
    /* Most contacts are at level none in every case, and queue_for finds
     * nothing for a subscriber who has no other: one pass over the table
     * names the others, where asking per subscriber costs a lookup of
     * each of its rows. */
    ct_code rc = CT_OK;
    sqlite3_stmt *st = r->st_at_risk;
    while (ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        int added;
        ct__u32map_put(&at_risk, (uint32_t)sqlite3_column_int64(st, 0), &added);
    }
    sqlite3_reset(st);
    for (size_t i = 0; !rc && i < r->n_subs; i++)
        if (ct__u32map_find(&at_risk, r->subs[i]))
            rc = queue_for(r, r->subs[i], err);
    ct__u32map_free(&at_risk);
    return rc;
}

/* ct_trace_many hands each traced case here, in the order of r->cases,
 * while its workers trace the next ones: its contacts stored with the
 * homes its worker found (a cluster's shard finds them here), in the
 * run's transaction, its subscribers noted for queue_all. The contacts
 * are not kept: memory holds the cases in flight only. */
static int store_case(void *ud, size_t index, const ct_contacts *cs, uint64_t elapsed_ns)
{
    (void)elapsed_ns;
    run_state *r = ud;
    run_case *c = &r->cases[index];
    c->contacts = cs;
    ct_code rc = CT_OK;
    if (!c->homes) /* a cluster's shard: no worker of ours traced it */
        rc = homes_of(r, r->db, c, cs, r->err);
    if (!rc)
        rc = store_contacts(r, c, r->err);
    if (!rc) {
        r->sum->cases_traced++;
        r->sum->contacts += cs->n;
        for (size_t k = 0; k < cs->n; k++) {
            switch (cs->items[k].level) {
            case CT_LEVEL_QUARANTINE: r->sum->level_quarantine++; break;
            case CT_LEVEL_TEST: r->sum->level_test++; break;
            case CT_LEVEL_NONE: r->sum->level_none++; break;
            }
            int added;
            ct__u32map_put(&r->seen, cs->items[k].subscriber, &added);
            if (added) {
                CT_GROW(r->subs, r->n_subs + 1, r->subs_cap);
                r->subs[r->n_subs++] = cs->items[k].subscriber;
            }
        }
    }
    ct__free(c->homes);
    c->homes = NULL;
    c->contacts = NULL;
    r->failed = rc;
    return rc != CT_OK;
}

/* Workers for n cases: the CPUs this process may run on (a container's
 * or taskset's limit), at most 64, and no more than cases: each opens a
 * handle. */
static int workers_for(size_t n)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0)
        cpus = CPU_COUNT(&allowed);
    if (cpus > 64)
        cpus = 64;
    if ((size_t)cpus > n)
        cpus = (long)n;
    return cpus < 1 ? 1 : (int)cpus;
}

/* The cases of r->cases traced and stored as they come: on every CPU
 * (each worker with its own read-only handle, as `trace --all`), or on a
 * cluster, where every shard traces together or none does (`prior`: this
 * shard's state before tracing; ct_run_cluster). */
static ct_code trace_and_store(run_state *r, ct_code prior, ct_err *err)
{
    if (prior && !r->cluster)
        return prior;
    const char **ids = ct__calloc(r->n + 1, sizeof *ids);
    for (size_t i = 0; i < r->n; i++)
        ids[i] = r->cases[i].case_id;
    r->err = err;
    ct_code rc;
    if (r->cluster) {
        rc = r->cluster->trace(r->cluster->ud, prior, ids, r->n, &r->p, &r->risk, store_case, r,
                               err);
    } else {
        ct_trace_many_opts opts = {&r->p, &r->risk, workers_for(r->n), r->db->who, r->db->why,
                                   homes_on_worker};
        rc = ct_trace_many(r->db->dir, r->db->keys, ids, r->n, &opts, store_case, r, NULL, err);
    }
    ct__free(ids);
    return rc ? rc : r->failed;
}

/* SQLite's page cache for the run's transaction (KiB): it touches the
 * contacts of every traced case and of every subscriber among them, and
 * with the default 2 MiB it spills to the WAL and reads back from it. */
#define RUN_CACHE_KIB 262144

/* One transaction: every traced case's contacts, the audit record, the
 * messages, the runs. A failure anywhere, or a crash, leaves the state
 * of the previous run. */
static ct_code trace_store_all(run_state *r, ct_err *err)
{
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d", RUN_CACHE_KIB);
    ct_code rc = ct__ndb_exec(r->sql, pragma, err);
    if (!rc)
        rc = prepare_store(r, err);
    if (!rc)
        rc = ct__ndb_exec(r->sql, "BEGIN IMMEDIATE", err);
    int begun = rc == CT_OK;
    rc = trace_and_store(r, rc, err);
    if (!begun) {
        finalize_store(r);
        return rc;
    }
    /* audited before COMMIT: a run that cannot be audited stores and
     * queues nothing (SPEC 5: a failure applies nothing) */
    if (!rc)
        rc = ct__audit(r->db, "run", NULL, r->sum->contacts, err);
    if (!rc)
        rc = queue_all(r, err);
    for (size_t i = 0; !rc && i < r->n; i++)
        rc = record_run(r, &r->cases[i], err);
    finalize_store(r); /* before COMMIT: no statement of ours is left running */
    return ct__ndb_end(r->sql, rc, err);
}

/* ---- invitations after an area query ---------------------------------------------- */

/* The latest quarantine_end of any message of sub (0: none). */
static ct_code covered_until(run_state *r, uint32_t sub, int64_t *until, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    *until = 0;
    ct_code rc = ct__ndb_prepare(r->sql,
        "SELECT coalesce(max(quarantine_end), 0) FROM nt_outbox o WHERE subscriber=?1"
        " AND " NOT_LIFTED("o"),
        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    if (ct__sql_step(st, &rc, err) == SQLITE_ROW)
        *until = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* 1 when sub is a registered case's (cases are not invited to a test). */
static int is_case(const ct__case_row *cases, size_t n, uint32_t sub)
{
    for (size_t i = 0; i < n; i++)
        if (cases[i].sub == sub)
            return 1;
    return 0;
}

/* One present subscriber: an invitation unless a message already covers
 * the last second it was seen there. */
static ct_code invite_present(run_state *r, const char *label, const ct_presence *pr,
                              ct_area_run_summary *sum, ct_err *err)
{
    int64_t covered;
    ct_code rc = covered_until(r, pr->subscriber, &covered, err);
    if (rc)
        return rc;
    if (!ct__invite_due(covered, pr->last_seen)) {
        sum->already_covered++;
        return CT_OK;
    }
    latest l;
    memset(&l, 0, sizeof l);
    snprintf(l.case_id, sizeof l.case_id, "area:%s", label);
    l.last = pr->last_seen;
    l.q = pr->last_seen + (int64_t)r->conf.quarantine_days * 86400;
    rc = ct__home_region(r->db, pr->subscriber, r->conf.timezone, r->p.max_presence_s,
                         pr->first_seen, pr->last_seen, NULL, l.region, err);
    uint64_t before = r->sum->invitations;
    if (!rc)
        rc = queue_message(r, pr->subscriber, &l, CT_MSG_AREA, err);
    sum->queued += r->sum->invitations - before;
    return rc;
}

ct_code ct_run_area(ct_db *db, const char *label, const ct_area *q, const ct_params *p,
                    ct_area_run_summary *sum, ct_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!label || ct__check_ident(label, strlen(label), CT_ID_MAX - 5) != 0)
        return ct__fail(err, CT_EINVAL, "an area's label is 1 to %d of A-Z a-z 0-9 . _ : -",
                        CT_ID_MAX - 5);
    run_state r;
    ct_run_summary counts;
    memset(&r, 0, sizeof r);
    memset(&counts, 0, sizeof counts);
    r.db = db;
    r.sum = &counts;
    r.now = (int64_t)time(NULL);
    if (p)
        r.p = *p;
    else
        ct_params_default(&r.p);
    ct_presences *ps = NULL;
    ct_code rc = ct__conf_load(db->dir, &r.conf, err);
    if (!rc) /* no number is read: the dispatcher reads each one it sends to */
        rc = ct__area_presences(db, q, &r.p, &ps, err);
    if (!rc)
        rc = ct__ndb_open(db->dir, &r.sql, err);
    if (!rc)
        rc = ct__ob_add_prepare(r.sql, &r.st_message, err);
    if (!rc)
        rc = ct__ndb_exec(r.sql, "BEGIN IMMEDIATE", err);
    ct__case_row *cases = NULL;
    size_t n_cases = 0;
    if (!rc)
        rc = ct__cases_all(db, &cases, &n_cases, err);
    for (size_t i = 0; !rc && i < ps->n; i++) {
        if (is_case(cases, n_cases, ps->items[i].subscriber))
            sum->cases++;
        else
            rc = invite_present(&r, label, &ps->items[i], sum, err);
    }
    ct__free(cases);
    if (!rc) /* audited before COMMIT: what cannot be audited is not queued */
        rc = ct__audit(db, "run --area", label, sum->queued, err);
    rc = ct__ndb_end(r.sql, rc, err);
    if (!rc)
        sum->present = ps->n;
    if (rc)
        memset(sum, 0, sizeof *sum);
    ct_presences_free(ps);
    sqlite3_finalize(r.st_message);
    sqlite3_close(r.sql);
    return rc;
}

/* What a case's last run must match for its contacts to stand. */
static void signature(run_state *r)
{
    char digest[17];
    ct__risk_model_digest(r->risk.model ? r->risk.model : ct_risk_model_builtin(), digest);
    snprintf(r->params, sizeof r->params, "%lld,%.17g,%lld,%lld,%lld;%s %s;%.17g,%.17g;%s",
             (long long)r->p.max_presence_s, r->p.contact_distance_m,
             (long long)r->p.min_exposure_s, (long long)r->p.infectious_before_s,
             (long long)r->p.infectious_after_s, ct_risk_model_version(r->risk.model), digest,
             r->risk.test_threshold, r->risk.quarantine_threshold, r->conf.timezone);
}

static ct_code run_with(ct_db *db, const ct_params *p, const ct_run_cluster *cluster,
                        ct_run_summary *sum, ct_err *err)
{
    run_state r;
    memset(&r, 0, sizeof r);
    r.cluster = cluster;
    ct__u32map_init(&r.homes, sizeof(home_memo));
    pthread_mutex_init(&r.homes_lock, NULL);
    ct__u32map_init(&r.seen, sizeof(uint32_t));
    memset(sum, 0, sizeof *sum);
    r.db = db;
    r.sum = sum;
    r.now = (int64_t)time(NULL);
    if (p)
        r.p = *p;
    else
        ct_params_default(&r.p);
    ct_code rc = ct_params_check(&r.p, err);
    if (!rc)
        rc = ct__conf_load(db->dir, &r.conf, err);
    if (!rc)
        rc = ct_risk_opts_configured(db->dir, NULL, &r.risk, err);
    if (!rc) {
        r.risk.timezone = r.conf.timezone; /* the one the signature names */
        r.risk.without_numbers = 1;        /* contacts are stored by subscriber */
        signature(&r);
        rc = ct__ndb_open(db->dir, &r.sql, err);
    }
    if (cluster) /* every shard votes, also one that failed */
        rc = select_cluster_cases(&r, rc, err);
    else if (!rc)
        rc = select_cases(&r, err);
    if (!rc && r.n)
        rc = trace_store_all(&r, err);
    else if (!rc) /* nothing changed: the run is still audited */
        rc = ct__audit(db, "run", NULL, 0, err);
    if (rc) { /* nothing was applied */
        uint64_t total = sum->cases_total;
        memset(sum, 0, sizeof *sum);
        sum->cases_total = total;
    }
    for (size_t i = 0; i < r.n; i++) /* a case worked out but not stored (a failure) */
        ct__free(r.cases[i].homes);
    ct__free(r.cases); /* each stored case's homes went with it (store_case) */
    ct__free(r.subs);
    ct__u32map_free(&r.seen);
    ct__u32map_free(&r.homes);
    pthread_mutex_destroy(&r.homes_lock);
    sqlite3_close(r.sql);
    return rc;
}

ct_code ct_run(ct_db *db, const ct_params *p, ct_run_summary *sum, ct_err *err)
{
    return run_with(db, p, NULL, sum, err);
}

ct_code ct_run_shard(ct_db *db, const ct_params *p, const ct_run_cluster *cluster,
                     ct_run_summary *sum, ct_err *err)
{
    return run_with(db, p, cluster, sum, err);
}
