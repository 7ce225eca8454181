/*
 * test_keys.c — the keyring: its modes, a sealed keyring's header bound to
 * its contents, the conversion of a directory made before the keyring,
 * the dlr key's grace after a rotation, purge's new keys, and a reader
 * that follows a rotation made by another handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc.h"
#include "celltrace.h"
#include "db.h"
#include "fsio.h"
#include "keys.h"
#include "testutil.h"

static const char PASS[] = "correct horse battery staple";

static ct_keys_setup passphrase_setup(void)
{
    ct_keys_setup s = {CT_KEYS_PASSPHRASE, NULL, NULL, NULL, CT_KDF_INTERACTIVE,
                       {PASS, sizeof PASS - 1, NULL}, NULL};
    return s;
}

static char *path_in(const char *dir, const char *name)
{
    return ct__path_join(dir, name);
}

static void file_keyring_is_private(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("keys");
    char *data = path_in(dir, "data");
    ct_err err;
    assert_int_equal(ct_init(data, &err), CT_OK);
    struct stat st;
    char *p = path_in(data, "keys/keyring");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    ct__free(p);
    p = path_in(data, "keys");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    ct__free(p);
    ct_keys_where w;
    assert_int_equal(ct_keys_where_of(data, &w, &err), CT_OK);
    assert_int_equal(w.provider, CT_KEYS_FILE);
    assert_true(w.inside_data); /* the warning's condition */
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

/* Any change to the header of a sealed keyring (cheaper Argon2id limits,
 * another salt) or to its data makes it not open; the right passphrase
 * opens the original. */
