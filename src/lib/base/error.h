/*
 * error.h — the one error path of the library (internal).
 *
 * A function that fails calls ct__fail(err, code, fmt, ...) and returns its
 * result; the message is for people, so it names the user's file and line,
 * never our source file. `err` may be NULL.
 */
#ifndef CT_ERROR_H
#define CT_ERROR_H

#include "celltrace.h"

#if defined(__GNUC__)
#define CT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CT_PRINTF(a, b)
#endif

/* Sets err (if not NULL) and returns code. */
ct_code ct__fail(ct_err *err, ct_code code, const char *fmt, ...) CT_PRINTF(3, 4);

/* Like ct__fail, appending ": <strerror(errnum)>". */
ct_code ct__fail_errno(ct_err *err, ct_code code, int errnum, const char *fmt, ...)
    CT_PRINTF(4, 5);

/* Clears err to CT_OK with an empty message. */
void ct__err_clear(ct_err *err);

/* Hands one notice line to the caller's ct_set_notice function, if any. */
void ct__notice(const char *fmt, ...) CT_PRINTF(1, 2);

#endif
