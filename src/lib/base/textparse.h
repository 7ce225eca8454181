/*
 * textparse.h — parsers for the scalar fields of SPEC section 2 (internal).
 *
 * All functions take a (pointer, length) pair that need not be
 * NUL-terminated (CSV fields point into the reader's buffer), never read
 * past it, and return 0 on success, -1 when the text is not valid. They
 * allocate nothing and are safe on any byte sequence (fuzzed).
 */
#ifndef CT_TEXTPARSE_H
#define CT_TEXTPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Times are accepted from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define CT_TIME_MIN 0LL
#define CT_TIME_MAX 253402300799LL

/* SPEC 2 time: YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DDTHH:MM:SS+HH:MM (or -HH:MM),
 * YYYY-MM-DD HH:MM:SS (UTC), or integer epoch seconds; an optional fraction
 * (".ddd") after the seconds or the epoch integer is truncated. When
 * allow_date, a bare YYYY-MM-DD means 00:00:00Z. Calendar dates are checked
 * (no 30 February), hours 00-23, minutes and seconds 00-59, offsets up to
 * +-23:59. Leading/trailing spaces are not accepted (the CSV layer keeps
 * fields exact). */
int ct__parse_time(const char *s, size_t len, int allow_date, int64_t *out);

/* Writes YYYY-MM-DDTHH:MM:SSZ and a NUL into out[21]. */
void ct__format_time(int64_t t, char out[21]);

/* Days since 1970-01-01 of a proleptic Gregorian date (y, m 1-12, d 1-31). */
int64_t ct__days_from_civil(int64_t y, unsigned m, unsigned d);

/* The inverse: the date of day z since 1970-01-01 (the one calendar
 * routine; the simulator uses it too). */
void ct__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* SPEC 2 phone number: removes '+', spaces, '-', '.', '(' and ')'; what
 * remains must be 7..15 digits not starting with 0. On success *num is the
 * number as an integer (unique: no leading zero) and digits[] (16 bytes)
 * the NUL-terminated normalised text. */
int ct__parse_msisdn(const char *s, size_t len, uint64_t *num, char digits[16]);

/* Writes the masked form of a normalised number into out[24]: the first
 * four and last four digits with "***" between ("7999***0001"); shorter
 * numbers keep only their first and last digit. Any text (even invalid)
 * is masked so that no run of more than 8 of its digits survives. */
void ct__mask_msisdn(const char *s, size_t len, char out[24]);

/* Decimal number: optional sign, digits, optional '.' and digits, optional
 * exponent (e/E, sign, up to 3 digits). At least one digit. No spaces, no
 * hex, no inf/nan. The result is the correctly rounded double of the
 * decimal text (so "55.75" and "55.7500" give the same bits). */
int ct__parse_double(const char *s, size_t len, double *out);

/* Non-negative decimal integer without sign, at most 18 digits. */
int ct__parse_u64(const char *s, size_t len, uint64_t *out);

/* Identifier: 1..max bytes, each in [A-Za-z0-9._:-]. */
int ct__check_ident(const char *s, size_t len, size_t max);

#endif
