/*
 * test_ingest.c — ingest and purge through the library, below the golden
 * tests' whole commands:
 * - a batch that spills to staging/ (a 1 MiB memory limit) seals the very
 *   same day segments as one held in memory, and its buffers never hold
 *   more than the limit;
 * - an aborted batch leaves the store, the dictionary and staging/ as
 *   they were;
 * - duplicates within a batch and bad rows are counted, bad rows kept out;
 * - retention options out of range are refused before anything is stored;
 * - purge --all empties the store, the dictionary and the case registry,
 *   renews every key, and is audited;
 * - a delivery to a day that is full of runs merges only the newest runs
 *   about its own size, never the day's larger, older ones;
 * - background compactions coalesce: while one runs and one waits, a
 *   third returns at once, and the waiting one merges its delivery.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "celltrace.h"
#include "db.h"
#include "fsio.h"
#include "ingest.h"
#include "keys.h"
#include "testutil.h"

static char *path_in(const char *dir, const char *name)
{
    return ct__path_join(dir, name);
}

/* The catalogue the tests' feeds use: cells C0 to C3. */
static void write_four_cells(const char *dir)
{
    tu_write(dir, "cells.csv", "cell_id,lat,lon,radius_m,region\nC0,55.75,37.62,300,R\n"
                               "C1,55.76,37.62,300,R\nC2,55.75,37.64,500,R\nC3,55.80,37.70,800,R\n");
}

