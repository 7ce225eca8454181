/*
 * db.h — the open data directory (internal).
 *
 * <data>/                      mode 0700
 *   keys/keyring               the keys, 0600 (keys.h), or keys/keyring.sealed
 *                              (passphrase, credentials), or elsewhere (keys.dir)
 *   celltrace.conf             settings, 0600 (config.h)
 *   catalog.db                 SQLite (WAL): operators, cells, cases
 *   subscribers.dat            pseudonyms + encrypted numbers (subscribers.h)
 *   store/MANIFEST             live day segments (store.h)
 *   store/d<day>-g<gen>.seg    day segments (segment.h)
 *   staging/                   a running ingest's spill files (removed after)
 *   rejects/                   reject reports
 *   audit.log                  append-only log of reads of personal data, a
 *                              keyed hash chain (audit.c); audit-<seq>.log rotated
 *   audit.lock                 held (flock) while a record is appended
 *   lock                       held (flock) by the one writer at a time
 */
#ifndef CT_DB_H
#define CT_DB_H

#include "catalog.h"
#include "celltrace.h"
#include "store.h"
#include "subscribers.h"

typedef struct ct_seg_slot ct_seg_slot;

struct ct_db {
    char *dir;
    int writable;
    int lock_fd;
    ct_catalog *cat;
    ct_subdict *subs;
    ct_store store;
    struct ct_keyring *keys; /* unlocked keys (keys.h); owned when keys_owned */
    int keys_owned;
    char *who, *why;
    ct_seg_slot *slots; /* open segments, parallel to store.days (db.c) */
    uint32_t n_slots;
    struct ct_segment **retired; /* segments whose day changed, still mapped */
    size_t n_retired, cap_retired;
    struct ct__number_cache *numbers; /* a batch's (ct_trace_many), not owned; or NULL */
    int trace_threads;                /* ct_set_trace_threads; 0 or 1: one */
};

/* The live segment of `day`, opened (quick checks) on first use and kept
 * mapped for the life of the handle; NULL when the store has no such day,
 * or when it cannot be opened (then *rc says why and err is set). The
 * cache follows the store: a day whose file changed is opened again. */
struct ct_segment;
const struct ct_segment *ct__db_segment(ct_db *db, int64_t day, ct_code *rc, ct_err *err);

/* The same for a reader of the cell postings: a day stored as one file of
 * an older segment version comes as a current-version view of it, built
 * in memory the first time (once per process and file); any other day as
 * ct__db_segment gives it. */
const struct ct_segment *ct__db_segment_cells(ct_db *db, int64_t day, ct_code *rc, ct_err *err);

/* Unmaps segments retired since the last call; only where no pointer
 * from ct__db_segment is held (the start of a top-level operation). */
void ct__db_segments_release(ct_db *db);

/* Reads the manifest and the catalogue again: a reader's view after a
 * writer replaced a segment or imported cells under it (readers take no
 * lock; segments are immutable, so the new view is consistent). */
ct_code ct__db_reload(ct_db *db, ct_err *err);

/* 1 when another handle holds the writer lock of `dir` now (a writable
 * ct_open would wait for it): for callers that must not wait. */
int ct__writer_busy(const char *dir);

/* Appends one record to the audit log (audit.c): who, what, object, how
 * many records, why, when, chained to the record before. Fails the command
 * if the log cannot be written: a read of personal data that cannot be
 * audited must not happen. */
ct_code ct__audit(ct_db *db, const char *what, const char *object, uint64_t records,
                  ct_err *err);

/* The same with another actor and reason than the handle's (the API's
 * threads: the user of each request). */
ct_code ct__audit_as(ct_db *db, const char *actor, const char *reason, const char *what,
                     const char *object, uint64_t records, ct_err *err);

/* Calls fn with every line of the audit files of `dir`, in chain order
 * (NUL-terminated, without its line end), until it returns non-zero.
 * since > 0: only records written at or after that second (rotated files
 * that end before it are not read, and earlier lines are skipped by their
 * time stamp, without parsing). after_seq > 0: only records after that
 * seq, likewise (rotated files by their name, lines by their seq field);
 * lines that are no chained record are always given. */
typedef int (*ct_audit_line_fn)(void *ud, const char *line, size_t len);
ct_code ct__audit_each(const char *dir, int64_t since, uint64_t after_seq, ct_audit_line_fn fn,
                       void *ud, ct_err *err);

/* Makes <key_dir>/audit.key: 32 random bytes, mode 0600 (audit.c). */
ct_code ct__audit_key_create(const char *key_dir, ct_err *err);

#endif
