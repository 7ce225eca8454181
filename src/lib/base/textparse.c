/*
 * textparse.c — the scalar fields of SPEC section 2: times, phone numbers,
 * decimals, small integers and identifiers.
 *
 * Every parser takes (pointer, length), reads only s[0..len), allocates
 * nothing and either succeeds completely or returns -1 without touching
 * its outputs; they are the first code that meets untrusted bytes, so they
 * are written to be fuzzed: no locale, no errno, no reading past len.
 *
 * Times. The calendar arithmetic is Howard Hinnant's days_from_civil /
 * civil_from_days (proleptic Gregorian, exact for any int64 year). A text
 * time is accepted only in the forms of SPEC 2 and only when the resulting
 * instant lies in [CT_TIME_MIN, CT_TIME_MAX], so "1970-01-01T00:30:00+01:00"
 * is rejected like any other time before the epoch. The 'T' form requires
 * a zone ("Z" or an offset): without one it would mean local time, which
 * this system never guesses. The space form is UTC and takes no zone.
 *
 * Phone numbers. Separators are dropped; a '+' is accepted only before the
 * first digit (SPEC: "a leading +"), at most once. Masking works on the
 * digits of any text so that a reject report can show even a broken number
 * without leaking it: "shorter numbers" are those under 11 digits, where
 * four plus four would hide fewer than three; text without digits masks
 * to "***", empty text to "".
 *
 * Integers. ct__parse_u64 counts leading zeros among its 18 digits: the
 * limit is on the text, which keeps it a plain length check.
 *
 * Decimals. The value must be the correctly rounded double of the decimal
 * text, whatever its spelling, because events are deduplicated by their
 * coordinates: "55.75" and "55.7500" must give the same bits. Two routes:
 *  - Clinger's fast path: when the significant digits form an integer
 *    M < 2^53 and the decimal exponent e has |e| <= 22, both M and 10^|e|
 *    are exact doubles and one IEEE multiplication or division rounds the
 *    exact product once: correctly rounded. (Requires FLT_EVAL_METHOD 0,
 *    i.e. no x87 double rounding; otherwise the fast path is compiled out.)
 *  - Otherwise strtod, which glibc and musl implement with correct
 *    rounding, on a local copy built as "<digits>e<exp>": no radix
 *    character, so the result does not depend on LC_NUMERIC. The copy is
 *    bounded: beyond KEEP_DIGITS significant digits the rest are replaced
 *    by a single sticky '1'. This cannot change the rounding: a midpoint
 *    between adjacent doubles has at most 768 significant digits, so no
 *    midpoint lies strictly between the truncated value and either the
 *    true value or the sticky value (all three share the first KEEP_DIGITS
 *    digits and the two latter are strictly above the truncation).
 * Accepted spellings: "1." and ".5" (at least one digit somewhere, as in C
 * and most CSV writers). A zero result is always +0.0, never -0.0, so that
 * "-0" and "0" are the same coordinate. A magnitude that overflows the
 * double range is rejected (there is no inf); one that underflows rounds
 * to the nearest subnormal or to zero like any other value.
 */
#include "textparse.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celltrace.h"

/* ---- small helpers -------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads exactly n digits at s as an unsigned number. */
static int fixed_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Skips a fraction ".d+" at s[*i]; nothing to skip is fine. */
static int skip_fraction(const char *s, size_t len, size_t *i)
{
    if (*i >= len || s[*i] != '.')
        return 0;
    size_t j = *i + 1;
    while (j < len && is_digit(s[j]))
        j++;
    if (j == *i + 1)
        return -1; /* "." without digits */
    *i = j;
    return 0;
}

/* ---- calendar --------------------------------------------------------------- */

int64_t ct__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9;          /* [0, 11] */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;             /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void ct__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30,
                                            31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29u : mdays[m - 1];
}

/* ---- times -------------------------------------------------------------------- */

