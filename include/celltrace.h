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

/* Notices: what the library has to say that is not an error of the call
 * (a writer waits for the lock, a message was not sent and will be
 * retried, a delivery report was rejected). The library never prints;
 * it hands each line (no newline) to fn. NULL (the default) drops them.
 * Process-wide: set it once, before opening anything. */
typedef void (*ct_notice_fn)(void *ud, const char *line);
void ct_set_notice(ct_notice_fn fn, void *ud);

/* Memory: tunes this process's malloc for celltrace's work (heaps that
 * grow in large steps and keep freed blocks, the main one advised as
 * huge pages; docs/ARCHITECTURE.md, "Memory policy"). Process-wide: call
 * it once at the start of main, before any thread exists. Nothing is
 * changed where the user set malloc up (MALLOC_*_ variables,
 * GLIBC_TUNABLES' glibc.malloc.*) or set CT_MALLOC_TUNE=0. Returns 1
 * when the main heap is tuned, 0 when it is not (also under a
 * sanitizer's or valgrind's allocator). Optional; answers do not depend
 * on it. */
int ct_tune_process_memory(void);

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

/* 1 when another process holds the writer lock of data directory `dir`
 * now (a writable ct_open would wait for it), else 0. A hint, for a
 * caller that must stay able to stop while it waits: the lock may be
 * taken or freed right after. */
int ct_writer_busy(const char *dir);

/* ---- keys (docs/KEYS.md) --------------------------------------------------- */

/* Where the keys of a data directory are kept (keys.provider). */
typedef enum ct_key_provider {
    CT_KEYS_FILE = 0,    /* a keyring file in clear (0600) in keys.dir */
    CT_KEYS_PASSPHRASE,  /* sealed under Argon2id(passphrase) in <data>/keys */
    CT_KEYS_CREDENTIALS, /* sealed under a systemd credential ($CREDENTIALS_DIRECTORY) */
} ct_key_provider;

/* "file", "passphrase", "credentials". */
const char *ct_key_provider_name(ct_key_provider p);

/* Parses a provider's name; 0 on success. */
int ct_key_provider_parse(const char *name, ct_key_provider *p);

/* What unlocks sealed keys. The library reads no environment variable
 * and prompts nobody: the caller gathers these. Borrowed. */
typedef struct ct_key_source {
    const char *passphrase;      /* passphrase provider */
    size_t passphrase_len;
    const char *credentials_dir; /* credentials provider: $CREDENTIALS_DIRECTORY */
} ct_key_source;

/* Argon2id cost of a passphrase: libsodium's SENSITIVE (default: 1 GiB,
 * seconds), MODERATE (256 MiB) or INTERACTIVE (64 MiB, for tests). */
typedef enum ct_kdf_cost { CT_KDF_SENSITIVE = 0, CT_KDF_MODERATE, CT_KDF_INTERACTIVE } ct_kdf_cost;

/* Where the keys of a directory are, from its configuration; no secret
 * is read. */
typedef struct ct_keys_where {
    ct_key_provider provider;
    char path[640];           /* the keyring file */
    char passphrase_env[104]; /* keys.passphrase_env ("" = none) */
    char credential[104];     /* keys.credential */
    int inside_data;          /* a clear keyring inside the data directory */
} ct_keys_where;
ct_code ct_keys_where_of(const char *dir, ct_keys_where *w, ct_err *err);

/* How a new data directory keeps its keys (ct_init_with). */
typedef struct ct_keys_setup {
    ct_key_provider provider;
    const char *key_dir;        /* file: NULL = <dir>/keys */
    const char *passphrase_env; /* passphrase: recorded in the config; NULL = none */
    const char *credential;     /* credentials: NULL = "celltrace.key" */
    ct_kdf_cost kdf;
    ct_key_source source;       /* the passphrase or credentials to seal with */
    const char *keyring_text;   /* NULL: fresh keys; else another directory's keyring
                                 * (ct_keyring_text), kept as it is: a cluster's shards */
} ct_keys_setup;

/* ct_init with the keys kept as `setup` says (NULL = file in <dir>/keys). */
ct_code ct_init_with(const char *dir, const ct_keys_setup *setup, ct_err *err);

/* The keys of a directory, unlocked once for any number of handles
 * (trace --jobs opens one per thread). Fails with a message that names
 * the missing key source. Returns new (*out): close with ct_keys_close,
 * after every handle opened with it. */
