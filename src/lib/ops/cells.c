/*
 * cells.c — import of an operator's cell catalogue (SPEC 3.1).
 *
 * One transaction per file: a file either lands whole (its good rows) or
 * not at all. Rows upsert by (operator, cell_id) keeping the rowid, which
 * is the loc id the store refers to, so new geometry applies to old events.
 * A row identical to the stored cell counts as a duplicate; a later row of
 * the same file for the same cell_id wins, as any later upsert would.
 */
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "db.h"
#include "csv.h"
#include "error.h"
#include "rejects.h"
#include "textparse.h"
#include "sqlvfs.h"

typedef struct cell_row {
    const char *cell_id;
    size_t id_len;
    double lat, lon, radius;
    const char *region;
    size_t region_len;
} cell_row;

typedef struct cell_cols {
    int cell_id, lat, lon, radius, region;
} cell_cols;

/* Validates one row; returns NULL or the reason, and the column at fault. */
static const char *parse_cell_row(ct_csv *csv, const cell_cols *k, cell_row *r,
                                  const char **column)
{
    size_t len;
    const char *s;
    r->cell_id = ct__csv_field(csv, k->cell_id, &r->id_len);
    *column = "cell_id";
    if (!r->id_len)
        return "missing cell_id";
    if (ct__check_ident(r->cell_id, r->id_len, 64))
        return "cell_id must be 1-64 characters of A-Z a-z 0-9 . _ : -";
    *column = "lat";
    s = ct__csv_field(csv, k->lat, &len);
    if (!len)
        return "missing lat";
    if (ct__parse_double(s, len, &r->lat) || !(r->lat >= -90.0 && r->lat <= 90.0))
        return "lat must be a number from -90 to 90";
    *column = "lon";
    s = ct__csv_field(csv, k->lon, &len);
    if (!len)
        return "missing lon";
    if (ct__parse_double(s, len, &r->lon) || !(r->lon >= -180.0 && r->lon <= 180.0))
        return "lon must be a number from -180 to 180";
    *column = "radius_m";
    s = ct__csv_field(csv, k->radius, &len);
    if (!len)
        return "missing radius_m";
    if (ct__parse_double(s, len, &r->radius) || !(r->radius > 0.0 && r->radius <= 100000.0))
        return "radius_m must be a number > 0 and <= 100000";
    *column = "region";
    r->region = ct__csv_field(csv, k->region, &r->region_len);
    if (r->region_len > 32)
        return "region must be at most 32 characters";
    *column = NULL;
    return NULL;
}

/* Returns 1 if stored (new or changed), 0 if identical to the stored cell. */
static ct_code upsert_cell(sqlite3 *db, sqlite3_stmt *find, sqlite3_stmt *put, uint32_t op,
                           const cell_row *r, int *changed, ct_err *err)
{
    sqlite3_reset(find);
    sqlite3_bind_int64(find, 1, op);
    sqlite3_bind_text(find, 2, r->cell_id, (int)r->id_len, SQLITE_STATIC);
    ct_code rc = CT_OK;
    int step = ct__sql_step(find, &rc, err);
    *changed = 1;
    if (rc)
        return rc;
    if (step == SQLITE_ROW) {
        const char *reg = (const char *)sqlite3_column_text(find, 3);
        size_t reg_len = reg ? strlen(reg) : 0;
        *changed = !(sqlite3_column_double(find, 0) == r->lat &&
                     sqlite3_column_double(find, 1) == r->lon &&
                     sqlite3_column_double(find, 2) == r->radius && reg_len == r->region_len &&
                     (reg_len == 0 || memcmp(reg, r->region, reg_len) == 0));
    }
    if (!*changed)
        return CT_OK;
    sqlite3_reset(put);
    sqlite3_bind_int64(put, 1, op);
    sqlite3_bind_text(put, 2, r->cell_id, (int)r->id_len, SQLITE_STATIC);
    sqlite3_bind_double(put, 3, r->lat);
    sqlite3_bind_double(put, 4, r->lon);
    sqlite3_bind_double(put, 5, r->radius);
    if (r->region_len)
        sqlite3_bind_text(put, 6, r->region, (int)r->region_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(put, 6);
    if (sqlite3_step(put) != SQLITE_DONE)
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(db));
    return CT_OK;
}

