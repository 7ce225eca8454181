/*
 * fuzz_textparse.c — the scalar parsers of SPEC section 2 (src/lib/
 * textparse.c): times, phone numbers (and their masking), decimals
 * (coordinates, radii, accuracies), integers and identifiers.
 *
 * Input: the bytes are split at '\n'; every piece goes through every
 * parser, each given exactly the piece's bytes (a heap copy of that size,
 * so ASan sees any read past it). The first byte's low bit also picks
 * allow_date for the time parser.
 *
 * Properties beyond "no crash, no read past len":
 *  - time: an accepted time lies in [CT_TIME_MIN, CT_TIME_MAX] and
 *    survives ct__format_time -> ct__parse_time unchanged;
 *  - phone number: the normalised digits are 7-15 digits without a
 *    leading 0, equal to *num, and parse again to the same number;
 *  - masking: at most 8 digits survive, and only digits and '*';
 *  - decimal: an accepted text gives exactly the bits of glibc's correctly
 *    rounded strtod (zero always +0.0), never inf or nan; and a text in
 *    the documented grammar that strtod reads as a finite number is
 *    accepted;
 *  - integer: agrees with strtoull on texts of at most 18 digits;
 *  - identifier: agrees with a direct check of the character set.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "textparse.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [+-] d* [. d*] [eE [+-] d{1,3}] with at least one mantissa digit. */
static int decimal_grammar(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && is_digit(s[i]))
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i]))
            i++, digits++;
    }
    if (!digits)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = 0;
        while (i < n && is_digit(s[i]))
            i++, e++;
        if (e < 1 || e > 3)
            return 0;
    }
    return i == n;
}

static void check_time(const char *s, size_t n, int allow_date)
{
    int64_t t = -77;
    if (ct__parse_time(s, n, allow_date, &t) != 0) {
        FZ_CHECK(t == -77, "a rejected time leaves the output alone");
        return;
    }
    FZ_CHECK(t >= CT_TIME_MIN && t <= CT_TIME_MAX, "accepted times lie in range");
    char buf[21], again[21];
    ct__format_time(t, buf);
    FZ_CHECK(strlen(buf) == 20, "formatted times are 20 characters");
    int64_t u = -1;
    FZ_CHECK(ct__parse_time(buf, 20, 0, &u) == 0 && u == t, "format then parse is the identity");
    ct__format_time(u, again);
    FZ_CHECK(strcmp(buf, again) == 0, "formatting is stable");
}

static void check_msisdn(const char *s, size_t n)
{
    uint64_t num = 0;
    char digits[16];
    memset(digits, 'x', sizeof digits);
    if (ct__parse_msisdn(s, n, &num, digits) == 0) {
        size_t k = strnlen(digits, sizeof digits);
        FZ_CHECK(k >= 7 && k <= 15, "a number has 7-15 digits");
        FZ_CHECK(digits[0] != '0', "a number does not start with 0");
        for (size_t i = 0; i < k; i++)
            FZ_CHECK(is_digit(digits[i]), "normalised numbers are digits only");
        FZ_CHECK(strtoull(digits, NULL, 10) == num, "the digits are the number");
        uint64_t again = 0;
        char d2[16];
        FZ_CHECK(ct__parse_msisdn(digits, k, &again, d2) == 0 && again == num &&
                     strcmp(d2, digits) == 0,
                 "normalised numbers parse to themselves");
    }
    char mask[24];
    memset(mask, 'x', sizeof mask);
    ct__mask_msisdn(s, n, mask);
    size_t m = strnlen(mask, sizeof mask);
    FZ_CHECK(m < sizeof mask, "the mask is NUL-terminated");
    size_t kept = 0;
    for (size_t i = 0; i < m; i++) {
        FZ_CHECK(is_digit(mask[i]) || mask[i] == '*', "masks hold only digits and '*'");
        kept += is_digit(mask[i]);
    }
    FZ_CHECK(kept <= 8, "at most 8 digits survive masking");
}

static void check_double(const char *s, size_t n)
{
    double v = -7.0;
    int ok = ct__parse_double(s, n, &v) == 0;
    char *z = malloc(n + 1);
    if (!z)
        abort();
    memcpy(z, s, n);
    z[n] = '\0';
    if (ok) {
        FZ_CHECK(isfinite(v), "accepted decimals are finite");
        FZ_CHECK(decimal_grammar(s, n), "accepted decimals follow the grammar");
        char *end = NULL;
        double ref = strtod(z, &end);
        FZ_CHECK(end == z + n, "strtod reads the whole accepted text");
        if (ref == 0.0)
            ref = 0.0; /* +0.0 for "-0" */
        FZ_CHECK(memcmp(&ref, &v, sizeof v) == 0,
                 "decimals are correctly rounded (same bits as strtod)");
    } else if (decimal_grammar(s, n)) {
        char *end = NULL;
        double ref = strtod(z, &end);
        FZ_CHECK(!(end == z + n && isfinite(ref)),
                 "a finite decimal in the grammar is accepted");
    }
    free(z);
}

static void check_u64(const char *s, size_t n)
{
    uint64_t v = 0;
    int ok = ct__parse_u64(s, n, &v) == 0;
    int all_digits = n >= 1 && n <= 18;
    for (size_t i = 0; i < n && all_digits; i++)
        all_digits = is_digit(s[i]);
    FZ_CHECK(ok == all_digits, "integers: 1-18 digits, nothing else");
    if (ok) {
        char z[19];
        memcpy(z, s, n);
        z[n] = '\0';
        FZ_CHECK(strtoull(z, NULL, 10) == v, "integers agree with strtoull");
    }
}

static void check_ident(const char *s, size_t n)
{
    static const size_t maxes[] = {1, 32, 64, 1000};
    for (size_t k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
        int want = n >= 1 && n <= maxes[k];
        for (size_t i = 0; i < n && want; i++) {
            char c = s[i];
            want = is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
                   c == '_' || c == ':' || c == '-';
        }
        FZ_CHECK((ct__check_ident(s, n, maxes[k]) == 0) == want, "identifiers: the documented set");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int allow_date = size > 0 && (data[0] & 1);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        size_t n = i - start;
        char *piece = malloc(n ? n : 1); /* exactly n bytes */
        if (!piece)
            abort();
        memcpy(piece, data + start, n);
        check_time(piece, n, allow_date);
        check_time(piece, n, !allow_date);
        check_msisdn(piece, n);
        check_double(piece, n);
        check_u64(piece, n);
        check_ident(piece, n);
        free(piece);
        start = i + 1;
    }
    return 0;
}
