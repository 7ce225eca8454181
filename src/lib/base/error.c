/*
 * error.c — formatting of error messages and code names.
 *
 * Messages are written once, where the failure is understood, and carried
 * up unchanged; callers that add context prefix it (see ct__fail).
 */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ct_code_name(ct_code code)
{
    switch (code) {
    case CT_OK: return "success";
    case CT_EINVAL: return "invalid input";
    case CT_ENOTFOUND: return "not found";
    case CT_EEXIST: return "already exists";
    case CT_EIO: return "I/O error";
    case CT_ENOMEM: return "out of memory";
    case CT_ECORRUPT: return "corrupt data";
    case CT_ELIMIT: return "limit reached";
    case CT_ECRYPTO: return "key or vault error";
    }
    return "unknown error";
}

CT_PRINTF(4, 0)
static void set_message(ct_err *err, ct_code code, int errnum, const char *fmt, va_list ap)
{
    if (!err)
        return;
    err->code = code;
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    if (errnum && n >= 0 && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
}

ct_code ct__fail(ct_err *err, ct_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

ct_code ct__fail_errno(ct_err *err, ct_code code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(err, code, errnum, fmt, ap);
    va_end(ap);
    return code;
}

void ct__err_clear(ct_err *err)
{
    if (err) {
        err->code = CT_OK;
        err->msg[0] = '\0';
    }
}

static ct_notice_fn notice_fn;
static void *notice_ud;

void ct_set_notice(ct_notice_fn fn, void *ud)
{
    notice_fn = fn;
    notice_ud = ud;
}

void ct__notice(const char *fmt, ...)
{
    if (!notice_fn)
        return;
    char line[CT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    notice_fn(notice_ud, line);
}