static void sealed_header_is_bound(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("sealed");
    char *data = path_in(dir, "data");
    ct_err err;
    ct_keys_setup s = passphrase_setup();
    assert_int_equal(ct_init_with(data, &s, &err), CT_OK);
    char *path = path_in(data, "keys/keyring.sealed"), *text = NULL;
    size_t len = 0;
    assert_int_equal(ct__fs_read_file(path, 1 << 16, &text, &len, &err), CT_OK);
    ct_key_source src = {PASS, sizeof PASS - 1, NULL};
    ct_keyring *k = NULL;
    assert_int_equal(ct_keys_unlock(data, &src, &k, &err), CT_OK);
    ct_keys_close(k);
    /* one character changed in the Argon2id passes, the salt, the data */
    const char *fields[] = {"argon2id13 ", "salt ", "data "};
    for (size_t i = 0; i < 3; i++) {
        char *bad = ct__malloc(len + 1), *at;
        memcpy(bad, text, len + 1);
        at = strstr(bad, fields[i]);
        assert_non_null(at);
        at += strlen(fields[i]);
        *at = *at == '0' ? '1' : *at == '2' ? '3' : '0'; /* always a different digit */
        assert_int_equal(ct__fs_write_file(path, bad, len, 0600, &err), CT_OK);
        k = NULL;
        ct_code rc = ct_keys_unlock(data, &src, &k, &err);
        if (rc == CT_OK)
            fail_msg("a keyring with its %s edited opened", fields[i]);
        assert_null(k);
        ct__free(bad);
    }
    assert_int_equal(ct__fs_write_file(path, text, len, 0600, &err), CT_OK);
    /* a wrong passphrase */
    ct_key_source wrong = {"correct horse battery stapLe", sizeof PASS - 1, NULL};
    assert_int_equal(ct_keys_unlock(data, &wrong, &k, &err), CT_ECRYPTO);
    assert_non_null(strstr(err.msg, "wrong passphrase"));
    /* none at all: the message names the source */
    assert_int_equal(ct_keys_unlock(data, NULL, &k, &err), CT_ECRYPTO);
    assert_non_null(strstr(err.msg, "--passphrase-fd"));
    assert_int_equal(ct_keys_unlock(data, &src, &k, &err), CT_OK);
    ct_keys_close(k);
    ct__free(text);
    ct__free(path);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

/* A directory from before the keyring: pseudonym.key and vault.key (and
 * no dlr.key yet). A reader uses them as they are; the first writer
 * writes keys/keyring with the same keys and removes the old files. */
static void legacy_files_are_converted(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("legacy");
    char *data = path_in(dir, "data");
    ct_err err;
    assert_int_equal(ct_init(data, &err), CT_OK);
    ct_keyring *k = NULL;
    assert_int_equal(ct_keys_unlock(data, NULL, &k, &err), CT_OK);
    uint8_t pkey[32], vkey[32];
    memcpy(pkey, k->s->set.pseudonym.k, 32);
    memcpy(vkey, k->s->set.vault.k, 32);
    ct_keys_close(k);
    char *ring = path_in(data, "keys/keyring"), *pf = path_in(data, "keys/pseudonym.key"),
         *vf = path_in(data, "keys/vault.key");
    assert_int_equal(unlink(ring), 0);
    assert_int_equal(ct__fs_write_file(pf, pkey, 32, 0600, &err), CT_OK);
    assert_int_equal(ct__fs_write_file(vf, vkey, 32, 0600, &err), CT_OK);

    ct_db *db = NULL;
    assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
    assert_int_equal(db->keys->legacy, 1);
    ct_close(db);
    assert_int_equal(access(ring, F_OK), -1);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    ct_close(db);
    assert_int_equal(access(ring, F_OK), 0);
    assert_int_equal(access(pf, F_OK), -1);
    assert_int_equal(access(vf, F_OK), -1);
    assert_int_equal(ct_keys_unlock(data, NULL, &k, &err), CT_OK);
    assert_memory_equal(k->s->set.pseudonym.k, pkey, 32);
    assert_memory_equal(k->s->set.vault.k, vkey, 32);
    assert_int_equal(k->s->set.dlr.gen, 1); /* made on conversion */
    ct_keys_close(k);
    ct__free(ring);
    ct__free(pf);
    ct__free(vf);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

/* After `keys rotate --dlr`, tokens under the old key are accepted until
 * the grace ends, and new tokens use the new key; a grace of 0 ends at once. */
static void dlr_grace(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("dlr");
    char *data = path_in(dir, "data");
    ct_err err;
    assert_int_equal(ct_init(data, &err), CT_OK);
    ct_db *db = NULL;
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    uint8_t old[32];
    memcpy(old, db->keys->s->set.dlr.k, 32);
    ct_rotate_summary sum;
    assert_int_equal(ct_keys_rotate(db, CT_ROTATE_DLR, 3600, &sum, &err), CT_OK);
    assert_int_equal(sum.subscribers, 0); /* subscribers.dat untouched */
    uint8_t keys[1 + CT_DLR_PREVIOUS_MAX][CT_KEY_BYTES];
    int n = 0;
    int64_t now = (int64_t)time(NULL);
    ct__keyring_dlr_keys(db->keys, now, keys, 1 + CT_DLR_PREVIOUS_MAX, &n);
    assert_int_equal(n, 2);
    assert_memory_not_equal(keys[0], old, 32);
    assert_memory_equal(keys[1], old, 32);
    ct__keyring_dlr_keys(db->keys, now + 3601, keys, 1 + CT_DLR_PREVIOUS_MAX, &n);
    assert_int_equal(n, 1); /* the grace is over */
    /* a second rotation with no grace: the key before goes at once */
    assert_int_equal(ct_keys_rotate(db, CT_ROTATE_DLR, 0, &sum, &err), CT_OK);
    ct__keyring_dlr_keys(db->keys, now, keys, 1 + CT_DLR_PREVIOUS_MAX, &n);
    assert_int_equal(n, 2); /* the first old key, still in its hour */
    assert_memory_equal(keys[1], old, 32);
    ct_keys_status st;
    assert_int_equal(ct_keys_status_of(db, &st, &err), CT_OK);
    assert_int_equal(st.dlr_gen, 3);
    assert_int_equal(st.dlr_previous, 1);
    assert_int_equal(ct_keys_rotate(db, 0, 0, &sum, &err), CT_EINVAL);
    ct_close(db);
    /* read-only handles cannot rotate */
    assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
    assert_int_equal(ct_keys_rotate(db, CT_ROTATE_VAULT, 0, &sum, &err), CT_EINVAL);
    ct_close(db);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

/* A keyring handle shared by readers follows a rotation made by a writer
 * (another process in real use): a handle opened after it gets the new
 * keys, and numbers still decrypt. */
static void shared_keys_follow_rotation(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("follow");
    char *data = path_in(dir, "data");
    ct_err err;
    ct_keys_setup s = passphrase_setup();
    assert_int_equal(ct_init_with(data, &s, &err), CT_OK);
    ct_key_source src = {PASS, sizeof PASS - 1, NULL};
    ct_keyring *readers = NULL, *writer = NULL;
    assert_int_equal(ct_keys_unlock(data, &src, &readers, &err), CT_OK);
    assert_int_equal(ct_keys_unlock(data, &src, &writer, &err), CT_OK);
    ct_db *w = NULL;
    assert_int_equal(ct_open_keyed(data, 1, writer, &w, &err), CT_OK);
    tu_write(dir, "cases.csv", "case_id,msisdn,onset,isolated,region\n"
                               "K1,79991234567,2026-03-10T00:00:00Z,2026-03-11,RU-MOW\n");
    char *cases = path_in(dir, "cases.csv");
    ct_import_summary sum;
    assert_int_equal(ct_cases_import(w, cases, NULL, &sum, &err), CT_OK);
    ct_rotate_summary rs;
    assert_int_equal(ct_keys_rotate(w, CT_ROTATE_VAULT | CT_ROTATE_PSEUDONYM, 0, &rs, &err), CT_OK);
    assert_int_equal(rs.subscribers, 1);
    /* purge --all makes a new salt: the reader's handle derives again */
    ct_close(w);
    ct_db *r = NULL;
    assert_int_equal(ct_open_keyed(data, 0, readers, &r, &err), CT_OK);
    assert_int_equal(readers->s->set.vault.gen, 2);
    char digits[16];
    assert_int_equal(ct__subdict_number(r->subs, 0, digits, &err), CT_OK);
    assert_string_equal(digits, "79991234567");
    ct_close(r);
    assert_int_equal(ct_open_keyed(data, 1, writer, &w, &err), CT_OK);
    assert_int_equal(ct_purge_all(w, &err), CT_OK);
    ct_close(w);
    assert_int_equal(ct_open_keyed(data, 0, readers, &r, &err), CT_OK);
    assert_int_equal(readers->s->set.vault.gen, 3);
    assert_memory_equal(readers->s->salt, writer->s->salt, 16);
    ct_close(r);
    ct_keys_close(readers);
    ct_keys_close(writer);
    ct__free(cases);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

/* The race of a reader with a rotation in another process: it read the
 * keyring just before step 1 and opens subscribers.dat just after step 2.
 * Simulated by a handle whose keys are the old ones but whose idea of
 * the keyring file is the new one: the open notices the file does not
 * fit its keys, reads the keyring again and opens. */
static void reader_racing_a_rotation(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("race");
    char *data = path_in(dir, "data");
    ct_err err;
    assert_int_equal(ct_init(data, &err), CT_OK);
    ct_keyring *stale = NULL;
    assert_int_equal(ct_keys_unlock(data, NULL, &stale, &err), CT_OK);
    ct_db *w = NULL;
    assert_int_equal(ct_open(data, 1, &w, &err), CT_OK);
    assert_int_equal(ct_case_add(w, "K1", "79991234567", "2020-03-10", NULL, NULL, &err), CT_OK);
    ct_rotate_summary rs;
    assert_int_equal(ct_keys_rotate(w, CT_ROTATE_VAULT | CT_ROTATE_PSEUDONYM, 0, &rs, &err), CT_OK);
    ct_close(w);
    /* stale still holds generation 1, but believes it has read the new file */
    struct stat st;
    assert_int_equal(stat(stale->path, &st), 0);
    stale->dev = (uint64_t)st.st_dev;
    stale->ino = (uint64_t)st.st_ino;
    stale->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    assert_int_equal(stale->s->set.vault.gen, 1);
    ct_db *r = NULL;
    assert_int_equal(ct_open_keyed(data, 0, stale, &r, &err), CT_OK);
    assert_int_equal(stale->s->set.vault.gen, 2);
    char digits[16];
    assert_int_equal(ct__subdict_number(r->subs, 0, digits, &err), CT_OK);
    assert_string_equal(digits, "79991234567");
    ct_close(r);
    ct_keys_close(stale);
    ct__free(data);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_keyring_is_private),
        cmocka_unit_test(sealed_header_is_bound),
        cmocka_unit_test(legacy_files_are_converted),
        cmocka_unit_test(dlr_grace),
        cmocka_unit_test(shared_keys_follow_rotation),
        cmocka_unit_test(reader_racing_a_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
