/*
 * store.h — the manifest of live day segments (internal).
 *
 * <data>/store/MANIFEST is the single source of truth for which segment
 * files are live. It is replaced atomically (fsio), so a crash leaves
 * either the old or the new set of segments live, never a mix. Segment
 * files are never modified: a changed day is a new file with a new
 * generation number, and the old file is deleted after the manifest that
 * drops it is durable. Files in store/ that the manifest does not name are
 * leftovers of a crashed writer and are removed by the next writer, except
 * a cluster's pending manifests (MANIFEST.c<generation>) and their files.
 *
 * A day is one segment file or, after deliveries, several: its runs
 * (docs/FORMAT.md). Each run is a complete segment of events that no
 * other run of the day holds; the day's events are their union, and a
 * reader sees it as one segment (db.c merges the runs in memory). An
 * ingest writes a delivery as a new run instead of rewriting the day;
 * when the day would pass CT_DAY_RUNS_LIVE runs, it merges the delivery
 * with the day's newest runs (size-tiered, ingest.c), and compaction
 * merges a day's runs into one file.
 *
 * MANIFEST (text, one record a line):
 *   celltrace-manifest 1            (2 when a day has several runs)
 *   generation <n>
 *   day <day number> <file name> <bytes> <header crc32 hex> <events>
 *   ...                             (a day's runs: one line each, oldest first)
 *   end <crc32 hex of every byte before this line>
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <stdint.h>

#include "celltrace.h"

/* Days are numbered from 1970-01-01; the last is 9999-12-31 (textparse.h). */
#define CT_DAY_NUMBER_MAX 2932896

/* Runs a manifest may list for one day; an ingest keeps at most
 * CT_DAY_RUNS_LIVE, merging a delivery with the newest of them when it
 * would add one more. */
#define CT_DAY_RUNS_MAX 8
#define CT_DAY_RUNS_LIVE 4

/* One segment file of a day. */
typedef struct ct_store_run {
    char file[64];
    uint64_t bytes;
    uint32_t crc;
    uint32_t events;
} ct_store_run;

typedef struct ct_store_day {
    int64_t day;
    uint32_t n_runs;                   /* 1.. CT_DAY_RUNS_MAX, oldest first */
    ct_store_run run[CT_DAY_RUNS_MAX];
    uint64_t bytes;                    /* of all runs */
    uint64_t events;                   /* of all runs (no event is in two) */
} ct_store_day;

typedef struct ct_store {
    char *dir;           /* <data>/store */
    uint64_t generation; /* bumped by every commit */
    ct_store_day *days;  /* sorted by day */
    uint32_t n_days;
    size_t cap;
} ct_store;

/* A cluster's two-phase commit (celltrace_cluster.h): the new manifest is
 * written as store/MANIFEST.c<generation> (durable, not live); the
 * collector keeps it and every file it names until ct_store_settle makes
 * it live or drops it. */
ct_code ct__store_stage(ct_store *st, uint64_t cluster_generation, ct_err *err);

/* Does the store hold a cluster's pending manifest (one that
 * ct_store_settle has not made live or dropped yet)? */
int ct__store_has_pending(const ct_store *st);

/* Reads the manifest (an absent manifest is an empty store). */
ct_code ct__store_load(const char *data_dir, ct_store *st, ct_err *err);
void ct__store_free(ct_store *st);

/* Index of day in st->days or -1. */
int64_t ct__store_find(const ct_store *st, int64_t day);

/* Sets (adds or replaces) a day's entry in memory. */
void ct__store_set(ct_store *st, const ct_store_day *d);

/* A day of one run: the entry ct__store_set takes for a merged day. */
void ct__store_day_single(ct_store_day *d, int64_t day, const ct_store_run *run);

/* Appends a run to a day's entry (the caller keeps n_runs under
 * CT_DAY_RUNS_MAX) and updates its totals. */
void ct__store_day_add_run(ct_store_day *d, const ct_store_run *run);

/* The name of a day's file written by the commit of `generation`:
 * d<day>-g<generation>.seg, or d<day>-g<generation>-m.seg for a
 * compaction's merge (named after the newest run it merges), or
 * d<day>-g<generation>-u.seg (merged = CT_RUN_UPGRADED) for the rewrite
 * of a merged file of an older format, which keeps its generation too. */
#define CT_RUN_UPGRADED 2
void ct__store_run_name(int64_t day, uint64_t generation, int merged, char name[64]);

/* The newest generation among a day's runs (from their file names). */
uint64_t ct__store_day_generation(const ct_store_day *d);

/* Removes a day's entry in memory (retention). */
void ct__store_drop(ct_store *st, int64_t day);

/* Writes the manifest atomically; on success removes segment files no
 * longer named. */
ct_code ct__store_commit(ct_store *st, ct_err *err);

/* Does a day of the manifest in memory name this segment file? */
int ct__store_names(const ct_store *st, const char *name);

/* Empties store/merging/ (what a killed compaction left: copies of live
 * events, which purge and retention must not miss), unless a compaction
 * is running (it holds <data>/compact.lock and cleans up after itself). */
void ct__store_clean_merging(const char *data_dir);

/* Removes files in store/ that the manifest does not name. */
void ct__store_collect_garbage(const ct_store *st);

/* Full path of a day's segment file; returns new. */
char *ct__store_path(const ct_store *st, const char *file);

#endif
