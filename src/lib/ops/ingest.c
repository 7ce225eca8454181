/*
 * ingest.c — location feeds into the store (SPEC 3.2).
 *
 * A batch reads any number of files of one operator. Each good row becomes
 * an event (subscriber id, second of its UTC day, cell loc id or point)
 * filed under its day; bad rows go to the reject report. Memory is bounded:
 * when the buffered events pass a limit, each day's buffer is spilled to
 * <data>/staging/<pid>/<day>.ev|.pt and reloaded one day at a time when
 * sealing, so the peak is the largest day, not the batch.
 *
 * Commit order (docs/ARCHITECTURE.md, crash safety):
 *   1. new subscribers are appended to subscribers.dat and fsync'd;
 *   2. each touched day is sealed: its new events are sorted and
 *      deduplicated, those its stored runs hold are dropped, and the rest
 *      is written as a new run of the day, or, past CT_DAY_RUNS_LIVE runs,
 *      merged with the day's newest runs into one new file (size-tiered:
 *      young_runs; fsync'd, renamed, folder fsync'd; store.h);
 *   3. one atomic manifest replacement makes every new segment live;
 *   4. superseded segments and the staging folder are removed.
 * A crash before 3 leaves the old manifest and only unreferenced files,
 * which the next writer removes; after 3 the batch is complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "celltrace_cluster.h"
#include "csv.h"
#include "dayruns.h"
#include "db.h"
#include "error.h"
#include "fsio.h"
#include "ingest.h"
#include "rejects.h"
#include "seal.h"
#include "segment.h"
#include "textparse.h"

#define DAYS_MAX 3660                  /* distinct days in one batch */
#define FILES_MAX 100000               /* files in one batch */
#define DEFAULT_MEM_LIMIT (512u << 20) /* bytes of buffered events before spilling */

typedef struct day_buf {
    int64_t day;
    ct_event *ev;
    ct_point *pts;
    uint32_t n_ev, n_pts;     /* in memory */
    size_t cap_ev, cap_pts;
    uint64_t spilled_ev, spilled_pts; /* already in the staging files */
} day_buf;

struct ct_ingest {
    ct_db *db;
    uint32_t op;
    char *op_name;
    ct_import_opts opts;
    ct_rejects *rej;
    ct_import_summary sum;
    day_buf *days; /* sorted by day */
    uint32_t n_days;
    size_t cap_days;
    size_t mem, mem_limit;
    uint32_t days_written; /* days whose segment this commit replaces */
    uint32_t files;        /* files read into this batch */
    char *staging;  /* created on first spill */
    int64_t max_ts;
    ct_route_fn route; /* a cluster's ingest: good rows go there (celltrace_cluster.h) */
    void *route_ud;
};

typedef struct event_cols {
    int msisdn, ts, cell_id, lat, lon, acc;
} event_cols;

/* ---- batch life ---------------------------------------------------------- */

ct_code ct_ingest_begin(ct_db *db, const char *op, const ct_import_opts *opts, ct_ingest **out,
                        ct_err *err)
{
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "the data directory is open read-only");
    if (ct__check_ident(op, strlen(op), 32))
        return ct__fail(err, CT_EINVAL, "operator must be 1-32 characters of A-Z a-z 0-9 . _ : -");
    uint32_t op_id;
    ct_code rc = ct__catalog_operator(db->cat, op, 0, &op_id, err);
    if (rc == CT_ENOTFOUND)
        return ct__fail(err, CT_ENOTFOUND,
                        "operator %s has no cell catalogue yet (run `celltrace cells import --operator %s FILE`)",
                        op, op);
    if (rc)
        return rc;
    if (opts && opts->retention_days != CT_RETENTION_NEVER &&
        (opts->retention_days < 0 || opts->retention_days > 3660))
        return ct__fail(err, CT_EINVAL, "retention must be 1 to 3660 days, 0 for the default, or "
                                        "CT_RETENTION_NEVER");
    ct_ingest *in = ct__calloc(1, sizeof *in);
    in->db = db;
    in->op = op_id;
    in->op_name = ct__strdup(op);
    if (opts)
        in->opts = *opts;
    in->mem_limit = in->opts.memory_mb > 0 ? (size_t)in->opts.memory_mb << 20 : DEFAULT_MEM_LIMIT;
    in->max_ts = -1;
    *out = in;
    return CT_OK;
}

