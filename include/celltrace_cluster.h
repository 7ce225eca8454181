/*
 * celltrace_cluster.h — what a cluster of data directories needs of the
 * library (celltrace-mpi, docs/CLUSTER.md). No MPI here: the library
 * offers each shard's part, the cluster binary moves the bytes.
 *
 * A cluster is N data directories, the shards. Each subscriber lives in
 * exactly one shard, chosen from the number (ct_shard_of_number), with
 * every event of theirs and every case of theirs. A trace is then:
 *   1. the shard of the case's number reads the case's presence
 *      (ct_case_presence: the window and its intervals, as bytes);
 *   2. every shard matches its own subscribers against it
 *      (ct_trace_part_begin), each pair of events counted once, since
 *      each subscriber's events are all in one shard;
 *   3. with scoring, the crowd of each visit (numbers summed over all
 *      subscribers, exactly: ct_trace_part_crowd) is summed over the
 *      shards and handed back (ct_trace_part_finish);
 *   4. each shard's contacts, numbers read from its own vault, are joined
 *      and sorted as one machine sorts them (ct_contacts_sort).
 * The answer is byte-identical to one machine holding all the data.
 */
#ifndef CELLTRACE_CLUSTER_H
#define CELLTRACE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "celltrace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The shard (0..n_shards-1) of a phone number: a BLAKE2b hash of its
 * normalised digits (SPEC 2), not keyed, so that key rotation never moves
 * data. It says which shard holds a number's data and nothing else.
 * Returns UINT32_MAX when msisdn is not a valid number. */
uint32_t ct_shard_of_number(const char *msisdn, uint32_t n_shards);

/* The case's window and presence intervals (SPEC 4.2 and 4.5), as bytes
 * for the other shards; CT_ENOTFOUND when this directory does not hold
 * the case. Free *bytes with free(). */
ct_code ct_case_presence(ct_db *db, const char *case_id, const ct_params *p, void **bytes,
                         size_t *len, ct_err *err);

/* One shard's part of a trace of case_id against the presence bytes of
 * ct_case_presence (made by whichever shard holds the case). risk: NULL
 * for SPEC 4's plain trace, else as ct_trace_scored. */
typedef struct ct_trace_part ct_trace_part;
ct_code ct_trace_part_begin(ct_db *db, const char *case_id, const ct_params *p,
                            const ct_risk_opts *risk, const void *presence, size_t len,
                            ct_trace_part **out, ct_err *err);

/* Scored parts: the crowd, *len numbers to be summed over every shard
 * (the same length on each). Plain traces have none (*len = 0). */
const int64_t *ct_trace_part_crowd(const ct_trace_part *part, size_t *len);

/* Ends the part: crowd is the sum over the shards of ct_trace_part_crowd
 * (NULL for a plain trace). *out holds this shard's contacts, with their
 * numbers, in one machine's order; the read is audited in this shard.
 * Frees part, also on failure. */
ct_code ct_trace_part_finish(ct_trace_part *part, const int64_t *crowd, ct_contacts **out,
                             ct_err *err);
void ct_trace_part_free(ct_trace_part *part);

/* An empty answer for case_id with room for n contacts (and their
 * evidence, when with_evidence): a cluster's joined answer. Free with
 * ct_contacts_free. */
ct_contacts *ct_contacts_alloc(const char *case_id, size_t n, int with_evidence);

/* The UTC days a directory stores (day numbers, ascending). Returns new
 * (*days, free with free()). */
ct_code ct_stored_days(ct_db *db, int64_t **days, size_t *n, ct_err *err);

/* A rank traces case after case on one handle: numbers its traces
 * decrypt are kept (one slot per subscriber, as ct_trace_many keeps them
 * for a batch) until ct_db_forget_numbers wipes them, which must come
 * before ct_close. */
void ct_db_cache_numbers(ct_db *db);
void ct_db_forget_numbers(ct_db *db);

/* Sorts contacts (and their evidence, when scored) as a trace returns
 * them: SPEC 5's order, or section 7's when scored. */
void ct_contacts_sort(ct_contacts *c, int scored);

/* Subscribers' data are split between shards; the catalogue of cells is
 * the same in every shard. A fingerprint of it (cells, operators, and a
 * hash of every cell's identity and geometry), to check that before
 * trusting loc ids from another shard. */
