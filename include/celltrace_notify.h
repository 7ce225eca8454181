/*
 * celltrace_notify.h — from contacts to people: tracing runs, SMS through
 * Kannel, delivery reports, regional exports and reports.
 *
 * The path (docs/NOTIFY.md):
 *   ct_run       traces every case that is new or whose window received
 *                data since its last run; stores the contacts and queues
 *                their notifications in one SQLite transaction.
 *   ct_notify    sends what is due through Kannel's sendsms interface and
 *                receives delivery reports on a loopback listener.
 *   ct_outbox_list, ct_export, ct_report   read what happened.
 *   ct_config_*  <data>/celltrace.conf (mode 0600).
 *
 * Conventions are those of celltrace.h: ct_code results, ct_err messages,
 * "borrows" unless said otherwise; strings handed to callbacks live only
 * during the call. Every read of phone numbers (outbox list, export) and
 * every SMS is written to the audit log.
 */
#ifndef CELLTRACE_NOTIFY_H
#define CELLTRACE_NOTIFY_H

#include <stdint.h>

#include "celltrace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration -------------------------------------------------------- */

/* Sets KEY to VALUE in <data>/celltrace.conf after checking both (unknown
 * key or bad value: CT_EINVAL with the reason). Written atomically, 0600. */
ct_code ct_config_set(const char *data_dir, const char *key, const char *value, ct_err *err);

/* The effective value of KEY (the file's, else the default) into buf.
 * CT_EINVAL for an unknown key. */
ct_code ct_config_get(const char *data_dir, const char *key, char *buf, size_t cap,
                      ct_err *err);

/* Calls fn for every known key with its effective value, in a fixed order;
 * is_default tells whether the file sets it. Secrets are passed as "***". */
typedef int (*ct_config_fn)(void *ud, const char *key, const char *value, int is_default,
                            const char *help);
ct_code ct_config_list(const char *data_dir, ct_config_fn fn, void *ud, ct_err *err);

/* The site file read below <data>/celltrace.conf (the build's
 * CT_SITE_CONF), or "" when there is none. */
const char *ct_config_site(void);

/* ---- tracing runs --------------------------------------------------------- */

typedef struct ct_run_summary {
    uint64_t cases_total;   /* cases registered */
    uint64_t cases_traced;  /* new or with new data since their last run */
    uint64_t contacts;      /* contacts of the traced cases */
    uint64_t queued;        /* first quarantine notices queued */
    uint64_t extensions;    /* extension notices queued */
    /* The contacts of the traced cases by level (they add up to contacts): */
    uint64_t level_quarantine, level_test, level_none;
    uint64_t invitations;   /* test invitations queued */
} ct_run_summary;

/* Traces what needs it (parameters of SPEC 4 from `p`, NULL = defaults),
 * scores every contact with the built-in risk model and the thresholds of
 * celltrace.conf (risk.test, risk.quarantine; ct_risk_opts_configured),
 * stores the contacts with home region, quarantine end, p_contact,
 * expected_near_s and level, and queues the notifications (quarantine
 * notices for level quarantine, test invitations for level test, nothing
 * for level none; docs/NOTIFY.md), all in one transaction. A case is
 * traced again when its data, the parameters, the model version or a
 * threshold changed. Running again queues nothing. */
ct_code ct_run(ct_db *db, const ct_params *p, ct_run_summary *sum, ct_err *err);

/* Invitations to a test after an area query (docs/AREA.md): everyone
 * ct_area_query finds present (q; q->reveal is ignored: no number is read
 * here) gets the area invitation (outbox kind "area", case_id
 * "area:<label>", ended like a test invitation quarantine_days after the
 * last second seen), unless a message of any kind already covers that
 * second: a contact already ordered to stay home or invited gets nothing
 * new, and a registered case gets nothing. One transaction; running it again queues nothing. Audited ("run
 * --area", the label). */
typedef struct ct_area_run_summary {
    uint64_t present;          /* subscribers the query found */
    uint64_t queued;           /* invitations queued */
    uint64_t already_covered;  /* present but covered by a message already */
    uint64_t cases;            /* present but registered cases: not invited */
} ct_area_run_summary;

ct_code ct_run_area(ct_db *db, const char *label, const ct_area *q, const ct_params *p,
                    ct_area_run_summary *sum, ct_err *err);

