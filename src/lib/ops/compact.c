/*
 * compact.c — merging each day's runs into one file again (ct_compact),
 * and rewriting days stored in an older segment version (ct_upgrade: the
 * same merge, of one file).
 *
 * A delivery for a stored day is written as a new run of that day
 * (ingest.c), so a delivery costs what it brings rather than a rewrite of
 * its day. Readers see a day of several runs through a merged view built
 * in memory (dayruns.c), which is exact but costs a seal of the day per
 * reading process; compaction removes that cost. `celltrace ingest`
 * starts it in the background after a delivery that left runs.
 *
 * Order of work, and why it is safe without holding the writer lock for
 * the heavy part:
 *   1. the manifest and then the catalogue are read (a run is committed
 *      after its cells, so the catalogue ranks every cell the runs name);
 *   2. each day of several runs is decoded (every byte checked: damage is
 *      never copied forward), sorted and sealed into store/merging/;
 *   3. the writer lock is taken and the manifest read again; a day whose
 *      merged runs are all still live gets the merged file in their place
 *      (runs delivered meanwhile stay beside it: runs never share an
 *      event, so any of them may be merged apart from the others); a day
 *      that changed otherwise (merged by an ingest, purged) keeps what it
 *      has, and its merged file is dropped;
 *   4. the merged files are renamed into store/ and one manifest
 *      replacement makes them live; the runs they replace are removed.
 * A crash before 4's manifest leaves the runs live and unnamed files that
 * the next writer removes; after it, the merged files are live.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "catalog.h"
#include "dayruns.h"
#include "error.h"
#include "fsio.h"
#include "segment.h"
#include "store.h"

#define ROUNDS_MAX 16 /* deliveries keep coming: a compaction ends anyway */

typedef struct merged_day {
    int64_t day;
    ct_store_day was;   /* the runs merged */
    ct_store_run run;   /* the merged file */
    int swapped;        /* put in the manifest in place of its runs */
} merged_day;

