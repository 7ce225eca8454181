/*
 * celltrace.h — the public face of the celltrace library.
 *
 * Everything a program needs to run celltrace is here: open a data
 * directory, import cell catalogues and cases, ingest operators' location
 * feeds, trace the contacts of a case (SPEC section 4), read statistics.
 * The command-line tool (src/cli) uses nothing else; internals live in
 * src/lib and may change freely.
 *
 * Conventions
 * - Every fallible function returns a ct_code; CT_OK (0) is success. When
 *   `err` is not NULL it receives a human-readable message on failure.
 * - Ownership is stated per function: "returns new" (the caller frees
 *   with the matching _free), "borrows" (the callee keeps no reference).
 *   Every _free accepts NULL.
 * - Times are int64 seconds since the Unix epoch, UTC.
 */
#ifndef CELLTRACE_H
#define CELLTRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CT_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

typedef enum ct_code {
    CT_OK = 0,
    CT_EINVAL,    /* bad argument or bad input that rejects the whole command */
    CT_ENOTFOUND, /* a named thing (case, data directory, file) does not exist */
    CT_EEXIST,    /* something that must be new already exists */
    CT_EIO,       /* an operating-system or library I/O error */
    CT_ENOMEM,    /* out of memory (see docs/ARCHITECTURE.md, "memory policy") */
    CT_ECORRUPT,  /* stored data fails its checks */
    CT_ELIMIT,    /* a hard cap was reached (line length, file count, ...) */
    CT_ECRYPTO,   /* key or vault problem */
} ct_code;

#define CT_ERR_MSG_MAX 1024

typedef struct ct_err {
    ct_code code;
    char msg[CT_ERR_MSG_MAX];
} ct_err;

/* Returns a static name for a code ("invalid input", ...). */
const char *ct_code_name(ct_code code);

/* ---- the data directory -------------------------------------------------- */

typedef struct ct_db ct_db;

/* Creates a new data directory (mode 0700) with fresh keys (mode 0600),
 * the catalogue database and an empty store. Fails with CT_EEXIST when
 * `dir` already holds a celltrace data directory. */
ct_code ct_init(const char *dir, ct_err *err);

/* Opens an existing data directory. Returns new (*out): close with
 * ct_close. `writable` = 0 opens for reading only. */
ct_code ct_open(const char *dir, int writable, ct_db **out, ct_err *err);

/* Closes and frees; accepts NULL. */
void ct_close(ct_db *db);

/* Who reads personal data and why, for the audit log (SPEC 6). Borrows
 * both strings (copied). `who` NULL = the operating-system user. */
void ct_set_actor(ct_db *db, const char *who, const char *why);

/* ---- imports shared by cells, events and cases --------------------------- */

/* Progress callback: `done` of `total` bytes of input read (total 0 when
 * unknown, e.g. stdin). Called at most a few times per second. */
typedef void (*ct_progress_fn)(void *ud, uint64_t done, uint64_t total);

typedef struct ct_import_opts {
    const char *rejects_path; /* NULL: <data>/rejects/<time>-<name>.csv */
    ct_progress_fn progress;  /* NULL: no progress */
    void *progress_ud;
    int retention_days;       /* ingest: purge after commit; 0 = 21 (SPEC 6), -1 = never */
} ct_import_opts;

typedef struct ct_import_summary {
    uint64_t rows_read;  /* data rows seen (header excluded) */
    uint64_t stored;     /* new rows stored (or updated, for upserts) */
    uint64_t duplicates; /* rows identical to one already stored */
    uint64_t rejected;   /* rows rejected: see the reject report */
    uint64_t purged_events; /* ingest: events deleted by retention afterwards */
    char rejects_path[512]; /* where rejected rows were reported ("" if none) */
} ct_import_summary;

/* Loads (upserts by cell_id) one operator's cell catalogue (SPEC 3.1).
 * Good rows are stored, bad rows reported; all in one transaction. */
ct_code ct_cells_import(ct_db *db, const char *op, const char *path,
                        const ct_import_opts *opts, ct_import_summary *sum,
                        ct_err *err);

/* ---- location events ------------------------------------------------------ */

