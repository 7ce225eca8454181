/*
 * db.c — creating and opening a data directory (its audit log is in
 * audit.c, stats in ops/stats.c).
 *
 * One writer at a time: writers take an exclusive flock on <data>/lock
 * and keep it until ct_close; readers take none (segments are immutable
 * and replaced by rename, so a reader sees a consistent set). A writer
 * that opens the directory removes what a crashed writer left behind
 * (temporaries, unreferenced segments, staging files).
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "dayruns.h"
#include "error.h"
#include "fsio.h"
#include "keys.h"
#include "segment.h"
#include "sqlvfs.h"
#include "textparse.h"

void ct_params_default(ct_params *p)
{
    p->max_presence_s = 3600;
    p->contact_distance_m = 2.0;
    p->min_exposure_s = 900;
    p->infectious_before_s = 172800;
    p->infectious_after_s = 864000;
}

ct_code ct_params_check(const ct_params *p, ct_err *err)
{
    const int64_t year = 366LL * 86400;
    if (p->max_presence_s < 0 || p->max_presence_s > 7 * 86400)
        return ct__fail(err, CT_EINVAL, "max presence must be 0 to 604800 seconds");
    if (!(p->contact_distance_m >= 0.0 && p->contact_distance_m <= 100000.0))
        return ct__fail(err, CT_EINVAL, "contact distance must be 0 to 100000 metres");
    if (p->min_exposure_s < 0 || p->min_exposure_s > year)
        return ct__fail(err, CT_EINVAL, "min exposure must be 0 to %lld seconds", (long long)year);
    if (p->infectious_before_s < 0 || p->infectious_before_s > year ||
        p->infectious_after_s < 0 || p->infectious_after_s > year)
        return ct__fail(err, CT_EINVAL, "infectious periods must be 0 to %lld seconds", (long long)year);
    return CT_OK;
}

/* ---- init ----------------------------------------------------------------- */

static int is_data_dir(const char *dir)
{
    char *p = ct__path_join(dir, "catalog.db");
    int exists = access(p, F_OK) == 0;
    ct__free(p);
    return exists;
}

ct_code ct_init(const char *dir, ct_err *err)
{
    return ct_init_with(dir, NULL, err);
}

