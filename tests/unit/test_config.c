/*
 * test_config.c — the two layers of settings (src/lib/base/config.c): the
 * data directory's celltrace.conf, which `config set` writes, over a site
 * file only read (the Debian package's /etc/celltrace/celltrace.conf).
 * - a key set in neither is its default; set in the site file only, the
 *   site's; set in both, the data directory's;
 * - `config set` writes the data directory's file and never the site file;
 *   config list flags as default only keys set in neither;
 * - a bad line in the site file is an error naming the site file and line;
 * - a missing site file, or none at all, changes nothing.
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
#include "celltrace_notify.h"
#include "config.h"
#include "fsio.h"
#include "testutil.h"

static char *read_text(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    ct_err err;
    assert_int_equal(ct__fs_read_file(path, 1 << 16, &text, &len, &err), CT_OK);
    return text;
}

typedef struct listed {
    int sender_default, rate_default, hotline_default;
} listed;

static int note_defaults(void *ud, const char *key, const char *value, int is_default,
                         const char *help)
{
    (void)value;
    (void)help;
    listed *l = ud;
    if (!strcmp(key, "sms.sender"))
        l->sender_default = is_default;
    if (!strcmp(key, "sms.rate"))
        l->rate_default = is_default;
    if (!strcmp(key, "sms.hotline"))
        l->hotline_default = is_default;
    return 0;
}

static void site_below_data(void **state)
{
    (void)state;
    char *data = tu_tmpdir("conf-data"), *etc = tu_tmpdir("conf-etc");
    const char *site_text = "# the site\nsms.sender = HEALTH\nsms.rate = 5\n";
    tu_write(etc, "celltrace.conf", site_text);
    char *site = ct__path_join(etc, "celltrace.conf");
    char *mine = ct__path_join(data, "celltrace.conf");
    ct__conf_use_site(site);

    ct_err err;
    ct_conf c;
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK); /* no data file yet */
    assert_string_equal(c.sender, "HEALTH");
    assert_true(c.rate == 5);
    assert_string_equal(c.hotline, "8-800-2000-112"); /* the default */

    assert_int_equal(ct__conf_set(data, "sms.rate", "25", &err), CT_OK);
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK);
    assert_true(c.rate == 25);               /* the data directory's */
    assert_string_equal(c.sender, "HEALTH"); /* still the site's */
    char *text = read_text(site);
    assert_string_equal(text, site_text); /* the site file untouched */
    ct__free(text);
    text = read_text(mine);
    assert_non_null(strstr(text, "sms.rate = 25\n"));
    assert_null(strstr(text, "HEALTH")); /* site values are not copied down */
    ct__free(text);
    struct stat st;
    assert_int_equal(stat(mine, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    listed l = {0, 0, 0};
    assert_int_equal(ct_config_list(data, note_defaults, &l, &err), CT_OK);
    assert_false(l.sender_default);
    assert_false(l.rate_default);
    assert_true(l.hotline_default);

    /* a bad site line names the site file and its line */
    tu_write(etc, "celltrace.conf", "sms.sender = HEALTH\nsms.rate = fast\n");
    assert_int_equal(ct__conf_load(data, &c, &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, site));
    assert_non_null(strstr(err.msg, ":2:"));

    ct__conf_use_site(NULL);
    ct__free(site);
    ct__free(mine);
    tu_rmtree(data);
    tu_rmtree(etc);
    ct__free(data);
    ct__free(etc);
}

static void no_site_file(void **state)
{
    (void)state;
    char *data = tu_tmpdir("conf-nosite");
    ct__conf_use_site("/nonexistent/celltrace/celltrace.conf");
    ct_err err;
    ct_conf c;
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK);
    assert_string_equal(c.sender, "COVID19");
    assert_int_equal(ct__conf_set(data, "sms.sender", "MINZDRAV", &err), CT_OK);
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK);
    assert_string_equal(c.sender, "MINZDRAV");
    ct__conf_use_site(NULL); /* none at all: the same */
    assert_int_equal(ct__conf_load(data, &c, &err), CT_OK);
    assert_string_equal(c.sender, "MINZDRAV");
    tu_rmtree(data);
    ct__free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(site_below_data),
        cmocka_unit_test(no_site_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
