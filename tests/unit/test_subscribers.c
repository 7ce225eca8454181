/*
 * test_subscribers.c — pseudonyms, ids and the vault: the same number
 * always gets the same id, numbers come back from the vault, no number is
 * written in clear, a torn tail is repaired and a forged record refused.
 */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "fsio.h"
#include "keys.h"
#include "subscribers.h"
#include "testutil.h"
#include <zlib.h>

static ct_keyset KEYS; /* random, made in main */

static void intern_find_and_decrypt(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("subs");
    ct_err err;
    ct_subdict *d;
    assert_int_equal(ct__subdict_open(dir, 1, &KEYS, NULL, &d, &err), CT_OK);
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
    assert_int_equal(ct__subdict_open(dir, 0, &KEYS, NULL, &d, &err), CT_OK);
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

/* A batch's number cache (ct__number_cache) answers what the vault
 * answers, on a miss and on a hit, falls back to the vault above its
 * count, and is not made when there is nothing to keep. */
static void number_cache_answers_as_vault(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("subs-cache");
    ct_err err;
    ct_subdict *d;
    assert_int_equal(ct__subdict_open(dir, 1, &KEYS, NULL, &d, &err), CT_OK);
    char digits[16];
    uint32_t id;
    for (uint64_t i = 0; i < 50; i++) {
        uint64_t num = 1000000ULL + i * 104729 + (i % 3) * 100000000000000ULL; /* 7 to 15 digits */
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)num);
        assert_int_equal(ct__subdict_intern(d, num, digits, &id, &err), CT_OK);
    }
    assert_int_equal(ct__subdict_flush(d, &err), CT_OK);
    assert_null(ct__number_cache_new(0));
    ct__number_cache *c = ct__number_cache_new(40); /* ids 40..49 are not kept */
    assert_non_null(c);
    for (int round = 0; round < 2; round++) /* a miss, then a hit */
        for (uint32_t i = 0; i < 50; i++) {
            char want[16], got[16];
            assert_int_equal(ct__subdict_number(d, i, want, &err), CT_OK);
            assert_int_equal(ct__subdict_number_cached(d, c, i, got, &err), CT_OK);
            assert_string_equal(got, want);
            assert_int_equal(ct__subdict_number_cached(d, NULL, i, got, &err), CT_OK);
            assert_string_equal(got, want);
        }
    assert_int_equal(ct__subdict_number_cached(d, c, 50, digits, &err), CT_ECORRUPT); /* no such id */
    ct__number_cache_free(c);
    ct__number_cache_free(NULL);
    ct__subdict_close(d);
    tu_rmtree(dir);
    free(dir);
}

static void count_serious(void *ud, int serious, const char *problem)
{
    (void)problem;
    *(int *)ud += serious;
}

/* A new folder whose dictionary holds 7999000000k for k = 1..count. */
static char *dict_of(const char *name, int count)
{
    char *dir = tu_tmpdir(name);
    ct_err err;
    ct_subdict *d;
    uint32_t id;
    assert_int_equal(ct__subdict_open(dir, 1, &KEYS, NULL, &d, &err), CT_OK);
    for (int k = 1; k <= count; k++) {
        char digits[16];
        snprintf(digits, sizeof digits, "7999000000%d", k);
        assert_int_equal(ct__subdict_intern(d, 79990000000ULL + (uint64_t)k, digits, &id, &err), CT_OK);
    }
    assert_int_equal(ct__subdict_flush(d, &err), CT_OK);
    ct__subdict_close(d);
    return dir;
}

static void torn_tail_and_forgery(void **state)
{
    (void)state;
    char *dir = dict_of("subs2", 2);
    ct_err err;
    ct_subdict *d;
    uint32_t id;
    char path[4200];
    snprintf(path, sizeof path, "%s/subscribers.dat", dir);
    /* a crash mid-append: half a record at the end */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage-half-record", 19), 19);
    close(fd);
    assert_int_equal(ct__subdict_open(dir, 0, &KEYS, NULL, &d, &err), CT_OK); /* a reader uses the valid prefix */
    assert_int_equal(ct__subdict_count(d), 2);
    ct__subdict_close(d);
    assert_int_equal(ct__subdict_open(dir, 1, &KEYS, NULL, &d, &err), CT_OK); /* a writer repairs */
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
    assert_int_equal(ct__subdict_open(dir, 0, &KEYS, NULL, &d, &err), CT_OK);
    char digits[16];
    assert_int_equal(ct__subdict_number(d, 0, digits, &err), CT_ECRYPTO);
    assert_int_equal(ct__subdict_number(d, 2, digits, &err), CT_OK);
    assert_string_equal(digits, "79990000003");
    ct__subdict_close(d);
    tu_rmtree(dir);
    free(dir);
}

/* A bad record before good ones is damage, not a torn append: opening
 * cuts only the bad tail and keeps the subscribers after the damage (it
 * used to cut the file at the first bad record, losing them all); the
 * damaged record's read is refused and `check` reports it. */