static void free_batch(ct_ingest *in)
{
    for (uint32_t i = 0; i < in->n_days; i++) {
        ct__free(in->days[i].ev);
        ct__free(in->days[i].pts);
    }
    if (in->staging) {
        ct__fs_empty_dir(in->staging, 0);
        rmdir(in->staging);
    }
    ct__free(in->staging);
    ct__free(in->days);
    ct__free(in->op_name);
    ct__free(in);
}

void ct_ingest_abort(ct_ingest *in)
{
    if (!in)
        return;
    ct__rejects_close(in->rej, NULL, 0, NULL);
    free_batch(in);
}

/* ---- day buffers and spilling ---------------------------------------------- */

static day_buf *find_day(ct_ingest *in, int64_t day, int create)
{
    uint32_t lo = 0, hi = in->n_days;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (in->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < in->n_days && in->days[lo].day == day)
        return &in->days[lo];
    if (!create || in->n_days >= DAYS_MAX)
        return NULL;
    CT_GROW(in->days, in->n_days + 1, in->cap_days);
    memmove(in->days + lo + 1, in->days + lo, (in->n_days - lo) * sizeof *in->days);
    memset(&in->days[lo], 0, sizeof in->days[lo]);
    in->days[lo].day = day;
    in->n_days++;
    return &in->days[lo];
}

static char *spill_path(const ct_ingest *in, int64_t day, const char *ext)
{
    char name[64];
    snprintf(name, sizeof name, "%lld.%s", (long long)day, ext);
    return ct__path_join(in->staging, name);
}

static ct_code append_raw(const char *path, const void *data, size_t len, ct_err *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot open staging file %s", path);
    const char *p = data;
    ct_code rc = CT_OK;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ct__fail_errno(err, CT_EIO, errno, "cannot write staging file %s", path);
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return rc;
}

static ct_code spill_day(ct_ingest *in, day_buf *d, ct_err *err)
{
    char *pe = spill_path(in, d->day, "ev"), *pp = spill_path(in, d->day, "pt");
    ct_code rc = append_raw(pe, d->ev, (size_t)d->n_ev * sizeof *d->ev, err);
    if (!rc)
        rc = append_raw(pp, d->pts, (size_t)d->n_pts * sizeof *d->pts, err);
    ct__free(pe);
    ct__free(pp);
    if (rc)
        return rc;
    d->spilled_ev += d->n_ev;
    d->spilled_pts += d->n_pts;
    /* the buffers go too: kept, each day's would stay as large as it ever
     * grew, and a batch of 14 days held 4.4 GB at a million people with
     * a limit of 512 MB */
    ct__free(d->ev);
    ct__free(d->pts);
    d->ev = NULL;
    d->pts = NULL;
    d->n_ev = d->n_pts = 0;
    d->cap_ev = d->cap_pts = 0;
    return CT_OK;
}

/* Staging files are scratch: never named anywhere, removed at commit or by
 * the next writer, so they need no fsync. */
static ct_code spill_all(ct_ingest *in, ct_err *err)
{
    if (!in->staging) {
        char name[32];
        snprintf(name, sizeof name, "staging/%ld", (long)getpid());
        in->staging = ct__path_join(in->db->dir, name);
        ct_code rc = ct__fs_mkdir(in->staging, 0700, err);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < in->n_days; i++) {
        ct_code rc = spill_day(in, &in->days[i], err);
        if (rc)
            return rc;
    }
    in->mem = 0;
    return CT_OK;
}

size_t ct__ingest_buffered_bytes(const ct_ingest *in)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < in->n_days; i++)
        bytes += in->days[i].cap_ev * sizeof(ct_event) + in->days[i].cap_pts * sizeof(ct_point);
    return bytes;
}

