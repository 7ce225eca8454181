/*
 * test_store.c — the manifest: what is committed is what is read back, a
 * damaged manifest is an error (never an empty store), and files the
 * manifest does not name are removed by a writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "alloc.h"
#include "fsio.h"
#include "store.h"
#include "testutil.h"

static char *make_data_dir(void)
{
    char *dir = tu_tmpdir("store");
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/store", dir);
    mkdir(sub, 0700);
    return dir;
}

static void commit_and_reload(void **state)
{
    (void)state;
    char *dir = make_data_dir();
    ct_store st;
    ct_err err;
    assert_int_equal(ct__store_load(dir, &st, &err), CT_OK);
    assert_int_equal(st.n_days, 0);
    for (int64_t day = 18350; day > 18340; day -= 3) {
        ct_store_run run = {.bytes = (uint64_t)day * 10, .crc = 0xdeadbeef, .events = 7};
        snprintf(run.file, sizeof run.file, "d%lld-g1.seg", (long long)day);
        ct_store_day d;
        ct__store_day_single(&d, day, &run);
        ct__store_set(&st, &d);
        tu_write(dir, "store/placeholder", "x"); /* removed: not named */
    }
    ct__store_drop(&st, 18347);
    assert_int_equal(ct__store_commit(&st, &err), CT_OK);
    ct_store back;
    assert_int_equal(ct__store_load(dir, &back, &err), CT_OK);
    assert_int_equal(back.n_days, 3);
    assert_int_equal(back.generation, 1);
    int64_t want[] = {18341, 18344, 18350};
    for (int i = 0; i < 3; i++) {
        assert_true(back.days[i].day == want[i]);
        assert_int_equal(back.days[i].n_runs, 1);
        assert_int_equal(back.days[i].bytes, (uint64_t)want[i] * 10);
        assert_int_equal(back.days[i].run[0].crc, 0xdeadbeef);
    }
    assert_true(ct__store_find(&back, 18344) == 1);
    assert_true(ct__store_find(&back, 18345) == -1);
    char path[4200];
    snprintf(path, sizeof path, "%s/store/placeholder", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    ct__store_free(&st);
    ct__store_free(&back);
    tu_rmtree(dir);
    free(dir);
}

static void damaged_manifest_is_an_error(void **state)
{
    (void)state;
    char *dir = make_data_dir();
    ct_store st;
    ct_err err;
    assert_int_equal(ct__store_load(dir, &st, &err), CT_OK);
    ct_store_run run = {.file = "d5-g1.seg", .bytes = 1, .crc = 2, .events = 3};
    ct_store_day d;
    ct__store_day_single(&d, 5, &run);
    ct__store_set(&st, &d);
    assert_int_equal(ct__store_commit(&st, &err), CT_OK);
    ct__store_free(&st);
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/store/MANIFEST", dir);
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &text, &len, &err), CT_OK);
    for (size_t i = 0; i < len; i++) { /* any changed byte, or a cut, is caught */
        char saved = text[i];
        text[i] = saved == '5' ? '6' : '5';
        assert_int_equal(ct__fs_write_file(path, text, len, 0600, &err), CT_OK);
        if (ct__store_load(dir, &st, &err) != CT_ECORRUPT)
            fail_msg("byte %zu ('%c') changed, not detected:\n%s", i, saved, text);
        ct__store_free(&st);
        text[i] = saved;
        assert_int_equal(ct__fs_write_file(path, text, i, 0600, &err), CT_OK);
        assert_int_equal(ct__store_load(dir, &st, &err), CT_ECORRUPT);
        ct__store_free(&st);
    }
    ct__free(text);
    tu_rmtree(dir);
    free(dir);
}

/* A day of several runs: kept in order with its totals, written as
 * version 2; version 1 (older writers) never lists a day twice. */
