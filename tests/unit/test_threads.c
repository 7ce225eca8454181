/*
 * test_threads.c — handles opened and traced on several threads at once
 * (what `trace --jobs` does) give exactly the single-threaded answer.
 *
 * Its real strength is under ThreadSanitizer (`make check-tsan`): the
 * opening of a handle (catalogue load, cell ranks and grid), the shared
 * segment maps, the audit log and the one-time set-up all run here from
 * several threads together, and any race fails the run. A run
 * (ct_run) works out its contacts' home regions on the tracing workers,
 * through one memo: stored homes must equal those of a run on one CPU.
 * One trace split between threads (ct_set_trace_threads) shares its
 * handle between them: its answer, evidence and counters must be one
 * thread's, also when the store gained a subscriber after the handle
 * opened (whose number only the calling thread may read), and so must its
 * failure on a damaged day, and its success where a day it does not read
 * cannot be opened.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "celltrace.h"
#include "celltrace_notify.h"
#include "testutil.h"

enum { CELLS = 5000, PEOPLE = 120, EVENTS = 6000, THREADS = 4, ROUNDS = 8 };

static char *temp_dir;
static pthread_barrier_t start_together; /* the opens overlap as much as they can */
static char data_dir[4200];
static ct_contacts *reference;

/* A city of CELLS cells in a 3 km square and PEOPLE phones hopping
 * between nearby cells over two days; case K1 is person 0. */
static void build_city(const char *dir)
{
    uint64_t seed = 42;
    size_t cap = 64 + (size_t)CELLS * 80, n = 0;
    char *cells = malloc(cap);
    n += (size_t)snprintf(cells + n, cap - n, "cell_id,lat,lon,radius_m,region\n");
    for (int i = 0; i < CELLS; i++)
        n += (size_t)snprintf(cells + n, cap - n, "c%03d,%.6f,%.6f,%d,RU-R%d\n", i,
                              55.74 + tu_uniform(&seed, 0, 0.03), 37.60 + tu_uniform(&seed, 0, 0.05),
                              150 + (int)(tu_rand(&seed) % 400), i % 7);
    tu_write(dir, "cells.csv", cells);
    free(cells);
    cap = 64 + (size_t)EVENTS * 64;
    n = 0;
    char *events = malloc(cap);
    n += (size_t)snprintf(events + n, cap - n, "msisdn,ts,cell_id\n");
    for (int i = 0; i < EVENTS; i++) {
        int person = (int)(tu_rand(&seed) % PEOPLE);
        int cell = (person * 41 + (int)(tu_rand(&seed) % 12)) % CELLS;
        long long ts = 1585008000LL + (long long)(tu_rand(&seed) % (2 * 86400));
        n += (size_t)snprintf(events + n, cap - n, "7999%07d,%lld,c%03d\n", person, ts, cell);
    }
    tu_write(dir, "events.csv", events);
    free(events);
}

/* A new data directory `data` holding the cells and the events of the CSV
 * files named events_csv in temp_dir and cells.csv there; open, writable. */
static ct_db *new_store(const char *data, const char *events_csv)
{
    char path[4400];
    ct_err err;
    ct_db *db;
    ct_import_summary s;
    ct_ingest *in;
    assert_int_equal(ct_init(data, &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    snprintf(path, sizeof path, "%s/cells.csv", temp_dir);
    assert_int_equal(ct_cells_import(db, "250-01", path, NULL, &s, &err), CT_OK);
    snprintf(path, sizeof path, "%s/%s", temp_dir, events_csv);
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, path, &err), CT_OK);
    assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
    return db;
}

static int setup(void **state)
{
    (void)state;
    char *dir = temp_dir = tu_tmpdir("threads");
    build_city(dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    ct_err err;
    ct_db *db = new_store(data_dir, "events.csv");
    assert_int_equal(ct_case_add(db, "K1", "79990000000", "2020-03-25T00:00:00Z", NULL, NULL, &err), CT_OK);
    assert_int_equal(ct_trace(db, "K1", NULL, &reference, &err), CT_OK);
    assert_true(reference->n > 10);
    ct_close(db);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ct_contacts_free(reference);
    tu_rmtree(temp_dir);
    free(temp_dir);
    return 0;
}

static int same_contacts(const ct_contacts *a, const ct_contacts *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const ct_contact *x = &a->items[i], *y = &b->items[i];
        if (strcmp(x->msisdn, y->msisdn) || x->exposure_s != y->exposure_s ||
            x->first_contact != y->first_contact || x->last_contact != y->last_contact ||
            x->min_radius_m != y->min_radius_m)
            return 0;
    }
    return 1;
}