/* Integer epoch seconds with an optional fraction. */
static int parse_epoch(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int64_t v = 0;
    while (i < len && is_digit(s[i])) {
        v = v * 10 + (s[i] - '0');
        if (v > CT_TIME_MAX)
            return -1; /* also keeps v far from overflow */
        i++;
    }
    if (i == 0 || skip_fraction(s, len, &i) < 0 || i != len)
        return -1;
    *out = v;
    return 0;
}

/* YYYY-MM-DD at s[0..10): days since the epoch of a valid calendar date. */
static int parse_date(const char *s, int64_t *days)
{
    unsigned y, m, d;
    if (fixed_digits(s, 4, &y) < 0 || s[4] != '-' || fixed_digits(s + 5, 2, &m) < 0 ||
        s[7] != '-' || fixed_digits(s + 8, 2, &d) < 0)
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *days = ct__days_from_civil(y, m, d);
    return 0;
}

/* HH:MM:SS at s[0..8) as seconds of the day. */
static int parse_clock(const char *s, int64_t *secs)
{
    unsigned h, mi, se;
    if (fixed_digits(s, 2, &h) < 0 || s[2] != ':' || fixed_digits(s + 3, 2, &mi) < 0 ||
        s[5] != ':' || fixed_digits(s + 6, 2, &se) < 0)
        return -1;
    if (h > 23 || mi > 59 || se > 59)
        return -1;
    *secs = (int64_t)h * 3600 + mi * 60 + se;
    return 0;
}

/* The zone of the 'T' form at s[0..n): "Z" or +HH:MM / -HH:MM, as the
 * number of seconds to subtract from the local time. */
static int parse_zone(const char *s, size_t n, int64_t *offset)
{
    unsigned h, m;
    if (n == 1 && s[0] == 'Z') {
        *offset = 0;
        return 0;
    }
    if (n != 6 || (s[0] != '+' && s[0] != '-') || fixed_digits(s + 1, 2, &h) < 0 ||
        s[3] != ':' || fixed_digits(s + 4, 2, &m) < 0 || h > 23 || m > 59)
        return -1;
    *offset = (s[0] == '-' ? -1 : 1) * ((int64_t)h * 3600 + m * 60);
    return 0;
}

static int parse_iso(const char *s, size_t len, int allow_date, int64_t *out)
{
    int64_t days, secs = 0, offset = 0;
    if (parse_date(s, &days) < 0)
        return -1;
    if (len == 10) {
        if (!allow_date)
            return -1;
    } else {
        size_t i = 19;
        if (len < 19 || (s[10] != 'T' && s[10] != ' ') || parse_clock(s + 11, &secs) < 0 ||
            skip_fraction(s, len, &i) < 0)
            return -1;
        if (s[10] == 'T' ? parse_zone(s + i, len - i, &offset) < 0 : i != len)
            return -1;
    }
    int64_t t = days * 86400 + secs - offset;
    if (t < CT_TIME_MIN || t > CT_TIME_MAX)
        return -1;
    *out = t;
    return 0;
}

int ct__parse_time(const char *s, size_t len, int allow_date, int64_t *out)
{
    /* A date has '-' at offset 4; an epoch integer never does. */
    if (len >= 10 && s[4] == '-')
        return parse_iso(s, len, allow_date, out);
    return parse_epoch(s, len, out);
}

static void put_digits(char *p, int64_t v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

void ct__format_time(int64_t t, char out[21])
{
    /* Clamped to what four year digits can show: 0000-01-01 .. 9999-12-31. */
    const int64_t lo = -62167219200LL; /* 0000-01-01T00:00:00Z */
    if (t < lo)
        t = lo;
    if (t > CT_TIME_MAX)
        t = CT_TIME_MAX;
    int64_t days = (t >= 0 ? t : t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t y;
    unsigned m, d;
    ct__civil_from_days(days, &y, &m, &d);
    memcpy(out, "0000-00-00T00:00:00Z", 21);
    put_digits(out, y, 4);
    put_digits(out + 5, m, 2);
    put_digits(out + 8, d, 2);
    put_digits(out + 11, secs / 3600, 2);
    put_digits(out + 14, secs / 60 % 60, 2);
    put_digits(out + 17, secs % 60, 2);
}

/* ---- phone numbers ------------------------------------------------------------ */

int ct__parse_msisdn(const char *s, size_t len, uint64_t *num, char digits[16])
{
    char d[16];
    size_t n = 0;
    uint64_t v = 0;
    int plus_seen = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_digit(c)) {
            if (n == 15)
                return -1;
            d[n++] = c;
            v = v * 10 + (uint64_t)(c - '0');
        } else if (c == '+') {
            if (plus_seen || n > 0)
                return -1;
            plus_seen = 1;
        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
            return -1;
        }
    }
    if (n < 7 || d[0] == '0')
        return -1;
    d[n] = '\0';
    memcpy(digits, d, n + 1);
    *num = v;
    return 0;
}

