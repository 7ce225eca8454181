/*
 * catalog.c — the SQLite catalogue (operators, cells, cases, settings)
 * and the in-memory view of cells.
 *
 * SQLite runs in WAL mode with synchronous=FULL: a committed import
 * survives a power cut, an interrupted one leaves nothing. Cells are
 * small in number (tens of thousands per operator), so the whole
 * catalogue is loaded at open into arrays indexed by loc id:
 *   - a hash (operator, cell_id) -> loc id for ingest;
 *   - a disk grid (geo.h) sorted by tile key for co-location queries;
 *   - each cell's rank in (operator name, cell_id) bytewise order, which
 *     is how SPEC 4.1 orders cell events of the same second.
 */
#include "catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "csv.h"
#include "error.h"
#include "fsio.h"
#include "geo.h"
#include "rejects.h"
#include "sqlvfs.h"
#include "textparse.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS operators(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS cells(id INTEGER PRIMARY KEY, operator_id INTEGER NOT NULL,"
    " cell_id TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, radius_m REAL NOT NULL,"
    " region TEXT, UNIQUE(operator_id, cell_id));"
    "CREATE TABLE IF NOT EXISTS cases(case_id TEXT PRIMARY KEY, subscriber INTEGER NOT NULL,"
    " onset INTEGER NOT NULL, isolated INTEGER, region TEXT, added INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '1');";

typedef struct grid_entry {
    uint64_t key;
    uint32_t loc;
} grid_entry;

struct ct_catalog {
    sqlite3 *db;
    ct_cell *cells;
    uint32_t n_cells; /* largest loc id + 1 */
    char **ops;       /* operator names by id (index 0 unused) */
    uint32_t n_ops;   /* largest operator id + 1 */
    uint32_t *hash;   /* (op, cell_id) -> loc id + 1; 0 empty */
    size_t hash_cap;
    grid_entry *grid;
    size_t n_grid;
    double level_max_radius[CT_GRID_LEVELS];
};

/* ---- SQLite plumbing --------------------------------------------------- */