ct_code ct_init_with(const char *dir, const ct_keys_setup *setup, ct_err *err)
{
    if (sodium_init() < 0)
        return ct__fail(err, CT_ECRYPTO, "libsodium cannot start");
    if (is_data_dir(dir))
        return ct__fail(err, CT_EEXIST, "%s is already a celltrace data directory", dir);
    ct_code rc = ct__fs_mkdir(dir, 0700, err);
    if (rc)
        return rc;
    if (chmod(dir, 0700) != 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot set mode 0700 on %s", dir);
    static const char *const subdirs[] = {"store", "staging", "rejects"};
    for (size_t i = 0; i < 3 && !rc; i++) {
        char *p = ct__path_join(dir, subdirs[i]);
        rc = ct__fs_mkdir(p, 0700, err);
        ct__free(p);
    }
    if (!rc)
        rc = ct__keys_create_with(dir, setup, err);
    char *key_dir = NULL;
    if (!rc)
        rc = ct__keys_dir_of(dir, &key_dir, err);
    if (!rc)
        rc = ct__audit_key_create(key_dir, err);
    ct__free(key_dir);
    ct_catalog *cat = NULL;
    if (!rc)
        rc = ct__catalog_open(dir, 1, 1, &cat, err);
    ct__catalog_close(cat);
    if (!rc)
        rc = ct__fs_sync_dir(dir, err);
    return rc;
}

/* ---- open / close ----------------------------------------------------------- */

static ct_code take_lock(ct_db *db, ct_err *err)
{
    db->lock_fd = ct__fs_lock(db->dir, "lock", 0);
    if (db->lock_fd < 0 && errno == EWOULDBLOCK) {
        ct__notice("waiting for another writer of %s", db->dir);
        db->lock_fd = ct__fs_lock(db->dir, "lock", 1);
    }
    if (db->lock_fd < 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot lock %s", db->dir);
    return CT_OK;
}

int ct__writer_busy(const char *dir)
{
    int fd = ct__fs_lock(dir, "lock", 0);
    if (fd < 0)
        return errno == EWOULDBLOCK;
    close(fd); /* and the lock with it */
    return 0;
}

int ct_writer_busy(const char *dir)
{
    return ct__writer_busy(dir);
}

/* Nothing in staging/ outlives its ingest: what is there was left by a
 * crashed one (staging/<pid>/<day>.ev|.pt). */
static void clean_staging(const ct_db *db)
{
    char *p = ct__path_join(db->dir, "staging");
    ct__fs_empty_dir(p, 1);
    ct__free(p);
}

ct_code ct_open(const char *dir, int writable, ct_db **out, ct_err *err)
{
    return ct_open_keyed(dir, writable, NULL, out, err);
}

/* The subscriber dictionary with the keys; a writer also ends a rotation
 * that a crash interrupted: forward if the file was already rewritten
 * under the next keys, back if not (keys.h). */
static ct_code open_subscribers(ct_db *db, ct_err *err)
{
    ct_keyring *k = db->keys;
    pthread_mutex_lock(&k->mu);
    ct_code rc = ct__keyring_refresh(k, err);
    if (!rc && db->writable)
        rc = ct__keyring_tidy(k, err);
    int under_next = 0;
    if (!rc)
        rc = ct__subdict_open(db->dir, db->writable, &k->s->set, &under_next, &db->subs, err);
    if (!rc && !ct__subdict_keys_fit(db->subs)) {
        /* A rotation in another process replaced subscribers.dat after
         * this keyring was read: read the keyring again, then the file. */
        ct__subdict_close(db->subs);
        db->subs = NULL;
        k->ino = 0; /* forces the re-read */
        rc = ct__keyring_refresh(k, err);
        if (!rc)
            rc = ct__subdict_open(db->dir, db->writable, &k->s->set, &under_next, &db->subs, err);
    }
    ct_keyset *set = &k->s->set;
    if (!rc && db->writable && (set->pseudonym_next.gen || set->vault_next.gen)) {
        ct__keyset_end_rotation(set, under_next);
        rc = ct__keyring_save(k, err);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

ct_code ct_open_keyed(const char *dir, int writable, ct_keyring *keys, ct_db **out, ct_err *err)
{
    if (!is_data_dir(dir))
        return ct__fail(err, CT_ENOTFOUND,
                        "%s is not a celltrace data directory (run `celltrace init` first)", dir);
    ct_db *db = ct__calloc(1, sizeof *db);
    db->dir = ct__strdup(dir);
    db->writable = writable;
    db->lock_fd = -1;
    db->keys = keys;
    ct_code rc = CT_OK;
    if (!keys) {
        rc = ct_keys_unlock(dir, NULL, &db->keys, err);
        db->keys_owned = 1;
    }
    if (!rc && writable)
        rc = take_lock(db, err);
    /* the manifest first: the cells and subscribers its days name were
     * committed before them, so the catalogue and the dictionary read
     * after it know them all (a merged view orders same-second cell events
     * by the catalogue's ranks) */
    if (!rc)
        rc = ct__store_load(dir, &db->store, err);
    if (!rc)
        rc = ct__catalog_open(dir, writable, 0, &db->cat, err);
    if (!rc)
        rc = open_subscribers(db, err);
    /* A cluster's shard in the middle of a commit: a writer here would
     * write over, or purge under, what the cluster is about to make live
     * (docs/CLUSTER.md). Any celltrace-mpi command settles it first. */
    if (!rc && writable && ct__store_has_pending(&db->store))
        rc = ct__fail(err, CT_EINVAL,
                      "%s is a cluster's shard with a commit not yet settled: run any "
                      "celltrace-mpi command on the cluster first", dir);
    if (!rc && writable) {
        ct__store_collect_garbage(&db->store);
        ct__store_clean_merging(dir);
        clean_staging(db);
    }
    if (rc) {
        ct_close(db);
        return rc;
    }
    *out = db;
    return CT_OK;
}

/* ---- segments shared by the handles of a process ---------------------------- */

/* trace --jobs runs one handle per thread over the same immutable files.
 * Each file is mapped once per process: RSS counts a page once per
 * mapping, so per-handle maps multiplied the trace's resident size by the
 * number of threads, and each handle repeated the opening checks. Entries
 * are keyed by the device and inode of each run file of the day (one for
 * a day of one file), taken from what is at the paths now, so a handle
 * never gets the map of a file the path no longer names; an inode number
 * cannot be reused while its file is mapped. A merged view of several
 * runs keeps none of them mapped, so its key also holds the run files'
 * names (a name is never given twice: it holds the generation of the
 * commit that wrote it); inodes freed by a compaction and reused for
 * another day's runs cannot match it. An entry goes with its last
 * reference. */
typedef struct shared_segment {
    ct_segment seg;
    uint64_t ids[2 * CT_DAY_RUNS_MAX]; /* dev, ino of each run */
    uint32_t n_ids;
    char names[CT_DAY_RUNS_MAX * 64 + 8]; /* a merged view's runs (day_key), "view:" and the
                                           * file for one file's; "" for the file itself */
    unsigned refs;
    struct shared_segment *next;
} shared_segment;

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static shared_segment *shared_segments;

static shared_segment *shared_find(const uint64_t *ids, uint32_t n_ids, const char *names)
{
    for (shared_segment *s = shared_segments; s; s = s->next)
        if (s->n_ids == n_ids && memcmp(s->ids, ids, n_ids * sizeof *ids) == 0 &&
            strcmp(s->names, names) == 0)
            return s;
    return NULL;
}

static void day_key(const ct_store_day *d, char *key, size_t cap);

/* The device and inode of each of day d's run files; 0 if one is gone. */
static int day_ids(const ct_store *st, const ct_store_day *d, uint64_t *ids)
{
    for (uint32_t r = 0; r < d->n_runs; r++) {
        char *path = ct__store_path(st, d->run[r].file);
        struct stat sb;
        int ok = stat(path, &sb) == 0;
        ct__free(path);
        if (!ok)
            return 0;
        ids[2 * r] = (uint64_t)sb.st_dev;
        ids[2 * r + 1] = (uint64_t)sb.st_ino;
    }
    return 1;
}

/* Day d's segment, mapped and checked (quick checks) once per process;
 * for a day of several runs, or with `view`, the merged view of its runs
 * built in memory (dayruns.h), which is of the current version: `view`
 * asks for that of a day of one file of an older version. */
static ct_segment *segment_acquire(ct_db *db, const ct_store_day *d, int view, ct_code *rc,
                                   ct_err *err)
{
    uint64_t ids[2 * CT_DAY_RUNS_MAX] = {0};
    uint32_t n_ids = 2 * d->n_runs;
    shared_segment *s = NULL;
    char names[CT_DAY_RUNS_MAX * 64 + 8] = "";
    if (d->n_runs > 1) {
        day_key(d, names, sizeof names);
    } else if (view) { /* keyed apart from the file itself */
        memcpy(names, "view:", 5);
        day_key(d, names + 5, sizeof names - 5);
    }
    int known = day_ids(&db->store, d, ids);
    pthread_mutex_lock(&shared_lock);
    if (known && (s = shared_find(ids, n_ids, names)))
        s->refs++;
    pthread_mutex_unlock(&shared_lock);
    if (s) {
        *rc = CT_OK;
        return &s->seg;
    }
    shared_segment *mine = ct__calloc(1, sizeof *mine);
    if (d->n_runs == 1 && !view) {
        char *path = ct__store_path(&db->store, d->run[0].file);
        *rc = ct__seg_open(path, 0, &mine->seg, err);
        ct__free(path);
        ids[0] = mine->seg.map.dev; /* what was mapped, whatever the stat saw */
        ids[1] = mine->seg.map.ino;
    } else if (!known) {
        *rc = ct__fail(err, CT_ENOTFOUND, "a run of day %lld is gone (replaced by a writer)",
                       (long long)d->day);
    } else {
        *rc = ct__day_merge_in_memory(&db->store, d, db->cat, &mine->seg, err);
    }
    if (*rc) {
        ct__free(mine);
        return NULL;
    }
    memcpy(mine->ids, ids, n_ids * sizeof *ids);
    mine->n_ids = n_ids;
    snprintf(mine->names, sizeof mine->names, "%s", names);
    pthread_mutex_lock(&shared_lock);
    s = shared_find(mine->ids, n_ids, mine->names);
    if (s) { /* another handle mapped it meanwhile */
        s->refs++;
    } else {
        mine->refs = 1;
        mine->next = shared_segments;
        shared_segments = s = mine;
    }
    pthread_mutex_unlock(&shared_lock);
    if (s != mine) {
        ct__seg_close(&mine->seg);
        ct__free(mine);
    }
    return &s->seg;
}

static void segment_release(ct_segment *seg)
{
    shared_segment *gone = NULL;
    pthread_mutex_lock(&shared_lock);
    for (shared_segment **at = &shared_segments; *at; at = &(*at)->next)
        if (&(*at)->seg == seg) {
            if (--(*at)->refs == 0) {
                gone = *at;
                *at = gone->next;
            }
            break;
        }
    pthread_mutex_unlock(&shared_lock);
    if (gone) {
        ct__seg_close(&gone->seg);
        ct__free(gone);
    }
}

/* ---- the segment cache ------------------------------------------------------ */

/* Slots point at shared segments (above), so a pointer handed out stays
 * valid when the slot array is rebuilt; one whose file left the store is
 * retired, not released, because a caller may still be reading it, and
 * retired references are dropped by ct__db_segments_release at a
 * top-level call. */
struct ct_seg_slot {
    char key[CT_DAY_RUNS_MAX * 64]; /* the day's run files, joined by '+' */
    int state; /* 0 not opened, 1 open, -1 failed (rc says why) */
    ct_code rc;
    ct_segment *seg;
    ct_segment *view; /* seg of an older version: its current-version view, once asked */
};

static void retire(ct_db *db, ct_segment *seg)
{
    CT_GROW(db->retired, db->n_retired + 1, db->cap_retired);
    db->retired[db->n_retired++] = seg;
}

void ct__db_segments_release(ct_db *db)
{
    for (size_t i = 0; i < db->n_retired; i++)
        segment_release(db->retired[i]);
    db->n_retired = 0;
}

ct_code ct__db_reload(ct_db *db, ct_err *err)
{
    ct__store_free(&db->store);
    ct_code rc = ct__store_load(db->dir, &db->store, err);
    return rc ? rc : ct__catalog_load(db->cat, err);
}

/* A slot's key: the names of a day's runs. */
static void day_key(const ct_store_day *d, char *key, size_t cap)
{
    size_t n = 0;
    key[0] = '\0';
    for (uint32_t r = 0; r < d->n_runs && n < cap; r++)
        n += (size_t)snprintf(key + n, cap - n, "%s%s", r ? "+" : "", d->run[r].file);
}

/* Is key day_key(d)? Without formatting: this runs for every lookup. */
static int key_names(const char *key, const ct_store_day *d)
{
    for (uint32_t r = 0; r < d->n_runs; r++) {
        if (r && *key++ != '+')
            return 0;
        size_t len = strlen(d->run[r].file);
        if (strncmp(key, d->run[r].file, len) != 0)
            return 0;
        key += len;
    }
    return *key == '\0';
}

/* Rebuilds the slots for the current day list, keeping what is open. */
static void sync_slots(ct_db *db)
{
    uint32_t n = db->store.n_days;
    ct_seg_slot *fresh = ct__calloc(n + 1, sizeof *fresh);
    for (uint32_t i = 0; i < n; i++) {
        day_key(&db->store.days[i], fresh[i].key, sizeof fresh[i].key);
        for (uint32_t j = 0; j < db->n_slots; j++)
            if (db->slots[j].state == 1 && strcmp(db->slots[j].key, fresh[i].key) == 0) {
                fresh[i].state = 1;
                fresh[i].seg = db->slots[j].seg;
                fresh[i].view = db->slots[j].view;
                db->slots[j].state = 0; /* moved */
                break;
            }
    }
    for (uint32_t j = 0; j < db->n_slots; j++)
        if (db->slots[j].state == 1) {
            retire(db, db->slots[j].seg);
            if (db->slots[j].view)
                retire(db, db->slots[j].view);
        }
    ct__free(db->slots);
    db->slots = fresh;
    db->n_slots = n;
}

/* A reader's day file vanished: if the manifest on disk holds the same
 * days with the same events, a compaction only reorganised them (no data
 * changed), so the reader takes the new files in place and goes on. Any
 * other change is a new state of the data: the caller's retry (run_trace)
 * starts over, so one answer never mixes two states. The day array is
 * updated in place: callers may hold pointers into it. */
static int follow_compaction(ct_db *db)
{
    if (db->writable) /* a writer holds the lock: nothing changes under it */
        return 0;
    ct_store now;
    if (ct__store_load(db->dir, &now, NULL) != CT_OK) {
        ct__store_free(&now);
        return 0;
    }
    int same = now.n_days == db->store.n_days;
    for (uint32_t i = 0; same && i < now.n_days; i++)
        same = now.days[i].day == db->store.days[i].day && now.days[i].events == db->store.days[i].events;
    if (same) {
        memcpy(db->store.days, now.days, now.n_days * sizeof *now.days);
        db->store.generation = now.generation;
    }
    ct__store_free(&now);
    return same;
}

const ct_segment *ct__db_segment(ct_db *db, int64_t day, ct_code *rc, ct_err *err)
{
    *rc = CT_OK;
    int64_t i = ct__store_find(&db->store, day);
    if (i < 0)
        return NULL;
    if (db->n_slots != db->store.n_days || !key_names(db->slots[i].key, &db->store.days[i]))
        sync_slots(db);
    ct_seg_slot *s = &db->slots[i];
    if (s->state == 0) {
        s->seg = segment_acquire(db, &db->store.days[i], 0, rc, err);
        if (*rc == CT_ENOTFOUND && follow_compaction(db)) {
            ct__err_clear(err);
            sync_slots(db);
            s = &db->slots[i];
            s->seg = segment_acquire(db, &db->store.days[i], 0, rc, err);
        }
        s->rc = *rc;
        s->state = *rc ? -1 : 1;
        return s->seg;
    }
    if (s->state < 0) {
        *rc = ct__fail(err, s->rc, "the segment of day %lld could not be opened", (long long)day);
        return NULL;
    }
    return s->seg;
}

const ct_segment *ct__db_segment_cells(ct_db *db, int64_t day, ct_code *rc, ct_err *err)
{
    const ct_segment *seg = ct__db_segment(db, day, rc, err);
    if (!seg || seg->version == CT_SEG_VERSION)
        return seg;
    int64_t i = ct__store_find(&db->store, day); /* found: seg is its slot's */
    ct_seg_slot *s = &db->slots[i];
    if (!s->view) /* written before 2026-12-02 (`celltrace upgrade` rewrites it) */
        s->view = segment_acquire(db, &db->store.days[i], 1, rc, err);
    return s->view;
}

static void close_segments(ct_db *db)
{
    for (uint32_t i = 0; i < db->n_slots; i++)
        if (db->slots[i].state == 1) {
            retire(db, db->slots[i].seg);
            if (db->slots[i].view)
                retire(db, db->slots[i].view);
        }
    ct__free(db->slots);
    db->slots = NULL;
    db->n_slots = 0;
    ct__db_segments_release(db);
    ct__free(db->retired);
}

void ct_close(ct_db *db)
{
    if (!db)
        return;
    close_segments(db);
    ct__subdict_close(db->subs);
    ct__catalog_close(db->cat);
    ct__store_free(&db->store);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* releases the flock */
    if (db->keys_owned)
        ct_keys_close(db->keys);
    ct__free(db->who);
    ct__free(db->why);
    ct__free(db->dir);
    ct__free(db);
}

void ct_set_trace_threads(ct_db *db, int threads)
{
    db->trace_threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
}

void ct_set_actor(ct_db *db, const char *who, const char *why)
{
    ct__free(db->who);
    ct__free(db->why);
    db->who = who ? ct__strdup(who) : NULL;
    db->why = why ? ct__strdup(why) : NULL;
}