static void days_of_runs(void **state)
{
    (void)state;
    char *dir = make_data_dir();
    ct_store st;
    ct_err err;
    assert_int_equal(ct__store_load(dir, &st, &err), CT_OK);
    ct_store_run a = {.file = "d9-g1.seg", .bytes = 100, .crc = 1, .events = 10};
    ct_store_run b = {.file = "d9-g2.seg", .bytes = 50, .crc = 2, .events = 4};
    ct_store_run c = {.file = "d8-g2.seg", .bytes = 7, .crc = 3, .events = 1};
    ct_store_day d;
    ct__store_day_single(&d, 9, &a);
    ct__store_day_add_run(&d, &b);
    ct__store_set(&st, &d);
    ct__store_day_single(&d, 8, &c);
    ct__store_set(&st, &d);
    st.generation = 1; /* the commit makes it 2: the files' newest */
    assert_int_equal(ct__store_commit(&st, &err), CT_OK);
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/store/MANIFEST", dir);
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &text, &len, &err), CT_OK);
    assert_memory_equal(text, "celltrace-manifest 2\n", 21);
    ct_store back;
    assert_int_equal(ct__store_load(dir, &back, &err), CT_OK);
    assert_int_equal(back.n_days, 2);
    const ct_store_day *nine = &back.days[ct__store_find(&back, 9)];
    assert_int_equal(nine->n_runs, 2);
    assert_string_equal(nine->run[0].file, "d9-g1.seg");
    assert_string_equal(nine->run[1].file, "d9-g2.seg");
    assert_int_equal(nine->events, 14);
    assert_int_equal(nine->bytes, 150);
    assert_int_equal(ct__store_day_generation(nine), 2);
    assert_true(ct__store_names(&back, "d9-g2.seg") && !ct__store_names(&back, "d9-g3.seg"));
    ct__store_free(&back);
    /* the same text as version 1 (its crc recomputed) is refused */
    text[19] = '1';
    char *end = strstr(text, "end ");
    snprintf(end, 14, "end %08x\n", (unsigned)crc32(0L, (const Bytef *)text, (uInt)(end - text)));
    assert_int_equal(ct__fs_write_file(path, text, (size_t)(end - text) + 13, 0600, &err), CT_OK);
    assert_int_equal(ct__store_load(dir, &back, &err), CT_ECORRUPT);
    assert_non_null(strstr(err.msg, "listed too often"));
    ct__store_free(&back);
    /* a file named twice, or newer than the manifest, is refused too */
    static const char *const bad[] = {
        "celltrace-manifest 2\ngeneration 3\nday 9 d9-g1.seg 1 1 1\nday 9 d9-g1.seg 1 1 1\n",
        "celltrace-manifest 2\ngeneration 3\nday 8 d9-g1.seg 1 1 1\nday 9 d9-g1.seg 1 1 1\n",
        "celltrace-manifest 1\ngeneration 3\nday 9 d9-g4.seg 1 1 1\n"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char signed_text[256];
        int w = snprintf(signed_text, sizeof signed_text, "%s", bad[k]);
        snprintf(signed_text + w, sizeof signed_text - (size_t)w, "end %08x\n",
                 (unsigned)crc32(0L, (const Bytef *)signed_text, (uInt)w));
        assert_int_equal(ct__fs_write_file(path, signed_text, strlen(signed_text), 0600, &err), CT_OK);
        assert_int_equal(ct__store_load(dir, &back, &err), CT_ECORRUPT);
        ct__store_free(&back);
    }
    /* one run again: written as version 1, readable by older versions */
    ct__store_day_single(&d, 9, &a);
    ct__store_set(&st, &d);
    assert_int_equal(ct__store_commit(&st, &err), CT_OK);
    ct__free(text);
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &text, &len, &err), CT_OK);
    assert_memory_equal(text, "celltrace-manifest 1\n", 21);
    ct__free(text);
    ct__store_free(&st);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commit_and_reload),
        cmocka_unit_test(damaged_manifest_is_an_error),
        cmocka_unit_test(days_of_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