uint64_t ct_catalog_fingerprint(ct_db *db);

/* An ingest that routes its rows: each good row goes to fn instead of
 * this directory (fn returns 0, or non-zero to stop the ingest with
 * CT_EIO). The row is handed to its shard's ct_ingest_add_routed. */
typedef struct ct_routed_event {
    char msisdn[16];    /* normalised digits */
    uint64_t number;
    int64_t ts;
    uint32_t loc;       /* a cell's loc id, or CT_LOC_NONE for a point */
    uint32_t op;
    double lat, lon, acc;
} ct_routed_event;
typedef int (*ct_route_fn)(void *ud, const ct_routed_event *ev);
void ct_ingest_set_route(ct_ingest *in, ct_route_fn fn, void *ud);
ct_code ct_ingest_add_routed(ct_ingest *in, const ct_routed_event *ev, ct_err *err);

/* The first phase of a cluster's commit: everything ct_ingest_commit
 * does up to making the new days live, which is left to a pending
 * manifest tagged `generation` (store/MANIFEST.c<generation>). Then
 * ct_store_publish makes it live, or ct_store_discard drops it. Frees in;
 * retention is not applied (the cluster applies it with the newest event
 * of all shards: ct_purge_before). */
ct_code ct_ingest_prepare(ct_ingest *in, uint64_t generation, ct_import_summary *sum,
                          ct_err *err);

/* The newest stored event of a directory (-1 when it holds none). */
ct_code ct_newest_event(ct_db *db, int64_t *newest, ct_err *err);

/* Makes every pending manifest of generation <= committed live, in
 * order, and removes those of later generations (never committed) and
 * half-written ones. Only while no writer of the cluster runs (the
 * cluster's lock: celltrace-mpi). Idempotent: a restart after a crash
 * calls it again, and readers that settle at once do not trip on each
 * other. */
ct_code ct_store_settle(const char *dir, uint64_t committed, ct_err *err);

/* Retention with the cluster's newest event instead of this directory's:
 * deletes the days before day_of(newest) - days + 1 (ct_purge's rule). */
ct_code ct_purge_before(ct_db *db, int days, int64_t newest, ct_purge_summary *out, ct_err *err);

/* `run` on a cluster: each shard runs ct_run_shard at the same time, for
 * its own subscribers, with its own notification tables; what the shards
 * must agree on comes from the cluster through these functions, each
 * called by every shard at the same point (collective):
 *   cases  every case of the cluster, sorted by case_id (numbers left
 *          empty); *out is freed with free();
 *   need   flags[i] (0 or 1) replaced by the OR over the shards (the last
 *          flag: a shard failed);
 *   trace  mine: this shard's state; when any shard's is not CT_OK, every
 *          shard fails without tracing. Else traces ids in order and hands
 *          each case's contacts of this shard (scored as `risk` says) to
 *          fn, stopping on every shard when fn fails on one.
 * A case is traced when any shard needs it, so every shard traces the
 * same cases; each shard commits its own transaction. */
typedef struct ct_run_cluster {
    ct_code (*cases)(void *ud, ct_case **out, size_t *n, ct_err *err);
    void (*need)(void *ud, unsigned char *flags, size_t n);
    ct_code (*trace)(void *ud, ct_code mine, const char *const *ids, size_t n, const ct_params *p,
                     const ct_risk_opts *risk, ct_trace_many_fn fn, void *fn_ud, ct_err *err);
    void *ud;
} ct_run_cluster;

typedef struct ct_run_summary ct_run_summary;
ct_code ct_run_shard(ct_db *db, const ct_params *p, const ct_run_cluster *cluster,
                     ct_run_summary *sum, ct_err *err);

/* This directory's cases, without their numbers, sorted by case_id.
 * Returns new (*out, free with free()). */
ct_code ct_cases_unnumbered(ct_db *db, ct_case **out, size_t *n, ct_err *err);

/* The text of a directory's keyring (file provider only), to make more
 * shards with the same keys (ct_keys_setup.keyring_text). Returns new
 * (wipe and free with ct_keyring_text_free). */
ct_code ct_keyring_text(const char *dir, char **text, size_t *len, ct_err *err);
void ct_keyring_text_free(char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif
