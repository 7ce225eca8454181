/*
 * test_cluster.c — what the library gives a cluster (celltrace_cluster.h):
 * - the shard of a number: the same for every spelling of it, none for a
 *   non-number, balanced, and moving only to the new shard when a
 *   cluster grows (jump consistent hash);
 * - the two-phase commit: a prepared ingest is invisible, keeps writers
 *   of one machine out, is dropped by ct_store_settle when its generation
 *   never committed and made live when it did;
 * - a routed row goes through ct_ingest_add_routed as if read here, and a
 *   malformed one is refused;
 * - shards made from one keyring share pseudonyms.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
#include "celltrace.h"
#include "celltrace_cluster.h"
#include "fsio.h"
#include "testutil.h"

static void shard_of_a_number(void **state)
{
    (void)state;
    assert_int_equal(ct_shard_of_number("not a number", 3), UINT32_MAX);
    assert_int_equal(ct_shard_of_number("79001234567", 0), UINT32_MAX);
    assert_int_equal(ct_shard_of_number("79001234567", 1), 0);
    assert_int_equal(ct_shard_of_number("+7 900 123-45-67", 7), ct_shard_of_number("79001234567", 7));
    enum { N = 30000 };
    unsigned count[4] = {0};
    unsigned moved = 0, moved_elsewhere = 0;
    for (int i = 0; i < N; i++) {
        char num[16];
        snprintf(num, sizeof num, "7900%07d", i);
        uint32_t three = ct_shard_of_number(num, 3), four = ct_shard_of_number(num, 4);
        assert_true(three < 3 && four < 4);
        count[three]++;
        if (four != three) {
            moved++;
            moved_elsewhere += four != 3; /* growing moves keys to the new shard only */
        }
    }
    for (int k = 0; k < 3; k++) /* each about N / 3 */
        assert_true(count[k] > N / 3 - N / 50 && count[k] < N / 3 + N / 50);
    assert_int_equal(moved_elsewhere, 0);
    assert_true(moved > N / 4 - N / 50 && moved < N / 4 + N / 50);
}

static int count_pending(const char *data)
{
    char *store = ct__path_join(data, "store");
    DIR *d = opendir(store);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "MANIFEST.c", 10) == 0;
    closedir(d);
    ct__free(store);
    return n;
}

static uint64_t events_of(const char *data)
{
    ct_db *db;
    ct_err err;
    ct_stats s;
    assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
    assert_int_equal(ct_stats_get(db, &s, &err), CT_OK);
    ct_close(db);
    return s.events;
}

/* Prepares an ingest of feed as cluster generation gen. */
static void prepare(const char *data, const char *feed, uint64_t gen)
{
    ct_db *db;
    ct_err err;
    ct_ingest *in = NULL;
    ct_import_summary s;
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, feed, &err), CT_OK);
    assert_int_equal(ct_ingest_prepare(in, gen, &s, &err), CT_OK);
    assert_int_equal(s.stored, 3);
    ct_close(db);
}