static void damage_in_the_middle_is_kept(void **state)
{
    (void)state;
    char *dir = dict_of("subs3", 3);
    ct_err err;
    ct_subdict *d;
    char path[4200], *data;
    size_t len;
    snprintf(path, sizeof path, "%s/subscribers.dat", dir);
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &data, &len, &err), CT_OK);
    data[CT_SUB_RECORD + 50] ^= 0x40; /* record 1: its crc fails now */
    size_t torn = len + CT_SUB_RECORD + CT_SUB_RECORD / 2; /* and a torn append of zeros */
    data = ct__realloc(data, torn);
    memset(data + len, 0, torn - len);
    assert_int_equal(ct__fs_write_file(path, data, torn, 0600, &err), CT_OK);
    ct__free(data);
    assert_int_equal(ct__subdict_open(dir, 1, &KEYS, NULL, &d, &err), CT_OK);
    assert_int_equal(ct__subdict_count(d), 3);
    char digits[16];
    assert_int_equal(ct__subdict_number(d, 0, digits, &err), CT_OK);
    assert_int_not_equal(ct__subdict_number(d, 1, digits, &err), CT_OK);
    assert_int_equal(ct__subdict_number(d, 2, digits, &err), CT_OK);
    assert_string_equal(digits, "79990000003");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 3 * CT_SUB_RECORD); /* the torn tail, only, is cut */
    int serious = 0;
    assert_true(ct__subdict_verify(d, count_serious, &serious) >= 1);
    assert_true(serious >= 1);
    ct__subdict_close(d);
    tu_rmtree(dir);
    free(dir);
}

static void reader_sees_later_appends(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("subs3");
    ct_err err;
    ct_subdict *w, *r;
    uint32_t id;
    char digits[16];
    assert_int_equal(ct__subdict_open(dir, 1, &KEYS, NULL, &w, &err), CT_OK);
    assert_int_equal(ct__subdict_intern(w, 79990000001ULL, "79990000001", &id, &err), CT_OK);
    assert_int_equal(ct__subdict_flush(w, &err), CT_OK);
    assert_int_equal(ct__subdict_open(dir, 0, &KEYS, NULL, &r, &err), CT_OK);
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

/* A rotation rewrites every record under new keys: ids and numbers stay,
 * pseudonyms change, the old keys open nothing; a pending rotation is
 * resolved by the file's first record; a reader that outlives the rewrite
 * is told to run again rather than shown garbage. */
static void rekey_keeps_ids_and_numbers(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rekey");
    ct_err err;
    ct_subdict *w, *r;
    uint32_t id;
    char digits[16], path[4200];
    assert_int_equal(ct__subdict_open(dir, 1, &KEYS, NULL, &w, &err), CT_OK);
    for (uint64_t i = 0; i < 300; i++) {
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)(79990000000ULL + i));
        assert_int_equal(ct__subdict_intern(w, 79990000000ULL + i, digits, &id, &err), CT_OK);
    }
    assert_int_equal(ct__subdict_flush(w, &err), CT_OK);
    assert_int_equal(ct__subdict_open(dir, 0, &KEYS, NULL, &r, &err), CT_OK);
    snprintf(path, sizeof path, "%s/subscribers.dat", dir);
    char *before, *after;
    size_t blen, alen;
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &before, &blen, &err), CT_OK);

    ct_keyset next = KEYS;
    ct__key_new(&next.pseudonym_next, 2);
    ct__key_new(&next.vault_next, 2);
    uint64_t bytes = 0;
    assert_int_equal(ct__subdict_rekey(w, next.pseudonym_next.k, next.vault_next.k, &bytes, &err),
                     CT_OK);
    assert_int_equal(bytes, 300 * CT_SUB_RECORD);
    assert_int_equal(ct__fs_read_file(path, 1 << 20, &after, &alen, &err), CT_OK);
    assert_int_equal(alen, blen);
    for (size_t i = 0; i < 300; i++) /* every pseudonym and ciphertext changed */
        assert_memory_not_equal(before + i * CT_SUB_RECORD, after + i * CT_SUB_RECORD, 16);
    /* the writer goes on under the new keys */
    assert_int_equal(ct__subdict_find(w, "79990000123", &id, &err), CT_OK);
    assert_int_equal(id, 123);
    assert_int_equal(ct__subdict_intern(w, 79990009999ULL, "79990009999", &id, &err), CT_OK);
    assert_int_equal(id, 300);
    assert_int_equal(ct__subdict_flush(w, &err), CT_OK);
    /* the reader opened before keeps its consistent old view; an id it
     * has never seen is refused with the reason */
    assert_int_equal(ct__subdict_number(r, 5, digits, &err), CT_OK);
    assert_string_equal(digits, "79990000005");
    assert_int_equal(ct__subdict_number(r, 300, digits, &err), CT_ECORRUPT);
    assert_non_null(strstr(err.msg, "rotation"));
    ct__subdict_close(r);

    /* both sets in the keyring (a crash before step 3): the file decides */
    int under_next = -1;
    assert_int_equal(ct__subdict_open(dir, 0, &next, &under_next, &r, &err), CT_OK);
    assert_int_equal(under_next, 1);
    assert_int_equal(ct__subdict_number(r, 300, digits, &err), CT_OK);
    assert_string_equal(digits, "79990009999");
    assert_int_equal(ct__subdict_verify(r, NULL, NULL), 0);
    ct__subdict_close(r);
    /* the old keys alone open nothing: every record is reported */
    assert_int_equal(ct__subdict_open(dir, 0, &KEYS, &under_next, &r, &err), CT_OK);
    assert_int_equal(under_next, 0);
    assert_int_equal(ct__subdict_number(r, 7, digits, &err), CT_ECRYPTO);
    assert_int_equal(ct__subdict_find(r, "79990000007", &id, &err), CT_ENOTFOUND);
    ct__subdict_close(r);
    ct__subdict_close(w);
    free(before);
    free(after);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    ct__key_new(&KEYS.pseudonym, 1);
    ct__key_new(&KEYS.vault, 1);
    ct__key_new(&KEYS.dlr, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intern_find_and_decrypt),
        cmocka_unit_test(rekey_keeps_ids_and_numbers),
        cmocka_unit_test(torn_tail_and_forgery),
        cmocka_unit_test(damage_in_the_middle_is_kept),
        cmocka_unit_test(reader_sees_later_appends),
        cmocka_unit_test(number_cache_answers_as_vault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