static ct_code add_event(ct_ingest *in, day_buf *d, uint32_t sub, uint32_t tod, uint32_t loc,
                         const ct_point *pt, ct_err *err)
{
    ct_event e = {sub, tod, loc, 0};
    if (pt) {
        uint64_t index = d->spilled_pts + d->n_pts;
        if (index >= UINT32_MAX)
            return ct__fail(err, CT_ELIMIT, "too many point events in one day");
        size_t had = d->cap_pts;
        CT_GROW(d->pts, d->n_pts + 1, d->cap_pts);
        in->mem += (d->cap_pts - had) * sizeof *pt;
        d->pts[d->n_pts++] = *pt;
        e.place = (uint32_t)index;
        e.kind = 1;
    }
    if (d->spilled_ev + d->n_ev >= UINT32_MAX - 1)
        return ct__fail(err, CT_ELIMIT, "too many events in one day");
    size_t had = d->cap_ev;
    CT_GROW(d->ev, d->n_ev + 1, d->cap_ev);
    in->mem += (d->cap_ev - had) * sizeof e;
    d->ev[d->n_ev++] = e;
    /* counted by capacity, which is what the buffers hold */
    return in->mem > in->mem_limit ? spill_all(in, err) : CT_OK;
}

/* ---- rows ---------------------------------------------------------------------- */

static ct_code header_columns(ct_csv *csv, event_cols *k, ct_err *err)
{
    static const char *const names[] = {"msisdn", "ts", "cell_id", "lat", "lon", "accuracy_m"};
    int c[6];
    ct_code rc = ct__csv_columns(csv, names, 6, 2, c, err);
    *k = (event_cols){.msisdn = c[0], .ts = c[1], .cell_id = c[2], .lat = c[3], .lon = c[4],
                      .acc = c[5]};
    if (!rc && k->cell_id < 0 && (k->lat < 0 || k->lon < 0))
        return ct__fail(err, CT_EINVAL, "%s: the header needs a cell_id column or lat and lon",
                        ct__csv_name(csv));
    return rc;
}

typedef struct event_row {
    uint64_t num;
    char digits[16];
    int64_t ts;
    uint32_t loc;
    ct_point pt;
} event_row;

static const char *parse_location(const ct_ingest *in, ct_csv *csv, const event_cols *k,
                                  event_row *r, const char **column)
{
    size_t len, la, lo;
    const char *s = ct__csv_field(csv, k->cell_id, &len);
    r->loc = CT_LOC_NONE;
    if (len) {
        *column = "cell_id";
        r->loc = ct__catalog_find_cell(in->db->cat, in->op, s, len);
        return r->loc == CT_LOC_NONE ? "unknown cell_id for this operator" : NULL;
    }
    const char *slat = ct__csv_field(csv, k->lat, &la), *slon = ct__csv_field(csv, k->lon, &lo);
    *column = la ? "lon" : "lat";
    if (!la || !lo)
        return "missing cell_id, or lat and lon";
    memset(&r->pt, 0, sizeof r->pt);
    *column = "lat";
    if (ct__parse_double(slat, la, &r->pt.lat) || !(r->pt.lat >= -90.0 && r->pt.lat <= 90.0))
        return "lat must be a number from -90 to 90";
    *column = "lon";
    if (ct__parse_double(slon, lo, &r->pt.lon) || !(r->pt.lon >= -180.0 && r->pt.lon <= 180.0))
        return "lon must be a number from -180 to 180";
    *column = "accuracy_m";
    s = ct__csv_field(csv, k->acc, &len);
    r->pt.acc = 50.0;
    if (len && (ct__parse_double(s, len, &r->pt.acc) || !(r->pt.acc > 0.0 && r->pt.acc <= 100000.0)))
        return "accuracy_m must be a number > 0 and <= 100000";
    r->pt.op = in->op;
    return NULL;
}

