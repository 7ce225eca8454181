/*
 * stats.c — `celltrace stats`: what a data directory holds (subscribers,
 * events by kind, days, operators, cells, cases, bytes). Reads counts the
 * store and catalogue keep; decodes no event and reads no number.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cases.h"
#include "db.h"
#include "error.h"
#include "fsio.h"
#include "segment.h"
#include "sqlvfs.h"

static uint64_t tree_bytes(const char *dir);

static uint64_t entry_bytes(const char *dir, const char *name)
{
    char *p = ct__path_join(dir, name);
    struct stat st;
    uint64_t n = 0;
    if (lstat(p, &st) == 0)
        n = S_ISDIR(st.st_mode) ? tree_bytes(p) : (uint64_t)st.st_size;
    ct__free(p);
    return n;
}

static uint64_t tree_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    uint64_t total = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            total += entry_bytes(dir, e->d_name);
    closedir(d);
    return total;
}

/* The one number a count(*) query gives; a failure fails stats rather
 * than showing 0. */
static ct_code count_rows(ct_db *db, const char *sql, uint64_t *n, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = CT_OK;
    *n = 0;
    if (sqlite3_prepare_v2(ct__catalog_db(db->cat), sql, -1, &st, NULL) != SQLITE_OK)
        rc = ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(ct__catalog_db(db->cat)));
    else if (ct__sql_step(st, &rc, err) == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

ct_code ct_stats_get(ct_db *db, ct_stats *s, ct_err *err)
{
    memset(s, 0, sizeof *s);
    s->subscribers = ct__subdict_count(db->subs);
    s->days = db->store.n_days;
    for (uint32_t i = 0; i < db->store.n_days; i++) {
        s->events += db->store.days[i].events;
        s->store_bytes += db->store.days[i].bytes;
        /* the split by kind is a detail: a segment that does not open is
         * `check`'s business, not a reason for stats to fail */
        ct_code rc;
        ct_err ignored;
        const ct_segment *seg = ct__db_segment(db, db->store.days[i].day, &rc, &ignored);
        if (seg) {
            s->cell_events += seg->n_cell_events;
            s->point_events += seg->n_points;
        }
    }
    if (s->days) {
        s->first_day = db->store.days[0].day * 86400;
        s->last_day = db->store.days[s->days - 1].day * 86400;
    }
    s->operators = ct__catalog_operator_count(db->cat);
    ct_code rc = count_rows(db, "SELECT count(*) FROM cells", &s->cells, err);
    if (!rc)
        rc = ct__cases_count(db, &s->cases, err);
    s->total_bytes = tree_bytes(db->dir);
    return rc;
}