/* A data directory with one cell catalogue; returns its path (new). */
static char *new_data(const char *dir, const char *name)
{
    char *data = path_in(dir, name), *cells = path_in(dir, "cells.csv");
    ct_err err;
    ct_db *db;
    ct_import_summary s;
    assert_int_equal(ct_init(data, &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_cells_import(db, "250-01", cells, NULL, &s, &err), CT_OK);
    ct_close(db);
    ct__free(cells);
    return data;
}

/* 3 days of 600 subscribers, an event every 5 minutes in one of 4 cells. */
static void write_feed(const char *dir)
{
    char *path = path_in(dir, "feed.csv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("msisdn,ts,cell_id\n", f);
    for (int day = 0; day < 3; day++)
        for (int sub = 0; sub < 600; sub++)
            for (int slot = 0; slot < 288; slot += 3)
                fprintf(f, "7999%07d,%lld,C%d\n", sub, 1585008000LL + day * 86400 + slot * 300 + sub % 7,
                        (sub + slot / 12) % 4);
    fclose(f);
    ct__free(path);
}

static ct_code ingest(const char *data, const char *feed, int memory_mb, ct_import_summary *s,
                      ct_err *err)
{
    ct_db *db;
    ct_code rc = ct_open(data, 1, &db, err);
    if (rc)
        return rc;
    ct_import_opts io = {NULL, NULL, NULL, CT_RETENTION_NEVER, memory_mb, 0, 0, NULL, NULL};
    ct_ingest *in = NULL;
    rc = ct_ingest_begin(db, "250-01", &io, &in, err);
    if (!rc)
        rc = ct_ingest_file(in, feed, err);
    if (!rc)
        rc = ct_ingest_commit(in, s, err);
    else
        ct_ingest_abort(in);
    ct_close(db);
    return rc;
}

static int same_file(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = ct__fs_read_file(a, 1 << 28, &x, &nx, NULL) == CT_OK &&
               ct__fs_read_file(b, 1 << 28, &y, &ny, NULL) == CT_OK && nx == ny &&
               memcmp(x, y, nx) == 0;
    ct__free(x);
    ct__free(y);
    return same;
}

static void spilled_batch_seals_the_same(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ingest");
    write_four_cells(dir);
    write_feed(dir);
    char *feed = path_in(dir, "feed.csv");
    char *mem = new_data(dir, "mem"), *spill = new_data(dir, "spill");
    ct_import_summary a, b;
    ct_err err;
    assert_int_equal(ingest(mem, feed, 0, &a, &err), CT_OK);
    assert_int_equal(ingest(spill, feed, 1, &b, &err), CT_OK); /* 1 MiB: spills many times */
    /* the limit bounds what the buffers hold, not only what they count:
     * a spilled day's buffer used to stay as large as it had grown, every
     * day's at once (4.4 GB for 14 days at a million people) */
    ct_db *held_db;
    ct_ingest *held = NULL;
    ct_import_opts io = {NULL, NULL, NULL, CT_RETENTION_NEVER, 1, 0, 0, NULL, NULL};
    assert_int_equal(ct_open(spill, 1, &held_db, &err), CT_OK);
    assert_int_equal(ct_ingest_begin(held_db, "250-01", &io, &held, &err), CT_OK);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(ct_ingest_file(held, feed, &err), CT_OK);
        size_t bytes = ct__ingest_buffered_bytes(held);
        if (bytes > (1u << 20))
            fail_msg("the day buffers hold %zu bytes with a limit of 1 MiB", bytes);
    }
    ct_ingest_abort(held);
    ct_close(held_db);
    assert_int_equal(a.stored, 3 * 600 * 96);
    assert_int_equal(b.stored, a.stored);
    char *m1 = path_in(mem, "store/MANIFEST"), *m2 = path_in(spill, "store/MANIFEST");
    assert_true(same_file(m1, m2));
    ct_db *db;
    assert_int_equal(ct_open(mem, 0, &db, &err), CT_OK);
    for (uint32_t i = 0; i < db->store.n_days; i++) {
        char name[300];
        assert_int_equal(db->store.days[i].n_runs, 1);
        snprintf(name, sizeof name, "store/%s", db->store.days[i].run[0].file);
        char *p1 = path_in(mem, name), *p2 = path_in(spill, name);
        if (!same_file(p1, p2))
            fail_msg("day segment %s differs between a spilled and an in-memory batch", name);
        ct__free(p1);
        ct__free(p2);
    }
    assert_int_equal(db->store.n_days, 3);
    ct_close(db);
    char *staging = path_in(spill, "staging");
    assert_int_equal(tu_count_entries(staging), 0); /* the spills are gone */
    ct__free(staging);
    ct__free(m1);
    ct__free(m2);
    ct__free(mem);
    ct__free(spill);
    ct__free(feed);
    tu_rmtree(dir);
    free(dir);
}

static void abort_and_bad_rows(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ingest-abort");
    tu_write(dir, "cells.csv", "cell_id,lat,lon,radius_m,region\nC0,55.75,37.62,300,R\n");
    tu_write(dir, "feed.csv", "msisdn,ts,cell_id\n79990000001,2020-03-24T08:00:00Z,C0\n"
                              "79990000002,2020-03-24T08:00:00Z,C0\n");
    tu_write(dir, "mixed.csv", "msisdn,ts,cell_id\n79990000003,2020-03-24T09:00:00Z,C0\n"
                               "79990000003,2020-03-24T09:00:00Z,C0\n"      /* duplicate */
                               "12,2020-03-24T09:00:00Z,C0\n"               /* short number */
                               "79990000004,2020-02-30T09:00:00Z,C0\n"      /* no such day */
                               "79990000005,2020-03-24T09:00:00Z,NOPE\n");  /* unknown cell */
    char *data = new_data(dir, "data"), *feed = path_in(dir, "feed.csv");
    ct_err err;
    ct_db *db;
    ct_ingest *in = NULL;
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, feed, &err), CT_OK);
    ct_ingest_abort(in);
    assert_int_equal(db->store.n_days, 0);
    ct_close(db);
    assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
    assert_int_equal(db->store.n_days, 0);
    assert_int_equal(ct__subdict_count(db->subs), 0); /* no subscriber made durable */
    ct_close(db);
    char *staging = path_in(data, "staging");
    assert_int_equal(tu_count_entries(staging), 0);
    /* bad rows: counted, reported, kept out; the batch's duplicate counted */
    char *mixed = path_in(dir, "mixed.csv");
    ct_import_summary s;
    assert_int_equal(ingest(data, mixed, 0, &s, &err), CT_OK);
    assert_int_equal(s.rows_read, 5);
    assert_int_equal(s.stored, 1);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(s.rejected, 3);
    assert_true(s.rejects_path[0] != '\0');
    /* retention out of range: refused before anything is read */
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    ct_import_opts bad = {NULL, NULL, NULL, -5, 0, 0, 0, NULL, NULL};
    assert_int_equal(ct_ingest_begin(db, "250-01", &bad, &in, &err), CT_EINVAL);
    bad.retention_days = 4000;
    assert_int_equal(ct_ingest_begin(db, "250-01", &bad, &in, &err), CT_EINVAL);
    ct_close(db);
    ct__free(staging);
    ct__free(mixed);
    ct__free(feed);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

