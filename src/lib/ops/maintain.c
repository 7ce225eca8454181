/*
 * maintain.c — `check` (is the data directory sound?) and `purge`
 * (retention, and the deletion of everything personal).
 *
 * check reads everything and changes nothing: it is what an operator runs
 * after a crash, a full disk or a restore from backup. purge deletes
 * whole files (segments are per day, so retention is a manifest change
 * plus unlinks) and, for --all, empties every table of people, rewrites
 * SQLite (VACUUM) so deleted rows leave no free pages behind, and replaces
 * the keys so that nothing that might survive on the disk can be linked
 * to a number again. Both are idempotent: a purge interrupted by a crash
 * is finished by running it again.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "celltrace_cluster.h"
#include "cases.h"
#include "dayruns.h"
#include "db.h"
#include "error.h"
#include "fsio.h"
#include "keys.h"
#include "segment.h"
#include "sqlvfs.h"

typedef struct checker {
    ct_db *db;
    ct_problem_fn fn;
    void *ud;
    uint64_t problems;
} checker;

static void report(checker *k, int serious, const char *what, const char *fmt, va_list ap)
    CT_PRINTF(4, 0);

static void report(checker *k, int serious, const char *what, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    k->problems += serious != 0;
    if (k->fn)
        k->fn(k->ud, serious, what, msg);
}

/* Damage to live data. */
static void problem(checker *k, const char *what, const char *fmt, ...) CT_PRINTF(3, 4);
static void problem(checker *k, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(k, 1, what, fmt, ap);
    va_end(ap);
}

/* A leftover of an interrupted write: harmless, removed by the next writer. */
static void note(checker *k, const char *what, const char *fmt, ...) CT_PRINTF(3, 4);
static void note(checker *k, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(k, 0, what, fmt, ap);
    va_end(ap);
}

/* ---- check ------------------------------------------------------------------ */

static void check_mode_at(checker *k, char *path, unsigned want, int dir);

static void check_mode(checker *k, const char *name, unsigned want, int dir)
{
    check_mode_at(k, ct__path_join(k->db->dir, name), want, dir);
}

/* Checks (and frees) path. */
static void check_mode_at(checker *k, char *path, unsigned want, int dir)
{
    struct stat st;
    if (stat(path, &st) != 0)
        problem(k, path, "is missing");
    else if (dir != !!S_ISDIR(st.st_mode))
        problem(k, path, "should be a %s", dir ? "folder" : "file");
    else if ((st.st_mode & 0777) != want)
        problem(k, path, "has mode %03o, expected %03o", st.st_mode & 0777, want);
    ct__free(path);
}

/* Where the keys are, their modes, and whether a copy of the directory
 * would carry them. */
static void check_keys(checker *k)
{
    ct_keyring *kr = k->db->keys;
    ct_keys_where w;
    ct_err err;
    if (ct_keys_where_of(k->db->dir, &w, &err) != CT_OK) {
        problem(k, "celltrace.conf", "%s", err.msg);
        return;
    }
    char *folder = ct__strdup(kr->key_dir);
    check_mode_at(k, folder, 0700, 1);
    if (!kr->legacy)
        check_mode_at(k, ct__strdup(kr->path), 0600, 0);
    if (w.inside_data)
        note(k, kr->path,
             "warning: the keys are kept in clear inside the data directory (keys.provider = "
             "file): a copy of the directory opens without them. See docs/KEYS.md");
    if (kr->legacy)
        note(k, kr->key_dir, "keys in the format before the keyring: the next writer converts them");
    pthread_mutex_lock(&kr->mu);
    int pending = kr->s->set.pseudonym_next.gen || kr->s->set.vault_next.gen;
    pthread_mutex_unlock(&kr->mu);
    if (pending)
        note(k, kr->path,
             "a key rotation was interrupted; subscribers.dat is whole under one set of keys, "
             "and the next writer finishes or undoes the rotation");
}