/* ---- sending -------------------------------------------------------------- */

typedef struct ct_notify_opts {
    int daemon;          /* 0: send what is due, wait for reports, return */
    int64_t wait_s;      /* once: how long to wait for reports and retries */
    int64_t max_time_s;  /* daemon: stop after this long (0 = until signalled) */
    volatile int *stop;  /* daemon: set non-zero (e.g. by a signal) to stop; may be NULL */
    int verbose;         /* one line per message on stderr */
} ct_notify_opts;

typedef struct ct_notify_summary {
    uint64_t sent;       /* accepted by the gateway in this call */
    uint64_t retried;    /* gateway errors that will be retried */
    uint64_t delivered;  /* delivery reports "delivered" received */
    uint64_t failed;     /* reports "failed" received */
    uint64_t expired;    /* messages that expired in this call */
    uint64_t dlr_rejected; /* bad or forged reports */
    uint64_t waiting;    /* still queued or sent (no final report) at the end */
    int quiet_hours;     /* 1 when sending was held back by quiet hours */
    double send_seconds; /* time spent sending (for messages/s) */
} ct_notify_summary;

ct_code ct_notify(ct_db *db, const ct_notify_opts *opts, ct_notify_summary *sum, ct_err *err);

/* ---- reading -------------------------------------------------------------- */

typedef struct ct_outbox_row {
    int64_t id;
    const char *key;        /* idempotency key */
    const char *msisdn;
    const char *kind;       /* "new" or "extension" (quarantine notices), "test" (invitation),
                             * "area" (invitation after an area query) */
    const char *state;      /* queued, sent, delivered, failed, expired */
    const char *case_id;
    const char *region;     /* home region */
    const char *text;
    int attempts;
    int64_t created, sent_at, done_at; /* 0 when not yet */
    const char *last_error; /* "" when none */
} ct_outbox_row;

typedef int (*ct_outbox_fn)(void *ud, const ct_outbox_row *r);

/* Every message, oldest first; `state` NULL = all. Audited. */
ct_code ct_outbox_list(ct_db *db, const char *state, ct_outbox_fn fn, void *ud, ct_err *err);

typedef struct ct_export_row {
    const char *msisdn;
    const char *case_id;
    const char *region;
    int64_t exposure_s, first_contact, last_contact, quarantine_end;
    const char *state;      /* of the subscriber's latest message; "none" */
    int64_t updated;        /* when this contact was last stored or changed */
    double p_contact;       /* as the case's last run scored it (4 significant digits) */
    double expected_near_s;
    ct_level level;         /* ... and levelled it */
} ct_export_row;

typedef int (*ct_export_fn)(void *ud, const ct_export_row *r);

/* Contacts whose home region is `region` stored or changed at or after
 * `since` (0 = all), at `min_level` or above (CT_LEVEL_NONE = all), by
 * last contact then number. Audited; only the numbers of the rows given
 * are read. */
ct_code ct_export(ct_db *db, const char *region, int64_t since, ct_level min_level,
                  ct_export_fn fn, void *ud, ct_err *err);

typedef struct ct_report_row {
    const char *region;
    const char *day;        /* YYYY-MM-DD, local date the contact was found */
    uint64_t cases, contacts, notified, delivered, failed;
    /* Contacts by level, each at its highest level among the row's cases
     * (they add up to contacts), and those whose latest message is a test
     * invitation (any state). */
    uint64_t quarantine, test, none, invitations;
    /* Appeals filed that local day about contacts of the region, those
     * still pending, and those overdue: decided after their deadline, or
     * pending past it (the flag a headquarters works against). */
    uint64_t appeals, appeals_pending, appeals_overdue;
} ct_report_row;

typedef int (*ct_report_fn)(void *ud, const ct_report_row *r);

/* Per region and day; `day` NULL = every day, else "YYYY-MM-DD". Audited.
 * Reads counters kept up to date by every write (report.c): its cost is
 * the number of rows, not of contacts. */
ct_code ct_report(ct_db *db, const char *day, ct_report_fn fn, void *ud, ct_err *err);

/* Recounts the report's contact and message counters from the stored
 * contacts and messages and compares them with the kept ones: *groups
 * (region, day) looked at, *differing those that do not match (0 in a
 * sound data directory). Counts only; not audited. */