typedef struct ct_keyring ct_keyring;
ct_code ct_keys_unlock(const char *dir, const ct_key_source *src, ct_keyring **out, ct_err *err);

/* Wipes and frees; accepts NULL. */
void ct_keys_close(ct_keyring *k);

/* ct_open with keys unlocked by ct_keys_unlock (borrowed; NULL = unlock
 * with no source, which only the file provider needs). */
ct_code ct_open_keyed(const char *dir, int writable, ct_keyring *keys, ct_db **out, ct_err *err);

/* The keys' state, for `keys status`; no secret is returned. */
typedef struct ct_keys_status {
    ct_key_provider provider;
    char path[640];
    int inside_data, legacy;
    uint32_t pseudonym_gen, vault_gen, dlr_gen;
    int64_t pseudonym_made, vault_made, dlr_made;
    int dlr_previous;                /* older token keys still accepted */
    int64_t dlr_previous_until;      /* the last of their dates */
    int rotation_pending;            /* an interrupted rotation (the next writer ends it) */
} ct_keys_status;
ct_code ct_keys_status_of(ct_db *db, ct_keys_status *st, ct_err *err);

enum { CT_ROTATE_VAULT = 1, CT_ROTATE_PSEUDONYM = 2, CT_ROTATE_DLR = 4 };

typedef struct ct_rotate_summary {
    uint32_t subscribers;   /* records of subscribers.dat rewritten */
    uint64_t bytes;         /* bytes written */
    double seconds;         /* wall time of the rewrite */
} ct_rotate_summary;

/* Rotates the keys named by `what` (CT_ROTATE_*) on a writable handle.
 * Vault and pseudonym: subscribers.dat is rewritten under the new keys
 * and replaced atomically; a crash leaves the old keys and file or the
 * new ones. Dlr: the old token key stays valid for dlr_grace_s. */
ct_code ct_keys_rotate(ct_db *db, unsigned what, int64_t dlr_grace_s, ct_rotate_summary *sum,
                       ct_err *err);

/* Moves the keys to another provider, passphrase or cost (a new salt).
 * The keys themselves do not change. */
ct_code ct_keys_rewrap(ct_db *db, const ct_keys_setup *to, ct_err *err);

/* Who reads personal data and why, for the audit log (SPEC 6). Borrows
 * both strings (copied). `who` NULL = the operating-system user. */
void ct_set_actor(ct_db *db, const char *who, const char *why);

/* How many threads one ct_trace or ct_trace_scored on this handle may use
 * (1, the default, to 64): the candidates are split by subscriber between
 * them, with the same answer as one thread. The calls of one handle still
 * come one at a time; ct_trace_many's workers each trace on one thread. */
void ct_set_trace_threads(ct_db *db, int threads);

/* The audit log's hash chain, checked (docs/AUDIT.md). */
typedef struct ct_audit_check {
    int ok;             /* 1: every record chains to the one before, none missing */
    uint64_t records;   /* chained records read */
    uint64_t unchained; /* lines from before the chain existed (at the start only) */
    uint64_t files;     /* audit-<seq>.log files and audit.log */
    uint64_t last_seq;  /* the last good record */
    char head[65];      /* its chain value, hex: compare with a copy kept elsewhere */
    /* when !ok, the first problem: where, and what */
    char file[64];
    uint64_t line; /* in that file, from 1; 0 = after its end */
    uint64_t seq;  /* the record's seq, 0 if unreadable */
    char problem[256];
} ct_audit_check;

/* Reads every audit file of `dir` in chain order with the audit key.
 * CT_OK when the check ran (out->ok says how it went); an error when it
 * could not (no key, unreadable file). Needs no other key. */
ct_code ct_audit_verify(const char *dir, ct_audit_check *out, ct_err *err);

/* ---- imports shared by cells, events and cases --------------------------- */

/* Progress callback: `done` of `total` bytes of input read (total 0 when
 * unknown, e.g. stdin). Called at most a few times per second. */
typedef void (*ct_progress_fn)(void *ud, uint64_t done, uint64_t total);

#define CT_RETENTION_NEVER (-1)