/* Decodes the whole day as sealing would, then checks what it names. */
static void check_segment_refs(checker *k, const char *path, const ct_segment *seg)
{
    uint32_t subs = ct__subdict_count(k->db->subs);
    if (seg->n_subs && seg->subdir[seg->n_subs - 1].sub >= subs)
        problem(k, path, "names subscriber %u, the dictionary holds %u", seg->subdir[seg->n_subs - 1].sub, subs);
    for (uint32_t i = 0; i < seg->n_cells; i++)
        if (!ct__catalog_cell(k->db->cat, seg->celldir[i].loc)) {
            problem(k, path, "names cell %u, which the catalogue does not hold", seg->celldir[i].loc);
            break;
        }
    ct_event *ev = NULL;
    ct_point *pts = NULL;
    uint32_t n, np;
    ct_err err;
    if (ct__seg_decode(seg, &ev, &n, &pts, &np, &err) != CT_OK) {
        problem(k, path, "%s", err.msg);
        return;
    }
    uint32_t from, to; /* the span the header records */
    ct__events_span(ev, n, &from, &to);
    if (seg->tod_to && (seg->tod_from != from || seg->tod_to != to)) /* 0, 0: not recorded */
        problem(k, path, "its header's span of seconds does not match its events");
    for (uint32_t i = 0; i < np; i++)
        if (strcmp(ct__catalog_operator_name(k->db->cat, pts[i].op), "?") == 0) {
            problem(k, path, "point %u names operator %u", i, pts[i].op);
            break;
        }
    ct__free(ev);
    ct__free(pts);
}

/* A day of several runs: no event in two of them (ingest drops what a
 * day holds before it writes a run; an event stored twice would count
 * twice in stats and purge). */
static void check_runs_apart(checker *k, const ct_store_day *d)
{
    ct_event *ev;
    ct_point *pts;
    uint32_t unique;
    ct_err err;
    char what[64];
    snprintf(what, sizeof what, "the runs of day %lld", (long long)d->day);
    /* decoded, the runs hold d->events (each run's count is checked) */
    if (ct__day_merged(&k->db->store, d, 0, k->db->cat, &ev, &unique, &pts, NULL, &err) != CT_OK)
        return; /* each run's own damage is reported by check_segments */
    if (unique != d->events)
        problem(k, what, "hold %llu events more than once",
                (unsigned long long)(d->events - unique));
    ct__free(ev);
    ct__free(pts);
}

/* Is file still named by the manifest on disk? A reader takes no lock:
 * a writer (an ingest, a compaction) may have replaced it meanwhile. */
static int still_live(const checker *k, const char *file)
{
    ct_store now;
    if (ct__store_load(k->db->dir, &now, NULL) != CT_OK) {
        ct__store_free(&now);
        return 1; /* a damaged manifest is reported where it is read */
    }
    int named = ct__store_names(&now, file);
    ct__store_free(&now);
    return named;
}

static void check_segments(checker *k)
{
    const ct_store *st = &k->db->store;
    for (uint32_t i = 0; i < st->n_days; i++) {
        const ct_store_day *d = &st->days[i];
        int runs_ok = 1;
        for (uint32_t r = 0; r < d->n_runs; r++) {
            const ct_store_run *run = &d->run[r];
            char *path = ct__store_path(st, run->file);
            ct_segment seg;
            ct_err err;
            ct_code rc = ct__seg_open(path, 1, &seg, &err);
            if (rc == CT_ENOTFOUND && !still_live(k, run->file)) {
                runs_ok = 0; /* replaced since the manifest was read: not damage */
            } else if (rc) {
                problem(k, path, "%s", err.msg);
                runs_ok = 0;
            } else {
                if (seg.day != d->day || seg.n_events != run->events || seg.map.len != run->bytes) {
                    problem(k, path, "does not match its manifest entry (day, events or size)");
                    runs_ok = 0;
                }
                check_segment_refs(k, path, &seg);
                ct__seg_close(&seg);
            }
            ct__free(path);
        }
        if (d->n_runs > 1 && runs_ok)
            check_runs_apart(k, d);
    }
}

static void dangling_case(void *ud, const char *case_id, int64_t sub)
{
    problem(ud, "catalog.db", "case %s names subscriber %lld, which the dictionary does not hold",
            case_id, (long long)sub);
}

