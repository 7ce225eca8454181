/*
 * test_query.c — ct_data_version grows exactly for the days a commit
 * changes, ct_subscriber_events returns a subscriber's events in SPEC 4.1
 * order with their places, the handles of a process share the map of a
 * segment file (and only of the same file), and a trace examines each cell
 * entry once even when several of the case's intervals can reach it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "celltrace.h"
#include "db.h"
#include "error.h"
#include "segment.h"
#include "testutil.h"

static ct_db *setup(char **dir_out)
{
    char *dir = tu_tmpdir("query");
    char data[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    ct_err err;
    ct_db *db;
    assert_int_equal(ct_init(data, &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    tu_write(dir, "cells.csv", "cell_id,lat,lon,radius_m,region\nA,55.75,37.62,300,RU-MOW\nB,55.80,37.70,500,RU-MOS\n");
    ct_import_summary s;
    snprintf(data, sizeof data, "%s/cells.csv", dir);
    assert_int_equal(ct_cells_import(db, "250-01", data, NULL, &s, &err), CT_OK);
    *dir_out = dir;
    return db;
}

static void ingest_operator_text(ct_db *db, const char *dir, const char *op, const char *text)
{
    tu_write(dir, "ev.csv", text);
    char path[4200];
    snprintf(path, sizeof path, "%s/ev.csv", dir);
    ct_ingest *in;
    ct_err err;
    ct_import_summary s;
    assert_int_equal(ct_ingest_begin(db, op, NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, path, &err), CT_OK);
    assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
    assert_int_equal(s.rejected, 0);
}

static void ingest_text(ct_db *db, const char *dir, const char *text)
{
    ingest_operator_text(db, dir, "250-01", text);
}

static void versions_follow_changes(void **state)
{
    (void)state;
    char *dir;
    ct_db *db = setup(&dir);
    ct_err err;
    uint64_t v1, v2, v3;
    int64_t d24, d25;
    assert_int_equal(ct_parse_time("2020-03-24", 1, &d24), 0);
    assert_int_equal(ct_parse_time("2020-03-25", 1, &d25), 0);
    assert_int_equal(ct_data_version(db, d24, d24 + 86400, &v1, &err), CT_OK);
    assert_int_equal(v1, 0);
    ingest_text(db, dir, "msisdn,ts,cell_id\n79990000001,2020-03-24T08:00:00Z,A\n79990000001,2020-03-25T08:00:00Z,B\n");
    assert_int_equal(ct_data_version(db, d24, d24 + 86400, &v1, &err), CT_OK);
    assert_true(v1 > 0);
    ingest_text(db, dir, "msisdn,ts,cell_id\n79990000002,2020-03-25T09:00:00Z,A\n");
    assert_int_equal(ct_data_version(db, d24, d24 + 86400, &v2, &err), CT_OK);
    assert_int_equal(ct_data_version(db, d25, d25 + 86400, &v3, &err), CT_OK);
    assert_int_equal(v2, v1); /* day 24 untouched */
    assert_true(v3 > v1);     /* day 25 changed */
    ingest_text(db, dir, "msisdn,ts,cell_id\n79990000002,2020-03-25T09:00:00Z,A\n");
    assert_int_equal(ct_data_version(db, d25, d25 + 86400, &v2, &err), CT_OK);
    assert_int_equal(v2, v3); /* only duplicates: the day is not rewritten */
    ct_close(db);
    tu_rmtree(dir);
    free(dir);
}

typedef struct seen {
    int n;
    int64_t ts[8];
    const char *region[8];
    int point[8];
} seen;

static int record(void *ud, const ct_place_event *e)
{
    seen *s = ud;
    s->ts[s->n] = e->ts;
    s->region[s->n] = e->region;
    s->point[s->n] = e->is_point;
    s->n++;
    return 0;
}