/* Opens its own handle, traces twice, closes: 1 when both answers match. */
static void *worker(void *arg)
{
    int *ok = arg;
    ct_err err;
    ct_db *db;
    *ok = 0;
    pthread_barrier_wait(&start_together);
    if (ct_open(data_dir, 0, &db, &err) != CT_OK)
        return NULL;
    int good = 1;
    for (int k = 0; k < 2 && good; k++) {
        ct_contacts *cs = NULL;
        good = ct_trace(db, "K1", NULL, &cs, &err) == CT_OK && same_contacts(cs, reference);
        ct_contacts_free(cs);
    }
    ct_close(db);
    *ok = good;
    return NULL;
}

static void handles_on_threads_agree(void **state)
{
    (void)state;
    assert_int_equal(pthread_barrier_init(&start_together, NULL, THREADS), 0);
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t t[THREADS];
        int ok[THREADS];
        for (int i = 0; i < THREADS; i++)
            assert_int_equal(pthread_create(&t[i], NULL, worker, &ok[i]), 0);
        for (int i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            assert_true(ok[i]);
        }
    }
    pthread_barrier_destroy(&start_together);
}

/* Every stored contact as "case,subscriber,home_region,level" lines. */
static char *stored_contacts(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/catalog.db", data_dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT case_id, subscriber, home_region, level"
                                            " FROM nt_contacts ORDER BY case_id, subscriber",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (cap - n < 256)
            out = realloc(out, cap *= 2);
        n += (size_t)snprintf(out + n, cap - n, "%s,%lld,%s,%s\n", sqlite3_column_text(st, 0),
                              (long long)sqlite3_column_int64(st, 1), sqlite3_column_text(st, 2),
                              sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void forget_runs(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/catalog.db", data_dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM nt_runs", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A run; its cases traced, or 0 with the message in *err. */
static size_t run_once(ct_err *err)
{
    ct_db *db;
    ct_run_summary sum;
    if (ct_open(data_dir, 1, &db, err) != CT_OK)
        return 0;
    ct_code rc = ct_run(db, NULL, &sum, err);
    ct_close(db);
    return rc == CT_OK ? sum.cases_traced : 0;
}

/* A run of several cases, once on one CPU (this thread's affinity, which
 * the run sizes its workers from) and again on all: the same home region
 * for every contact. Under TSan, the workers' shared memo of homes. */
static void run_homes_on_workers(void **state)
{
    (void)state;
    ct_err err;
    ct_db *db;
    assert_int_equal(ct_open(data_dir, 1, &db, &err), CT_OK);
    for (int k = 2; k <= 8; k++) {
        char id[8], msisdn[16];
        snprintf(id, sizeof id, "K%d", k);
        snprintf(msisdn, sizeof msisdn, "7999%07d", k - 1);
        assert_int_equal(ct_case_add(db, id, msisdn, "2020-03-25T00:00:00Z", NULL, NULL, &err), CT_OK);
    }
    ct_close(db);
    cpu_set_t all, one;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    size_t traced = run_once(&err);
    assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0); /* before any assertion */
    if (traced != 8)
        fail_msg("run on one CPU: %zu cases traced: %s", traced, err.msg);
    char *alone = stored_contacts();
    forget_runs();
    traced = run_once(&err);
    if (traced != 8)
        fail_msg("run on every CPU: %zu cases traced: %s", traced, err.msg);
    char *together = stored_contacts();
    assert_true(strlen(alone) > 100);
    assert_non_null(strstr(alone, ",RU-R"));
    assert_string_equal(together, alone);
    free(alone);
    free(together);
}

/* Every field of two answers, evidence and work counters included. */
static void assert_same_answer(const ct_contacts *a, const ct_contacts *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->case_intervals, b->case_intervals);
    assert_int_equal(a->candidates, b->candidates);
    assert_int_equal(a->overlaps, b->overlaps);
    for (size_t i = 0; i < a->n; i++) {
        const ct_contact *x = &a->items[i], *y = &b->items[i];
        assert_string_equal(x->msisdn, y->msisdn);
        assert_int_equal(x->subscriber, y->subscriber);
        assert_int_equal(x->exposure_s, y->exposure_s);
        assert_int_equal(x->first_contact, y->first_contact);
        assert_int_equal(x->last_contact, y->last_contact);
        assert_true(x->min_radius_m == y->min_radius_m);
        assert_true(x->p_contact == y->p_contact);
        assert_true(x->expected_near_s == y->expected_near_s);
        assert_int_equal(x->level, y->level);
        assert_int_equal(x->evidence, y->evidence);
    }
    assert_true((a->evidence == NULL) == (b->evidence == NULL));
    if (a->evidence)
        assert_memory_equal(a->evidence, b->evidence, a->n * sizeof *a->evidence);
}

/* Case id on `threads` threads, plain and scored, against one thread's. */
static void assert_threads_agree(ct_db *db, const char *id, int threads)
{
    ct_err err;
    ct_risk_opts risk;
    ct_risk_opts_default(&risk);
    for (int scored = 0; scored <= 1; scored++) {
        ct_contacts *one = NULL, *many = NULL;
        ct_set_trace_threads(db, 1);
        assert_int_equal(scored ? ct_trace_scored(db, id, NULL, &risk, &one, &err)
                                : ct_trace(db, id, NULL, &one, &err),
                         CT_OK);
        ct_set_trace_threads(db, threads);
        assert_int_equal(scored ? ct_trace_scored(db, id, NULL, &risk, &many, &err)
                                : ct_trace(db, id, NULL, &many, &err),
                         CT_OK);
        assert_true(one->n > 10);
        assert_same_answer(one, many);
        ct_contacts_free(one);
        ct_contacts_free(many);
    }
}

/* A newcomer who shared K1's cells every ten minutes of both days; the
 * future case K20 (79980000002) at cell c000 from noon to 22:50 of the
 * first day, so that its presence ends before midnight; and eight people
 * with it there whose last event of that day, at 23:30 or later, has its
 * end looked up in the next day. Ingested and compacted from another
 * handle. */
static void add_newcomer(void)
{
    size_t cap = 64 + 2 * 144 * 64 + 12 * 66 * 64, n = 0;
    char *events = malloc(cap);
    n += (size_t)snprintf(events + n, cap - n, "msisdn,ts,cell_id\n");
    for (int i = 0; i < 2 * 144; i++)
        n += (size_t)snprintf(events + n, cap - n, "79980000001,%lld,c%03d\n", 1585008000LL + 600LL * i,
                              i % 12);
    for (int i = 0; i < 66; i++) /* 12:00 to 22:50 */
        n += (size_t)snprintf(events + n, cap - n, "79980000002,%lld,c000\n", 1585051200LL + 600LL * i);
    for (int who = 0; who < 8; who++)
        for (int i = 0; i < 71; i++) /* 12:00 to 23:40, some of them to 23:30 */
            if (i < 70 || who % 2)
                n += (size_t)snprintf(events + n, cap - n, "799800001%02d,%lld,c000\n", who,
                                      1585051200LL + 600LL * i);
    tu_write(temp_dir, "newcomer.csv", events);
    free(events);
    char path[4300];
    snprintf(path, sizeof path, "%s/newcomer.csv", temp_dir);
    ct_err err;
    ct_db *db;
    ct_ingest *in;
    ct_import_summary s;
    ct_compact_summary cs;
    assert_int_equal(ct_open(data_dir, 1, &db, &err), CT_OK);
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, path, &err), CT_OK);
    assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
    ct_close(db);
    assert_int_equal(ct_compact(data_dir, &cs, &err), CT_OK);
}