static const char *parse_event_row(const ct_ingest *in, ct_csv *csv, const event_cols *k,
                                   event_row *r, const char **column)
{
    size_t len;
    const char *s = ct__csv_field(csv, k->msisdn, &len);
    *column = "msisdn";
    if (!len)
        return "missing msisdn";
    if (ct__parse_msisdn(s, len, &r->num, r->digits))
        return "invalid phone number (7-15 digits, not starting with 0)";
    *column = "ts";
    s = ct__csv_field(csv, k->ts, &len);
    if (!len)
        return "missing ts";
    if (ct__parse_time(s, len, 0, &r->ts))
        return "invalid time";
    return parse_location(in, csv, k, r, column);
}

static ct_code reject(ct_ingest *in, ct_csv *csv, const event_cols *k, const char *column,
                      const char *reason, ct_err *err)
{
    size_t len = 0;
    const char *num = k ? ct__csv_field(csv, k->msisdn, &len) : NULL;
    in->sum.rejected++;
    return ct__rejects_add(in->rej, ct__csv_name(csv), ct__csv_line(csv), column, reason, num, len, err);
}

static ct_code store_row(ct_ingest *in, const event_row *r, ct_err *err)
{
    uint32_t sub;
    ct_code rc = ct__subdict_intern(in->db->subs, r->num, r->digits, &sub, err);
    if (rc)
        return rc;
    day_buf *d = find_day(in, r->ts / CT_DAY_S, 1);
    if (!d)
        return ct__fail(err, CT_ELIMIT, "more than %d distinct days in one ingest; split the feed", DAYS_MAX);
    if (r->ts > in->max_ts)
        in->max_ts = r->ts;
    return add_event(in, d, sub, (uint32_t)(r->ts % CT_DAY_S), r->loc,
                     r->loc == CT_LOC_NONE ? &r->pt : NULL, err);
}

/* A cluster's ingest: the row goes to the shard of its number. */
static ct_code route_row(ct_ingest *in, const event_row *r, ct_err *err)
{
    ct_routed_event ev;
    memset(&ev, 0, sizeof ev);
    memcpy(ev.msisdn, r->digits, sizeof ev.msisdn);
    ev.number = r->num;
    ev.ts = r->ts;
    ev.loc = r->loc;
    ev.op = in->op;
    if (r->loc == CT_LOC_NONE) {
        ev.lat = r->pt.lat;
        ev.lon = r->pt.lon;
        ev.acc = r->pt.acc;
    }
    if (in->route(in->route_ud, &ev))
        return ct__fail(err, CT_EIO, "the cluster could not take a row (see the error above)");
    return CT_OK;
}

void ct_ingest_set_route(ct_ingest *in, ct_route_fn fn, void *ud)
{
    in->route = fn;
    in->route_ud = ud;
}

ct_code ct_ingest_add_routed(ct_ingest *in, const ct_routed_event *ev, ct_err *err)
{
    event_row r;
    memset(&r, 0, sizeof r);
    memcpy(r.digits, ev->msisdn, sizeof r.digits);
    r.digits[sizeof r.digits - 1] = '\0';
    r.num = ev->number;
    r.ts = ev->ts;
    r.loc = ev->loc;
    if (ev->loc == CT_LOC_NONE)
        r.pt = (ct_point){ev->lat, ev->lon, ev->acc, ev->op, 0};
    else if (!ct__catalog_cell(in->db->cat, ev->loc))
        return ct__fail(err, CT_EINVAL, "a routed event names cell %u, which this shard's "
                                        "catalogue does not hold", (unsigned)ev->loc);
    uint64_t num;
    char digits[16];
    if (ev->ts < 0 || ct__parse_msisdn(r.digits, strlen(r.digits), &num, digits) ||
        num != ev->number)
        return ct__fail(err, CT_EINVAL, "a routed event is malformed");
    return store_row(in, &r, err);
}

static void report_progress(const ct_ingest *in, const ct_csv *csv)
{
    if (in->opts.progress)
        in->opts.progress(in->opts.progress_ud, ct__csv_bytes_done(csv), ct__csv_bytes_total(csv));
}