static void subscriber_events_in_order(void **state)
{
    (void)state;
    char *dir;
    ct_db *db = setup(&dir);
    ct_err err;
    ingest_text(db, dir,
                "msisdn,ts,cell_id,lat,lon,accuracy_m\n"
                "79990000001,2020-03-25T08:00:00Z,B,,,\n"
                "79990000001,2020-03-24T08:00:00Z,,55.7,37.6,10\n"
                "79990000001,2020-03-24T08:00:00Z,A,,,\n"
                "79990000002,2020-03-24T07:00:00Z,A,,,\n");
    /* subscriber ids are dense in order of first sight: 0 and 1 */
    seen s;
    memset(&s, 0, sizeof s);
    int64_t from, to;
    ct_parse_time("2020-03-24", 1, &from);
    ct_parse_time("2020-03-26", 1, &to);
    assert_int_equal(ct_subscriber_events(db, 0, from, to, record, &s, &err), CT_OK);
    assert_int_equal(s.n, 3);
    assert_true(s.ts[0] == s.ts[1] && !s.point[0] && s.point[1]); /* cell before point */
    assert_string_equal(s.region[0], "RU-MOW");
    assert_null(s.region[1]);
    assert_string_equal(s.region[2], "RU-MOS");
    memset(&s, 0, sizeof s);
    assert_int_equal(ct_subscriber_events(db, 0, from, from + 86400, record, &s, &err), CT_OK);
    assert_int_equal(s.n, 2);
    ct_close(db);
    tu_rmtree(dir);
    free(dir);
}