/* One trace on 2, 3 and 4 threads: one thread's answer. Then a handle
 * opened before a newcomer was stored: its trace finds the newcomer (the
 * days it opens follow the compaction) and reads the number, which its
 * dictionary did not hold, once the threads are done. Last, K20, isolated
 * at the first midnight, on a handle that has opened nothing: its own
 * events read only the first day, but its candidates' last events of that
 * day look for their ends in the second, which the parts may only look up
 * once the calling thread has opened it (TSan fails the run otherwise). */
static void one_trace_on_threads(void **state)
{
    (void)state;
    ct_err err;
    ct_db *db;
    assert_int_equal(ct_open(data_dir, 0, &db, &err), CT_OK);
    for (int threads = 2; threads <= 4; threads++)
        assert_threads_agree(db, "K1", threads);
    ct_close(db);

    ct_db *before;
    assert_int_equal(ct_open(data_dir, 0, &before, &err), CT_OK);
    add_newcomer();
    ct_set_trace_threads(before, 4);
    ct_contacts *many = NULL, *fresh = NULL;
    assert_int_equal(ct_trace(before, "K1", NULL, &many, &err), CT_OK);
    ct_close(before);
    assert_int_equal(ct_open(data_dir, 0, &db, &err), CT_OK);
    assert_int_equal(ct_trace(db, "K1", NULL, &fresh, &err), CT_OK);
    ct_close(db);
    int found = 0;
    for (size_t i = 0; i < many->n; i++)
        found |= strcmp(many->items[i].msisdn, "79980000001") == 0;
    assert_true(found);
    assert_same_answer(fresh, many);
    ct_contacts_free(many);
    ct_contacts_free(fresh);

    assert_int_equal(ct_open(data_dir, 1, &db, &err), CT_OK);
    assert_int_equal(ct_case_add(db, "K20", "79980000002", "2020-03-24T12:00:00Z", "2020-03-25T00:00:00Z",
                                 NULL, &err),
                     CT_OK);
    ct_close(db);
    assert_int_equal(ct_open(data_dir, 0, &db, &err), CT_OK);
    ct_set_trace_threads(db, 4);
    assert_int_equal(ct_trace(db, "K20", NULL, &many, &err), CT_OK);
    ct_close(db);
    assert_int_equal(ct_open(data_dir, 0, &db, &err), CT_OK);
    assert_int_equal(ct_trace(db, "K20", NULL, &fresh, &err), CT_OK);
    assert_true(fresh->n >= 8);
    assert_same_answer(fresh, many);
    assert_threads_agree(db, "K20", 3);
    ct_close(db);
    ct_contacts_free(many);
    ct_contacts_free(fresh);
}

