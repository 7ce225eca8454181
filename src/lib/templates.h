/*
 * templates.h — the texts of notifications and their SMS encoding (internal).
 *
 * Two kinds (first notice, extension of the quarantine) in two languages
 * (ru, the default, and en). Placeholders: {last_contact}, {quarantine_end}
 * (local dates) and {hotline}. A text whose every character is in the
 * GSM 03.38 alphabet goes as GSM-7 (160 septets, 153 per part when
 * concatenated); any other as UCS-2 (70 characters, 67 per part).
 */
#ifndef CT_TEMPLATES_H
#define CT_TEMPLATES_H

#include <stddef.h>

#include "celltrace.h"

#define CT_SMS_TEXT_MAX 640
#define CT_SMS_PARTS_MAX 6

/* Renders the message into out (cap bytes, UTF-8). CT_EINVAL for an
 * unknown language, CT_ELIMIT when it would exceed CT_SMS_PARTS_MAX parts. */
ct_code ct__template_render(const char *lang, int extension, const char *last_contact,
                           const char *quarantine_end, const char *hotline, char *out,
                           size_t cap, ct_err *err);

/* 1 when every character of the UTF-8 text is in GSM 03.38 (basic or
 * extension table), else 0 (invalid UTF-8 is 0 too). */
int ct__gsm7_only(const char *utf8);

/* SMS parts the text needs; *ucs2 = 1 when it must go as UCS-2. */
int ct__sms_parts(const char *utf8, int *ucs2);

#endif