ct_code ct__catalog_exec(ct_catalog *c, const char *sql, ct_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ct_code rc = ct__fail(err, CT_EIO, "catalogue database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return CT_OK;
}

ct_code ct__catalog_begin(ct_catalog *c, ct_err *err)
{
    return ct__catalog_exec(c, "BEGIN IMMEDIATE", err);
}

ct_code ct__catalog_commit(ct_catalog *c, ct_err *err)
{
    return ct__catalog_exec(c, "COMMIT", err);
}

void ct__catalog_rollback(ct_catalog *c)
{
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3 *ct__catalog_db(ct_catalog *c)
{
    return c->db;
}

ct_code ct__catalog_open(const char *dir, int writable, int create, ct_catalog **out,
                         ct_err *err)
{
    ct_catalog *c = ct__calloc(1, sizeof *c);
    char *path = ct__path_join(dir, "catalog.db");
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    ct_code rc = CT_OK;
    if (create) { /* SQLite gives its WAL and journal the database file's mode */
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = ct__fail_errno(err, CT_EIO, errno, "cannot create %s", path);
            goto out;
        }
        close(fd);
    }
    if (sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, ct__sqlite_vfs()) != SQLITE_OK) {
        rc = ct__fail(err, CT_EIO, "cannot open %s: %s", path,
                      c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(c->db, 10000);
    if (writable)
        rc = ct__catalog_exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err);
    if (!rc && create)
        rc = ct__catalog_exec(c, SCHEMA, err);
    if (!rc)
        rc = ct__catalog_load(c, err);
out:
    ct__free(path);
    if (rc) {
        ct__catalog_close(c);
        return rc;
    }
    *out = c;
    return CT_OK;
}

static void free_cells(ct_catalog *c)
{
    for (uint32_t i = 0; i < c->n_cells; i++) {
        ct__free(c->cells[i].cell_id);
        ct__free(c->cells[i].region);
    }
    for (uint32_t i = 0; i < c->n_ops; i++)
        ct__free(c->ops[i]);
    ct__free(c->cells);
    ct__free(c->ops);
    ct__free(c->hash);
    ct__free(c->grid);
    c->cells = NULL;
    c->ops = NULL;
    c->hash = NULL;
    c->grid = NULL;
    c->n_cells = c->n_ops = 0;
    c->n_grid = c->hash_cap = 0;
}

void ct__catalog_close(ct_catalog *c)
{
    if (!c)
        return;
    free_cells(c);
    sqlite3_close(c->db);
    ct__free(c);
}

/* ---- the (operator, cell_id) hash ------------------------------------- */

static uint64_t hash_cell(uint32_t op, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ op;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static void hash_build(ct_catalog *c)
{
    size_t cap = 64;
    while (cap < (size_t)c->n_cells * 2)
        cap *= 2;
    c->hash = ct__calloc(cap, sizeof *c->hash);
    c->hash_cap = cap;
    for (uint32_t loc = 0; loc < c->n_cells; loc++) {
        const ct_cell *cell = &c->cells[loc];
        if (!cell->cell_id)
            continue;
        size_t s = hash_cell(cell->op, cell->cell_id, strlen(cell->cell_id)) & (cap - 1);
        while (c->hash[s])
            s = (s + 1) & (cap - 1);
        c->hash[s] = loc + 1;
    }
}

uint32_t ct__catalog_find_cell(const ct_catalog *c, uint32_t op, const char *cell_id,
                               size_t len)
{
    if (!c->hash_cap)
        return CT_LOC_NONE;
    size_t mask = c->hash_cap - 1, s = hash_cell(op, cell_id, len) & mask;
    for (; c->hash[s]; s = (s + 1) & mask) {
        const ct_cell *cell = &c->cells[c->hash[s] - 1];
        if (cell->op == op && strlen(cell->cell_id) == len && memcmp(cell->cell_id, cell_id, len) == 0)
            return c->hash[s] - 1;
    }
    return CT_LOC_NONE;
}

/* ---- ranks and the grid -------------------------------------------------- */

/* A cell's sort key for ranking: qsort has no user pointer in C11, and a
 * global one would be shared by handles opened on several threads. */
typedef struct rank_item {
    const char *op, *cell_id;
    uint32_t loc;
} rank_item;

static int cmp_rank(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    int r = strcmp(x->op, y->op);
    return r ? r : strcmp(x->cell_id, y->cell_id);
}

static int cmp_grid(const void *a, const void *b)
{
    const grid_entry *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->loc < y->loc ? -1 : x->loc > y->loc;
}

static void build_ranks_and_grid(ct_catalog *c)
{
    rank_item *order = ct__calloc(c->n_cells, sizeof *order);
    uint32_t n = 0;
    c->grid = ct__calloc(c->n_cells, sizeof *c->grid);
    memset(c->level_max_radius, 0, sizeof c->level_max_radius);
    for (uint32_t loc = 0; loc < c->n_cells; loc++) {
        ct_cell *cell = &c->cells[loc];
        if (!cell->cell_id)
            continue;
        order[n] = (rank_item){c->ops[cell->op], cell->cell_id, loc};
        unsigned level = ct__grid_level(cell->radius);
        c->grid[n].key = ct__grid_key(level, cell->lat, cell->lon);
        c->grid[n].loc = loc;
        if (cell->radius > c->level_max_radius[level])
            c->level_max_radius[level] = cell->radius;
        n++;
    }
    qsort(order, n, sizeof *order, cmp_rank);
    for (uint32_t i = 0; i < n; i++)
        c->cells[order[i].loc].rank = i;
    qsort(c->grid, n, sizeof *c->grid, cmp_grid);
    c->n_grid = n;
    ct__free(order);
}

/* ---- loading -------------------------------------------------------------- */

static ct_code load_operators(ct_catalog *c, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = CT_OK;
    if (sqlite3_prepare_v2(c->db, "SELECT id, name FROM operators ORDER BY id", -1, &st, NULL))
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(c->db));
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (id <= 0 || id > 65535) {
            rc = ct__fail(err, CT_ECORRUPT, "catalogue: bad operator id %lld", (long long)id);
            break;
        }
        c->ops = ct__reallocarray(c->ops, (size_t)id + 1, sizeof *c->ops);
        for (uint32_t i = c->n_ops; i <= (uint32_t)id; i++)
            c->ops[i] = NULL;
        c->n_ops = (uint32_t)id + 1;
        c->ops[id] = ct__strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return rc;
}

static ct_code load_cell_rows(ct_catalog *c, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = CT_OK;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, operator_id, cell_id, lat, lon, radius_m, region FROM cells"
                           " ORDER BY id", -1, &st, NULL))
        return ct__fail(err, CT_EIO, "catalogue database: %s", sqlite3_errmsg(c->db));
    size_t cap = 0;
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), op = sqlite3_column_int64(st, 1);
        if (id < 0 || id >= (int64_t)CT_LOC_NONE || op <= 0 || op >= c->n_ops || !c->ops[op]) {
            rc = ct__fail(err, CT_ECORRUPT, "catalogue: bad cell row %lld", (long long)id);
            break;
        }
        CT_GROW(c->cells, (size_t)id + 1, cap);
        memset(c->cells + c->n_cells, 0, ((size_t)id + 1 - c->n_cells) * sizeof *c->cells);
        c->n_cells = (uint32_t)id + 1;
        ct_cell *cell = &c->cells[id];
        cell->op = (uint32_t)op;
        cell->cell_id = ct__strdup((const char *)sqlite3_column_text(st, 2));
        cell->lat = sqlite3_column_double(st, 3);
        cell->lon = sqlite3_column_double(st, 4);
        cell->radius = sqlite3_column_double(st, 5);
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            cell->region = ct__strdup((const char *)sqlite3_column_text(st, 6));
    }
    sqlite3_finalize(st);
    return rc;
}