typedef struct ct_ingest ct_ingest;

/* Starts an ingest batch for operator `op`. Returns new (*out): finish
 * with ct_ingest_commit or ct_ingest_abort (which both free it). */
ct_code ct_ingest_begin(ct_db *db, const char *op, const ct_import_opts *opts,
                        ct_ingest **out, ct_err *err);

/* Reads one feed (plain, .gz, .zst, or "-" for stdin) into the batch.
 * Bad rows are reported and counted; only I/O failures fail the call. */
ct_code ct_ingest_file(ct_ingest *in, const char *path, ct_err *err);

/* Seals the touched days into the store and makes them live atomically.
 * Frees `in` whatever the result. */
ct_code ct_ingest_commit(ct_ingest *in, ct_import_summary *sum, ct_err *err);

/* Drops the batch: nothing of it is applied. Accepts NULL. */
void ct_ingest_abort(ct_ingest *in);

/* ---- cases ---------------------------------------------------------------- */

#define CT_ID_MAX 64
#define CT_REGION_MAX 32
#define CT_MSISDN_MAX 15

typedef struct ct_case {
    char case_id[CT_ID_MAX + 1];
    char msisdn[CT_MSISDN_MAX + 1]; /* normalised digits */
    int64_t onset;
    int64_t isolated;               /* valid when has_isolated */
    int has_isolated;
    char region[CT_REGION_MAX + 1]; /* "" when absent */
} ct_case;

/* Imports a cases file (SPEC 3.3); a case_id already registered is a
 * duplicate when identical, rejected when different. */
ct_code ct_cases_import(ct_db *db, const char *path, const ct_import_opts *opts,
                        ct_import_summary *sum, ct_err *err);

/* Parses and adds one case from text fields (as a user types them).
 * `isolated` and `region` may be NULL. */
ct_code ct_case_add(ct_db *db, const char *case_id, const char *msisdn,
                    const char *onset, const char *isolated, const char *region,
                    ct_err *err);

/* Calls `fn` for every case, ordered by case_id. Reading numbers is a
 * read of personal data: audited. */
typedef int (*ct_case_fn)(void *ud, const ct_case *c);
ct_code ct_cases_list(ct_db *db, ct_case_fn fn, void *ud, ct_err *err);

/* Calls `fn` with every registered case_id, ordered: no numbers are read
 * (nothing to audit). A non-zero return from `fn` stops the walk. */
typedef int (*ct_case_id_fn)(void *ud, const char *case_id);
ct_code ct_case_ids(ct_db *db, ct_case_id_fn fn, void *ud, ct_err *err);

/* ---- trace (SPEC section 4) ---------------------------------------------- */

typedef struct ct_params {
    int64_t max_presence_s;
    double contact_distance_m;
    int64_t min_exposure_s;
    int64_t infectious_before_s;
    int64_t infectious_after_s;
} ct_params;

/* Fills the SPEC defaults (3600, 2, 900, 172800, 864000). */
void ct_params_default(ct_params *p);

/* Checks ranges; returns CT_EINVAL with a message when out of range. */
ct_code ct_params_check(const ct_params *p, ct_err *err);

typedef struct ct_contact {
    char msisdn[CT_MSISDN_MAX + 1];
    uint32_t subscriber;  /* dense internal id (not personal data) */
    int64_t exposure_s;
    int64_t first_contact;
    int64_t last_contact;
    double min_radius_m;
} ct_contact;

typedef struct ct_contacts {
    char case_id[CT_ID_MAX + 1];
    ct_contact *items; /* sorted: exposure desc, then msisdn asc */
    size_t n;
    /* work done, for benchmarks: intervals of the case; candidates
     * examined (each cell event once, however many of the case's intervals
     * it can reach; each point event once per interval whose disk it may
     * reach); (case interval, candidate) pairs that overlapped in time */
    uint64_t case_intervals, candidates, overlaps;
} ct_contacts;

/* Traces one case. Returns new (*out): free with ct_contacts_free. Reading
 * the contacts' numbers is audited. */
ct_code ct_trace(ct_db *db, const char *case_id, const ct_params *p,
                 ct_contacts **out, ct_err *err);