static char *new_shard(const char *dir, const char *name, const char *keyring)
{
    char *data = ct__path_join(dir, name), *cells = ct__path_join(dir, "cells.csv");
    ct_err err;
    ct_db *db;
    ct_import_summary s;
    ct_keys_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.provider = CT_KEYS_FILE;
    setup.keyring_text = keyring;
    assert_int_equal(ct_init_with(data, &setup, &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_cells_import(db, "250-01", cells, NULL, &s, &err), CT_OK);
    ct_close(db);
    ct__free(cells);
    return data;
}

static void two_phase_commit(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("cluster");
    tu_write(dir, "cells.csv", "cell_id,lat,lon,radius_m\nC0,55.75,37.62,300\n");
    tu_write(dir, "feed.csv", "msisdn,ts,cell_id\n79001234567,2020-03-24T10:00:00Z,C0\n"
                              "79001234568,2020-03-24T10:05:00Z,C0\n79001234569,2020-03-25T11:00:00Z,C0\n");
    char *feed = ct__path_join(dir, "feed.csv");
    char *data = new_shard(dir, "shard", NULL);
    ct_err err;
    prepare(data, feed, 1);
    assert_int_equal(count_pending(data), 1);
    assert_int_equal(events_of(data), 0); /* prepared is not live */
    ct_db *db;
    /* no writer of one machine may touch a shard in the middle of a commit */
    assert_int_equal(ct_open(data, 1, &db, &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "not yet settled"));
    assert_int_equal(count_pending(data), 1);
    assert_int_equal(ct_store_settle(data, 0, &err), CT_OK); /* generation 1 never committed */
    assert_int_equal(count_pending(data), 0);
    assert_int_equal(events_of(data), 0);
    prepare(data, feed, 1);
    assert_int_equal(ct_store_settle(data, 1, &err), CT_OK); /* committed: live */
    assert_int_equal(count_pending(data), 0);
    assert_int_equal(events_of(data), 3);
    assert_int_equal(ct_store_settle(data, 1, &err), CT_OK); /* again: nothing to do */
    assert_int_equal(events_of(data), 3);
    ct__free(feed);
    ct__free(data);
    tu_rmtree(dir);
    ct__free(dir);
}

static void routed_rows_and_shared_keys(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("cluster");
    tu_write(dir, "cells.csv", "cell_id,lat,lon,radius_m\nC0,55.75,37.62,300\n");
    char *a = new_shard(dir, "a", NULL);
    char *text = NULL;
    size_t len = 0;
    ct_err err;
    assert_int_equal(ct_keyring_text(a, &text, &len, &err), CT_OK);
    char *b = new_shard(dir, "b", text);
    ct_keyring_text_free(text, len);
    /* the same row routed to either shard: the same pseudonym, so the same
     * vault record can be checked in both (check passes) */
    const char *shards[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        ct_db *db;
        ct_ingest *in = NULL;
        ct_import_summary s;
        assert_int_equal(ct_open(shards[i], 1, &db, &err), CT_OK);
        assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
        ct_routed_event ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.msisdn, sizeof ev.msisdn, "79001234567");
        ev.number = 79001234567ULL;
        ev.ts = 1585044000;
        ev.loc = 0;
        while (ev.loc < 4 && ct_ingest_add_routed(in, &ev, &err) != CT_OK)
            ev.loc++; /* the first loc id the catalogue holds */
        assert_true(ev.loc < 4);
        ct_routed_event bad = ev;
        bad.number = 79001234568ULL; /* digits and number disagree */
        assert_int_equal(ct_ingest_add_routed(in, &bad, &err), CT_EINVAL);
        bad = ev;
        bad.loc = 999; /* no such cell */
        assert_int_equal(ct_ingest_add_routed(in, &bad, &err), CT_EINVAL);
        assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
        assert_int_equal(s.stored, 1);
        ct_close(db);
    }
    ct_keyring *ka = NULL, *kb = NULL;
    ct_key_source none = {NULL, 0, NULL};
    assert_int_equal(ct_keys_unlock(a, &none, &ka, &err), CT_OK);
    assert_int_equal(ct_keys_unlock(b, &none, &kb, &err), CT_OK);
    assert_int_equal(ct_keyring_text(a, &text, &len, &err), CT_OK);
    char *text_b = NULL;
    size_t len_b = 0;
    assert_int_equal(ct_keyring_text(b, &text_b, &len_b, &err), CT_OK);
    assert_int_equal(len, len_b);
    assert_memory_equal(text, text_b, len);
    ct_keyring_text_free(text, len);
    ct_keyring_text_free(text_b, len_b);
    ct_keys_close(ka);
    ct_keys_close(kb);
    ct__free(a);
    ct__free(b);
    tu_rmtree(dir);
    ct__free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shard_of_a_number),
        cmocka_unit_test(two_phase_commit),
        cmocka_unit_test(routed_rows_and_shared_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