static ct_code read_rows(ct_ingest *in, ct_csv *csv, const event_cols *k, ct_err *err)
{
    for (uint64_t rows = 1;; rows++) {
        const char *reason = NULL, *column = NULL;
        int got = ct__csv_next(csv, &reason, err);
        if (got == CT_CSV_EOF)
            return CT_OK;
        if (got < 0)
            return err ? err->code : CT_EIO;
        in->sum.rows_read++;
        event_row r;
        if (got == CT_CSV_ROW)
            reason = parse_event_row(in, csv, k, &r, &column);
        ct_code rc = reason     ? reject(in, csv, k, column, reason, err)
                     : in->route ? route_row(in, &r, err)
                                 : store_row(in, &r, err);
        if (rc)
            return rc;
        if ((rows & 0x3FFFF) == 0)
            report_progress(in, csv);
    }
}

ct_code ct_ingest_file(ct_ingest *in, const char *path, ct_err *err)
{
    ct_csv *csv = NULL;
    if (++in->files > FILES_MAX)
        return ct__fail(err, CT_ELIMIT, "more than %d files in one ingest; split it", FILES_MAX);
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    if (rc)
        return rc;
    if (!in->rej)
        in->rej = ct__rejects_new(in->db->dir, in->opts.rejects_path, path);
    event_cols k;
    rc = header_columns(csv, &k, err);
    if (!rc)
        rc = read_rows(in, csv, &k, err);
    report_progress(in, csv);
    ct__csv_close(csv);
    return rc;
}

/* ---- sealing ---------------------------------------------------------------------- */

static ct_code read_exact(const char *path, void *buf, size_t len, ct_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot open staging file %s", path);
    ssize_t got = ct__fs_read_full(fd, buf, len);
    close(fd);
    return got >= 0 && (size_t)got == len ? CT_OK
                                          : ct__fail(err, CT_EIO, "staging file %s is short", path);
}

/* Gathers a day's new events (spilled + in memory) into one array pair.
 * The day's buffers are taken over: when nothing was spilled they are the
 * arrays, grown in place rather than copied into fresh pages (a delivery
 * is one day in memory). */
static ct_code gather_day(ct_ingest *in, day_buf *d, ct_event **ev, uint64_t *n, ct_point **pts,
                          uint64_t *np, ct_err *err)
{
    *n = d->spilled_ev + d->n_ev;
    *np = d->spilled_pts + d->n_pts;
    ct_code rc = CT_OK;
    if (!d->spilled_ev && !d->spilled_pts) {
        *ev = ct__reallocarray(d->ev, *n + 1, sizeof **ev);
        *pts = ct__reallocarray(d->pts, *np + 1, sizeof **pts);
        goto taken;
    }
    *ev = ct__reallocarray(NULL, *n + 1, sizeof **ev);
    *pts = ct__reallocarray(NULL, *np + 1, sizeof **pts);
    if (d->spilled_ev) {
        char *pe = spill_path(in, d->day, "ev"), *pp = spill_path(in, d->day, "pt");
        rc = read_exact(pe, *ev, d->spilled_ev * sizeof **ev, err);
        if (!rc && d->spilled_pts)
            rc = read_exact(pp, *pts, d->spilled_pts * sizeof **pts, err);
        unlink(pe);
        unlink(pp);
        ct__free(pe);
        ct__free(pp);
    }
    ct__copy(*ev + d->spilled_ev, d->ev, (size_t)d->n_ev * sizeof **ev);
    ct__copy(*pts + d->spilled_pts, d->pts, (size_t)d->n_pts * sizeof **pts);
    ct__free(d->ev);
    ct__free(d->pts);
taken:
    d->ev = NULL;
    d->pts = NULL;
    d->n_ev = d->n_pts = 0;
    d->cap_ev = d->cap_pts = 0;
    return rc;
}

/* The name of a run this commit writes for day: one file per day and
 * generation, so a name is never used twice. */
static void new_run(const ct_store *st, int64_t day, uint32_t events, ct_store_run *run)
{
    memset(run, 0, sizeof *run);
    run->events = events;
    ct__store_run_name(day, st->generation + 1, 0, run->file);
}

