/*
 * test_textparse.c — the scalar parsers of SPEC section 2.
 *
 * Every input is passed with an explicit length and copied into a heap
 * block of exactly that size first, so ASan catches any read past len.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textparse.h"

/* A copy of s without a terminating NUL, for the parsers to overrun. */
static char *exact(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static int ptime(const char *s, int allow_date, int64_t *t)
{
    char *p = exact(s);
    int r = ct__parse_time(p, strlen(s), allow_date, t);
    free(p);
    return r;
}

static int64_t time_ok(const char *s, int allow_date)
{
    int64_t t = -1;
    if (ptime(s, allow_date, &t) != 0)
        fail_msg("rejected time \"%s\"", s);
    return t;
}

static void time_bad(const char *s, int allow_date)
{
    int64_t t = 12345;
    if (ptime(s, allow_date, &t) == 0)
        fail_msg("accepted time \"%s\" as %lld", s, (long long)t);
    assert_int_equal(t, 12345); /* untouched on failure */
}

static int pdouble(const char *s, double *v)
{
    char *p = exact(s);
    int r = ct__parse_double(p, strlen(s), v);
    free(p);
    return r;
}

static double dbl_ok(const char *s)
{
    double v = -999;
    if (pdouble(s, &v) != 0)
        fail_msg("rejected decimal \"%s\"", s);
    return v;
}

static void dbl_bad(const char *s)
{
    double v;
    if (pdouble(s, &v) == 0)
        fail_msg("accepted decimal \"%s\" as %.17g", s, v);
}

static void assert_same_bits(double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    if (x != y)
        fail_msg("%.17g (%016llx) != %.17g (%016llx)", a, (unsigned long long)x, b,
                 (unsigned long long)y);
}

/* ---- times ---------------------------------------------------------------- */

static void test_time_formats(void **state)
{
    (void)state;
    const int64_t t = 1585044000; /* 2020-03-24T10:00:00Z */
    assert_int_equal(time_ok("2020-03-24T10:00:00Z", 0), t);
    assert_int_equal(time_ok("2020-03-24 10:00:00", 0), t);
    assert_int_equal(time_ok("1585044000", 0), t);
    assert_int_equal(time_ok("2020-03-24T13:00:00+03:00", 0), t);
    assert_int_equal(time_ok("2020-03-24T04:30:00-05:30", 0), t);
    assert_int_equal(time_ok("2020-03-24T10:00:00+00:00", 0), t);
    assert_int_equal(time_ok("2020-03-24T10:00:00-00:00", 0), t);
    assert_int_equal(time_ok("2020-03-25T09:59:00+23:59", 0), t);
    assert_int_equal(time_ok("0", 0), 0);
    assert_int_equal(time_ok("0001585044000", 0), t);
    assert_int_equal(time_ok("1970-01-01T00:00:00Z", 0), 0);
    /* the 'T' form needs a zone, the space form takes none */
    time_bad("2020-03-24T10:00:00", 0);
    time_bad("2020-03-24 10:00:00Z", 0);
    time_bad("2020-03-24 10:00:00+03:00", 0);
    /* malformed */
    time_bad("", 0);
    time_bad("2020-03-24t10:00:00Z", 0);
    time_bad("2020-03-24T10:00:00z", 0);
    time_bad("2020-03-24T10:00Z", 0);
    time_bad("2020-03-24T10:00:00+0300", 0);
    time_bad("2020-03-24T10:00:00+03", 0);
    time_bad("2020-03-24T10:00:00+03:00 ", 0);
    time_bad(" 2020-03-24T10:00:00Z", 0);
    time_bad("2020-3-24T10:00:00Z", 0);
    time_bad("2020-03-24T1:00:00Z", 0);
    time_bad("2020/03/24 10:00:00", 0);
    time_bad("2020-03-24_10:00:00", 0);
    time_bad("2020-03-24T10:00:00Zjunk", 0);
    time_bad("-1", 0);
    time_bad("+1585044000", 0);
    time_bad("1585044000 ", 0);
    time_bad("15850440x0", 0);
    time_bad("1e9", 0);
    time_bad("abc", 0);
}

static void test_time_fraction(void **state)
{
    (void)state;
    const int64_t t = 1585044000;
    assert_int_equal(time_ok("2020-03-24T10:00:00.999Z", 0), t);
    assert_int_equal(time_ok("2020-03-24T10:00:00.5+03:00", 0) , t - 3 * 3600);
    assert_int_equal(time_ok("2020-03-24 10:00:00.123456789", 0), t);
    assert_int_equal(time_ok("1585044000.9", 0), t);
    assert_int_equal(time_ok("1585044000.000001", 0), t);
    time_bad("1585044000.", 0);
    time_bad(".9", 0);
    time_bad("2020-03-24T10:00:00.Z", 0);
    time_bad("2020-03-24T10:00:00,5Z", 0);
    time_bad("1585044000.9.1", 0);
    time_bad("1585044000.-9", 0);
}

static void test_time_calendar(void **state)
{
    (void)state;
    assert_int_equal(time_ok("2020-02-29T00:00:00Z", 0), 1582934400);
    assert_int_equal(time_ok("2000-02-29T00:00:00Z", 0), 951782400);
    time_bad("2021-02-29T00:00:00Z", 0);
    time_bad("2100-02-29T00:00:00Z", 0);
    time_bad("2020-02-30T00:00:00Z", 0);
    time_bad("2020-04-31T00:00:00Z", 0);
    time_bad("2020-13-01T00:00:00Z", 0);
    time_bad("2020-00-01T00:00:00Z", 0);
    time_bad("2020-01-00T00:00:00Z", 0);
    time_bad("2020-01-32T00:00:00Z", 0);
    assert_int_equal(time_ok("2020-12-31T23:59:59Z", 0), 1609459199);
    time_bad("2020-03-24T24:00:00Z", 0);
    time_bad("2020-03-24T23:60:00Z", 0);
    time_bad("2020-03-24T23:59:60Z", 0);
    time_bad("2020-03-24T10:00:00+24:00", 0);
    time_bad("2020-03-24T10:00:00+03:60", 0);
    assert_int_equal(time_ok("2020-03-24T23:59:59-23:59", 0),
                     1585094399 + 23 * 3600 + 59 * 60);
}

static void test_time_date_only(void **state)
{
    (void)state;
    assert_int_equal(time_ok("2020-03-24", 1), 1585008000);
    time_bad("2020-03-24", 0);
    time_bad("2020-02-30", 1);
    time_bad("2020-03-24T", 1);
    time_bad("2020-03-24 ", 1);
    time_bad("2020-03-2", 1);
}

static void test_time_range(void **state)
{
    (void)state;
    assert_int_equal(time_ok("9999-12-31T23:59:59Z", 0), CT_TIME_MAX);
    assert_int_equal(time_ok("9999-12-31", 1), CT_TIME_MAX - 86399);
    assert_int_equal(time_ok("253402300799", 0), CT_TIME_MAX);
    time_bad("253402300800", 0);
    time_bad("99999999999999999999999999", 0);
    time_bad("1969-12-31T23:59:59Z", 0);
    time_bad("1970-01-01T00:30:00+01:00", 0);
    time_bad("9999-12-31T23:59:59-00:01", 0);
    time_bad("0000-01-01T00:00:00Z", 0);
    time_bad("10000-01-01T00:00:00Z", 0);
    assert_int_equal(time_ok("1970-01-01T01:00:00+01:00", 0), 0);
}

static void test_time_round_trip(void **state)
{
    (void)state;
    char out[21];
    ct__format_time(1585044000, out);
    assert_string_equal(out, "2020-03-24T10:00:00Z");
    ct__format_time(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    ct__format_time(CT_TIME_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    ct__format_time(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
    ct__format_time(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    ct__format_time(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00Z");
    /* every day over 1970..9999 and a spread of clock times */
    uint64_t x = 88172645463325252ULL;
    for (int64_t t = 0; t <= CT_TIME_MAX; t += 86400 + 3607) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t u = t + (int64_t)(x % 86400);
        if (u > CT_TIME_MAX)
            break;
        int64_t back = -1;
        ct__format_time(u, out);
        assert_int_equal(ct__parse_time(out, 20, 0, &back), 0);
        assert_int_equal(back, u);
    }
    assert_int_equal(ct__days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ct__days_from_civil(1969, 12, 31), -1);
    assert_int_equal(ct__days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(ct__days_from_civil(0, 1, 1), -719528);
}

/* ---- phone numbers ------------------------------------------------------------ */

static int pmsisdn(const char *s, uint64_t *num, char digits[16])
{
    char *p = exact(s);
    int r = ct__parse_msisdn(p, strlen(s), num, digits);
    free(p);
    return r;
}

static void msisdn_ok(const char *s, const char *want)
{
    uint64_t num = 0;
    char d[16];
    if (pmsisdn(s, &num, d) != 0)
        fail_msg("rejected msisdn \"%s\"", s);
    assert_string_equal(d, want);
    assert_int_equal(num, strtoull(want, NULL, 10));
}

static void msisdn_bad(const char *s)
{
    uint64_t num = 7;
    char d[16] = "untouched";
    if (pmsisdn(s, &num, d) == 0)
        fail_msg("accepted msisdn \"%s\" as %s", s, d);
    assert_int_equal(num, 7);
    assert_string_equal(d, "untouched");
}

static void test_msisdn(void **state)
{
    (void)state;
    msisdn_ok("79991234567", "79991234567");
    msisdn_ok("+79991234567", "79991234567");
    msisdn_ok("+7 (999) 123-45-67", "79991234567");
    msisdn_ok("+7.999.123.45.67", "79991234567");
    msisdn_ok("(+7) 999 1234567", "79991234567");
    msisdn_ok("1234567", "1234567");
    msisdn_ok("123456789012345", "123456789012345");
    msisdn_ok("+1 (234) 567-8901-2345", "123456789012345");
    msisdn_ok("999999999999999", "999999999999999");
    msisdn_bad("");
    msisdn_bad("+");
    msisdn_bad("123456");
    msisdn_bad("+1 23 45 6");
    msisdn_bad("1234567890123456");
    msisdn_bad("09991234567");
    msisdn_bad("+0 999 123 45 67");
    msisdn_bad("7999123456a");
    msisdn_bad("7999I234567");
    msisdn_bad("79991234567 ext 1");
    msisdn_bad("7999\t1234567");
    msisdn_bad("7999/1234567");
    msisdn_bad("++79991234567");
    msisdn_bad("7999+1234567");
    msisdn_bad("79991234567+");
    msisdn_bad("7999123456\xd9\xa7"); /* Arabic-Indic seven */
}

static void mask(const char *s, const char *want)
{
    char out[24];
    char *p = exact(s);
    memset(out, 'X', sizeof out);
    ct__mask_msisdn(p, strlen(s), out);
    free(p);
    assert_string_equal(out, want);
}

static void test_mask(void **state)
{
    (void)state;
    mask("79990000001", "7999***0001");
    mask("123456789012345", "1234***2345");
    mask("1234567890", "1***0");
    mask("1234567", "1***7");
    mask("+7 (999) 000-00-01", "7999***0001");
    mask("79990000001234567890123", "7999***0123"); /* too long: still masked */
    mask("12", "1***2");
    mask("5", "***");
    mask("call me", "***");
    mask("", "");
    /* no run of more than 8 digits of the input ever survives */
    const char *junk[] = {"123456789", "1234567890123456789012345678901234567890",
                          "ab12cd34ef56gh78ij90kl12", "9-9-9-9-9-9-9-9-9-9-9-9"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        char out[24];
        ct__mask_msisdn(junk[i], strlen(junk[i]), out);
        size_t run = 0, best = 0, total = 0;
        for (const char *c = out; *c; c++) {
            run = (*c >= '0' && *c <= '9') ? run + 1 : 0;
            total += *c >= '0' && *c <= '9';
            best = run > best ? run : best;
        }
        assert_true(best <= 8);
        assert_true(total <= 8);
        assert_non_null(strstr(out, "***"));
    }
}

/* ---- decimals -------------------------------------------------------------------- */

static void test_decimal_values(void **state)
{
    (void)state;
    assert_same_bits(dbl_ok("55.7500"), dbl_ok("55.75"));
    assert_same_bits(dbl_ok("55.75"), 55.75);
    assert_same_bits(dbl_ok("-0.5"), -0.5);
    assert_same_bits(dbl_ok("+0.5"), 0.5);
    assert_same_bits(dbl_ok("1e3"), 1000.0);
    assert_same_bits(dbl_ok("1E+3"), 1000.0);
    assert_same_bits(dbl_ok("2.5e-3"), 0.0025);
    assert_same_bits(dbl_ok("1."), 1.0);
    assert_same_bits(dbl_ok(".5"), 0.5);
    assert_same_bits(dbl_ok("-.5"), -0.5);
    assert_same_bits(dbl_ok("00055.750"), 55.75);
    assert_same_bits(dbl_ok("0.1"), 0.1);
    assert_same_bits(dbl_ok("37.617299900000001"), 37.617299900000001);
    assert_same_bits(dbl_ok("-180"), -180.0);
    assert_same_bits(dbl_ok("100000"), 100000.0);
    assert_same_bits(dbl_ok("5575e-2"), 55.75);
    assert_same_bits(dbl_ok("0.05575e3"), 55.75);
    /* zero is always +0.0 */
    assert_same_bits(dbl_ok("0"), 0.0);
    assert_same_bits(dbl_ok("-0"), 0.0);
    assert_same_bits(dbl_ok("-0.000"), 0.0);
    assert_same_bits(dbl_ok("0e999"), 0.0);
    assert_same_bits(dbl_ok("-1e-999"), 0.0);
}

static void test_decimal_hard(void **state)
{
    (void)state;
    /* beyond the fast path: compared with the C library on the same text */
    const char *hard[] = {
        "9007199254740993", /* 2^53 + 1: a tie, rounds to even */
        "9007199254740993.0000000000000000000000000001",
        "179769313486231570814527423731704356798070567525844996598917476803157260780"
        "028538760589558632766878171540458953514382464234321326889464182768467546703"
        "537516986049910576551282076245490090389328944075868508455133942304583236903"
        "222948165808559332123348274797826204144723168738177180919299881250404026184"
        "124858368", /* DBL_MAX */
        "2.2250738585072011e-308",
        "4.9406564584124654e-324",
        "2.4703282292062328e-324",
        "1e-320",
        "123456789012345678901234567890e-10",
        "1e23",
        "8.98846567431158e307",
        "0.1000000000000000055511151231257827021181583404541015625",
        "0.10000000000000000555111512312578270211815834045410156250000000000001",
        "0.10000000000000000555111512312578270211815834045410156249999999999999",
        "1.7976931348623157e308",
        "1e308",
        "3.14159265358979323846264338327950288419716939937510582097494459",
        "-12345.678901234567890123456789",
    };
    for (size_t i = 0; i < sizeof hard / sizeof *hard; i++)
        assert_same_bits(dbl_ok(hard[i]), strtod(hard[i], NULL));
    /* more significant digits than the copy keeps: the sticky digit decides.
     * 1 + 2^-53 is the midpoint between 1 and its successor; digits far
     * beyond 800 push it just above (round up) or leave it a tie (even). */
    char big[2100];
    const char *mid = "1.00000000000000011102230246251565404236316680908203125";
    size_t n = strlen(mid);
    memcpy(big, mid, n);
    memset(big + n, '0', 1500);
    big[n + 1500] = '\0';
    assert_same_bits(dbl_ok(big), 1.0);
    big[n + 1500] = '1';
    big[n + 1501] = '\0';
    assert_same_bits(dbl_ok(big), nextafter(1.0, 2.0));
    memcpy(big, mid, n);
    big[n - 1] = '4'; /* ...3124999...9: just below the midpoint */
    memset(big + n, '9', 1500);
    big[n + 1500] = '\0';
    assert_same_bits(dbl_ok(big), 1.0);
    /* random short decimals against strtod */
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 200000; i++) {
        char txt[64];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int e = (int)(x >> 40) % 700 - 350;
        snprintf(txt, sizeof txt, "%llu.%llue%d", (unsigned long long)(x % 100000000000ULL),
                 (unsigned long long)((x >> 20) % 10000000000ULL), e);
        double want = strtod(txt, NULL), got;
        if (want > 1.7976931348623157e308) {
            dbl_bad(txt);
            continue;
        }
        assert_int_equal(pdouble(txt, &got), 0);
        assert_same_bits(got, want == 0.0 ? 0.0 : want);
    }
}

static void test_decimal_bad(void **state)
{
    (void)state;
    const char *bad[] = {"",     "-",    "+",     ".",      "-.",     "e5",   ".e5",
                         "1e",   "1e+",  "1e-",   "1e1000", "1e0001", "1.2.3", "1,5",
                         " 1",   "1 ",   "--1",   "+-1",    "0x10",   "0x1p3", "inf",
                         "-inf", "nan",  "NaN",   "1e5x",   "1d5",    "1e309", "2e308",
                         "١",    "1_000", "1e3.5", "e",      "1..2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        dbl_bad(bad[i]);
}

/* ---- integers and identifiers ------------------------------------------------- */

static void test_u64(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(ct__parse_u64("0", 1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ct__parse_u64("123456789012345678", 18, &v), 0);
    assert_int_equal(v, 123456789012345678ULL);
    assert_int_equal(ct__parse_u64("0000012", 7, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(ct__parse_u64("12345", 3, &v), 0); /* stops at len */
    assert_int_equal(v, 123);
    v = 99;
    assert_int_equal(ct__parse_u64("1234567890123456789", 19, &v), -1);
    assert_int_equal(ct__parse_u64("", 0, &v), -1);
    assert_int_equal(ct__parse_u64("-1", 2, &v), -1);
    assert_int_equal(ct__parse_u64("+1", 2, &v), -1);
    assert_int_equal(ct__parse_u64("1 ", 2, &v), -1);
    assert_int_equal(ct__parse_u64("1.0", 3, &v), -1);
    assert_int_equal(v, 99);
}

static void test_ident(void **state)
{
    (void)state;
    assert_int_equal(ct__check_ident("250-01-1234-5678", 16, 64), 0);
    assert_int_equal(ct__check_ident("A.z_0:9-", 8, 64), 0);
    assert_int_equal(ct__check_ident("RU-MOW", 6, 32), 0);
    assert_int_equal(ct__check_ident("", 0, 64), -1);
    assert_int_equal(ct__check_ident("abc", 3, 2), -1);
    assert_int_equal(ct__check_ident("ab", 2, 2), 0);
    assert_int_equal(ct__check_ident("a b", 3, 64), -1);
    assert_int_equal(ct__check_ident("a,b", 3, 64), -1);
    assert_int_equal(ct__check_ident("a/b", 3, 64), -1);
    assert_int_equal(ct__check_ident("a\0b", 3, 64), -1);
    assert_int_equal(ct__check_ident("caf\xc3\xa9", 5, 64), -1);
    char id[65];
    memset(id, 'x', sizeof id);
    assert_int_equal(ct__check_ident(id, 64, 64), 0);
    assert_int_equal(ct__check_ident(id, 65, 64), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_formats),   cmocka_unit_test(test_time_fraction),
        cmocka_unit_test(test_time_calendar),  cmocka_unit_test(test_time_date_only),
        cmocka_unit_test(test_time_range),     cmocka_unit_test(test_time_round_trip),
        cmocka_unit_test(test_msisdn),         cmocka_unit_test(test_mask),
        cmocka_unit_test(test_decimal_values), cmocka_unit_test(test_decimal_hard),
        cmocka_unit_test(test_decimal_bad),    cmocka_unit_test(test_u64),
        cmocka_unit_test(test_ident),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