void ct__mask_msisdn(const char *s, size_t len, char out[24])
{
    /* Only digits are ever copied, and at most eight of them: the first and
     * last four of a number of 11 or more digits (at least three hidden),
     * else the first and last digit. Other characters never survive. */
    char head[4] = {0}, tail[4] = {0};
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            continue;
        if (n < 4)
            head[n] = s[i];
        memmove(tail, tail + 1, 3);
        tail[3] = s[i];
        n++;
    }
    char *p = out;
    size_t keep = n >= 11 ? 4 : n >= 2 ? 1 : 0;
    if (len == 0) {
        *p = '\0';
        return;
    }
    memcpy(p, head, keep);
    p += keep;
    memcpy(p, "***", 3);
    p += 3;
    memcpy(p, tail + 4 - keep, keep);
    p += keep;
    *p = '\0';
}

/* ---- decimals --------------------------------------------------------------------- */

#define KEEP_DIGITS 800 /* > 768: see the note at the top */

/* The mantissa digits of a decimal, as one virtual array: the integer part
 * s[ib..ie) followed by the fraction s[fb..fe). Digit k has power ni-1-k. */
typedef struct digits {
    const char *s;
    size_t ib, ni, fb, n;
} digits;

static char digit_at(const digits *g, size_t k)
{
    return k < g->ni ? g->s[g->ib + k] : g->s[g->fb + (k - g->ni)];
}

/* Syntax: [+-] d* [. d*] [eE [+-] d{1,3}], with at least one mantissa digit. */
static int scan_decimal(const char *s, size_t len, int *neg, digits *g, int *exp10)
{
    size_t i = 0;
    *neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        *neg = s[i++] == '-';
    g->s = s;
    g->ib = i;
    while (i < len && is_digit(s[i]))
        i++;
    g->ni = i - g->ib;
    g->fb = i;
    if (i < len && s[i] == '.') {
        g->fb = ++i;
        while (i < len && is_digit(s[i]))
            i++;
    }
    g->n = g->ni + (i - g->fb);
    if (g->n == 0)
        return -1;
    *exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0, ndig = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < len && is_digit(s[i]) && ndig < 4; i++, ndig++)
            *exp10 = *exp10 * 10 + (s[i] - '0');
        if (ndig == 0 || ndig > 3)
            return -1;
        if (eneg)
            *exp10 = -*exp10;
    }
    return i == len ? 0 : -1;
}

/* M * 10^e exactly rounded when M < 2^53 and |e| <= 22, else -1. */
static int clinger(uint64_t m, long e, double *out)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (m < (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        *out = e >= 0 ? (double)m * p10[e] : (double)m / p10[-e];
        return 0;
    }
#else
    (void)m;
    (void)e;
    (void)out;
#endif
    return -1;
}