/* A subscriber's events in a stored run, up to second `until`, in the
 * run's order, into *known (points into *pts); -1 if the stream is
 * damaged. */
static int stored_events(const ct_segment *seg, uint32_t sub, uint32_t until, ct_event **known,
                         size_t *cap, ct_point **pts, size_t *cap_pts, uint32_t *n)
{
    *n = 0;
    ct_sub_cursor c;
    if (!ct__seg_sub_open(seg, sub, &c))
        return 0;
    ct_event e;
    ct_point pt;
    int got;
    while ((got = ct__seg_sub_next(&c, &e, &pt)) == 1 && e.tod <= until) {
        CT_GROW(*known, *n + 1, *cap);
        CT_GROW(*pts, *n + 1, *cap_pts);
        e.sub = sub;
        if (e.kind) {
            (*pts)[*n] = pt;
            e.place = *n;
        }
        (*known)[(*n)++] = e;
    }
    return got < 0 ? -1 : 0;
}

/* Drops from ev[0..*n) (SPEC 4.1 order) the events that a stored run of
 * the day holds, comparing each subscriber's new events with that
 * subscriber's stored ones only, and only in runs whose span of seconds
 * meets the new events': a delivery costs its own subscribers' reading,
 * not a decode of the day. */
static ct_code drop_stored(const ct_store *st, const ct_store_day *day, const ct_catalog *cat,
                           ct_event *ev, uint32_t *n, const ct_point *pts, ct_err *err)
{
    uint32_t from, to;
    ct__events_span(ev, *n, &from, &to);
    ct_event *known = NULL;
    ct_point *known_pts = NULL;
    size_t cap = 0, cap_pts = 0;
    ct_code rc = CT_OK;
    for (uint32_t r = 0; r < day->n_runs && *n && !rc; r++) {
        char *path = ct__store_path(st, day->run[r].file);
        ct_segment seg;
        memset(&seg, 0, sizeof seg);
        uint32_t run_from, run_to;
        /* a run whose header says its seconds miss the new ones' is not
         * opened: its directories are not even checked */
        rc = ct__seg_read_span(path, &run_from, &run_to, err);
        int apart = !rc && run_to > 0 && (run_from >= to || from >= run_to);
        if (!rc && !apart)
            rc = ct__seg_open(path, 0, &seg, err);
        ct__free(path);
        if (rc)
            break;
        if (apart)
            continue;
        uint32_t kept = 0;
        for (uint32_t i = 0; i < *n && !rc;) { /* one subscriber's new events: [i, j) */
            uint32_t j = i + 1;
            while (j < *n && ev[j].sub == ev[i].sub)
                j++;
            uint32_t n_known;
            if (stored_events(&seg, ev[i].sub, ev[j - 1].tod, &known, &cap, &known_pts, &cap_pts,
                              &n_known) < 0)
                rc = ct__fail(err, CT_ECORRUPT, "%s: a subscriber's events are damaged",
                              day->run[r].file);
            uint32_t left = n_known ? ct__seal_drop_known(ev + i, j - i, pts, known, n_known,
                                                          known_pts, cat)
                                    : j - i;
            memmove(ev + kept, ev + i, left * sizeof *ev);
            kept += left;
            i = j;
        }
        if (!rc)
            *n = kept;
        ct__seg_close(&seg);
    }
    ct__free(known);
    ct__free(known_pts);
    return rc;
}

/* The runs an ingest merges when a day is full, size-tiered as in an
 * LSM tree: the newest run, and each older one in turn while it is no
 * larger than what is merged so far (the delivery's `incoming` new
 * events counted in). So a merge stops at the first run larger than the
 * young part, and a large old run is rewritten only once the runs after
 * it add up to as much: an event is rewritten about log2(deliveries a
 * day) times before compaction. The earlier rule (every run but the
 * oldest, or all of them when the oldest was the smaller part) rewrote
 * most of the day every few deliveries. The newest run is always merged,
 * whatever its size: that keeps the day at CT_DAY_RUNS_LIVE runs. */