static void purge_all_empties_and_renews(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("purge-all");
    tu_write(dir, "cells.csv", "cell_id,lat,lon,radius_m,region\nC0,55.75,37.62,300,R\n");
    tu_write(dir, "feed.csv", "msisdn,ts,cell_id\n79990000001,2020-03-24T08:00:00Z,C0\n"
                              "79990000002,2020-03-24T08:00:00Z,C0\n");
    char *data = new_data(dir, "data"), *feed = path_in(dir, "feed.csv");
    ct_err err;
    ct_import_summary s;
    assert_int_equal(ingest(data, feed, 0, &s, &err), CT_OK);
    ct_db *db;
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_case_add(db, "K1", "79990000001", "2020-03-24", NULL, NULL, &err), CT_OK);
    uint8_t old[3][32];
    memcpy(old[0], db->keys->s->set.pseudonym.k, 32);
    memcpy(old[1], db->keys->s->set.vault.k, 32);
    memcpy(old[2], db->keys->s->set.dlr.k, 32);
    assert_int_equal(ct_purge_all(db, &err), CT_OK);
    assert_memory_not_equal(db->keys->s->set.pseudonym.k, old[0], 32);
    assert_memory_not_equal(db->keys->s->set.vault.k, old[1], 32);
    assert_memory_not_equal(db->keys->s->set.dlr.k, old[2], 32);
    ct_close(db);
    assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
    ct_stats st;
    assert_int_equal(ct_stats_get(db, &st, &err), CT_OK);
    assert_int_equal(st.subscribers, 0);
    assert_int_equal(st.events, 0);
    assert_int_equal(st.days, 0);
    assert_int_equal(st.cases, 0);
    assert_int_equal(st.cells, 1); /* the operators' catalogues are not personal */
    ct_close(db);
    char *sub = path_in(data, "subscribers.dat"), *audit = path_in(data, "audit.log");
    struct stat fs;
    assert_int_equal(stat(sub, &fs), 0);
    assert_int_equal(fs.st_size, 0);
    char *log = NULL;
    size_t len = 0;
    assert_int_equal(ct__fs_read_file(audit, 1 << 20, &log, &len, &err), CT_OK);
    assert_non_null(strstr(log, "\"what\":\"purge all\""));
    /* the directory still works: the same number gets a fresh id */
    assert_int_equal(ingest(data, feed, 0, &s, &err), CT_OK);
    assert_int_equal(s.stored, 2);
    ct__free(log);
    ct__free(sub);
    ct__free(audit);
    ct__free(feed);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

/* A delivery of n subscribers (from first on), each with one event on
 * 2020-03-24, as feed file `name`; returns its path (new). */
