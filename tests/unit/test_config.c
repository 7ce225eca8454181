/*
 * test_config.c — <data>/celltrace.conf (src/lib/base/config.c) as the
 * Debian package lays it out: a link to /etc/celltrace/celltrace.conf,
 * the conffile.
 * - a set writes through the link: the target gets the new file (mode
 *   0600, comments gone, the other keys kept), the link stays a link, and
 *   a load reads it back;
 * - a link whose target is missing is an error naming the link, and
 *   nothing is created anywhere;
 * - a plain file is still replaced in place (mode 0600).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "fsio.h"
#include "testutil.h"

static char *path_in(const char *dir, const char *name)
{
    return ct__path_join(dir, name);
}

static void expect_mode(const char *path, mode_t want)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, want);
}

static void set_writes_through_a_link(void **state)
{
    (void)state;
    char *data = tu_tmpdir("conf-data"), *etc = tu_tmpdir("conf-etc");
    tu_write(etc, "celltrace.conf", "# the conffile's comments\n# sms.rate = 10\nsms.sender = HEALTH\n");
    char *target = path_in(etc, "celltrace.conf"), *link = path_in(data, "celltrace.conf");
    assert_int_equal(symlink(target, link), 0);

    ct_err err;
    ct_conf c;
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK); /* read through the link */
    assert_string_equal(c.sender, "HEALTH");
    assert_int_equal(ct__conf_set(data, "sms.rate", "25", &err), CT_OK);

    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* the link stays */
    expect_mode(target, 0600);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ct__fs_read_file(target, 1 << 16, &text, &len, &err), CT_OK);
    assert_non_null(strstr(text, "sms.rate = 25\n"));
    assert_non_null(strstr(text, "sms.sender = HEALTH\n"));
    assert_null(strstr(text, "the conffile's comments"));
    ct__free(text);
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK);
    assert_true(c.rate == 25);
    assert_string_equal(c.sender, "HEALTH");
    /* no temporary left in either folder */
    assert_int_equal(tu_count_entries(etc), 1);
    assert_int_equal(tu_count_entries(data), 1);

    ct__free(target);
    ct__free(link);
    tu_rmtree(data);
    tu_rmtree(etc);
    ct__free(data);
    ct__free(etc);
}

static void a_dangling_link_is_an_error(void **state)
{
    (void)state;
    char *data = tu_tmpdir("conf-dangling");
    char *link = path_in(data, "celltrace.conf");
    assert_int_equal(symlink("/nonexistent/celltrace/celltrace.conf", link), 0);
    ct_err err;
    assert_int_equal(ct__conf_set(data, "sms.rate", "25", &err), CT_EIO);
    assert_non_null(strstr(err.msg, "celltrace.conf"));
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(tu_count_entries(data), 1);
    ct__free(link);
    tu_rmtree(data);
    ct__free(data);
}

static void a_plain_file_is_replaced(void **state)
{
    (void)state;
    char *data = tu_tmpdir("conf-plain");
    tu_write(data, "celltrace.conf", "sms.sender = HEALTH\n");
    char *path = path_in(data, "celltrace.conf");
    assert_int_equal(chmod(path, 0644), 0);
    ct_err err;
    assert_int_equal(ct__conf_set(data, "sms.rate", "7", &err), CT_OK);
    expect_mode(path, 0600);
    ct_conf c;
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK);
    assert_true(c.rate == 7);
    assert_string_equal(c.sender, "HEALTH");
    ct__free(path);
    tu_rmtree(data);
    ct__free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_writes_through_a_link),
        cmocka_unit_test(a_dangling_link_is_an_error),
        cmocka_unit_test(a_plain_file_is_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
