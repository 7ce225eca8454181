/*
 * test_fsio.c — the durable-write layer and its fault injector
 * (src/lib/base/fsio.c), which the golden fault sweeps only see through
 * whole commands:
 * - a whole-file write is all or nothing: a failed write, fsync or rename
 *   leaves the old file as it was and no temporary behind;
 * - a write in parts commits under the final name only at commit, and a
 *   discarded one leaves nothing;
 * - the injector fails exactly the n-th call, or every call from the
 *   n-th on, and counts calls;
 * - reads: a missing file is CT_ENOTFOUND, a file over the cap is
 *   refused, a map holds the bytes and the file's identity.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "alloc.h"
#include "fsio.h"
#include "testutil.h"

static void expect_content(const char *path, const char *want)
{
    char *data = NULL;
    size_t len = 0;
    ct_err err;
    assert_int_equal(ct__fs_read_file(path, 1 << 16, &data, &len, &err), CT_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data, want, len);
    ct__free(data);
}

static void whole_file_all_or_nothing(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("fsio");
    char *path = ct__path_join(dir, "f");
    ct_err err;
    assert_int_equal(ct__fs_write_file(path, "old", 3, 0600, &err), CT_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    static const char *const ops[] = {"write", "fsync", "rename"};
    for (int i = 0; i < 3; i++) {
        ct__fs_fault_set(ops[i], i == 0 ? ENOSPC : EIO, 1, 0);
        ct_code rc = ct__fs_write_file(path, "new", 3, 0600, &err);
        ct__fs_fault_set(ops[i], 0, 0, 0);
        assert_int_equal(rc, CT_EIO);
        assert_non_null(strstr(err.msg, i == 0 ? "No space left" : "Input/output error"));
        expect_content(path, "old");          /* the old file, whole */
        assert_int_equal(tu_count_entries(dir), 1); /* and no temporary */
    }
    assert_int_equal(ct__fs_write_file(path, "new", 3, 0600, &err), CT_OK);
    expect_content(path, "new");
    ct__free(path);
    tu_rmtree(dir);
    free(dir);
}

static void parts_commit_or_discard(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("fsio-parts");
    char *path = ct__path_join(dir, "seg");
    ct_err err;
    ct_wfile f;
    assert_int_equal(ct__fs_create(&f, path, &err), CT_OK);
    assert_int_equal(ct__fs_write(&f, "hello ", 6, &err), CT_OK);
    assert_int_equal(ct__fs_write(&f, "world", 5, &err), CT_OK);
    assert_int_equal(ct__fs_pwrite(&f, "H", 1, 0, &err), CT_OK);
    assert_int_equal(f.written, 11);
    assert_int_equal(access(path, F_OK), -1); /* nothing under the final name yet */
    assert_int_equal(ct__fs_commit(&f, &err), CT_OK);
    expect_content(path, "Hello world");
    /* discarded: no trace of it */
    char *other = ct__path_join(dir, "other");
    assert_int_equal(ct__fs_create(&f, other, &err), CT_OK);
    assert_int_equal(ct__fs_write(&f, "x", 1, &err), CT_OK);
    ct__fs_discard(&f);
    assert_int_equal(access(other, F_OK), -1);
    assert_int_equal(tu_count_entries(dir), 1);
    /* a commit whose fsync fails removes the temporary: never "written" */
    assert_int_equal(ct__fs_create(&f, other, &err), CT_OK);
    assert_int_equal(ct__fs_write(&f, "y", 1, &err), CT_OK);
    ct__fs_fault_set("fsync", EIO, 1, 0);
    assert_int_equal(ct__fs_commit(&f, &err), CT_EIO);
    ct__fs_fault_set("fsync", 0, 0, 0);
    assert_int_equal(access(other, F_OK), -1);
    assert_int_equal(tu_count_entries(dir), 1);
    ct__free(other);
    ct__free(path);
    tu_rmtree(dir);
    free(dir);
}

static void injector_counts(void **state)
{
    (void)state;
    ct__fs_fault_set("write", EIO, 3, 0);
    assert_int_equal(ct__fs_fault_check("write"), 0);
    assert_int_equal(ct__fs_fault_check("write"), 0);
    assert_int_equal(ct__fs_fault_check("write"), EIO); /* the 3rd, once */
    assert_int_equal(ct__fs_fault_check("write"), 0);
    ct__fs_fault_set("sqlread", EIO, 2, 1);
    assert_int_equal(ct__fs_fault_check("sqlread"), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ct__fs_fault_check("sqlread"), EIO); /* from the 2nd on */
    assert_int_equal(ct__fs_fault_check("fsync"), 0);        /* other ops untouched */
    ct__fs_fault_set("write", 0, 0, 0);
    ct__fs_fault_set("sqlread", 0, 0, 0);
    assert_int_equal(ct__fs_fault_check("write"), 0);
    assert_int_equal(ct__fs_fault_check("nosuchop"), 0);
}

static void reads_and_maps(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("fsio-read");
    char *path = ct__path_join(dir, "f"), *missing = ct__path_join(dir, "none");
    ct_err err;
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(ct__fs_read_file(missing, 100, &data, &len, &err), CT_ENOTFOUND);
    assert_int_equal(ct__fs_write_file(path, "0123456789", 10, 0600, &err), CT_OK);
    assert_int_not_equal(ct__fs_read_file(path, 5, &data, &len, &err), CT_OK); /* over the cap */
    assert_int_equal(ct__fs_read_file(path, 10, &data, &len, &err), CT_OK);
    assert_int_equal(data[len], '\0'); /* NUL-terminated for convenience */
    ct__free(data);
    ct_map m;
    assert_int_equal(ct__fs_map(path, &m, &err), CT_OK);
    assert_int_equal(m.len, 10);
    assert_memory_equal(m.data, "0123456789", 10);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(m.ino == (uint64_t)st.st_ino && m.dev == (uint64_t)st.st_dev);
    ct__fs_unmap(&m);
    /* append_sync appends whole records */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(ct__fs_append_sync(fd, "ab", 2, path, &err), CT_OK);
    ct__fs_fault_set("write", EIO, 1, 0);
    assert_int_equal(ct__fs_append_sync(fd, "cd", 2, path, &err), CT_EIO);
    ct__fs_fault_set("write", 0, 0, 0);
    close(fd);
    expect_content(path, "0123456789ab");
    ct__free(path);
    ct__free(missing);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_file_all_or_nothing),
        cmocka_unit_test(parts_commit_or_discard),
        cmocka_unit_test(injector_counts),
        cmocka_unit_test(reads_and_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