static char *write_delivery(const char *dir, const char *name, int first, int n)
{
    char *path = path_in(dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("msisdn,ts,cell_id\n", f);
    for (int sub = first; sub < first + n; sub++)
        fprintf(f, "7999%07d,%lld,C%d\n", sub, 1585008000LL + sub % 86000, sub % 4);
    fclose(f);
    return path;
}

/* Runs of 800, 400, 200 and 100 events fill the day (4 runs, the most a
 * delivery leaves); a delivery that sends all 1500 again and 5 new ones
 * then merges the 5 with the 100 only. The rule before merged every run
 * but the oldest (705 events rewritten here), or the whole day when the
 * oldest was the smaller part: a late delivery of a few rows rewrote most
 * of its day. And the merge is sized by the events that are new: sized
 * by the delivery's rows (1505) it took every run. */
static void small_delivery_merges_small_runs(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ingest-tiers");
    write_four_cells(dir);
    char *data = new_data(dir, "data");
    static const int sizes[] = {800, 400, 200, 100, 5};
    char names[5][64];
    int first = 0;
    ct_import_summary s;
    ct_err err;
    ct_db *db;
    for (int i = 0; i < 5; i++) {
        char feed_name[32];
        snprintf(feed_name, sizeof feed_name, "d%d.csv", i);
        /* the last delivery: every row stored so far again, then its own */
        char *feed = write_delivery(dir, feed_name, i < 4 ? first : 0, i < 4 ? sizes[i] : first + 5);
        assert_int_equal(ingest(data, feed, 0, &s, &err), CT_OK);
        assert_int_equal(s.stored, sizes[i]);
        assert_int_equal(s.duplicates, i < 4 ? 0 : first);
        first += sizes[i];
        ct__free(feed);
        assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
        assert_int_equal(db->store.n_days, 1);
        const ct_store_day *day = &db->store.days[0];
        if (i < 4) {
            assert_int_equal(day->n_runs, i + 1);
            snprintf(names[i], sizeof names[i], "%s", day->run[i].file);
        } else {
            assert_int_equal(day->n_runs, 4);
            for (int r = 0; r < 3; r++) { /* the larger runs are left as they were */
                assert_string_equal(day->run[r].file, names[r]);
                assert_int_equal(day->run[r].events, sizes[r]);
            }
            assert_int_equal(day->run[3].events, 105);
            assert_string_not_equal(day->run[3].file, names[3]);
            assert_int_equal(day->events, 1505);
        }
        ct_close(db);
    }
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

/* Two background compactions while one of the directory runs (the test
 * holds compact.lock): the first waits, holding compact.wait; the second,
 * called after a third delivery, returns at once, coalesced; when the lock
 * is free the first merges all three deliveries. Before, each waited in
 * turn and each merged its day again. */
static void background_compactions_coalesce(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("ingest-coalesce");
    write_four_cells(dir);
    char *data = new_data(dir, "data");
    ct_import_summary s;
    ct_err err;
    int first = 0;
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%d.csv", i);
        char *feed = write_delivery(dir, name, first, 300);
        first += 300;
        assert_int_equal(ingest(data, feed, 0, &s, &err), CT_OK);
        ct__free(feed);
    }
    int running = ct__fs_lock(data, "compact.lock", 0);
    assert_true(running >= 0);
    pid_t waiter = fork();
    assert_true(waiter >= 0);
    if (waiter == 0) {
        close(running); /* the child's copy would keep the lock held */
        ct_compact_summary cs;
        ct_err e;
        ct_code crc;
        do /* coalesced only while the parent looks at compact.wait below */
            crc = ct_compact_coalescing(data, &cs, &e);
        while (crc == CT_OK && cs.coalesced);
        _exit(crc == CT_OK && cs.waited && cs.days == 1 && cs.runs == 3 ? 0 : 1);
    }
    int tries = 0;
    for (; tries < 1000; tries++) { /* until the child holds compact.wait */
        int w = ct__fs_lock(data, "compact.wait", 0);
        if (w < 0 && errno == EWOULDBLOCK)
            break;
        if (w >= 0)
            close(w);
        usleep(10000);
    }
    assert_true(tries < 1000);
    char *feed = write_delivery(dir, "d2.csv", first, 300);
    assert_int_equal(ingest(data, feed, 0, &s, &err), CT_OK);
    ct__free(feed);
    ct_compact_summary cs;
    alarm(30); /* one that waited would wait here for ever: the test holds the lock */
    assert_int_equal(ct_compact_coalescing(data, &cs, &err), CT_OK);
    alarm(0);
    assert_true(cs.coalesced);
    assert_int_equal(cs.days, 0);
    close(running);
    int status;
    assert_int_equal(waitpid(waiter, &status, 0), waiter);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    ct_db *db;
    assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
    assert_int_equal(db->store.n_days, 1);
    assert_int_equal(db->store.days[0].n_runs, 1);
    assert_int_equal(db->store.days[0].events, 900);
    ct_close(db);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spilled_batch_seals_the_same),
        cmocka_unit_test(abort_and_bad_rows),
        cmocka_unit_test(purge_all_empties_and_renews),
        cmocka_unit_test(small_delivery_merges_small_runs),
        cmocka_unit_test(background_compactions_coalesce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