static ct_code header_columns(ct_csv *csv, cell_cols *k, ct_err *err)
{
    static const char *const names[] = {"cell_id", "lat", "lon", "radius_m", "region"};
    int c[5];
    ct_code rc = ct__csv_columns(csv, names, 5, 4, c, err);
    *k = (cell_cols){.cell_id = c[0], .lat = c[1], .lon = c[2], .radius = c[3], .region = c[4]};
    return rc;
}

static ct_code import_rows(ct_catalog *c, ct_csv *csv, uint32_t op, ct_rejects *rej,
                           const ct_import_opts *opts, ct_import_summary *sum, ct_err *err)
{
    sqlite3 *db = ct__catalog_db(c);
    sqlite3_stmt *find = NULL, *put = NULL;
    cell_cols k;
    ct_code rc = header_columns(csv, &k, err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(db, "SELECT lat, lon, radius_m, region FROM cells WHERE operator_id=? AND cell_id=?", -1, &find, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO cells(operator_id, cell_id, lat, lon, radius_m, region) VALUES(?,?,?,?,?,?)"
                               " ON CONFLICT(operator_id, cell_id) DO UPDATE SET lat=excluded.lat, lon=excluded.lon,"
                               " radius_m=excluded.radius_m, region=excluded.region", -1, &put, NULL)) {
        rc = ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(db));
        goto out;
    }
    for (;;) {
        const char *reason = NULL, *column = NULL;
        int got = ct__csv_next(csv, &reason, err);
        if (got == CT_CSV_EOF)
            break;
        if (got < 0) {
            rc = err ? err->code : CT_EIO;
            goto out;
        }
        sum->rows_read++;
        cell_row r;
        if (got == CT_CSV_ROW)
            reason = parse_cell_row(csv, &k, &r, &column);
        if (reason) {
            sum->rejected++;
            rc = ct__rejects_add(rej, ct__csv_name(csv), ct__csv_line(csv), column, reason, NULL, 0, err);
            if (rc)
                goto out;
            continue;
        }
        int changed;
        if ((rc = upsert_cell(db, find, put, op, &r, &changed, err)) != CT_OK)
            goto out;
        if (changed)
            sum->stored++;
        else
            sum->duplicates++;
        if (opts && opts->progress && (sum->rows_read & 0xFFFF) == 0)
            opts->progress(opts->progress_ud, ct__csv_bytes_done(csv), ct__csv_bytes_total(csv));
    }
out:
    sqlite3_finalize(find);
    sqlite3_finalize(put);
    return rc;
}

ct_code ct__catalog_import_cells(ct_catalog *c, const char *data_dir, const char *op_name,
                                 const char *path, const ct_import_opts *opts,
                                 ct_import_summary *sum, ct_err *err)
{
    memset(sum, 0, sizeof *sum);
    ct_csv *csv = NULL;
    ct_rejects *rej = NULL;
    uint32_t op;
    if (ct__check_ident(op_name, strlen(op_name), 32))
        return ct__fail(err, CT_EINVAL, "operator must be 1-32 characters of A-Z a-z 0-9 . _ : -");
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    if (rc)
        return rc;
    if ((rc = ct__catalog_begin(c, err)) != CT_OK)
        goto out;
    rej = ct__rejects_new(data_dir, opts ? opts->rejects_path : NULL, path);
    rc = ct__catalog_operator(c, op_name, 1, &op, err);
    if (!rc)
        rc = import_rows(c, csv, op, rej, opts, sum, err);
    if (!rc)
        rc = ct__rejects_close(rej, sum->rejects_path, sizeof sum->rejects_path, err);
    else
        ct__rejects_close(rej, NULL, 0, NULL);
    rej = NULL;
    if (!rc)
        rc = ct__catalog_commit(c, err);
    if (rc)
        ct__catalog_rollback(c);
    {
        ct_err ignored;
        ct_code lrc = ct__catalog_load(c, rc ? &ignored : err);
        if (!rc)
            rc = lrc;
    }
out:
    ct__csv_close(csv);
    return rc;
}

ct_code ct_cells_import(ct_db *db, const char *op, const char *path, const ct_import_opts *opts,
                        ct_import_summary *sum, ct_err *err)
{
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "the data directory is open read-only");
    return ct__catalog_import_cells(db->cat, db->dir, op, path, opts, sum, err);
}