ct_code ct_report_check(ct_db *db, uint64_t *groups, uint64_t *differing, ct_err *err);

/* ---- appeals ---------------------------------------------------------------- */

/* A person who got an SMS appeals through the hotline; the regional
 * headquarters of the contact's home region decides (docs/API.md). */
typedef struct ct_appeal {
    int64_t id;
    char case_id[CT_ID_MAX + 1];
    char msisdn[CT_MSISDN_MAX + 1]; /* digits */
    char region[CT_REGION_MAX + 1]; /* the contact's home region */
    char state[12];                 /* pending, upheld, rejected */
    char reason[512], note[512];
    char filed_by[80], decided_by[80];
    int64_t filed_at, deadline, decided_at; /* decided_at 0 while pending */
    int overdue;                            /* decided after, or pending past, its deadline */
    /* the contact as it was stored when the appeal was filed or read */
    int64_t last_contact, first_contact, exposure_s;
    double p_contact, min_radius_m;
    char level[12];
} ct_appeal;

/* Files an appeal by `by` against the contact of `msisdn` with case
 * `case_id`, or, when case_id is NULL, with the case of the latest order
 * sent to that number. Deadline: appeals.deadline_hours after now.
 * CT_ENOTFOUND when the number has no such contact, CT_EEXIST when an
 * appeal on it is pending already. Audited ("appeal file"). */
ct_code ct_appeal_file(ct_db *db, const char *by, const char *msisdn, const char *case_id,
                       const char *reason, ct_appeal *out, ct_err *err);

/* Appeals of `region` ("" = all) in `state` (NULL = all), oldest first,
 * with their numbers: audited ("appeals list"). */
typedef int (*ct_appeal_fn)(void *ud, const ct_appeal *a);
ct_code ct_appeals_list(ct_db *db, const char *region, const char *state, ct_appeal_fn fn,
                        void *ud, ct_err *err);

/* Decides pending appeal `id`, if it is of `region` ("" = any region):
 * upheld lifts it: the orders still queued for that contact are withdrawn,
 * an SMS says the order is lifted if one was sent, and later runs notify
 * nobody for that contact up to its last contact. One transaction,
 * audited ("appeal upheld" / "appeal rejected") before it commits.
 * CT_ENOTFOUND for no such appeal in the region, CT_EEXIST when it was
 * decided already. */
ct_code ct_appeal_decide(ct_db *db, const char *by, int64_t id, const char *region, int upheld,
                         const char *note, ct_appeal *out, ct_err *err);

/* ---- oversight ---------------------------------------------------------------- */

/* The numbers an oversight body gets each week, per region (docs/API.md):
 * no personal data. The week is an ISO week in the `timezone` setting,
 * Monday 00:00 to the next Monday. */
typedef struct ct_oversight_region {
    char region[CT_REGION_MAX + 1];
    uint64_t cases;                       /* registered cases whose onset is in the week */
    uint64_t contacts, quarantine, test, none; /* contacts found in the week, by level */
    uint64_t sms_sent, sms_delivered;     /* SMS sent, and reported delivered, in the week */
    uint64_t appeals_filed;               /* filed in the week */
    uint64_t appeals_decided, appeals_decided_in_time, appeals_upheld; /* decided in the week */
    uint64_t appeals_overdue; /* whose deadline fell in the week and was missed */
} ct_oversight_region;

typedef struct ct_oversight_reader {
    char who[80];
    uint64_t reads, records; /* audit records in the week, personal records they read */
} ct_oversight_reader;

typedef struct ct_oversight {
    char week[9];   /* YYYY-Www */
    int64_t from, to;
    ct_oversight_region *regions; /* by region */
    size_t n_regions;
    ct_oversight_reader *readers; /* by who */
    size_t n_readers;
    uint64_t retention_purges, retention_events_deleted; /* purge retention in the week */
} ct_oversight;

/* The statistics of `week` ("YYYY-Www"; NULL = the current week).
 * CT_EINVAL for a malformed week. Free with ct_oversight_free. */
ct_code ct_oversight_get(ct_db *db, const char *week, ct_oversight *out, ct_err *err);
void ct_oversight_free(ct_oversight *o);

#ifdef __cplusplus
}
#endif
#endif