static void handles_share_segment_maps(void **state)
{
    (void)state;
    char *dir;
    ct_db *writer = setup(&dir);
    ct_err err;
    ct_code rc;
    ingest_text(writer, dir, "msisdn,ts,cell_id\n79990000001,2020-03-24T08:00:00Z,A\n79990000002,2020-03-25T08:00:00Z,B\n");
    char data[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    int64_t d24;
    assert_int_equal(ct_parse_time("2020-03-24", 1, &d24), 0);
    int64_t day = d24 / 86400;
    ct_db *a, *b;
    assert_int_equal(ct_open(data, 0, &a, &err), CT_OK);
    assert_int_equal(ct_open(data, 0, &b, &err), CT_OK);
    const ct_segment *sa = ct__db_segment(a, day, &rc, &err);
    const ct_segment *sb = ct__db_segment(b, day, &rc, &err);
    assert_non_null(sa);
    assert_ptr_equal(sa, sb); /* one map for the two handles */
    assert_ptr_not_equal(ct__db_segment(a, day + 1, &rc, &err), sa);
    assert_int_equal(sa->n_events, 1);
    /* the writer replaces day 24's file: a handle opened now maps the new
     * file, while the old map stays valid for the handles that hold it */
    ingest_text(writer, dir, "msisdn,ts,cell_id\n79990000003,2020-03-24T09:00:00Z,A\n");
    ct_db *c;
    assert_int_equal(ct_open(data, 0, &c, &err), CT_OK);
    const ct_segment *sc = ct__db_segment(c, day, &rc, &err);
    assert_non_null(sc);
    assert_ptr_not_equal(sc, sa);
    assert_int_equal(sc->n_events, 2);
    ct_close(a);
    assert_int_equal(sb->n_events, 1); /* b still holds the old map */
    ct_close(b);
    ct_close(c);
    ct_close(writer);
    tu_rmtree(dir);
    free(dir);
}

/* The case goes back and forth between cell A and cell C of another
 * operator, 55 m apart, every ten minutes: five intervals. Y's one event
 * at A (07:30, present until 08:30) is in the read-back window of the first
 * three and overlaps each for ten minutes; W's at C (07:40, until 08:40),
 * of the first four. With `fillers` far-away cells imported before C, C's
 * id needs more than one pass of the trace's radix sort of cells. */
static void examined_once(size_t fillers)
{
    char *dir;
    ct_db *db = setup(&dir);
    ct_err err;
    ct_import_summary s;
    char path[4200];
    size_t cap = 64 + fillers * 48, len = 0;
    char *cells = malloc(cap);
    assert_non_null(cells);
    len += (size_t)snprintf(cells + len, cap - len, "cell_id,lat,lon,radius_m,region\n");
    for (size_t i = 0; i < fillers; i++)
        len += (size_t)snprintf(cells + len, cap - len, "F%zu,%.2f,20,100,RU-MOW\n", i, 10 + 0.01 * (double)i);
    snprintf(cells + len, cap - len, "C,55.7505,37.62,300,RU-MOW\n");
    tu_write(dir, "cells2.csv", cells);
    free(cells);
    snprintf(path, sizeof path, "%s/cells2.csv", dir);
    assert_int_equal(ct_cells_import(db, "250-02", path, NULL, &s, &err), CT_OK);
    ingest_text(db, dir,
                "msisdn,ts,cell_id\n"
                "79990000001,2020-03-24T08:00:00Z,A\n"
                "79990000001,2020-03-24T08:20:00Z,A\n"
                "79990000001,2020-03-24T08:40:00Z,A\n"
                "79990000009,2020-03-24T07:30:00Z,A\n");
    ingest_operator_text(db, dir, "250-02",
                         "msisdn,ts,cell_id\n"
                         "79990000001,2020-03-24T08:10:00Z,C\n"
                         "79990000001,2020-03-24T08:30:00Z,C\n"
                         "79990000008,2020-03-24T07:40:00Z,C\n");
    assert_int_equal(ct_case_add(db, "K1", "79990000001", "2020-03-24T12:00:00Z", NULL, "RU-MOW", &err), CT_OK);
    ct_contacts *c;
    assert_int_equal(ct_trace(db, "K1", NULL, &c, &err), CT_OK);
    assert_int_equal(c->case_intervals, 5);
    assert_int_equal(c->candidates, 2); /* seven when each interval read back */
    assert_int_equal(c->overlaps, 3 + 4);
    assert_int_equal(c->n, 2);
    assert_string_equal(c->items[0].msisdn, "79990000008");
    assert_int_equal(c->items[0].exposure_s, 2400);
    assert_string_equal(c->items[1].msisdn, "79990000009");
    assert_int_equal(c->items[1].exposure_s, 1800);
    ct_contacts_free(c);
    ct_close(db);
    tu_rmtree(dir);
    free(dir);
}

static void cell_entries_examined_once(void **state)
{
    (void)state;
    examined_once(0);
}

static void cell_entries_examined_once_many_cells(void **state)
{
    (void)state;
    examined_once(2100);
}

/* ct_trace_many: cases come back in the order asked whatever the thread
 * that traced them, each as ct_trace gives it; a failing case stops the
 * batch after the cases before it; the caller may stop it. */
typedef struct many_seen {
    size_t n, stop_at;
    char ids[16][CT_ID_MAX + 1];
    size_t contacts[16];
} many_seen;

static int many_fn(void *ud, size_t index, const ct_contacts *cs, uint64_t ns)
{
    many_seen *s = ud;
    (void)ns;
    assert_int_equal(index, s->n);
    snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", cs->case_id);
    s->contacts[s->n++] = cs->n;
    return s->n == s->stop_at;
}

/* Three phones together at A, then at B: each a contact of the others. */
/* Three people together at two cells; the first n_cases of them are
 * cases K1, K2, K3. */
static ct_db *three_together(char **dir, int n_cases)
{
    ct_db *db = setup(dir);
    ingest_text(db, *dir, "msisdn,ts,cell_id\n"
                          "79990000001,2020-03-24T08:00:00Z,A\n79990000002,2020-03-24T08:00:00Z,A\n"
                          "79990000003,2020-03-24T08:10:00Z,A\n79990000001,2020-03-24T09:30:00Z,B\n"
                          "79990000002,2020-03-24T09:30:00Z,B\n79990000003,2020-03-24T09:30:00Z,B\n");
    static const char *const ids[] = {"K1", "K2", "K3"};
    static const char *const numbers[] = {"79990000001", "79990000002", "79990000003"};
    ct_err err;
    for (int k = 0; k < n_cases; k++)
        assert_int_equal(ct_case_add(db, ids[k], numbers[k], "2020-03-25", NULL, NULL, &err), CT_OK);
    return db;
}

static void trace_many_in_order(void **state)
{
    (void)state;
    char *dir;
    ct_db *db = three_together(&dir, 3);
    ct_err err;
    size_t want[3];
    for (int k = 0; k < 3; k++) {
        char id[8];
        snprintf(id, sizeof id, "K%d", k + 1);
        ct_contacts *cs = NULL;
        assert_int_equal(ct_trace(db, id, NULL, &cs, &err), CT_OK);
        want[k] = cs->n;
        ct_contacts_free(cs);
    }
    assert_true(want[0] == 2 && want[1] == 2 && want[2] == 2);
    char data[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    ct_close(db);

    const char *all[] = {"K3", "K1", "K2", "K1", "K3", "K2", "K2", "K1", "K3"};
    ct_trace_many_opts o = {NULL, NULL, 4, NULL, "test", NULL};
    many_seen s;
    memset(&s, 0, sizeof s);
    size_t done = 99;
    assert_int_equal(ct_trace_many(data, NULL, all, 9, &o, many_fn, &s, &done, &err), CT_OK);
    assert_int_equal(done, 9);
    assert_int_equal(s.n, 9);
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal(s.ids[i], all[i]);
        assert_int_equal(s.contacts[i], want[all[i][1] - '1']);
    }
    /* a case that fails: the ones before it come, then its error */
    const char *bad[] = {"K1", "K2", "NOPE", "K3", "K1"};
    memset(&s, 0, sizeof s);
    assert_int_equal(ct_trace_many(data, NULL, bad, 5, &o, many_fn, &s, &done, &err), CT_ENOTFOUND);
    assert_int_equal(done, 2);
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(err.msg, "NOPE"));
    /* the caller stops after the second case */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    assert_int_equal(ct_trace_many(data, NULL, all, 9, &o, many_fn, &s, &done, &err), CT_OK);
    assert_int_equal(done, 2);
    /* one thread, or more threads than cases, give the same */
    for (int jobs = 1; jobs <= 16; jobs *= 16) {
        o.jobs = jobs;
        memset(&s, 0, sizeof s);
        assert_int_equal(ct_trace_many(data, NULL, all, 9, &o, many_fn, &s, &done, &err), CT_OK);
        assert_int_equal(s.n, 9);
    }
    o.jobs = 0;
    assert_int_equal(ct_trace_many(data, NULL, all, 9, &o, many_fn, &s, &done, &err), CT_EINVAL);
    tu_rmtree(dir);
    free(dir);
}

