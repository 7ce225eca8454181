/*
 * test_netlibs.c — libcurl and libmicrohttpd opened on first use
 * (src/lib/base/netlibs.c):
 * - a library that is not installed, or lacks a symbol, is an error that
 *   names the library, the symbol and the package, and keeps nothing;
 * - a library that is there resolves to working functions;
 * - the two real loaders answer the same on every call, and their tables
 *   call into the libraries the build was made against.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <zlib.h>

#include "netlibs.h"

static void missing_library_is_named(void **state)
{
    (void)state;
    static const char *const names[] = {"zlibVersion"};
    void *fns[1] = {NULL};
    ct_err err;
    assert_int_equal(ct__netlibs_open("libct-not-installed.so.7", "a test library, package none",
                                      names, fns, 1, &err),
                     CT_EIO);
    assert_non_null(strstr(err.msg, "libct-not-installed.so.7"));
    assert_non_null(strstr(err.msg, "package none"));
    assert_null(fns[0]);
}

static void missing_symbol_is_named(void **state)
{
    (void)state;
    static const char *const names[] = {"zlibVersion", "ct_no_such_function"};
    void *fns[2] = {NULL, NULL};
    ct_err err;
    assert_int_equal(ct__netlibs_open("libz.so.1", "zlib", names, fns, 2, &err), CT_EIO);
    assert_non_null(strstr(err.msg, "ct_no_such_function"));
    assert_non_null(strstr(err.msg, "libz.so.1"));
}

static void present_library_resolves(void **state)
{
    (void)state;
    static const char *const names[] = {"zlibVersion"};
    void *fns[1] = {NULL};
    ct_err err;
    assert_int_equal(ct__netlibs_open("libz.so.1", "zlib", names, fns, 1, &err), CT_OK);
    const char *(*version)(void);
    memcpy(&version, &fns[0], sizeof fns[0]);
    assert_string_equal(version(), zlibVersion());
}

static void curl_table_calls_libcurl(void **state)
{
    (void)state;
    ct_err err;
    assert_int_equal(ct__curl_load(&err), CT_OK);
    assert_int_equal(ct__curl_load(&err), CT_OK); /* once, then remembered */
    assert_int_equal(ct__curl.global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    CURL *c = ct__curl.easy_init();
    assert_non_null(c);
    char *esc = ct__curl.easy_escape(c, "a b&c", 0);
    assert_string_equal(esc, "a%20b%26c");
    ct__curl.free(esc);
    assert_string_equal(ct__curl.easy_strerror(CURLE_OK), "No error");
    ct__curl.easy_cleanup(c);
    ct__curl.global_cleanup();
}

static void mhd_table_calls_libmicrohttpd(void **state)
{
    (void)state;
    ct_err err;
    assert_int_equal(ct__mhd_load(&err), CT_OK);
    assert_int_equal(ct__mhd_load(&err), CT_OK);
    static const char body[] = "ok";
    struct MHD_Response *r =
        ct__mhd.create_response_from_buffer(2, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    assert_non_null(r);
    assert_int_equal(ct__mhd.add_response_header(r, "Content-Type", "text/plain"), MHD_YES);
    ct__mhd.destroy_response(r);
    /* a feature query answers YES or NO, never garbage from a wrong symbol */
    enum MHD_Result tls = ct__mhd.is_feature_supported(MHD_FEATURE_TLS);
    assert_true(tls == MHD_YES || tls == MHD_NO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_library_is_named),
        cmocka_unit_test(missing_symbol_is_named),
        cmocka_unit_test(present_library_resolves),
        cmocka_unit_test(curl_table_calls_libcurl),
        cmocka_unit_test(mhd_table_calls_libmicrohttpd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