/* Step 2 for one day. */
static ct_code merge_day(const ct_store *st, const ct_catalog *cat, const char *work,
                         const ct_store_day *d, merged_day *out, ct_err *err)
{
    ct_event *ev;
    ct_point *pts;
    uint32_t unique;
    ct_code rc = ct__day_merged(st, d, 1, cat, &ev, &unique, &pts, NULL, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->day = d->day;
    out->was = *d;
    out->run.events = unique;
    /* named after its newest run, so that the day's data version
     * (ct_data_version) stays what it was */
    ct__store_run_name(d->day, ct__store_day_generation(d), 1, out->run.file);
    if (d->n_runs == 1 && strcmp(d->run[0].file, out->run.file) == 0) /* an upgrade of a merged day */
        ct__store_run_name(d->day, ct__store_day_generation(d), CT_RUN_UPGRADED, out->run.file);
    char *path = ct__path_join(work, out->run.file);
    rc = ct__seg_write_consuming(path, d->day, ev, unique, pts, &out->run.bytes, &out->run.crc, err);
    ct__free(path);
    ct__free(pts);
    return rc;
}

/* Are all of was's runs still runs of now, the same files (name, size and
 * header checksum, which covers every section's)? A folder deleted and
 * made again under the same path may reuse names, never contents. */
static int runs_live(const ct_store_day *was, const ct_store_day *now)
{
    for (uint32_t r = 0; r < was->n_runs; r++) {
        int found = 0;
        for (uint32_t k = 0; k < now->n_runs && !found; k++)
            found = strcmp(was->run[r].file, now->run[k].file) == 0 &&
                    was->run[r].bytes == now->run[k].bytes && was->run[r].crc == now->run[k].crc;
        if (!found)
            return 0;
    }
    return 1;
}

/* now without was's runs, the merged run first (the oldest place). */
static void swap_in(ct_store_day *now, const merged_day *m)
{
    ct_store_day next;
    ct__store_day_single(&next, now->day, &m->run);
    for (uint32_t k = 0; k < now->n_runs; k++) {
        int merged = 0;
        for (uint32_t r = 0; r < m->was.n_runs && !merged; r++)
            merged = strcmp(m->was.run[r].file, now->run[k].file) == 0;
        if (!merged)
            ct__store_day_add_run(&next, &now->run[k]);
    }
    *now = next;
}

/* Steps 3 and 4 for the days merged this round. */
static ct_code swap_manifest(const char *dir, const char *work, const struct stat *home,
                             merged_day *m, uint32_t n_m, ct_compact_summary *sum, ct_err *err)
{
    int lock = ct__fs_lock(dir, "lock", 1);
    if (lock < 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot lock %s", dir);
    struct stat now;
    if (stat(dir, &now) != 0 || now.st_dev != home->st_dev || now.st_ino != home->st_ino) {
        close(lock); /* the folder was replaced since we began: not ours to change */
        return ct__fail(err, CT_ENOTFOUND, "%s was replaced while it was being compacted", dir);
    }
    ct_store st;
    ct_code rc = ct__store_load(dir, &st, err);
    if (!rc && ct__store_has_pending(&st))
        rc = ct__fail(err, CT_EINVAL, "%s is a cluster's shard with a commit not yet settled: run any "
                      "celltrace-mpi command on the cluster first", dir);
    uint32_t swapped = 0;
    for (uint32_t i = 0; i < n_m && !rc; i++) {
        int64_t at = ct__store_find(&st, m[i].day);
        char *from = ct__path_join(work, m[i].run.file), *to = ct__store_path(&st, m[i].run.file);
        if (at >= 0 && runs_live(&m[i].was, &st.days[at]) && !ct__store_names(&st, m[i].run.file)) {
            if (rename(from, to) != 0) {
                rc = ct__fail_errno(err, CT_EIO, errno, "cannot move %s into the store", from);
            } else {
                swap_in(&st.days[at], &m[i]);
                m[i].swapped = 1;
                swapped++;
            }
        }
        ct__free(from);
        ct__free(to);
    }
    if (!rc && swapped)
        rc = ct__fs_sync_dir(st.dir, err);
    if (!rc && swapped)
        rc = ct__store_commit(&st, err); /* also removes the replaced runs */
    for (uint32_t i = 0; i < n_m && !rc; i++)
        if (m[i].swapped) { /* counted once live */
            sum->days++;
            sum->runs += m[i].was.n_runs;
            sum->events += m[i].run.events;
        }
    ct__store_free(&st);
    close(lock);
    return rc;
}

/* Is day d one file of an older segment version (upgrade rewrites it)? */
static int day_is_old(const ct_store *st, const ct_store_day *d)
{
    if (d->n_runs != 1)
        return 0;
    char *path = ct__store_path(st, d->run[0].file);
    ct_segment seg;
    ct_err ignored;
    int old = ct__seg_open(path, 0, &seg, &ignored) == CT_OK && seg.version < CT_SEG_VERSION;
    if (old)
        ct__seg_close(&seg);
    ct__free(path);
    return old; /* a file that does not open is check's to report, and stays */
}

/* Should this round rewrite day d: several runs, or (upgrading) one file
 * of an older version? */
static int wants_merge(const ct_store *st, const ct_store_day *d, int upgrade)
{
    return d->n_runs > 1 || (upgrade && day_is_old(st, d));
}

/* One round: the days of several runs now (and with upgrade, the days of
 * an older version), merged and swapped in. */
static ct_code compact_round(const char *dir, const char *work, const struct stat *home, int upgrade,
                             uint32_t *n_merged, ct_compact_summary *sum, ct_err *err)
{
    *n_merged = 0;
    ct_store st;
    ct_catalog *cat = NULL;
    merged_day *m = NULL;
    uint32_t n_m = 0;
    ct_code rc = ct__store_load(dir, &st, err);
    if (!rc)
        rc = ct__catalog_open(dir, 0, 0, &cat, err);
    for (uint32_t i = 0; i < st.n_days && !rc; i++) {
        if (!wants_merge(&st, &st.days[i], upgrade))
            continue;
        if (!m)
            m = ct__calloc(st.n_days, sizeof *m);
        rc = merge_day(&st, cat, work, &st.days[i], &m[n_m], err);
        if (rc == CT_ENOTFOUND) { /* an ingest merged it meanwhile: the next round sees */
            ct__err_clear(err);
            rc = CT_OK;
        } else if (!rc && upgrade) {
            /* a whole store: each day swapped in as soon as it is written,
             * so an upgrade stopped half way keeps the days it did and
             * needs room for one day more, not for a second store */
            rc = swap_manifest(dir, work, home, &m[n_m++], 1, sum, err);
            ct__fs_empty_dir(work, 0);
        } else if (!rc) {
            n_m++;
        }
    }
    if (!rc && n_m && !upgrade)
        rc = swap_manifest(dir, work, home, m, n_m, sum, err);
    ct__fs_empty_dir(work, 0); /* what was not swapped in */
    *n_merged = n_m;
    ct__catalog_close(cat);
    ct__store_free(&st);
    ct__free(m);
    return rc;
}

/* compact.lock, held by the compaction running. While one runs, a second
 * waits for it: the running one may have read the store before the
 * caller's delivery. With `coalesce`, only one waits at a time: it holds
 * compact.wait until it has the lock, and reads the store after, so a
 * caller that finds compact.wait held leaves its delivery to it.
 * Returns the lock's descriptor, -1 with errno, or -2: left to the waiter. */
static int compaction_lock(const char *dir, int coalesce, ct_compact_summary *sum)
{
    int busy = ct__fs_lock(dir, "compact.lock", 0);
    if (busy >= 0 || errno != EWOULDBLOCK)
        return busy;
    sum->waited = 1;
    if (!coalesce)
        return ct__fs_lock(dir, "compact.lock", 1);
    int waiter = ct__fs_lock(dir, "compact.wait", 0);
    if (waiter < 0) {
        if (errno != EWOULDBLOCK)
            return -1;
        sum->coalesced = 1;
        return -2;
    }
    busy = ct__fs_lock(dir, "compact.lock", 1);
    int e = errno;
    close(waiter); /* before the store is read: a later delivery starts a new waiter */
    errno = e;
    return busy;
}

static ct_code compact(const char *dir, int upgrade, int coalesce, ct_compact_summary *sum,
                       ct_err *err)
{
    memset(sum, 0, sizeof *sum);
    int busy = compaction_lock(dir, coalesce, sum);
    if (busy == -2)
        return CT_OK;
    if (busy < 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot lock %s for compaction", dir);
    char *store = ct__path_join(dir, "store"), *work = ct__path_join(store, "merging");
    struct stat home; /* the folder we compact: see swap_manifest */
    ct_code rc = stat(dir, &home) == 0 ? ct__fs_mkdir(work, 0700, err)
                                       : ct__fail_errno(err, CT_ENOTFOUND, errno, "%s", dir);
    if (!rc)
        ct__fs_empty_dir(work, 0); /* a killed compaction's */
    uint32_t merged = 1;
    for (int round = 0; round < ROUNDS_MAX && merged && !rc; round++)
        rc = compact_round(dir, work, &home, upgrade, &merged, sum, err);
    ct_store st;
    memset(&st, 0, sizeof st);
    if (!rc && (rc = ct__store_load(dir, &st, err)) == CT_OK)
        for (uint32_t i = 0; i < st.n_days; i++) {
            sum->days_left += st.days[i].n_runs > 1;
            sum->days_old += upgrade && day_is_old(&st, &st.days[i]);
        }
    ct__store_free(&st);
    if (!rc) { /* a background compaction's failure is mended */
        char *failed = ct__path_join(dir, CT_COMPACT_FAILED);
        unlink(failed);
        ct__free(failed);
    }
    ct__free(work);
    ct__free(store);
    close(busy);
    return rc;
}

void ct_compact_note_failure(const char *dir, const ct_err *err)
{
    char *path = ct__path_join(dir, CT_COMPACT_FAILED);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dprintf(fd, "%s\n", err->msg);
        close(fd);
    }
    ct__free(path);
}

ct_code ct_compact(const char *dir, ct_compact_summary *sum, ct_err *err)
{
    return compact(dir, 0, 0, sum, err);
}

ct_code ct_compact_coalescing(const char *dir, ct_compact_summary *sum, ct_err *err)
{
    return compact(dir, 0, 1, sum, err);
}

ct_code ct_upgrade(const char *dir, ct_compact_summary *sum, ct_err *err)
{
    return compact(dir, 1, 0, sum, err);
}