ct_code ct__catalog_load(ct_catalog *c, ct_err *err)
{
    free_cells(c);
    ct_code rc = load_operators(c, err);
    if (!rc)
        rc = load_cell_rows(c, err);
    if (rc)
        return rc;
    hash_build(c);
    build_ranks_and_grid(c);
    return CT_OK;
}

/* ---- queries ----------------------------------------------------------------- */

const ct_cell *ct__catalog_cell(const ct_catalog *c, uint32_t loc)
{
    if (loc >= c->n_cells || !c->cells[loc].cell_id)
        return NULL;
    return &c->cells[loc];
}

uint32_t ct__catalog_cell_count(const ct_catalog *c)
{
    return c->n_cells;
}

uint32_t ct__catalog_operator_count(const ct_catalog *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_ops; i++)
        n += c->ops[i] != NULL;
    return n;
}

const char *ct__catalog_operator_name(const ct_catalog *c, uint32_t op)
{
    return op < c->n_ops && c->ops[op] ? c->ops[op] : "?";
}

ct_code ct__catalog_operator(ct_catalog *c, const char *name, int create, uint32_t *id,
                             ct_err *err)
{
    for (uint32_t i = 1; i < c->n_ops; i++)
        if (c->ops[i] && strcmp(c->ops[i], name) == 0) {
            *id = i;
            return CT_OK;
        }
    if (!create)
        return ct__fail(err, CT_ENOTFOUND, "unknown operator %s", name);
    sqlite3_stmt *st = NULL;
    ct_code rc = CT_OK;
    if (sqlite3_prepare_v2(c->db, "INSERT INTO operators(name) VALUES(?)", -1, &st, NULL) ||
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT) || sqlite3_step(st) != SQLITE_DONE)
        rc = ct__fail(err, CT_EIO, "cannot add operator %s: %s", name, sqlite3_errmsg(c->db));
    sqlite3_finalize(st);
    if (rc)
        return rc;
    int64_t nid = sqlite3_last_insert_rowid(c->db);
    if (nid > 65535)
        return ct__fail(err, CT_ELIMIT, "too many operators");
    c->ops = ct__reallocarray(c->ops, (size_t)nid + 1, sizeof *c->ops);
    for (uint32_t i = c->n_ops; i <= (uint32_t)nid; i++)
        c->ops[i] = NULL;
    c->n_ops = (uint32_t)nid + 1;
    c->ops[nid] = ct__strdup(name);
    *id = (uint32_t)nid;
    return CT_OK;
}

static const grid_entry *grid_lower_bound(const ct_catalog *c, uint64_t key)
{
    size_t lo = 0, hi = c->n_grid;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->grid[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return c->grid + lo;
}

void ct__catalog_colocated(const ct_catalog *c, double lat, double lon, double radius,
                           double d, ct_cell_visit fn, void *ud)
{
    ct_grid_span spans[CT_GRID_SPANS_MAX];
    const grid_entry *end = c->grid + c->n_grid;
    for (unsigned level = 0; level < CT_GRID_LEVELS; level++) {
        if (c->level_max_radius[level] <= 0)
            continue;
        unsigned n = ct__grid_query(level, lat, lon, radius + d + c->level_max_radius[level], spans);
        for (unsigned s = 0; s < n; s++)
            for (const grid_entry *g = grid_lower_bound(c, spans[s].lo); g < end && g->key <= spans[s].hi; g++) {
                const ct_cell *cell = &c->cells[g->loc];
                if (ct__distance_m(lat, lon, cell->lat, cell->lon) <= radius + cell->radius + d)
                    fn(ud, g->loc, cell);
            }
    }
}