/* after_trace: each case once, before the caller's function gets it, on
 * a worker (not the calling thread) with a handle that reads the store;
 * its failure fails that case as a failed trace does. */
typedef struct after_seen {
    pthread_mutex_t lock;
    pthread_t caller;
    size_t calls, on_caller, unread, fail_at;
    size_t contacts[16];
    int seen[16], handed_before[16];
    size_t handed_n; /* under lock: how many the caller's function has had */
    many_seen handed;
} after_seen;

static ct_code after_fn(void *ud, ct_db *db, size_t index, const ct_contacts *cs, ct_err *err)
{
    after_seen *a = ud;
    ct_stats st; /* no cmocka assertion here: this is not the test's thread */
    int read = ct_stats_get(db, &st, err) == CT_OK && st.events == 6;
    pthread_mutex_lock(&a->lock);
    a->unread += !read;
    a->calls++;
    a->on_caller += pthread_equal(pthread_self(), a->caller) != 0;
    a->seen[index]++;
    a->contacts[index] = cs->n;
    a->handed_before[index] = a->handed_n > index;
    pthread_mutex_unlock(&a->lock);
    if (index == a->fail_at)
        return ct__fail(err, CT_EIO, "after_trace failed on case %zu", index);
    return CT_OK;
}

static int after_many_fn(void *ud, size_t index, const ct_contacts *cs, uint64_t ns)
{
    after_seen *a = ud;
    pthread_mutex_lock(&a->lock);
    int times = a->seen[index];
    pthread_mutex_unlock(&a->lock);
    assert_int_equal(times, 1);
    int stop = many_fn(&a->handed, index, cs, ns);
    pthread_mutex_lock(&a->lock);
    a->handed_n = a->handed.n;
    pthread_mutex_unlock(&a->lock);
    return stop;
}

