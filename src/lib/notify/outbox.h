/*
 * outbox.h — the states of a message and every change of state (internal).
 *
 *   queued --claim--> queued+inflight --gateway 2xx--> sent --DLR 1--> delivered
 *      ^                   |  gateway error/timeout        |--DLR 2/16--> failed
 *      +---- retry later --+                               +--too old--> expired
 *   queued --too old--> expired
 *
 * `inflight` is committed before the request leaves and cleared after the
 * answer: a dispatcher killed in between finds the message queued and
 * inflight at restart and sends it again, so only in-flight messages can
 * go out twice. A delivery report may overtake the "sent" update (the
 * gateway answers the report before we commit), so a report for a queued
 * message that is inflight is accepted too.
 */
#ifndef CT_OUTBOX_H
#define CT_OUTBOX_H

#include <sqlite3.h>
#include <stdint.h>

#include "celltrace.h"
#include "config.h"
#include "templates.h"

typedef struct ct_ob_msg {
    int64_t id;
    uint32_t subscriber;
    char key[64];
    char text[CT_SMS_TEXT_MAX + 1];
    int ucs2;
    int attempts; /* including the one being made, after claim */
} ct_ob_msg;

/* The oldest queued message due at `now`: *found = 1 and *m filled. */
/* Queues one message of `kind` for sub in the configured language: the
 * text names the last contact's local day and the quarantine end q (0 for
 * none). Its key is "<kind letter>-<sub>-<key_n>", so queueing the same
 * message twice adds it once; *added says whether this call did. */
ct_code ct__ob_add(sqlite3 *db, const ct_conf *conf, int64_t now, uint32_t sub,
                   const char *case_id, const char *region, int64_t last, int64_t q,
                   ct_msg_kind kind, int64_t key_n, int *added, ct_err *err);

/* The same with its statement prepared once, for a caller that queues
 * many messages on one connection (`run`): preparing an insert into the
 * outbox compiles its triggers too, and costs more than the insert. */
ct_code ct__ob_add_prepare(sqlite3 *db, sqlite3_stmt **st, ct_err *err);
ct_code ct__ob_add_with(sqlite3 *db, sqlite3_stmt *st, const ct_conf *conf, int64_t now,
                        uint32_t sub, const char *case_id, const char *region, int64_t last,
                        int64_t q, ct_msg_kind kind, int64_t key_n, int *added, ct_err *err);

ct_code ct__ob_next_due(sqlite3 *db, int64_t now, ct_ob_msg *m, int *found, ct_err *err);

/* Marks it inflight and counts the attempt (committed when this returns). */
ct_code ct__ob_claim(sqlite3 *db, ct_ob_msg *m, ct_err *err);

/* The gateway accepted it. */
ct_code ct__ob_sent(sqlite3 *db, int64_t id, int64_t now, ct_err *err);

/* The gateway failed; try again at next_at. */
ct_code ct__ob_retry(sqlite3 *db, int64_t id, int64_t next_at, const char *why, ct_err *err);

/* Expires queued messages created, and sent ones sent, expire_s or more
 * before now; *n = how many. */
ct_code ct__ob_expire(sqlite3 *db, int64_t now, int64_t expire_s, uint64_t *n, ct_err *err);

/* Messages in `state` ("sent": also queued+inflight); with `before` > 0
 * only those due before it; with `before` < 0 and state "" all messages. */
ct_code ct__ob_count(sqlite3 *db, const char *state, int64_t before, uint64_t *n, ct_err *err);

/* Result of a delivery report. */
typedef enum ct_dlr_verdict {
    CT_DLR_ACCEPTED = 0,  /* state changed (or an intermediate report noted) */
    CT_DLR_BAD,           /* malformed parameters */
    CT_DLR_FORGED,        /* token does not match the id */
    CT_DLR_UNKNOWN,       /* no such message */
    CT_DLR_WRONG_STATE,   /* the message is not waiting for a report */
} ct_dlr_verdict;

const char *ct__dlr_verdict_name(ct_dlr_verdict v);

/* Applies report status `status` (Kannel: 1 delivered, 2 failed, 4
 * buffered, 8 accepted by the SMSC, 16 rejected by the SMSC) to message
 * id. *final is set to 1 (delivered) / 2 (failed) / 0 (no final change).
 * Changes nothing but that one message. */
ct_code ct__ob_apply_dlr(sqlite3 *db, int64_t id, int status, int64_t now, ct_dlr_verdict *v,
                         int *final, ct_err *err);

/* Appends to nt_dlr_log. */
ct_code ct__ob_log_dlr(sqlite3 *db, int64_t now, int64_t id, int status, const char *verdict,
                       const char *detail, ct_err *err);

#endif