static void young_runs(const ct_store_day *day, uint64_t incoming, ct_store_day *settled,
                       ct_store_day *young)
{
    uint32_t first = day->n_runs - 1;
    uint64_t merged = incoming + day->run[first].events;
    while (first > 0 && day->run[first - 1].events <= merged)
        merged += day->run[--first].events;
    memset(settled, 0, sizeof *settled);
    memset(young, 0, sizeof *young);
    settled->day = young->day = day->day;
    for (uint32_t r = 0; r < day->n_runs; r++)
        ct__store_day_add_run(r < first ? settled : young, &day->run[r]);
}

/* Seals one day's new events. A day not stored yet becomes one file. For
 * a stored day, the events its runs already hold are dropped (the dedupe
 * of SPEC 3.2, exact without sorting the day again), and what is left
 * becomes a new run: a delivery costs what it brings, not its day. When
 * the day already has CT_DAY_RUNS_LIVE runs, the new events are merged
 * with its young runs into one (young_runs, sized by the events that are
 * new, so a delivery sent again merges nothing); ct_compact merges whole
 * days later, out of the delivery's way. */
static ct_code seal_day(ct_ingest *in, day_buf *d, ct_err *err)
{
    ct_store *st = &in->db->store;
    const ct_catalog *cat = in->db->cat;
    int64_t live = ct__store_find(st, d->day);
    ct_store_day *old = live >= 0 ? &st->days[live] : NULL, young, settled;
    ct_event *ev = NULL, *old_ev = NULL;
    ct_point *pts = NULL, *old_pts = NULL;
    uint64_t n = 0, np = 0;
    uint32_t n_old = 0, np_old = 0;
    ct_code rc = gather_day(in, d, &ev, &n, &pts, &np, err);
    if (!rc && n + (old ? old->events : 0) >= UINT32_MAX - 1)
        rc = ct__fail(err, CT_ELIMIT, "day %lld has too many events", (long long)d->day);
    if (rc)
        goto out;
    uint32_t fresh = ct__seal_sort_unique(ev, (uint32_t)n, pts, cat);
    if (old)
        rc = drop_stored(st, old, cat, ev, &fresh, pts, err);
    if (rc)
        goto out;
    in->sum.stored += fresh;
    in->sum.duplicates += n - fresh;
    if (fresh == 0)
        goto out; /* nothing new: the day stays as it is, and so does its version */
    int merging = old && old->n_runs >= CT_DAY_RUNS_LIVE;
    uint32_t count = fresh;
    if (merging) { /* the young runs join the new events, every byte of them checked first */
        young_runs(old, fresh, &settled, &young);
        rc = ct__day_merged(st, &young, 1, cat, &old_ev, &n_old, &old_pts, &np_old, err);
        if (rc)
            goto out;
        ev = ct__reallocarray(ev, (size_t)fresh + n_old + 1, sizeof *ev);
        pts = ct__reallocarray(pts, (size_t)np + np_old + 1, sizeof *pts);
        for (uint32_t i = 0; i < n_old; i++) {
            ev[fresh + i] = old_ev[i];
            if (old_ev[i].kind)
                ev[fresh + i].place += (uint32_t)np;
        }
        ct__copy(pts + np, old_pts, (size_t)np_old * sizeof *pts);
        /* the stored runs' copy goes before the merge's scratch and the
         * encoding, the largest allocations of a seal */
        ct__free(old_ev);
        ct__free(old_pts);
        old_ev = NULL;
        old_pts = NULL;
        /* two parts in order, none holding the other's events (dropped
         * above): merged, not sorted again */
        uint32_t part_end[2] = {fresh, fresh + n_old};
        ct_event *scratch = ct__calloc((size_t)fresh + n_old + 1, sizeof *scratch);
        count = ct__seal_merge_unique(ev, part_end, 2, pts, cat, scratch);
        ct__free(scratch);
        if (count == UINT32_MAX) {
            rc = ct__fail(err, CT_ECORRUPT, "day %lld: a run's events are out of order",
                          (long long)d->day);
            goto out;
        }
    }
    ct_store_run run;
    ct_store_day sd;
    new_run(st, d->day, count, &run);
    char *path = ct__store_path(st, run.file);
    rc = ct__seg_write_consuming(path, d->day, ev, count, pts, &run.bytes, &run.crc, err);
    ev = NULL; /* freed by the write */
    ct__free(path);
    if (rc)
        goto out;
    if (!old) {
        ct__store_day_single(&sd, d->day, &run);
        ct__store_set(st, &sd);
    } else if (!merging) {
        ct__store_day_add_run(old, &run);
    } else { /* the settled runs, then the merged one */
        sd = settled;
        ct__store_day_add_run(&sd, &run);
        ct__store_set(st, &sd);
    }
    in->days_written++;
out:
    ct__free(ev);
    ct__free(pts);
    ct__free(old_ev);
    ct__free(old_pts);
    return rc;
}