static void check_sqlite(checker *k)
{
    sqlite3 *db = ct__catalog_db(k->db->cat);
    sqlite3_stmt *st = NULL;
    ct_code rc = CT_OK;
    ct_err err;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
        while (!rc && ct__sql_step(st, &rc, &err) == SQLITE_ROW) {
            const char *row = (const char *)sqlite3_column_text(st, 0);
            if (row && strcmp(row, "ok") != 0)
                problem(k, "catalog.db", "%s", row);
        }
        if (rc) /* an integrity check that could not finish is no clean bill */
            problem(k, "catalog.db", "integrity check did not finish: %s", err.msg);
    } else {
        problem(k, "catalog.db", "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    if (ct__cases_dangling(k->db, ct__subdict_count(k->db->subs), dangling_case, k, &err))
        problem(k, "catalog.db", "the cases could not all be checked: %s", err.msg);
}

static void vault_finding(void *ud, int serious, const char *msg)
{
    if (serious)
        problem(ud, "subscribers.dat", "%s", msg);
    else
        note(ud, "subscribers.dat", "%s", msg);
}

static int named_live(const ct_store *st, const char *name)
{
    return ct__store_names(st, name) || strcmp(name, "MANIFEST") == 0 ||
           strcmp(name, "merging") == 0; /* compaction's work folder (ct_compact) */
}

/* Files no manifest names: what a crashed writer left. */
static void check_leftovers(checker *k, const char *folder, const ct_store *st)
{
    char *dir = ct__path_join(k->db->dir, folder);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || (st && named_live(st, e->d_name)))
            continue;
        note(k, dir, "%s is left from an interrupted write (the next writer removes it)", e->d_name);
    }
    if (d)
        closedir(d);
    ct__free(dir);
}

/* A background compaction that failed: its runs read exactly, but every
 * reader pays their merge until a compaction succeeds. */
static void check_compaction(checker *k)
{
    char *path = ct__path_join(k->db->dir, CT_COMPACT_FAILED), *text = NULL;
    size_t len = 0;
    if (ct__fs_read_file(path, 4096, &text, &len, NULL) == CT_OK) {
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\0'))
            text[--len] = '\0';
        note(k, path, "the last background compaction failed (%s): run `celltrace compact`", text);
    }
    ct__free(text);
    ct__free(path);
}

ct_code ct_check(ct_db *db, ct_problem_fn fn, void *ud, uint64_t *problems, ct_err *err)
{
    checker k = {db, fn, ud, 0};
    check_mode(&k, ".", 0700, 1);
    check_keys(&k);
    check_mode(&k, "catalog.db", 0600, 0);
    check_segments(&k);
    check_leftovers(&k, "store", &db->store);
    check_leftovers(&k, "store/merging", NULL); /* a killed compaction's */
    check_leftovers(&k, "staging", NULL);
    check_compaction(&k);
    check_sqlite(&k);
    ct__subdict_verify(db->subs, vault_finding, &k);
    *problems = k.problems;
    return ct__audit(db, "check", NULL, 0, err);
}

/* ---- purge ------------------------------------------------------------------ */

/* The latest second of day of any event in a segment, in *last. */
static ct_code latest_tod(const ct_segment *seg, uint32_t *last)
{
    for (uint32_t i = 0; i < seg->n_subs; i++) { /* the latest of each subscriber's last event */
        ct_sub_cursor c;
        ct_event e;
        ct_point pt;
        int got;
        ct__seg_sub_open(seg, seg->subdir[i].sub, &c);
        while ((got = ct__seg_sub_next(&c, &e, &pt)) == 1)
            if (e.tod > *last)
                *last = e.tod;
        if (got < 0)
            return CT_ECORRUPT;
    }
    return CT_OK;
}

/* The newest event time in the store (-1 when empty). */
ct_code ct_newest_event(ct_db *db, int64_t *newest, ct_err *err)
{
    *newest = -1;
    if (!db->store.n_days)
        return CT_OK;
    const ct_store_day *d = &db->store.days[db->store.n_days - 1];
    uint32_t last = 0;
    for (uint32_t r = 0; r < d->n_runs; r++) { /* each run alone: no merged view needed */
        char *path = ct__store_path(&db->store, d->run[r].file);
        uint32_t from, to;
        ct_code rc = ct__seg_read_span(path, &from, &to, err);
        if (!rc && to > 0) { /* recorded in the header: nothing else read */
            if (to - 1 > last)
                last = to - 1;
        } else if (!rc) { /* a file from before spans: its events say */
            ct_segment seg;
            rc = ct__seg_open(path, 0, &seg, err);
            if (!rc) {
                rc = latest_tod(&seg, &last);
                ct__seg_close(&seg);
                if (rc)
                    rc = ct__fail(err, rc, "the segment of day %lld is damaged", (long long)d->day);
            }
        }
        ct__free(path);
        if (rc)
            return rc;
    }
    *newest = d->day * CT_DAY_S + last;
    return CT_OK;
}