/* strtod on "<digits>e<exp>" built from digits kf..kl (see the top note). */
static int slow_path(const digits *g, size_t kf, size_t kl, long e, double *out)
{
    char buf[KEEP_DIGITS + 32];
    size_t nsig = kl - kf + 1, n = 0;
    size_t keep = nsig > KEEP_DIGITS ? KEEP_DIGITS : nsig;
    for (size_t k = kf; k < kf + keep; k++)
        buf[n++] = digit_at(g, k);
    if (keep < nsig) {
        buf[n++] = '1'; /* sticky: the dropped tail is not zero (digit kl isn't) */
        e += (long)(nsig - keep) - 1;
    }
    buf[n++] = 'e';
    if (e < 0)
        buf[n++] = '-';
    unsigned long ue = e < 0 ? (unsigned long)-e : (unsigned long)e;
    char tmp[24];
    size_t t = 0;
    do {
        tmp[t++] = (char)('0' + ue % 10);
        ue /= 10;
    } while (ue);
    while (t)
        buf[n++] = tmp[--t];
    buf[n] = '\0';
    int saved = errno;
    errno = 0;
    double v = strtod(buf, NULL);
    int overflow = errno == ERANGE && v > 1.0;
    errno = saved;
    if (overflow)
        return -1;
    *out = v;
    return 0;
}

int ct__parse_double(const char *s, size_t len, double *out)
{
    digits g;
    int neg, exp10;
    if (scan_decimal(s, len, &neg, &g, &exp10) < 0)
        return -1;
    size_t kf = 0, kl = g.n;
    while (kf < g.n && digit_at(&g, kf) == '0')
        kf++;
    if (kf == g.n) {
        *out = 0.0; /* +0.0 even for "-0": see the top note */
        return 0;
    }
    while (digit_at(&g, kl - 1) == '0')
        kl--;
    kl--; /* the last non-zero digit */
    size_t nsig = kl - kf + 1;
    /* value = D * 10^e, D the integer of digits kf..kl */
    long e = (long)g.ni - 1 - (long)kl + exp10;
    long top = e + (long)nsig; /* 10^(top-1) <= value < 10^top */
    double v;
    if (top > 310)
        return -1; /* >= 1e309: beyond DBL_MAX */
    if (top < -330) {
        *out = 0.0; /* < 1e-330: below half the smallest subnormal */
        return 0;
    }
    uint64_t m = 0;
    if (nsig <= 19)
        for (size_t k = kf; k <= kl; k++)
            m = m * 10 + (uint64_t)(digit_at(&g, k) - '0');
    if (nsig > 19 || clinger(m, e, &v) < 0) {
        if (slow_path(&g, kf, kl, e, &v) < 0)
            return -1;
    }
    if (v == 0.0) {
        *out = 0.0;
        return 0;
    }
    *out = neg ? -v : v;
    return 0;
}

/* ---- integers and identifiers ----------------------------------------------- */

int ct__parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int ct__check_ident(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!is_digit(c) && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') &&
            c != '.' && c != '_' && c != ':' && c != '-')
            return -1;
    }
    return 0;
}

/* ---- the public parsers and formatters (celltrace.h), beside the parsers above ---- */

void ct_format_time(int64_t t, char *buf)
{
    ct__format_time(t, buf);
}

int ct_parse_time(const char *s, int allow_date, int64_t *out)
{
    return ct__parse_time(s, strlen(s), allow_date, out);
}

/* Drops trailing zeros after a decimal point, and the point if bare. */
static void trim_zeros(char *buf)
{
    char *dot = strchr(buf, '.');
    if (!dot)
        return;
    char *end = buf + strlen(buf) - 1;
    while (end > dot && *end == '0')
        *end-- = '\0';
    if (end == dot)
        *end = '\0';
}

void ct_format_radius(double r, char *buf)
{
    snprintf(buf, 32, "%.2f", r);
    trim_zeros(buf);
}

void ct_format_probability(double p, char *buf)
{
    ct_format_significant(p, buf);
}

void ct_format_significant(double p, char *buf)
{
    if (!(p > 0)) {
        snprintf(buf, 32, "0");
        return;
    }
    int decimals = 3 - (int)floor(log10(p));
    if (decimals < 0) { /* 10 000 and more: round to 4 digits, then write them out */
        double unit = pow(10.0, -decimals);
        snprintf(buf, 32, "%.0f", round(p / unit) * unit);
        return;
    }
    if (decimals > 20)
        decimals = 20;
    snprintf(buf, 32, "%.*f", decimals, p);
    trim_zeros(buf);
}

void ct_format_seconds(double s, char *buf)
{
    snprintf(buf, 32, "%.1f", s);
    trim_zeros(buf);
}
