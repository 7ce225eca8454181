/*
 * test_subscribers.c — pseudonyms, ids and the vault: the same number
 * always gets the same id, numbers come back from the vault, no number is
 * written in clear, a torn tail is repaired and a forged record refused.
 */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "fsio.h"
#include "subscribers.h"
#include "testutil.h"
#include <zlib.h>

static void intern_find_and_decrypt(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("subs");
    ct_err err;
    assert_int_equal(ct__keys_create(dir, &err), CT_OK);
    ct_subdict *d;
    assert_int_equal(ct__subdict_open(dir, 1, &d, &err), CT_OK);
    uint32_t ids[1000];
    char digits[16];
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t num = 79990000000ULL + i * 7919;
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)num);
        assert_int_equal(ct__subdict_intern(d, num, digits, &ids[i], &err), CT_OK);
        assert_int_equal(ids[i], i);
    }
    assert_int_equal(ct__subdict_flush(d, &err), CT_OK);
    ct__subdict_close(d);

    /* reopened read-only: same ids, numbers decrypt */
    assert_int_equal(ct__subdict_open(dir, 0, &d, &err), CT_OK);
    assert_int_equal(ct__subdict_count(d), 1000);
    for (uint64_t i = 0; i < 1000; i += 37) {
        uint64_t num = 79990000000ULL + i * 7919;
        char want[16], got[16];
        snprintf(want, sizeof want, "%llu", (unsigned long long)num);
        uint32_t id;
        assert_int_equal(ct__subdict_find(d, want, &id, &err), CT_OK);
        assert_int_equal(id, i);
        assert_int_equal(ct__subdict_number(d, id, got, &err), CT_OK);
        assert_string_equal(got, want);
    }
    uint32_t id;
    assert_int_equal(ct__subdict_find(d, "123456789", &id, &err), CT_ENOTFOUND);
    ct__subdict_close(d);

    /* nothing in the file looks like a number in clear */
    char path[4200], *data;
    size_t len;
    snprintf(path, sizeof path, "%s/subscribers.dat", dir);
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &data, &len, &err), CT_OK);
    assert_int_equal(len, 1000 * CT_SUB_RECORD);
    assert_null(memmem(data, len, "7999", 4));
    uint64_t n0 = 79990000000ULL;
    assert_null(memmem(data, len, &n0, sizeof n0));
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

static void torn_tail_and_forgery(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("subs2");
    ct_err err;
    assert_int_equal(ct__keys_create(dir, &err), CT_OK);
    ct_subdict *d;
    uint32_t id;
    assert_int_equal(ct__subdict_open(dir, 1, &d, &err), CT_OK);
    assert_int_equal(ct__subdict_intern(d, 79990000001ULL, "79990000001", &id, &err), CT_OK);
    assert_int_equal(ct__subdict_intern(d, 79990000002ULL, "79990000002", &id, &err), CT_OK);
    assert_int_equal(ct__subdict_flush(d, &err), CT_OK);
    ct__subdict_close(d);
    char path[4200];
    snprintf(path, sizeof path, "%s/subscribers.dat", dir);
    /* a crash mid-append: half a record at the end */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage-half-record", 19), 19);
    close(fd);
    assert_int_equal(ct__subdict_open(dir, 0, &d, &err), CT_OK); /* a reader uses the valid prefix */
    assert_int_equal(ct__subdict_count(d), 2);
    ct__subdict_close(d);
    assert_int_equal(ct__subdict_open(dir, 1, &d, &err), CT_OK); /* a writer repairs */
    assert_int_equal(ct__subdict_count(d), 2);
    assert_int_equal(ct__subdict_intern(d, 79990000003ULL, "79990000003", &id, &err), CT_OK);
    assert_int_equal(id, 2);
    assert_int_equal(ct__subdict_flush(d, &err), CT_OK);
    ct__subdict_close(d);
    /* swap two records' ciphertexts (crc recomputed by a forger): refused */
    char *data;
    size_t len;
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &data, &len, &err), CT_OK);
    assert_int_equal(len, 3 * CT_SUB_RECORD);
    uint8_t tmp[48];
    memcpy(tmp, data + 16, 48);
    memcpy(data + 16, data + CT_SUB_RECORD + 16, 48);
    memcpy(data + CT_SUB_RECORD + 16, tmp, 48);
    for (int r = 0; r < 2; r++) {
        uint8_t *rec = (uint8_t *)data + r * CT_SUB_RECORD;
        uint32_t c = (uint32_t)crc32(0L, rec, CT_SUB_RECORD - 4);
        for (int i = 0; i < 4; i++)
            rec[64 + i] = (uint8_t)(c >> (8 * i));
    }
    assert_int_equal(ct__fs_write_file(path, data, len, 0600, &err), CT_OK);
    ct__free(data);
    assert_int_equal(ct__subdict_open(dir, 0, &d, &err), CT_OK);
    char digits[16];
    assert_int_equal(ct__subdict_number(d, 0, digits, &err), CT_ECRYPTO);
    assert_int_equal(ct__subdict_number(d, 2, digits, &err), CT_OK);
    assert_string_equal(digits, "79990000003");
    ct__subdict_close(d);
    tu_rmtree(dir);
    free(dir);
}

static void keys_are_private(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("keys");
    ct_err err;
    assert_int_equal(ct__keys_create(dir, &err), CT_OK);
    struct stat st;
    char path[4200];
    snprintf(path, sizeof path, "%s/keys/pseudonym.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    snprintf(path, sizeof path, "%s/keys/vault.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/keys", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    tu_rmtree(dir);
    free(dir);
}

static void reader_sees_later_appends(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("subs3");
    ct_err err;
    assert_int_equal(ct__keys_create(dir, &err), CT_OK);
    ct_subdict *w, *r;
    uint32_t id;
    char digits[16];
    assert_int_equal(ct__subdict_open(dir, 1, &w, &err), CT_OK);
    assert_int_equal(ct__subdict_intern(w, 79990000001ULL, "79990000001", &id, &err), CT_OK);
    assert_int_equal(ct__subdict_flush(w, &err), CT_OK);
    assert_int_equal(ct__subdict_open(dir, 0, &r, &err), CT_OK);
    assert_int_equal(ct__subdict_count(r), 1);
    /* the writer adds a subscriber after the reader opened */
    assert_int_equal(ct__subdict_intern(w, 79990000002ULL, "79990000002", &id, &err), CT_OK);
    assert_int_equal(ct__subdict_flush(w, &err), CT_OK);
    assert_int_equal(ct__subdict_number(r, id, digits, &err), CT_OK);
    assert_string_equal(digits, "79990000002");
    assert_int_equal(ct__subdict_find(r, "79990000002", &id, &err), CT_OK);
    assert_int_equal(ct__subdict_number(r, 7, digits, &err), CT_ECORRUPT);
    ct__subdict_close(r);
    ct__subdict_close(w);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intern_find_and_decrypt),
        cmocka_unit_test(torn_tail_and_forgery),
        cmocka_unit_test(keys_are_private),
        cmocka_unit_test(reader_sees_later_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