ct_code ct_purge(ct_db *db, int retention_days, ct_purge_summary *sum, ct_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "purge needs the data directory open for writing");
    if (retention_days < 1 || retention_days > 3660)
        return ct__fail(err, CT_EINVAL, "retention must be 1 to 3660 days");
    int64_t newest;
    ct_code rc = ct_newest_event(db, &newest, err);
    if (rc || newest < 0)
        return rc;
    return ct_purge_before(db, retention_days, newest, sum, err);
}

ct_code ct_purge_before(ct_db *db, int retention_days, int64_t newest, ct_purge_summary *sum,
                        ct_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "purge needs the data directory open for writing");
    if (retention_days < 1 || retention_days > 3660)
        return ct__fail(err, CT_EINVAL, "retention must be 1 to 3660 days");
    ct_code rc = CT_OK;
    if (newest < 0)
        return CT_OK;
    sum->cutoff = newest - (int64_t)retention_days * CT_DAY_S;
    /* a day goes when all of it is older than the cutoff */
    while (db->store.n_days && (db->store.days[0].day + 1) * CT_DAY_S <= sum->cutoff) {
        sum->days_deleted++;
        sum->events_deleted += db->store.days[0].events;
        ct__store_drop(&db->store, db->store.days[0].day);
    }
    if (!sum->days_deleted)
        return CT_OK;
    rc = ct__store_commit(&db->store, err); /* the commit also unlinks the files */
    if (!rc) {
        char detail[64];
        snprintf(detail, sizeof detail, "%llu days", (unsigned long long)sum->days_deleted);
        rc = ct__audit(db, "purge retention", detail, sum->events_deleted, err);
    }
    return rc;
}

/* Empties every table that may hold people: all but the catalogue of
 * cells and operators and the schema's own notes. */
static ct_code empty_people_tables(ct_db *db, ct_err *err)
{
    sqlite3 *sql = ct__catalog_db(db->cat);
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__catalog_begin(db->cat, err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(sql, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                                " AND name NOT IN ('meta','operators','cells')", -1, &st, NULL) != SQLITE_OK)
        rc = ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(sql));
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        char stmt[300];
        snprintf(stmt, sizeof stmt, "DELETE FROM \"%s\"", (const char *)sqlite3_column_text(st, 0));
        rc = ct__catalog_exec(db->cat, stmt, err);
    }
    sqlite3_finalize(st);
    if (!rc)
        rc = ct__catalog_commit(db->cat, err);
    else
        ct__catalog_rollback(db->cat);
    if (!rc) /* rewrite the file: deleted rows must not linger in free pages or the WAL */
        rc = ct__catalog_exec(db->cat, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE);", err);
    return rc;
}

ct_code ct_purge_all(ct_db *db, ct_err *err)
{
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "purge needs the data directory open for writing");
    uint64_t events = 0;
    for (uint32_t i = 0; i < db->store.n_days; i++)
        events += db->store.days[i].events;
    while (db->store.n_days)
        ct__store_drop(&db->store, db->store.days[0].day);
    ct_code rc = ct__store_commit(&db->store, err);
    if (!rc)
        rc = empty_people_tables(db, err);
    if (!rc)
        rc = ct__subdict_erase(db->subs, err);
    if (!rc) {
        char *rejects = ct__path_join(db->dir, "rejects");
        ct__fs_empty_dir(rejects, 0);
        ct__free(rejects);
        /* New keys, and for a passphrase a new salt: what survives of the
         * old files on the disk links to nothing. */
        pthread_mutex_lock(&db->keys->mu);
        rc = ct__keyring_renew(db->keys, err);
        if (!rc)
            ct__subdict_set_keys(db->subs, db->keys->s->set.pseudonym.k, db->keys->s->set.vault.k);
        pthread_mutex_unlock(&db->keys->mu);
    }
    if (!rc)
        rc = ct__audit(db, "purge all", NULL, events, err);
    return rc;
}