typedef struct ct_import_opts {
    const char *rejects_path; /* NULL: <data>/rejects/<time>-<name>.csv */
    ct_progress_fn progress;  /* NULL: no progress */
    void *progress_ud;
    int retention_days;       /* ingest: purge after commit, days as ct_purge's; 0 = 21
                               * (SPEC 6); CT_RETENTION_NEVER = keep everything */
    int memory_mb;            /* ingest: events buffered before spilling to staging/; 0 = 512 */
    uint32_t shard, n_shards; /* cases import in a cluster's shard (n_shards > 1): only rows
                               * of numbers that ct_shard_of_number puts here are kept;
                               * rows that cannot be read are shard 0's to report */
    uint32_t (*case_shard)(void *ud, const char *case_id); /* ... and the shard that
                               * already holds case_id (UINT32_MAX: none), so that a case_id
                               * is one case in the whole cluster; NULL: none */
    void *case_shard_ud;
} ct_import_opts;

typedef struct ct_import_summary {
    uint64_t rows_read;  /* data rows seen (header excluded) */
    uint64_t stored;     /* new rows stored (or updated, for upserts) */
    uint64_t duplicates; /* rows identical to one already stored */
    uint64_t rejected;   /* rows rejected: see the reject report */
    uint64_t purged_events; /* ingest: events deleted by retention afterwards */
    uint64_t days_of_runs;  /* ingest: stored days now of several runs (ct_compact) */
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

/* Notification levels of a scored contact (docs/RISK.md section 5). */
typedef enum ct_level {
    CT_LEVEL_NONE = 0,       /* no notice; kept for the regional headquarters */
    CT_LEVEL_TEST = 1,       /* an invitation to a test, staying home until the result */
    CT_LEVEL_QUARANTINE = 2  /* an order to self-isolate */
} ct_level;

/* "none", "test", "quarantine". */
const char *ct_level_name(ct_level level);

/* Parses a level name; returns 0, or -1 when s names none. */
int ct_level_parse(const char *s, ct_level *out);

/* Kinds of evidence behind a contact, as bits of ct_contact.evidence. */
enum {
    CT_EVIDENCE_CELL_CELL = 1,   /* both positions known by their cells */
    CT_EVIDENCE_CELL_POINT = 2,  /* one by a cell, one by a GPS fix */
    CT_EVIDENCE_POINT_POINT = 4  /* both by GPS fixes */
};

typedef struct ct_contact {
    char msisdn[CT_MSISDN_MAX + 1];
    uint32_t subscriber;  /* dense internal id (not personal data) */
    int64_t exposure_s;
    int64_t first_contact;
    int64_t last_contact;
    double min_radius_m;
    /* Filled by ct_trace_scored only (0 otherwise): */
    double p_contact;        /* calibrated probability of a true contact, 4 significant digits */
    double expected_near_s;  /* expected seconds within the contact distance */
    ct_level level;
    unsigned evidence;       /* CT_EVIDENCE_* bits */
} ct_contact;

/* What the risk model read about one contact (docs/RISK.md section 3). */
typedef struct ct_evidence {
    double near_s;      /* expected seconds within D */
    double share_sum;   /* sum over episodes of its share of the visit, times min(1, seconds / T) */
    double share_max;   /* the largest share of one visit */
    double comove;      /* sum over shared moves of 1 / (subscribers sharing it) */
    uint32_t comove_n;  /* shared moves */
    uint32_t episodes;  /* visits of the case it shared */
    uint32_t days;      /* distinct UTC days with at least T seconds together */
    uint32_t places;    /* distinct places of the case with at least T seconds together */
    int64_t night_s;    /* overlap seconds in local night hours (00:00-06:00) */
    double log_odds;    /* the model's z before calibration */
} ct_evidence;

typedef struct ct_contacts {
    char case_id[CT_ID_MAX + 1];
    ct_contact *items; /* sorted: exposure desc, then msisdn asc (scored: see ct_trace_scored) */
    ct_evidence *evidence; /* scored traces: parallel to items; NULL otherwise */
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

/* How close a trace comes to its floor (`trace --work --floor`,
 * bench/README.md). The case is traced as ct_trace does, keeping every
 * (case interval, candidate) pair it matched; then only the kernel is
 * timed: those pairs streamed from memory, each one's overlap added to an
 * empty exposure table as the trace adds it, and the contacts counted.
 * What a trace costs above kernel_ns is finding and decoding the
 * candidates, reading numbers, sorting and the audit. No number is read;
 * the trace is audited ("trace --floor"). Fails if the kernel does not
 * find the trace's contacts. */
typedef struct ct_floor {
    uint64_t candidates;     /* as ct_contacts.candidates */
    uint64_t pairs;          /* (interval, candidate) pairs the kernel streamed */
    uint64_t overlaps;       /* of them with a non-empty overlap */
    uint64_t contacts;       /* the kernel's */
    uint64_t trace_contacts; /* the trace's (the same, or an error) */
    uint64_t kernel_ns;
} ct_floor;

ct_code ct_trace_floor(ct_db *db, const char *case_id, const ct_params *p, ct_floor *out,
                       ct_err *err);

/* Many cases at once (trace --all). One case traced, handed over in the
 * order asked: return non-zero to stop. cs is freed after the call. */
typedef int (*ct_trace_many_fn)(void *ud, size_t index, const ct_contacts *cs,
                                uint64_t elapsed_ns);

typedef struct ct_trace_many_opts {
    const ct_params *params;        /* NULL: SPEC 4's defaults */
    const struct ct_risk_opts *risk; /* NULL: plain traces; else scored (ct_trace_scored) */
    int jobs;                       /* threads, 1 or more */
    const char *who, *why;          /* the audit's actor (ct_set_actor) */
    /* NULL, or called on the worker's thread with its own handle right
     * after case `index` is traced and before fn gets it, with fn's ud:
     * work on a case's contacts that reads the store (a run's home
     * regions) then runs on every worker instead of on the calling
     * thread. It runs on several workers at once: what it shares with
     * the caller it must guard itself. db and cs are lent for the call.
     * It may have run for cases fn never gets (a later case failed, or
     * fn asked to stop): what it keeps per case, the caller frees after
     * ct_trace_many returns. Non-zero fails the case as a failed trace
     * does. */
    ct_code (*after_trace)(void *ud, ct_db *db, size_t index, const ct_contacts *cs,
                           ct_err *err);
} ct_trace_many_opts;

/* Traces ids[0..n) of data directory `dir` on opts->jobs threads, each
 * with its own read-only handle over the one unlocked keyring `keys`
 * (NULL: unlocked here, file provider only), and calls fn for each case
 * in the order of ids, on the calling thread. Workers run at most
 * 2 x jobs cases ahead of fn, so memory holds that many cases' contacts.
 * On the first case that fails, the cases before it are still handed to
 * fn, then its error is returned; *done (may be NULL) = cases handed. */
ct_code ct_trace_many(const char *dir, ct_keyring *keys, const char *const *ids, size_t n,
                      const ct_trace_many_opts *opts, ct_trace_many_fn fn, void *ud,
                      size_t *done, ct_err *err);

/* ---- contact risk (docs/RISK.md) ------------------------------------------ */

/* A fitted risk model: what turns a contact's evidence into p_contact. */
typedef struct ct_risk_model ct_risk_model;

/* The model built into this binary (models/risk-model.txt at build time). */
const ct_risk_model *ct_risk_model_builtin(void);

/* Reads a model file. Returns new (*out): free with ct_risk_model_free. */
ct_code ct_risk_model_load(const char *path, ct_risk_model **out, ct_err *err);
void ct_risk_model_free(ct_risk_model *m);

/* Its version string ("risk-1 ..."), and the thresholds it recommends. */
const char *ct_risk_model_version(const ct_risk_model *m);
void ct_risk_model_thresholds(const ct_risk_model *m, double *test, double *quarantine);

typedef struct ct_risk_opts {
    const ct_risk_model *model; /* NULL: the built-in model */
    double test_threshold;      /* p_contact at or above: level test or higher */
    double quarantine_threshold; /* p_contact at or above: level quarantine */
    ct_level min_level;         /* contacts below it are left out; their numbers are not read */
    const char *timezone;       /* for night hours; NULL: the data directory's `timezone` */
    int without_numbers;        /* 1: no number is read; msisdn is left empty (callers
                                   that keep subscriber ids only, as ct_run does) */
} ct_risk_opts;

/* The built-in model, its recommended thresholds, every level kept. */
void ct_risk_opts_default(ct_risk_opts *o);

/* As a data directory is configured: `model` (NULL: the built-in one),
 * thresholds from risk.test and risk.quarantine in celltrace.conf (else the
 * model's), the configured time zone for night hours. CT_EINVAL when the
 * test threshold is above the quarantine threshold. */
ct_code ct_risk_opts_configured(const char *data_dir, const ct_risk_model *model,
                                ct_risk_opts *o, ct_err *err);

/* Traces one case as ct_trace does and scores every contact: p_contact,
 * expected_near_s, level, evidence. Contacts are sorted by p_contact
 * descending, then exposure descending, then number; with min_level only
 * those at that level or above are returned (and only their numbers are
 * read and audited). Exposure, first and last contact and min_radius_m are
 * exactly ct_trace's. Returns new (*out). */
ct_code ct_trace_scored(ct_db *db, const char *case_id, const ct_params *p,
                        const ct_risk_opts *risk, ct_contacts **out, ct_err *err);

/* Where one side of an overlap was. */
typedef struct ct_place_info {
    int is_point;
    char operator_name[CT_ID_MAX + 1];
    char cell_id[CT_ID_MAX + 1];       /* "" for a point */
    char region[CT_REGION_MAX + 1];    /* "" when unknown or a point */
    double lat, lon, radius_m;         /* centre and radius or accuracy */
} ct_place_info;

/* One episode: the contact's overlaps within one visit of the case. */
typedef struct ct_episode_info {
    int64_t start, end;        /* earliest and latest instant of overlap */
    int64_t overlap_s;
    double expected_near_s;
    double p_near;             /* expected_near_s / overlap_s: chance of being within D at a moment */
    double share;              /* of the visit's expected near-seconds over everyone in it */
    uint32_t others;           /* other subscribers who shared the visit */
    ct_place_info case_place, contact_place; /* the pair of places with the most overlap */
    unsigned evidence;         /* CT_EVIDENCE_* bits */
} ct_episode_info;

/* A move the contact shared: the case changed place at `at` and the
 * contact had an event at the new place within the co-movement window. */
typedef struct ct_move_info {
    int64_t at;
    uint32_t sharers;          /* subscribers who shared this move */
    ct_place_info place;       /* the case's new place */
} ct_move_info;

/* One term of the model: value * coefficient adds to the log-odds. */
typedef struct ct_risk_term {
    const char *name, *meaning; /* static */
    double value, coefficient;
} ct_risk_term;

typedef struct ct_explanation {
    char case_id[CT_ID_MAX + 1];
    ct_contact contact;         /* scored; exposure_s < min_exposure when not a contact */
    int is_contact;             /* exposure reaches min_exposure_s */
    ct_episode_info *episodes;  /* in time order */
    size_t n_episodes;
    ct_move_info *moves;
    size_t n_moves;
    ct_risk_term terms[24];
    size_t n_terms;
    double log_odds;            /* the sum of the terms */
    double share_sum, share_max, comove; /* the evidence the terms read */
    uint32_t days, places;
    char model_version[64];
} ct_explanation;

/* The evidence for one subscriber (by number) against one case, with
 * every episode, shared move and term. CT_ENOTFOUND when the number never
 * overlapped the case. Audited. Returns new (*out). */
ct_code ct_explain(ct_db *db, const char *case_id, const char *msisdn, const ct_params *p,
                   const ct_risk_opts *risk, ct_explanation **out, ct_err *err);
void ct_explanation_free(ct_explanation *e);

/* Where a case was during its infectious window (SPEC 4.2 presences, cut
 * to the window, consecutive ones at one place joined): the map of the
 * regional headquarters' page. A case's own movements are personal data:
 * audited ("case places", the case, the number of stays). CT_ENOTFOUND for
 * an unknown case. p: SPEC 4 parameters (NULL: the defaults). */
typedef struct ct_case_stay {
    int64_t start, end;
    ct_place_info place;
} ct_case_stay;
typedef struct ct_case_stays {
    int64_t window_from, window_to; /* the infectious window */
    ct_case_stay *items;            /* in time order */
    size_t n;
} ct_case_stays;
ct_code ct_case_stays_get(ct_db *db, const char *case_id, const ct_params *p,
                          ct_case_stays **out, ct_err *err);
void ct_case_stays_free(ct_case_stays *s);

/* The shapes the map of the headquarters' page draws besides the cells
 * (docs/WEB.md): a GeoJSON FeatureCollection (districts, metro lines, a
 * region's boundary...), checked and kept as <data>/geography.geojson.
 * Import replaces it atomically; *features says how many it holds. Read
 * returns new (*json, NUL-terminated; free()), CT_ENOTFOUND when none. */
ct_code ct_geography_import(ct_db *db, const char *path, size_t *features, ct_err *err);
ct_code ct_geography_read(const char *data_dir, char **json, size_t *len, ct_err *err);

/* ---- places: who was in an area (celltrace area, docs/AREA.md) ---------- */

/* An area query beyond these needs `force`: it returns a good part of a
 * city, which is a privacy event of its own (audited as "area --force"). */
#define CT_AREA_RADIUS_MAX_M 50000.0
#define CT_AREA_SPAN_MAX_S (31 * 86400)

typedef struct ct_area {
    /* The disk: a centre and radius, or, when `op` and `cell_id` are both
     * set, that cell's coverage disk from the catalogue. */
    double lat, lon, radius_m;
    const char *op, *cell_id;
    int64_t from, to;   /* [from, to), epoch seconds */
    int64_t min_stay_s; /* present at least this long (>= 0; 900 is the CLI's default) */
    int force;          /* allow a disk wider than 50 km or a window longer than 31 days */
    int reveal;         /* whole numbers; else masked ("7999***0001") */
} ct_area;

typedef struct ct_presence {
    char msisdn[CT_MSISDN_MAX + 1]; /* masked unless ct_area.reveal */
    uint32_t subscriber;
    int64_t present_s;    /* sum over presences whose disk meets the area, cut to [from, to) */
    int64_t first_seen;   /* earliest instant counted */
    int64_t last_seen;    /* latest end counted */
    double min_radius_m;  /* the smallest radius of the phone's own disks counted */
    double expected_inside_s; /* seconds weighted by the share of the disk inside the area */
} ct_presence;

typedef struct ct_presences {
    ct_presence *items; /* present_s desc, then the whole msisdn asc (as text) */
    size_t n;
    double lat, lon, radius_m; /* the disk asked about (a cell's, for a cell) */
    uint64_t candidates, overlaps; /* work done, for benchmarks */
} ct_presences;

/* Everyone present in the area for at least min_stay_s seconds of [from,
 * to), exactly as docs/AREA.md defines it from SPEC 4's presences (only
 * p->max_presence_s is read; NULL: the defaults). Reading the numbers is
 * audited, masked or not ("area", with " --force" and " --reveal"). Returns new (*out): free with ct_presences_free. CT_EINVAL for
 * a bad query, or one over the limits without force; CT_ENOTFOUND for an
 * unknown cell. */
ct_code ct_area_query(ct_db *db, const ct_area *q, const ct_params *p, ct_presences **out,
                      ct_err *err);
void ct_presences_free(ct_presences *ps);

/* Hotspots (celltrace hotspots, docs/AREA.md section 3): the places and
 * hours where cases met during their infectious windows. For every pair
 * of cases, every pair of their presences (SPEC 4.2, cut to both windows
 * and to [from, to)) that overlap in time and are co-located (SPEC 4.4)
 * adds its overlap times the probability that the two were within D
 * (docs/RISK.md section 2) to the more precise of the two places (a cell,
 * or the grid square of a GPS fix), hour by hour. A row is a place and an
 * hour with at least min_cases cases; its score, the expected seconds case
 * pairs spent within D there, favours small, precise places. */
typedef struct ct_hotspot_query {
    int64_t from, to;           /* [from, to) */
    unsigned min_cases;         /* at least 2 */
    double resolution_m;        /* side of a GPS fix's grid square, > 0 */
    size_t limit;               /* rows returned, best first; 0 = all */
    int64_t others_min_stay_s;  /* others present: at least this long in the hour */
    int count_others;           /* 0: leave others_present as CT_OTHERS_NOT_COUNTED */
    const char *region;         /* NULL: every case; else only the cases registered there */
} ct_hotspot_query;

#define CT_OTHERS_NOT_COUNTED UINT64_MAX

/* The defaults: 2 cases, 50 m squares, 20 rows, others present 900 s, counted. */
void ct_hotspot_query_default(ct_hotspot_query *q);

typedef struct ct_hotspot {
    char place[160];            /* "OP:CELL_ID", or "grid:LAT/LON" (the square's centre) */
    int is_cell;
    double lat, lon, radius_m;  /* the place's disk (a square's: its circumscribed disk) */
    int64_t hour;               /* the hour's first second */
    char (*case_ids)[CT_ID_MAX + 1]; /* sorted */
    size_t n_cases;
    uint64_t others_present;    /* others at the same cell, or with a fix in the same square,
                                 * for >= others_min_stay_s that hour */
    double score;               /* expected seconds case pairs spent within D */
} ct_hotspot;

typedef struct ct_hotspots {
    ct_hotspot *items;          /* score desc, cases desc, place, hour */
    size_t n;
    size_t n_places;            /* rows with >= min_cases before the limit */
    size_t cases;               /* cases whose window meets [from, to) */
} ct_hotspots;

/* Finds hotspots (p: SPEC 4 parameters; NULL: the defaults). Audited
 * ("hotspots"); no number is read. Returns new (*out). */
ct_code ct_hotspots_find(ct_db *db, const ct_hotspot_query *q, const ct_params *p,
                         ct_hotspots **out, ct_err *err);
void ct_hotspots_free(ct_hotspots *h);

/* Fitting a model (docs/RISK.md section 4) on files from `risk features`. */
typedef struct ct_risk_fit_opts {
    const ct_risk_model *base;   /* visit and co-movement constants (NULL: built-in) */
    const char *version;         /* the new model's version string */
    double test_share;           /* share of the net to put at level test (0: 0.05) */
    double quarantine_threshold; /* 0: 0.5, more likely than not */
} ct_risk_fit_opts;

typedef struct ct_risk_fit_report {
    size_t rows, positives;
    int iterations;
    double log_loss;             /* mean, per row, of the fitted logistic */
} ct_risk_fit_report;

/* Fits coefficients, calibration and thresholds. Returns new (*out). */
ct_code ct_risk_fit(const char *const *paths, size_t n_paths, const ct_risk_fit_opts *opts,
                    ct_risk_model **out, ct_risk_fit_report *report, ct_err *err);

/* Writes a model file (path NULL: stdout), atomically, after a comment
 * (lines starting with '#', may be NULL). */
ct_code ct_risk_model_write(const ct_risk_model *m, const char *path, const char *comment,
                            ct_err *err);

/* ---- accuracy against truth (docs/RISK.md section 6) ---------------------- */

/* Who really was near each case: case_id,msisdn,minutes (as `simulate`
 * writes truth.csv). A pair is a true contact when minutes * 60 reaches
 * the min_exposure_s the evaluation runs with. */
typedef struct ct_truth ct_truth;

/* Reads a truth file; a bad row fails with its file, line and reason.
 * Returns new (*out). */
ct_code ct_truth_load(const char *path, ct_truth **out, ct_err *err);
void ct_truth_free(ct_truth *t);

/* One scored contact of the net, with what the truth says of it. */
typedef struct ct_eval_row {
    const char *case_id;
    const ct_contact *contact;
    const ct_evidence *evidence;
    int64_t truth_minutes; /* 0 when the truth does not list the pair */
    int is_true;           /* truth_minutes * 60 >= min_exposure_s */
} ct_eval_row;

typedef int (*ct_eval_row_fn)(void *ud, const ct_eval_row *r);

/* Traces every registered case with scoring and calls fn with each
 * contact of the net (every level), case by case. Numbers are read to
 * match the truth, so each trace is audited. A non-zero return stops. */
ct_code ct_evaluate_rows(ct_db *db, const ct_truth *truth, const ct_params *p,
                         const ct_risk_opts *risk, ct_eval_row_fn fn, void *ud, ct_err *err);

/* Precision, recall and F1 of one selection. */
typedef struct ct_eval_counts {
    uint64_t selected, selected_true, truth;
    double precision, recall, f1;
} ct_eval_counts;

/* One bin of the reliability table: predicted against observed. */
typedef struct ct_eval_bin {
    double p_lo, p_hi;     /* the bin [p_lo, p_hi) (the last one includes 1) */
    uint64_t n, positives;
    double mean_p, observed;
} ct_eval_bin;

#define CT_EVAL_BINS 10

/* All the numbers for one slice of the contacts: every contact, or those
 * of one kind of evidence (their strongest kind: point-point, else
 * cell-point, else cell-cell). */
typedef struct ct_eval_slice {
    const char *name;       /* "all", "cell-cell", "cell-point", "point-point" */
    uint64_t net, net_true; /* contacts of the net, and the true ones among them */
    ct_eval_counts net_counts, test, quarantine; /* the net; level test or above; quarantine */
    double ap_p_contact, ap_exposure; /* average precision of the two rankings */
    double brier;
    ct_eval_bin bins[CT_EVAL_BINS];
} ct_eval_slice;

/* A point of a precision-recall curve. */
typedef struct ct_pr_point {
    double recall, precision;
} ct_pr_point;

typedef struct ct_evaluation {
    size_t cases;
    uint64_t truth;          /* true contacts of the traced cases */
    uint64_t truth_in_net;   /* of them, found by SPEC 4's net */
    ct_eval_slice slices[4]; /* all, cell-cell, cell-point, point-point */
    ct_pr_point *pr_p_contact, *pr_exposure; /* curves of the "all" slice */
    size_t n_pr_p_contact, n_pr_exposure;
    char model_version[64];
    double test_threshold, quarantine_threshold;
} ct_evaluation;

/* Scores every registered case and measures it against the truth.
 * Returns new (*out). */
ct_code ct_evaluate(ct_db *db, const ct_truth *truth, const ct_params *p,
                    const ct_risk_opts *risk, ct_evaluation **out, ct_err *err);
void ct_evaluation_free(ct_evaluation *e);

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

/* ---- merging a day's runs ----------------------------------------------------- */

/* An ingest stores a delivery for a day already stored as a new run of
 * that day (docs/FORMAT.md) instead of rewriting the day; readers see a
 * day's runs as one, at the price of merging them in memory. Compaction
 * makes each day of several runs one file again. */
typedef struct ct_compact_summary {
    uint64_t days;       /* days merged into one file */
    uint64_t runs;       /* run files they were */
    uint64_t events;     /* events in the merged days */
    uint64_t days_left;  /* days still of several runs (a new delivery came) */
    uint64_t days_old;   /* ct_upgrade: days left in an older segment version */
    int waited;          /* another compaction of the directory was running */
    int coalesced;       /* ct_compact_coalescing: left to the one waiting */
} ct_compact_summary;

/* Merges the runs of every day of `dir` that has several. The work is
 * done without the writer lock, from the immutable run files, into
 * store/merging/; the lock is held only to swap the merged file for its
 * runs in the manifest, so deliveries go on meanwhile (a run they add
 * stays, beside the merged file). A crash at any point leaves either the
 * runs or the merged file live, never a mix. One compaction at a time
 * (<dir>/compact.lock): a second waits for the first, then merges what
 * is left. Refused for a cluster shard with a pending commit. */
ct_code ct_compact(const char *dir, ct_compact_summary *sum, ct_err *err);

/* The same, for a compaction nobody waits for (`ingest` starts one in the
 * background after each delivery): when a compaction is running and
 * another is already waiting to start, this one returns at once, CT_OK
 * with sum->coalesced set. The waiting one reads the store only after it
 * starts, so it merges every delivery committed before this call. Without
 * that, deliveries faster than a merge queued one compaction each, and
 * each merged its day again. */
ct_code ct_compact_coalescing(const char *dir, ct_compact_summary *sum, ct_err *err);

/* The same, also rewriting every day stored as one file of an older
 * segment version (docs/FORMAT.md: version 2, written before 2026-12-02)
 * in the current one, each swapped in as soon as it is written, as a
 * compaction swaps a day: a crash leaves each day's old file or its new
 * one live, and the days done stay done. A file that does not open is
 * left as it is (`check` reports it). Readers take older days
 * as they are, but make a current copy of each in memory per process.
 * sum->days counts the days rewritten or merged. */
ct_code ct_upgrade(const char *dir, ct_compact_summary *sum, ct_err *err);

/* Where a compaction that nobody waits for (`ingest` starts one in the
 * background) leaves its error, in the data directory; a compaction that
 * succeeds removes it, and `check` reports it. */
#define CT_COMPACT_FAILED "compact.failed"

/* Leaves err's message in CT_COMPACT_FAILED under dir (mode 0600), for a
 * compaction nobody waits for; best effort: it is called where nothing
 * can report a failure of its own. */
void ct_compact_note_failure(const char *dir, const ct_err *err);

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

/* Writes a probability with at most 4 significant digits, as a plain
 * decimal without trailing zeros ("0.01234", "0.5", "0.0000012", "0") into
 * buf (at least 32 bytes). */
void ct_format_probability(double p, char *buf);

/* Writes a value >= 0 with at most 4 significant digits, as a plain
 * decimal without trailing zeros ("0.03989", "132.3", "0") into buf (at
 * least 32 bytes): the hotspots' scores. */
void ct_format_significant(double v, char *buf);

/* Writes seconds with at most one decimal, no trailing zeros ("812.4",
 * "90") into buf (at least 32 bytes). */
void ct_format_seconds(double s, char *buf);

#ifdef __cplusplus
}
#endif
#endif