static void trace_many_after_trace(void **state)
{
    (void)state;
    char *dir;
    ct_db *db = three_together(&dir, 2);
    ct_err err;
    char data[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    ct_close(db);
    const char *ids[] = {"K2", "K1", "K1", "K2", "K1", "K2"};
    for (int jobs = 1; jobs <= 4; jobs *= 4) {
        ct_trace_many_opts o = {NULL, NULL, jobs, NULL, "test", after_fn};
        after_seen a;
        memset(&a, 0, sizeof a);
        pthread_mutex_init(&a.lock, NULL);
        a.caller = pthread_self();
        a.fail_at = SIZE_MAX;
        size_t done = 0;
        assert_int_equal(ct_trace_many(data, NULL, ids, 6, &o, after_many_fn, &a, &done, &err), CT_OK);
        assert_int_equal(done, 6);
        assert_int_equal(a.calls, 6);
        assert_int_equal(a.on_caller, 0);
        assert_int_equal(a.unread, 0);
        for (size_t i = 0; i < 6; i++) {
            assert_int_equal(a.seen[i], 1);
            assert_false(a.handed_before[i]);
            assert_int_equal(a.contacts[i], a.handed.contacts[i]);
            assert_int_equal(a.contacts[i], 2);
        }
        /* the fourth case's after_trace fails: three cases come, then its error */
        memset(&a.handed, 0, sizeof a.handed);
        memset(a.seen, 0, sizeof a.seen);
        a.handed_n = 0;
        a.fail_at = 3;
        assert_int_equal(ct_trace_many(data, NULL, ids, 6, &o, after_many_fn, &a, &done, &err), CT_EIO);
        assert_int_equal(done, 3);
        assert_int_equal(a.handed.n, 3);
        assert_non_null(strstr(err.msg, "after_trace failed on case 3"));
        pthread_mutex_destroy(&a.lock);
    }
    tu_rmtree(dir);
    free(dir);
}

/* ---- area queries (docs/AREA.md) ------------------------------------------ */

static ct_presences *area(ct_db *db, const ct_area *q, ct_code want)
{
    ct_presences *ps = NULL;
    ct_err err;
    ct_code rc = ct_area_query(db, q, NULL, &ps, &err);
    if (rc != want)
        fail_msg("ct_area_query: %s (%s), wanted %s", ct_code_name(rc), err.msg,
                 ct_code_name(want));
    return ps;
}

static int64_t at(const char *iso)
{
    int64_t t;
    assert_int_equal(ct_parse_time(iso, 0, &t), 0);
    return t;
}

static void area_boundaries(void **state)
{
    (void)state;
    char *dir;
    ct_db *db = setup(&dir);
    /* a point 1000 m north of (55.70, 37.50) on its meridian, accuracy 10:
     * its disk reaches 990 m from the centre, to the nanometre */
    double north = 55.70 + 1000.0 / 6371008.8 * 180.0 / 3.14159265358979323846;
    char text[2048];
    snprintf(text, sizeof text,
             "msisdn,ts,cell_id,lat,lon,accuracy_m\n"
             /* 1: at A from before the window, away, back: [17:30,18:30) [19:00,20:00) */
             "79990000001,2020-03-24T17:30:00Z,A,,,\n"
             "79990000001,2020-03-24T19:00:00Z,A,,,\n"
             /* 2: at B over midnight: [23:30, 00:10) then [00:10, 01:10) */
             "79990000002,2020-03-24T23:30:00Z,B,,,\n"
             "79990000002,2020-03-25T00:10:00Z,B,,,\n"
             /* 3 and 4: points on the edge of a 990 m disk, 5 mm in and 5 mm out */
             "79990000003,2020-03-24T18:00:00Z,,%.12f,37.5,10.005\n"
             "79990000004,2020-03-24T18:00:00Z,,%.12f,37.5,9.995\n"
             /* 5: 899 s at A in the window, one short of 900 */
             "79990000005,2020-03-24T19:15:01Z,A,,,\n"
             "79990000005,2020-03-24T19:30:00Z,B,,,\n",
             north, north);
    ingest_text(db, dir, text);

    ct_area q = {.lat = 55.75, .lon = 37.62, .radius_m = 1.0, .from = at("2020-03-24T18:00:00Z"),
                 .to = at("2020-03-24T19:30:00Z"), .min_stay_s = 900, .reveal = 1};
    ct_presences *ps = area(db, &q, CT_OK);
    assert_int_equal(ps->n, 1);
    assert_string_equal(ps->items[0].msisdn, "79990000001");
    assert_int_equal(ps->items[0].present_s, 3600);
    assert_int_equal(ps->items[0].first_seen, at("2020-03-24T18:00:00Z"));
    assert_int_equal(ps->items[0].last_seen, at("2020-03-24T19:30:00Z"));
    assert_true(ps->items[0].min_radius_m == 300.0); /* the phone's own radius */
    /* a 1 m disk at the centre of a 300 m cell: (1/300)^2 of each second */
    assert_true(fabs(ps->items[0].expected_inside_s - 3600.0 / 90000.0) < 1e-9);
    ct_presences_free(ps);
    q.min_stay_s = 899; /* now the one short of 900 is in; masked */
    q.reveal = 0;
    ps = area(db, &q, CT_OK);
    assert_int_equal(ps->n, 2);
    assert_string_equal(ps->items[0].msisdn, "7999***0001");
    assert_string_equal(ps->items[1].msisdn, "7999***0005");
    assert_int_equal(ps->items[1].present_s, 899);
    ct_presences_free(ps);

    /* the cell itself: every second fully inside */
    ct_area qc = {.op = "250-01", .cell_id = "A", .from = q.from, .to = q.to, .min_stay_s = 900,
                  .reveal = 1};
    ps = area(db, &qc, CT_OK);
    assert_int_equal(ps->n, 1);
    assert_true(ps->radius_m == 300.0 && ps->lat == 55.75);
    assert_true(fabs(ps->items[0].expected_inside_s - 3600.0) < 1e-6);
    ct_presences_free(ps);

    /* over midnight, with the next day's first event ending the presence */
    ct_area qm = {.lat = 55.80, .lon = 37.70, .radius_m = 10, .from = at("2020-03-25T00:00:00Z"),
                  .to = at("2020-03-25T00:30:00Z"), .min_stay_s = 0, .reveal = 1};
    ps = area(db, &qm, CT_OK);
    assert_int_equal(ps->n, 1);
    assert_string_equal(ps->items[0].msisdn, "79990000002");
    assert_int_equal(ps->items[0].present_s, 1800);
    assert_int_equal(ps->items[0].first_seen, at("2020-03-25T00:00:00Z"));
    ct_presences_free(ps);

    /* the edge: 5 mm inside counts, 5 mm outside does not */
    ct_area qe = {.lat = 55.70, .lon = 37.50, .radius_m = 990.0, .from = at("2020-03-24T18:00:00Z"),
                  .to = at("2020-03-24T18:30:00Z"), .min_stay_s = 0, .reveal = 1};
    ps = area(db, &qe, CT_OK);
    assert_int_equal(ps->n, 1);
    assert_string_equal(ps->items[0].msisdn, "79990000003");
    assert_int_equal(ps->items[0].present_s, 1800);
    ct_presences_free(ps);

    /* refused: too wide, too long (without force), empty, unknown cell */
    ct_area big = qe;
    big.radius_m = 50001;
    assert_null(area(db, &big, CT_EINVAL));
    big.force = 1;
    ct_presences_free(area(db, &big, CT_OK));
    ct_area longer = qe;
    longer.to = longer.from + 31 * 86400 + 1;
    assert_null(area(db, &longer, CT_EINVAL));
    longer.to = longer.from;
    assert_null(area(db, &longer, CT_EINVAL));
    qc.cell_id = "Z";
    assert_null(area(db, &qc, CT_ENOTFOUND));

    /* every read is audited, the forced one as such, and no number is written */
    char path[4200];
    snprintf(path, sizeof path, "%s/data/audit.log", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    int areas = 0, forced = 0, masked = 0;
    while (fgets(line, sizeof line, f)) {
        areas += strstr(line, "\"what\":\"area") != NULL;
        masked += strstr(line, "\"what\":\"area\"") != NULL;
        forced += strstr(line, "\"what\":\"area --force --reveal\"") != NULL;
        assert_null(strstr(line, "7999000000"));
    }
    fclose(f);
    assert_int_equal(areas, 6); /* refused queries read nothing */
    assert_int_equal(masked, 1);
    assert_int_equal(forced, 1);
    ct_close(db);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_follow_changes),
        cmocka_unit_test(subscriber_events_in_order),
        cmocka_unit_test(handles_share_segment_maps),
        cmocka_unit_test(cell_entries_examined_once),
        cmocka_unit_test(cell_entries_examined_once_many_cells),
        cmocka_unit_test(trace_many_in_order),
        cmocka_unit_test(trace_many_after_trace),
        cmocka_unit_test(area_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
