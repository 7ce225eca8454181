/*
 * test_threads.c — handles opened and traced on several threads at once
 * (what `trace --jobs` does) give exactly the single-threaded answer.
 *
 * Its real strength is under ThreadSanitizer (`make check-tsan`): the
 * opening of a handle (catalogue load, cell ranks and grid), the shared
 * segment maps, the audit log and the one-time set-up all run here from
 * several threads together, and any race fails the run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "celltrace.h"
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
    n += (size_t)snprintf(cells + n, cap - n, "cell_id,lat,lon,radius_m\n");
    for (int i = 0; i < CELLS; i++)
        n += (size_t)snprintf(cells + n, cap - n, "c%03d,%.6f,%.6f,%d\n", i,
                              55.74 + tu_uniform(&seed, 0, 0.03), 37.60 + tu_uniform(&seed, 0, 0.05),
                              150 + (int)(tu_rand(&seed) % 400));
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

static int setup(void **state)
{
    (void)state;
    char *dir = temp_dir = tu_tmpdir("threads");
    build_city(dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    char path[4300];
    ct_err err;
    ct_db *db;
    ct_import_summary s;
    ct_ingest *in;
    assert_int_equal(ct_init(data_dir, &err), CT_OK);
    assert_int_equal(ct_open(data_dir, 1, &db, &err), CT_OK);
    snprintf(path, sizeof path, "%s/cells.csv", dir);
    assert_int_equal(ct_cells_import(db, "250-01", path, NULL, &s, &err), CT_OK);
    snprintf(path, sizeof path, "%s/events.csv", dir);
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, path, &err), CT_OK);
    assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handles_on_threads_agree),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
