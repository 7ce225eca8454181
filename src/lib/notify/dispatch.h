/*
 * dispatch.h — sending queued messages through Kannel (internal; the entry
 * point is ct_notify in celltrace_notify.h).
 */
#ifndef CT_DISPATCH_H
#define CT_DISPATCH_H

#include <stdint.h>

/* Delay before attempt n+1 after n failed attempts: base * 2^(n-1),
 * capped at max. */
int64_t ct__backoff(int attempts, int64_t base, int64_t max);

/* 1 when `minute` (after local midnight) falls in quiet hours [from, to)
 * (which may wrap midnight); from < 0 = never. */
int ct__in_quiet(int minute, int from, int to);

#endif