void ct_contacts_free(ct_contacts *c);

/* ---- what changed, and a subscriber's events (for tracing runs) ----------- */

/* The store's version of the time range [from, to): the highest commit
 * generation of any day segment overlapping it, 0 when it holds no data.
 * It only grows; a caller that remembers it can tell whether a case's
 * window received data since. */
ct_code ct_data_version(ct_db *db, int64_t from, int64_t to, uint64_t *version, ct_err *err);

typedef struct ct_place_event {
    int64_t ts;
    int is_point;
    double lat, lon, radius_m;  /* cell centre and radius, or point and accuracy */
    const char *region;         /* the cell's region; NULL for points or when absent */
    const char *operator_name;  /* of the cell or the point's feed */
} ct_place_event;

/* Return non-zero to stop early. */
typedef int (*ct_event_fn)(void *ud, const ct_place_event *e);

/* Calls fn for every stored event of subscriber `sub` (a dense id, e.g.
 * ct_contact.subscriber) with from <= ts < to, in SPEC 4.1 order. Reads
 * no phone number. */
ct_code ct_subscriber_events(ct_db *db, uint32_t sub, int64_t from, int64_t to, ct_event_fn fn,
                             void *ud, ct_err *err);

/* ---- integrity and retention ------------------------------------------------ */

/* One finding of ct_check: `what` names the part (a file), `problem` says
 * what is wrong in words. `serious` is 0 for leftovers of an interrupted
 * write (temporary files, a torn append) that the next writer removes and
 * that hold nothing live; 1 for damage to live data. */
typedef void (*ct_problem_fn)(void *ud, int serious, const char *what, const char *problem);

/* Verifies the data directory: key files and modes, the manifest, every
 * live segment (all checksums, and that it names only known cells and
 * subscribers), leftovers of crashed writers, SQLite's integrity, and
 * every vault record (checksum, decryption, pseudonym). Calls fn for each
 * finding; *problems receives the number of serious ones (0 = a clean
 * bill). */
ct_code ct_check(ct_db *db, ct_problem_fn fn, void *ud, uint64_t *problems, ct_err *err);

#define CT_RETENTION_DAYS_DEFAULT 21

typedef struct ct_purge_summary {
    uint64_t days_deleted, events_deleted;
    int64_t cutoff; /* events before this instant were deleted (0 if none) */
} ct_purge_summary;

/* Retention (SPEC 6): deletes, for good, the day segments whose every
 * event is older than `retention_days` before the newest stored event.
 * Needs a writable handle. */
ct_code ct_purge(ct_db *db, int retention_days, ct_purge_summary *sum, ct_err *err);

/* The day the emergency ends: deletes every personal datum — all events,
 * the subscriber dictionary and vault, the cases and every other table
 * of people, reject reports — and replaces the keys, so nothing deleted
 * can be linked again. Cells and operators (not personal) stay; the audit
 * log stays and records the purge. */
ct_code ct_purge_all(ct_db *db, ct_err *err);

/* ---- statistics ------------------------------------------------------------ */

typedef struct ct_stats {
    uint64_t subscribers;
    uint64_t events;
    uint64_t cell_events, point_events;
    uint64_t days;
    int64_t first_day, last_day; /* epoch seconds of 00:00 UTC; 0 if none */
    uint64_t operators, cells, cases;
    uint64_t store_bytes; /* day segments */
    uint64_t total_bytes; /* everything under the data directory */
} ct_stats;

ct_code ct_stats_get(ct_db *db, ct_stats *out, ct_err *err);

/* ---- formatting helpers shared by every output ----------------------------- */

/* Writes YYYY-MM-DDTHH:MM:SSZ into buf (at least 21 bytes). */
void ct_format_time(int64_t t, char *buf);

/* Parses a SPEC time (section 2). allow_date: a bare date is accepted.
 * Returns 0 on success, -1 when the text is not a valid time. */
int ct_parse_time(const char *s, int allow_date, int64_t *out);

/* Writes a radius with at most two decimals, no trailing zeros ("305",
 * "422.7") into buf (at least 32 bytes). */
void ct_format_radius(double r, char *buf);

#ifdef __cplusplus
}
#endif
#endif