/* A little-endian u64 or u32 at p. */
static uint64_t le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The names of the segment files of data's store matching the basic
 * regular expression `pattern`, one a line, open for reading. */
static FILE *segment_files(const char *data, const char *pattern)
{
    char cmd[4800];
    snprintf(cmd, sizeof cmd, "ls '%s/store' | grep '%s' > '%s/segments.txt'", data, pattern, temp_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/segments.txt", temp_dir);
    FILE *list = fopen(cmd, "r");
    assert_non_null(list);
    return list;
}

/* Fills subscriber sub's stream (S1, docs/FORMAT.md) with 0xFF in every
 * stored segment that has one: the segments still open (the quick checks
 * read no section's contents), but decoding that subscriber's day fails,
 * and only that. */
static void damage_stream_of(uint32_t sub)
{
    char store[4300];
    snprintf(store, sizeof store, "%s/store", data_dir);
    FILE *list = segment_files(data_dir, "\\.seg$");
    char name[256];
    int damaged = 0;
    while (fscanf(list, "%255s", name) == 1) {
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", store, name);
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        unsigned char header[288], entry[24];
        assert_int_equal(fread(header, 1, sizeof header, f), sizeof header);
        uint64_t s0 = le(header + 64, 8), s0_len = le(header + 64 + 8, 8), s1 = le(header + 64 + 24, 8);
        for (uint64_t at = s0; at + 24 <= s0 + s0_len; at += 12) { /* {u32 sub, u32 offset, u32 0} */
            assert_int_equal(fseek(f, (long)at, SEEK_SET), 0);
            assert_int_equal(fread(entry, 1, sizeof entry, f), sizeof entry);
            if (le(entry, 4) != sub)
                continue;
            uint64_t from = le(entry + 4, 4), to = le(entry + 16, 4); /* to: the next one's */
            assert_int_equal(fseek(f, (long)(s1 + from), SEEK_SET), 0);
            for (uint64_t i = from; i < to; i++)
                fputc(0xFF, f);
            damaged++;
            break;
        }
        assert_int_equal(fclose(f), 0);
    }
    fclose(list);
    assert_true(damaged > 0);
}

/* A trace one of whose parts fails (a contact's stream is damaged) fails
 * as one thread's does, with its message, and frees what the parts made,
 * the others' crowds included (ASan's leak check, in CI). */
static void failing_parts(void **state)
{
    (void)state;
    ct_err err;
    ct_db *db;
    ct_contacts *before = NULL;
    assert_int_equal(ct_open(data_dir, 0, &db, &err), CT_OK);
    assert_int_equal(ct_trace(db, "K1", NULL, &before, &err), CT_OK);
    ct_close(db);
    assert_true(before->n > 0);
    damage_stream_of(before->items[0].subscriber);
    ct_contacts_free(before);
    ct_risk_opts risk;
    ct_risk_opts_default(&risk);
    for (int scored = 0; scored <= 1; scored++) {
        char alone[sizeof err.msg];
        for (int threads = 1; threads <= 4; threads += 3) {
            assert_int_equal(ct_open(data_dir, 0, &db, &err), CT_OK);
            ct_set_trace_threads(db, threads);
            ct_contacts *cs = NULL;
            ct_code rc = scored ? ct_trace_scored(db, "K1", NULL, &risk, &cs, &err)
                                : ct_trace(db, "K1", NULL, &cs, &err);
            ct_close(db);
            assert_int_equal(rc, CT_ECORRUPT);
            assert_null(cs);
            assert_non_null(strstr(err.msg, "is damaged"));
            if (threads == 1)
                snprintf(alone, sizeof alone, "%s", err.msg);
            else
                assert_string_equal(err.msg, alone);
        }
    }
}

/* A store of its own: case K30 (79970000001) and four others at cell c000
 * every ten minutes from noon to 20:00 of 2020-03-24, and someone else on
 * the 25th; K30 isolated at 23:50, so that the day after its window is
 * among the days a trace on threads looks up, yet no presence reaches it.
 * That day's file then has its magic broken: one thread never opens it,
 * so the trace must not fail on threads either. */
static void unread_day_fails_nobody(void **state)
{
    (void)state;
    char dir[4300], path[4800];
    snprintf(dir, sizeof dir, "%s/unread", temp_dir);
    size_t cap = 1 << 16, n = 0;
    char *events = malloc(cap);
    n += (size_t)snprintf(events + n, cap - n, "msisdn,ts,cell_id\n");
    for (int who = 1; who <= 5; who++)
        for (int i = 0; i <= 48; i++) /* 12:00 to 20:00 */
            n += (size_t)snprintf(events + n, cap - n, "7997000000%d,%lld,c000\n", who,
                                  1585051200LL + 600LL * i);
    n += (size_t)snprintf(events + n, cap - n, "79970000009,1585137600,c500\n"); /* the 25th, noon */
    tu_write(temp_dir, "unread.csv", events);
    free(events);
    ct_err err;
    ct_db *db = new_store(dir, "unread.csv");
    assert_int_equal(ct_case_add(db, "K30", "79970000001", "2020-03-24T12:00:00Z", "2020-03-24T23:50:00Z",
                                 NULL, &err),
                     CT_OK);
    ct_close(db);
    FILE *list = segment_files(dir, "^d18346-.*\\.seg$");
    char name[256];
    assert_int_equal(fscanf(list, "%255s", name), 1);
    fclose(list);
    snprintf(path, sizeof path, "%s/store/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fputs("XXXXXXXX", f) >= 0, 1); /* over the magic */
    assert_int_equal(fclose(f), 0);
    ct_contacts *one = NULL, *many = NULL;
    assert_int_equal(ct_open(dir, 0, &db, &err), CT_OK);
    if (ct_trace(db, "K30", NULL, &one, &err) != CT_OK)
        fail_msg("one thread: %s", err.msg);
    ct_close(db);
    assert_int_equal(one->n, 4);
    assert_int_equal(ct_open(dir, 0, &db, &err), CT_OK);
    ct_set_trace_threads(db, 4);
    if (ct_trace(db, "K30", NULL, &many, &err) != CT_OK)
        fail_msg("four threads: %s", err.msg);
    ct_close(db);
    assert_same_answer(one, many);
    ct_contacts_free(one);
    ct_contacts_free(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handles_on_threads_agree),
        cmocka_unit_test(run_homes_on_workers),
        cmocka_unit_test(one_trace_on_threads), /* after the run: it adds a case the run would trace */
        cmocka_unit_test(unread_day_fails_nobody),
        cmocka_unit_test(failing_parts),        /* last: it damages the store */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
