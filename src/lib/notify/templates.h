/*
 * templates.h — the texts of notifications and their SMS encoding (internal).
 *
 * Four kinds (first notice and extension of the quarantine, invitations to
 * a test) in two languages (ru, the default, and en). Placeholders:
 * {last_contact}, {quarantine_end} (local dates; the invitation has no
 * end) and {hotline}. A text whose every character is in the
 * GSM 03.38 alphabet goes as GSM-7 (160 septets, 153 per part when
 * concatenated); any other as UCS-2 (70 characters, 67 per part).
 */
#ifndef CT_TEMPLATES_H
#define CT_TEMPLATES_H

#include <stddef.h>

#include "celltrace.h"

#define CT_SMS_TEXT_MAX 640
#define CT_SMS_PARTS_MAX 6

/* The kinds of message; the values are those ct__notice_kind returns. */
typedef enum ct_msg_kind {
    CT_MSG_FIRST = 1,     /* order to self-isolate until the quarantine end (outbox kind "new") */
    CT_MSG_EXTENSION = 2, /* the quarantine is extended by a new contact ("extension") */
    CT_MSG_TEST = 3,      /* invitation to a test, at home until the result ("test") */
    CT_MSG_AREA = 4,      /* invitation to a test after an area query ("area", docs/AREA.md) */
    CT_MSG_LIFTED = 5     /* an upheld appeal lifts the order ("lifted", docs/API.md) */
} ct_msg_kind;

/* The outbox `kind` of a message kind: "new", "extension", "test" or "area". Static. */
const char *ct__msg_kind_name(ct_msg_kind kind);

/* Renders the message into out (cap bytes, UTF-8). quarantine_end may be
 * NULL for CT_MSG_TEST. CT_EINVAL for an unknown language or kind,
 * CT_ELIMIT when it would exceed CT_SMS_PARTS_MAX parts. */
ct_code ct__template_render(const char *lang, ct_msg_kind kind, const char *last_contact,
                           const char *quarantine_end, const char *hotline, char *out,
                           size_t cap, ct_err *err);

/* 1 when every character of the UTF-8 text is in GSM 03.38 (basic or
 * extension table), else 0 (invalid UTF-8 is 0 too). */
int ct__gsm7_only(const char *utf8);

/* SMS parts the text needs; *ucs2 = 1 when it must go as UCS-2. */
int ct__sms_parts(const char *utf8, int *ucs2);

#endif
