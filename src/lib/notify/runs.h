/*
 * runs.h — tracing runs: which cases need tracing, home regions, and the
 * queueing of notifications (internal; the entry point is ct_run in
 * celltrace_notify.h).
 */
#ifndef CT_RUNS_H
#define CT_RUNS_H

#include <stdint.h>

#include "celltrace.h"

#define CT_REGION_UNKNOWN "UNKNOWN"

/* The home region of subscriber `sub` (SPEC-less rule, docs/NOTIFY.md):
 * the region where its phone spends most night hours (00:00-06:00 in
 * `zone`) in the data held; failing that, the region where it spent most
 * time during [first, last] (the exposure); failing that `fallback`, and
 * finally CT_REGION_UNKNOWN. Writes at most CT_REGION_MAX + 1 bytes. */
ct_code ct__home_region(ct_db *db, uint32_t sub, const char *zone, int64_t max_presence_s,
                        int64_t first, int64_t last, const char *fallback, char *out,
                        ct_err *err);

/* What to queue for a subscriber whose quarantine now ends at q after a
 * last contact at `last` (its latest contact at level quarantine), given
 * the end `prev` of the latest quarantine already notified (0 = never;
 * test invitations do not count): 0 nothing, CT_MSG_FIRST (1) a first
 * notice, CT_MSG_EXTENSION (2) an extension notice (templates.h). */
int ct__notice_kind(int64_t prev, int64_t last, int64_t q);

/* 1 when a subscriber whose latest contact at level test ended at `last`
 * is to be invited to a test: no message of any kind covers it, i.e. the
 * latest quarantine_end of its messages, `covered` (0 = none), is before
 * `last`. Else 0. */
int ct__invite_due(int64_t covered, int64_t last);

#endif
