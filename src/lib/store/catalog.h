/*
 * catalog.h — operators, cells and cases in SQLite, and the in-memory cell
 * catalogue used by ingest and trace (internal).
 *
 * Cells are identified inside the store by their SQLite rowid (the "loc
 * id"); an upsert keeps the rowid, so a cell's events follow the current
 * geometry (SPEC 3.1). At open, all cells are loaded into arrays indexed
 * by loc id, with a disk grid for "which cells are co-located with this
 * disk" and a hash for "(operator, cell_id) -> loc id".
 */
#ifndef CT_CATALOG_H
#define CT_CATALOG_H

#include <sqlite3.h>
#include <stdint.h>

#include "celltrace.h"

#define CT_LOC_NONE 0xFFFFFFFFu

typedef struct ct_cell {
    double lat, lon, radius;
    uint32_t op;     /* operator id */
    uint32_t rank;   /* position in (operator name, cell_id) bytewise order */
    char *cell_id;   /* NULL for a rowid with no cell */
    char *region;    /* NULL when absent */
} ct_cell;

typedef struct ct_catalog ct_catalog;

/* Opens (creating the schema when `create`) <dir>/catalog.db. */
ct_code ct__catalog_open(const char *dir, int writable, int create, ct_catalog **out,
                         ct_err *err);
void ct__catalog_close(ct_catalog *c);
sqlite3 *ct__catalog_db(ct_catalog *c);

/* (Re)loads cells and operators from SQLite into memory. */
ct_code ct__catalog_load(ct_catalog *c, ct_err *err);

/* Operator id by name; with `create`, adds it (inside the caller's
 * transaction). CT_ENOTFOUND when unknown and not created. */
ct_code ct__catalog_operator(ct_catalog *c, const char *name, int create, uint32_t *id,
                             ct_err *err);
const char *ct__catalog_operator_name(const ct_catalog *c, uint32_t op);

/* Cell by loc id (NULL if none), and loc id by (operator, cell_id). */
const ct_cell *ct__catalog_cell(const ct_catalog *c, uint32_t loc);
uint32_t ct__catalog_find_cell(const ct_catalog *c, uint32_t op, const char *cell_id,
                               size_t len);
uint32_t ct__catalog_cell_count(const ct_catalog *c); /* largest loc id + 1 */
uint32_t ct__catalog_operator_count(const ct_catalog *c);

/* Calls fn for every cell whose disk is co-located with the disk (lat,
 * lon, radius) at distance d: dist(centres) <= radius + r_cell + d. */
typedef void (*ct_cell_visit)(void *ud, uint32_t loc, const ct_cell *cell);
void ct__catalog_colocated(const ct_catalog *c, double lat, double lon, double radius,
                           double d, ct_cell_visit fn, void *ud);

/* Imports an operator's cell catalogue file (SPEC 3.1). */
ct_code ct__catalog_import_cells(ct_catalog *c, const char *data_dir, const char *op,
                                 const char *path, const ct_import_opts *opts,
                                 ct_import_summary *sum, ct_err *err);

/* Starts / ends a write transaction (BEGIN IMMEDIATE ... COMMIT/ROLLBACK). */
ct_code ct__catalog_begin(ct_catalog *c, ct_err *err);
ct_code ct__catalog_commit(ct_catalog *c, ct_err *err);
void ct__catalog_rollback(ct_catalog *c);

/* Runs one SQL statement without results. */
ct_code ct__catalog_exec(ct_catalog *c, const char *sql, ct_err *err);

#endif
