/*
 * dlr.h — the delivery-report listener (internal).
 *
 * A libmicrohttpd daemon bound to the configured loopback host:port with
 * its own polling thread and its own SQLite connection. Kannel calls
 * GET <dlr_url>?id=<message id>&t=<token>&s=<status>; the listener checks
 * the token, applies the status to that one message and logs every
 * report (nt_dlr_log; rejected ones also on stderr).
 */
#ifndef CT_DLR_H
#define CT_DLR_H

#include <stdint.h>

#include "celltrace.h"

typedef struct ct_dlr ct_dlr;

typedef struct ct_dlr_counts {
    uint64_t delivered, failed, intermediate, rejected;
} ct_dlr_counts;

/* Starts listening on host:port (host must be loopback). Tokens are
 * checked against the dlr keys of `keys` valid now (copied): the current
 * one and those in their grace after a rotation. Returns new (*out):
 * stop with ct__dlr_stop. */
ct_code ct__dlr_start(const char *dir, const char *host, unsigned port, struct ct_keyring *keys,
                      int verbose, ct_dlr **out, ct_err *err);

/* A snapshot of the counters. */
void ct__dlr_counts(ct_dlr *d, ct_dlr_counts *c);

/* Stops the thread, closes the socket and frees; accepts NULL. */
void ct__dlr_stop(ct_dlr *d);

#endif