/* After a failed commit the manifest on disk is the truth: the failure
 * may have come after the rename (a failed fsync of the folder), so the
 * new manifest may be the live one. Read it back, and only then remove
 * the files it does not name. */
static void resync_after_failure(ct_db *db)
{
    ct_store disk;
    if (ct__store_load(db->dir, &disk, NULL) != CT_OK) {
        ct__store_free(&disk);
        return; /* remove nothing we cannot prove unused */
    }
    ct__store_free(&db->store);
    db->store = disk;
    ct__store_collect_garbage(&db->store);
}

/* Steps 1-3 of the commit (see the top of this file): the new manifest
 * made live, or, for a cluster's prepare (`pending`), written as the
 * pending manifest of cluster generation `generation`. */
static ct_code commit_batch(ct_ingest *in, int pending, uint64_t generation, ct_err *err)
{
    ct_db *db = in->db;
    ct_code rc = ct__subdict_flush(db->subs, err);
    for (uint32_t i = 0; i < in->n_days && !rc; i++)
        rc = seal_day(in, &in->days[i], err);
    if (!rc && pending)
        rc = ct__store_stage(&db->store, generation, err);
    else if (!rc && in->days_written)
        rc = ct__store_commit(&db->store, err);
    if (rc)
        resync_after_failure(db);
    return rc;
}

/* The reject report closed, the summary handed out, the batch freed. */
static ct_code end_batch(ct_ingest *in, ct_code rc, ct_import_summary *sum, ct_err *err)
{
    ct_code rrc = ct__rejects_close(in->rej, in->sum.rejects_path, sizeof in->sum.rejects_path,
                                    rc ? NULL : err);
    if (!rc)
        rc = rrc;
    if (sum)
        *sum = in->sum;
    free_batch(in);
    return rc;
}

ct_code ct_ingest_prepare(ct_ingest *in, uint64_t generation, ct_import_summary *sum,
                          ct_err *err)
{
    return end_batch(in, commit_batch(in, 1, generation, err), sum, err);
}

/* Retention runs after every ingest (SPEC 6), unless turned off. */
static ct_code apply_retention(ct_ingest *in, ct_err *err)
{
    if (in->opts.retention_days == CT_RETENTION_NEVER)
        return CT_OK;
    ct_purge_summary purged;
    int days = in->opts.retention_days ? in->opts.retention_days : CT_RETENTION_DAYS_DEFAULT;
    ct_code rc = ct_purge(in->db, days, &purged, err);
    in->sum.purged_events = purged.events_deleted;
    if (rc && err) { /* say that the events themselves are stored */
        char msg[CT_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        ct__fail(err, rc, "the events were stored, but retention failed: %s", msg);
    }
    return rc;
}

ct_code ct_ingest_commit(ct_ingest *in, ct_import_summary *sum, ct_err *err)
{
    ct_code rc = commit_batch(in, 0, 0, err);
    if (!rc)
        rc = apply_retention(in, err);
    for (uint32_t i = 0; !rc && i < in->db->store.n_days; i++)
        in->sum.days_of_runs += in->db->store.days[i].n_runs > 1;
    return end_batch(in, rc, sum, err);
}
