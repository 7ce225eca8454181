/*
 * test_sim_reference.c — the engine's trace on a simulated city equals the
 * slow reference of SPEC section 4 (issue 3: "The engine's `trace` on a
 * simulated city equals the slow reference").
 *
 * What it checks, for a few small cities made by ct_simulate (several
 * cases, GPS-grade point events, roaming, late files, duplicates, dirty
 * rows, gzip and zstd feeds):
 * - the city goes through the public API only (ct_init, ct_open,
 *   ct_cells_import, ct_ingest_begin/file/commit per operator over every
 *   file of DIR/<op>/events, ct_cases_import), and each operator's ingest
 *   summary (stored, duplicates, rejected) equals what the simulator says
 *   it wrote (events, duplicates, the sum of bad[]);
 * - every case is traced with the SPEC defaults and three other parameter
 *   sets, and every contact field (msisdn, exposure_s, first_contact,
 *   last_contact, min_radius_m bitwise) equals tests/support/reference.c,
 *   whose input is read here from the simulator's files with the project's
 *   CSV and field parsers and the row rules of SPEC 3.2 (a row a parser
 *   rejects, or naming a cell absent from the catalogue, is skipped; the
 *   reference removes duplicates itself).
 *
 * Why: test_crosscheck.c draws random toy cities; this one feeds the engine
 * the data the demo and the benchmarks use — thousands of events per day,
 * long-lived cells, point fixes, roaming subscribers — so a bug that only
 * shows on realistic data (day boundaries, late files, many subscribers in
 * one cell) is caught here. The reference is O(n^2) per case: the cities
 * are sized for a few seconds in a normal build.
 *
 * As in test_crosscheck.c, a trace that holds a pair whose distance lies
 * within 1 mm of r_a + r_b + D may be decided either way (SPEC 2 allows
 * that error): such a trace is still compared, but a difference in it is
 * reported and not counted as a mismatch.
 *
 * Environment: CT_TEST_TMP (scratch), CT_SIMREF_SEED (replaces every
 * city's seed, to explore), CT_SIMREF_KEEP=1 (keep the cities). On a
 * mismatch the test prints the seed, the case, the parameters, the rows
 * that differ and both lists, and keeps the city.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "celltrace.h"
#include "celltrace_sim.h"
#include "csv.h"
#include "textparse.h"
#include "testutil.h"

#include "reference.c"

#define AMBIGUITY_M 1e-3

/* ---- the cities and the parameter sets ---------------------------------------- */

typedef struct city {
    uint64_t seed;
    uint64_t subscribers;
    unsigned days;
    unsigned cases;
    double area_km2; /* 0: default density */
    double precise_share;
    double dirty_rate;
    ct_sim_compress compress;
} city;

static const city CITIES[] = {
    /* dense: cells hold many people, most subscribers meet every case */
    {20200330, 500, 3, 5, 0.0, 0.3, 0.004, CT_SIM_COMPRESS_GZ},
    /* spread out: co-location decides, many point fixes */
    {77, 400, 2, 4, 3.0, 0.6, 0.004, CT_SIM_COMPRESS_ZST},
};
#define NCITIES (sizeof CITIES / sizeof CITIES[0])

static const ref_params PARAMS[] = {
    {3600, 2.0, 900, 172800, 864000}, /* SPEC 4 defaults */
    {1200, 50.0, 300, 172800, 864000},
    {7200, 0.0, 0, 86400, 172800},
    {600, 10.0, 60, 259200, 43200},
};
#define NPARAMS (sizeof PARAMS / sizeof PARAMS[0])

/* ---- small utilities ---------------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "sim_reference: out of memory\n");
        abort();
    }
    return q;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted file names of a folder; frees with free_names. */
static char **list_dir(const char *path, size_t *n)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap)
            v = xrealloc(v, (cap = cap ? cap * 2 : 32) * sizeof *v);
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(v, *n, sizeof *v, cmp_name);
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t bad_sum(const ct_sim_op_counts *c)
{
    uint64_t s = 0;
    for (int k = 0; k < CT_SIM_BAD_KINDS; k++)
        s += c->bad[k];
    return s;
}

/* ---- the reference's input, read from the simulator's files -------------------- */

typedef struct ref_input {
    ref_cell *cells;
    size_t ncells, cap_cells;
    ref_event *ev;
    size_t nev, cap_ev;
} ref_input;

/* The cells of one operator, sorted by id, to look event rows up. */
typedef struct idx_cell {
    const char *id;
} idx_cell;

static int cmp_idx(const void *a, const void *b)
{
    return strcmp(((const idx_cell *)a)->id, ((const idx_cell *)b)->id);
}

/* SPEC 3.1: reads DIR/<op>/cells.csv into in->cells (import order);
 * returns the number of rows kept. Every simulated catalogue row is valid. */
static size_t read_cells(const char *path, const char *op, ref_input *in)
{
    ct_csv *csv = NULL;
    ct_err err;
    memset(&err, 0, sizeof err);
    if (ct__csv_open(path, NULL, &csv, &err) != CT_OK)
        fail_msg("%s: %s", path, err.msg);
    int c_id = ct__csv_column(csv, "cell_id"), c_lat = ct__csv_column(csv, "lat");
    int c_lon = ct__csv_column(csv, "lon"), c_r = ct__csv_column(csv, "radius_m");
    assert_true(c_id >= 0 && c_lat >= 0 && c_lon >= 0 && c_r >= 0);
    size_t kept = 0;
    const char *reason = NULL;
    int got;
    while ((got = ct__csv_next(csv, &reason, &err)) != CT_CSV_EOF) {
        assert_true(got == CT_CSV_ROW || got == CT_CSV_BAD);
        if (got != CT_CSV_ROW)
            continue;
        size_t li, la, lo, lr;
        const char *id = ct__csv_field(csv, c_id, &li), *slat = ct__csv_field(csv, c_lat, &la);
        const char *slon = ct__csv_field(csv, c_lon, &lo), *sr = ct__csv_field(csv, c_r, &lr);
        ref_cell c;
        memset(&c, 0, sizeof c);
        if (ct__check_ident(id, li, REF_ID_MAX) || ct__parse_double(slat, la, &c.lat) ||
            ct__parse_double(slon, lo, &c.lon) || ct__parse_double(sr, lr, &c.radius_m) ||
            !(c.lat >= -90.0 && c.lat <= 90.0) || !(c.lon >= -180.0 && c.lon <= 180.0) ||
            !(c.radius_m > 0.0 && c.radius_m <= 100000.0))
            continue;
        snprintf(c.op, sizeof c.op, "%s", op);
        memcpy(c.id, id, li);
        c.id[li] = '\0';
        if (in->ncells == in->cap_cells) {
            in->cap_cells = in->cap_cells ? in->cap_cells * 2 : 1024;
            in->cells = xrealloc(in->cells, in->cap_cells * sizeof *in->cells);
        }
        in->cells[in->ncells++] = c;
        kept++;
    }
    ct__csv_close(csv);
    return kept;
}

/* SPEC 3.2 row rules for one feed of operator `op` whose catalogue is
 * `cat` (sorted). Appends good rows (duplicates included) to in->ev and
 * counts the others in *rejected. */
static void read_feed(const char *path, const char *op, const idx_cell *cat, size_t ncat,
                      ref_input *in, uint64_t *rows, uint64_t *rejected)
{
    ct_csv *csv = NULL;
    ct_err err;
    memset(&err, 0, sizeof err);
    if (ct__csv_open(path, NULL, &csv, &err) != CT_OK)
        fail_msg("%s: %s", path, err.msg);
    int c_num = ct__csv_column(csv, "msisdn"), c_ts = ct__csv_column(csv, "ts");
    int c_cell = ct__csv_column(csv, "cell_id"), c_lat = ct__csv_column(csv, "lat");
    int c_lon = ct__csv_column(csv, "lon"), c_acc = ct__csv_column(csv, "accuracy_m");
    assert_true(c_num >= 0 && c_ts >= 0);
    const char *reason = NULL;
    int got;
    while ((got = ct__csv_next(csv, &reason, &err)) != CT_CSV_EOF) {
        if (got < 0)
            fail_msg("%s: %s", path, err.msg);
        (*rows)++;
        if (got == CT_CSV_BAD) {
            (*rejected)++;
            continue;
        }
        ref_event e;
        memset(&e, 0, sizeof e);
        snprintf(e.op, sizeof e.op, "%s", op);
        size_t ln, lt, lc, la, lo, lacc;
        const char *num = ct__csv_field(csv, c_num, &ln), *ts = ct__csv_field(csv, c_ts, &lt);
        const char *cell = ct__csv_field(csv, c_cell, &lc);
        const char *slat = ct__csv_field(csv, c_lat, &la), *slon = ct__csv_field(csv, c_lon, &lo);
        const char *sacc = ct__csv_field(csv, c_acc, &lacc);
        uint64_t numv;
        char digits[16];
        int ok = ln && ct__parse_msisdn(num, ln, &numv, digits) == 0 && lt &&
                 ct__parse_time(ts, lt, 0, &e.ts) == 0;
        if (ok && lc) {
            /* a cell event: the cell must be in this operator's catalogue */
            e.is_cell = 1;
            ok = lc <= REF_ID_MAX;
            if (ok) {
                memcpy(e.cell, cell, lc);
                e.cell[lc] = '\0';
                idx_cell key = {e.cell};
                ok = bsearch(&key, cat, ncat, sizeof *cat, cmp_idx) != NULL;
            }
        } else if (ok) {
            /* a point event: lat and lon required, accuracy 50 by default */
            e.acc = 50.0;
            ok = la && lo && ct__parse_double(slat, la, &e.lat) == 0 &&
                 e.lat >= -90.0 && e.lat <= 90.0 && ct__parse_double(slon, lo, &e.lon) == 0 &&
                 e.lon >= -180.0 && e.lon <= 180.0 &&
                 (!lacc || (ct__parse_double(sacc, lacc, &e.acc) == 0 && e.acc > 0.0 &&
                            e.acc <= 100000.0));
        }
        if (!ok) {
            (*rejected)++;
            continue;
        }
        memcpy(e.msisdn, digits, sizeof e.msisdn);
        if (in->nev == in->cap_ev) {
            in->cap_ev = in->cap_ev ? in->cap_ev * 2 : 65536;
            in->ev = xrealloc(in->ev, in->cap_ev * sizeof *in->ev);
        }
        in->ev[in->nev++] = e;
    }
    ct__csv_close(csv);
}

#define MAX_CASES 64

typedef struct case_def {
    char id[REF_ID_MAX + 1];
    char t_onset[64], t_isolated[64];
    ref_case rc;
} case_def;

/* SPEC 3.3: DIR/cases.csv; onset and isolated may be bare dates. */
static size_t read_cases(const char *path, case_def *out)
{
    ct_csv *csv = NULL;
    ct_err err;
    memset(&err, 0, sizeof err);
    if (ct__csv_open(path, NULL, &csv, &err) != CT_OK)
        fail_msg("%s: %s", path, err.msg);
    int c_id = ct__csv_column(csv, "case_id"), c_num = ct__csv_column(csv, "msisdn");
    int c_on = ct__csv_column(csv, "onset"), c_iso = ct__csv_column(csv, "isolated");
    assert_true(c_id >= 0 && c_num >= 0 && c_on >= 0);
    size_t n = 0;
    const char *reason = NULL;
    int got;
    while ((got = ct__csv_next(csv, &reason, &err)) == CT_CSV_ROW) {
        assert_true(n < MAX_CASES);
        case_def *c = &out[n];
        memset(c, 0, sizeof *c);
        size_t li, ln, lo, lis;
        const char *id = ct__csv_field(csv, c_id, &li), *num = ct__csv_field(csv, c_num, &ln);
        const char *on = ct__csv_field(csv, c_on, &lo), *iso = ct__csv_field(csv, c_iso, &lis);
        uint64_t numv;
        char digits[16];
        assert_true(li > 0 && li <= REF_ID_MAX);
        memcpy(c->id, id, li);
        assert_int_equal(ct__parse_msisdn(num, ln, &numv, digits), 0);
        memcpy(c->rc.msisdn, digits, sizeof c->rc.msisdn);
        assert_int_equal(ct__parse_time(on, lo, 1, &c->rc.onset), 0);
        snprintf(c->t_onset, sizeof c->t_onset, "%.*s", (int)lo, on);
        if (lis) {
            assert_int_equal(ct__parse_time(iso, lis, 1, &c->rc.isolated), 0);
            c->rc.has_isolated = 1;
            snprintf(c->t_isolated, sizeof c->t_isolated, "%.*s", (int)lis, iso);
        }
        n++;
    }
    assert_int_equal(got, CT_CSV_EOF);
    ct__csv_close(csv);
    return n;
}

/* ---- the comparison ---------------------------------------------------------- */

static int contact_eq(const ref_contact *a, const ct_contact *b)
{
    return strcmp(a->msisdn, b->msisdn) == 0 && a->exposure_s == b->exposure_s &&
           a->first == b->first_contact && a->last == b->last_contact &&
           memcmp(&a->min_radius_m, &b->min_radius_m, sizeof(double)) == 0;
}

static void print_ref(const ref_contact *c)
{
    char f[32], l[32];
    ref_format_time(c->first, f);
    ref_format_time(c->last, l);
    fprintf(stderr, "%-16s X=%-7" PRId64 " first=%s last=%s min_radius=%.17g\n", c->msisdn,
            c->exposure_s, f, l, c->min_radius_m);
}

static void print_eng(const ct_contact *c)
{
    char f[32], l[32];
    ref_format_time(c->first_contact, f);
    ref_format_time(c->last_contact, l);
    fprintf(stderr, "%-16s X=%-7" PRId64 " first=%s last=%s min_radius=%.17g\n", c->msisdn,
            c->exposure_s, f, l, c->min_radius_m);
}

/* Prints a mismatch: where, the rows that differ, and (for the first few
 * mismatches of a run, to keep a systematic failure readable) both lists. */
static void report_mismatch(const city *cy, const case_def *cd, const ref_params *q,
                            const ref_result *rr, const ct_contacts *en, int full)
{
    char on[32], iso[32] = "-";
    ref_format_time(cd->rc.onset, on);
    if (cd->rc.has_isolated)
        ref_format_time(cd->rc.isolated, iso);
    fprintf(stderr,
            "MISMATCH seed %" PRIu64 " (%" PRIu64 " subscribers, %u days, area %g km2)\n"
            "  case %s msisdn %s onset %s ('%s') isolated %s ('%s')\n"
            "  params: max_presence %" PRId64 " distance %.17g min_exposure %" PRId64
            " before %" PRId64 " after %" PRId64 "\n",
            cy->seed, cy->subscribers, cy->days, cy->area_km2, cd->id, cd->rc.msisdn, on,
            cd->t_onset, iso, cd->t_isolated, q->max_presence_s, q->distance_m, q->min_exposure_s,
            q->before_s, q->after_s);
    /* the rows that differ first (by msisdn), then both lists */
    fprintf(stderr, "  differing rows (ref = reference, eng = engine):\n");
    for (size_t i = 0; i < rr->n; i++) {
        const ct_contact *m = NULL;
        for (size_t j = 0; j < en->n && !m; j++)
            if (strcmp(en->items[j].msisdn, rr->items[i].msisdn) == 0)
                m = &en->items[j];
        if (m && contact_eq(&rr->items[i], m))
            continue;
        fprintf(stderr, "    ref ");
        print_ref(&rr->items[i]);
        fprintf(stderr, "    eng ");
        if (m)
            print_eng(m);
        else
            fprintf(stderr, "(absent)\n");
    }
    for (size_t j = 0; j < en->n; j++) {
        int found = 0;
        for (size_t i = 0; i < rr->n && !found; i++)
            found = strcmp(en->items[j].msisdn, rr->items[i].msisdn) == 0;
        if (!found) {
            fprintf(stderr, "    ref (absent)\n    eng ");
            print_eng(&en->items[j]);
        }
    }
    if (!full) {
        fprintf(stderr, "  (lists: %zu reference, %zu engine; printed for the first mismatches)\n",
                rr->n, en->n);
        return;
    }
    fprintf(stderr, "  reference (%zu):\n", rr->n);
    for (size_t i = 0; i < rr->n; i++) {
        fprintf(stderr, "    ");
        print_ref(&rr->items[i]);
    }
    fprintf(stderr, "  engine (%zu):\n", en->n);
    for (size_t j = 0; j < en->n; j++) {
        fprintf(stderr, "    ");
        print_eng(&en->items[j]);
    }
}

static ct_params to_ct(const ref_params *p)
{
    ct_params q;
    memset(&q, 0, sizeof q);
    q.max_presence_s = p->max_presence_s;
    q.contact_distance_m = p->distance_m;
    q.min_exposure_s = p->min_exposure_s;
    q.infectious_before_s = p->before_s;
    q.infectious_after_s = p->after_s;
    return q;
}

/* ---- one city ---------------------------------------------------------------- */

typedef struct totals {
    size_t traces, compared, ambiguous, mismatches, contacts;
} totals;

static void run_city(const city *cy, totals *tot)
{
    double t0 = now_s();
    char *root = tu_tmpdir("simref");
    char dir[1200], data[1200], path[2400], rej[2400];
    snprintf(dir, sizeof dir, "%s/city", root);
    snprintf(data, sizeof data, "%s/data", root);

    /* the city */
    ct_sim_params sp;
    ct_sim_params_default(&sp);
    sp.out_dir = dir;
    sp.subscribers = cy->subscribers;
    sp.days = cy->days;
    sp.seed = cy->seed;
    sp.cases = cy->cases;
    sp.area_km2 = cy->area_km2;
    sp.precise_share = cy->precise_share;
    sp.dirty_rate = cy->dirty_rate;
    sp.compress = cy->compress;
    ct_sim_result res;
    memset(&res, 0, sizeof res);
    ct_err err;
    memset(&err, 0, sizeof err);
    ct_code rc = ct_simulate(&sp, NULL, NULL, &res, &err);
    if (rc != CT_OK)
        fail_msg("ct_simulate seed %" PRIu64 ": %s: %s", cy->seed, ct_code_name(rc), err.msg);
    assert_true(res.bad_total > 0);
    assert_true(res.point_events > 0);
    assert_true(res.duplicates > 0);
    double t_sim = now_s();

    /* the engine, through the public API */
    assert_int_equal(ct_init(data, &err), CT_OK);
    ct_db *db = NULL;
    rc = ct_open(data, 1, &db, &err);
    if (rc != CT_OK)
        fail_msg("ct_open: %s", err.msg);
    ct_set_actor(db, "test_sim_reference", "engine against the reference on a simulated city");
    ref_input in;
    memset(&in, 0, sizeof in);
    for (unsigned o = 0; o < res.operators; o++) {
        const ct_sim_op_counts *oc = &res.op[o];
        ct_import_opts opts;
        memset(&opts, 0, sizeof opts);
        ct_import_summary sum;
        memset(&sum, 0, sizeof sum);
        snprintf(path, sizeof path, "%s/%s/cells.csv", dir, oc->id);
        snprintf(rej, sizeof rej, "%s/rejects-cells-%s.csv", root, oc->id);
        opts.rejects_path = rej;
        rc = ct_cells_import(db, oc->id, path, &opts, &sum, &err);
        if (rc != CT_OK)
            fail_msg("ct_cells_import %s: %s", oc->id, err.msg);
        assert_int_equal(sum.rejected, 0);
        assert_int_equal(sum.stored, oc->cells);

        snprintf(rej, sizeof rej, "%s/rejects-%s.csv", root, oc->id);
        ct_ingest *ing = NULL;
        rc = ct_ingest_begin(db, oc->id, &opts, &ing, &err);
        if (rc != CT_OK)
            fail_msg("ct_ingest_begin %s: %s", oc->id, err.msg);
        char edir[1300];
        snprintf(edir, sizeof edir, "%s/%s/events", dir, oc->id);
        size_t nf;
        char **names = list_dir(edir, &nf);
        assert_int_equal(nf, oc->files);
        for (size_t i = 0; i < nf; i++) {
            snprintf(path, sizeof path, "%s/%s", edir, names[i]);
            rc = ct_ingest_file(ing, path, &err);
            if (rc != CT_OK)
                fail_msg("ct_ingest_file %s: %s", path, err.msg);
        }
        memset(&sum, 0, sizeof sum);
        rc = ct_ingest_commit(ing, &sum, &err);
        if (rc != CT_OK)
            fail_msg("ct_ingest_commit %s: %s", oc->id, err.msg);
        if (sum.stored != oc->events || sum.duplicates != oc->duplicates ||
            sum.rejected != bad_sum(oc) || sum.rows_read != oc->rows)
            fail_msg("seed %" PRIu64 " operator %s: ingest read %" PRIu64 " rows, stored %" PRIu64
                     ", %" PRIu64 " duplicates, %" PRIu64 " rejected; the simulator wrote %" PRIu64
                     " rows: %" PRIu64 " events, %" PRIu64 " duplicates, %" PRIu64 " bad",
                     cy->seed, oc->id, sum.rows_read, sum.stored, sum.duplicates, sum.rejected,
                     oc->rows, oc->events, oc->duplicates, bad_sum(oc));

        /* the reference's input: the same files, read here */
        size_t first_cell = in.ncells;
        snprintf(path, sizeof path, "%s/%s/cells.csv", dir, oc->id);
        assert_int_equal(read_cells(path, oc->id, &in), oc->cells);
        size_t ncat = in.ncells - first_cell;
        idx_cell *cat = xrealloc(NULL, ncat * sizeof *cat);
        for (size_t i = 0; i < ncat; i++)
            cat[i].id = in.cells[first_cell + i].id;
        qsort(cat, ncat, sizeof *cat, cmp_idx);
        uint64_t rows = 0, rejected = 0;
        size_t ev_before = in.nev;
        for (size_t i = 0; i < nf; i++) {
            snprintf(path, sizeof path, "%s/%s", edir, names[i]);
            read_feed(path, oc->id, cat, ncat, &in, &rows, &rejected);
        }
        /* pointers into in.cells: in.cells is not grown again until the
         * next operator, after cat is freed */
        free(cat);
        free_names(names, nf);
        assert_int_equal(rows, oc->rows);
        assert_int_equal(rejected, bad_sum(oc));
        assert_int_equal(in.nev - ev_before, oc->events + oc->duplicates);
    }

    ct_import_opts copts;
    memset(&copts, 0, sizeof copts);
    snprintf(rej, sizeof rej, "%s/rejects-cases.csv", root);
    copts.rejects_path = rej;
    ct_import_summary csum;
    memset(&csum, 0, sizeof csum);
    snprintf(path, sizeof path, "%s/cases.csv", dir);
    rc = ct_cases_import(db, path, &copts, &csum, &err);
    if (rc != CT_OK)
        fail_msg("ct_cases_import: %s", err.msg);
    assert_int_equal(csum.rejected, 0);
    assert_int_equal(csum.stored, res.cases);
    static case_def cases[MAX_CASES];
    size_t ncases = read_cases(path, cases);
    assert_int_equal(ncases, res.cases);
    assert_true(ncases >= 2);

    ref_store st;
    assert_int_equal(ref_prepare(in.cells, in.ncells, in.ev, in.nev, &st), 0);
    uint64_t distinct = 0;
    for (unsigned o = 0; o < res.operators; o++)
        distinct += res.op[o].events;
    assert_int_equal(st.n, distinct);
    double t_ingest = now_s();

    /* every case, every parameter set */
    size_t mism = 0, contacts = 0;
    for (size_t c = 0; c < ncases; c++) {
        for (size_t p = 0; p < NPARAMS; p++) {
            ct_params q = to_ct(&PARAMS[p]);
            if (p == 0) {
                ct_params d;
                ct_params_default(&d);
                assert_memory_equal(&d, &q, sizeof d);
            }
            assert_int_equal(ct_params_check(&q, &err), CT_OK);
            ct_contacts *en = NULL;
            rc = ct_trace(db, cases[c].id, &q, &en, &err);
            if (rc != CT_OK)
                fail_msg("ct_trace %s: %s: %s", cases[c].id, ct_code_name(rc), err.msg);
            ref_result rr;
            assert_int_equal(ref_trace(&st, &cases[c].rc, &PARAMS[p], AMBIGUITY_M, &rr), 0);
            tot->traces++;
            int same = strcmp(en->case_id, cases[c].id) == 0 && en->n == rr.n;
            for (size_t i = 0; same && i < rr.n; i++)
                same = contact_eq(&rr.items[i], &en->items[i]);
            if (!same && rr.ambiguous > 0) {
                tot->ambiguous++;
                fprintf(stderr,
                        "sim_reference: seed %" PRIu64 " case %s params %zu differ, but %zu "
                        "pairs lie within 1 mm of the threshold: not counted\n",
                        cy->seed, cases[c].id, p, rr.ambiguous);
            } else {
                tot->compared++;
                contacts += rr.n;
                if (!same) {
                    mism++;
                    report_mismatch(cy, &cases[c], &PARAMS[p], &rr, en,
                                    tot->mismatches + mism <= 3);
                }
            }
            ref_result_free(&rr);
            ct_contacts_free(en);
        }
    }
    double t_trace = now_s();
    tot->mismatches += mism;
    tot->contacts += contacts;
    fprintf(stderr,
            "sim_reference: seed %" PRIu64 ", %" PRIu64 " subscribers, %u days: %" PRIu64
            " events, %" PRIu64 " point, %" PRIu64 " duplicates, %" PRIu64
            " bad; %zu cases x %zu params, %zu contacts, %zu mismatches; "
            "simulate %.2f s, ingest+read %.2f s, traces %.2f s\n",
            cy->seed, cy->subscribers, cy->days, res.events, res.point_events, res.duplicates,
            res.bad_total, ncases, (size_t)NPARAMS, contacts, mism, t_sim - t0, t_ingest - t_sim,
            t_trace - t_ingest);

    ref_store_free(&st);
    free(in.cells);
    free(in.ev);
    ct_close(db);
    const char *keep = getenv("CT_SIMREF_KEEP");
    if (mism == 0 && !(keep && *keep == '1'))
        tu_rmtree(root);
    else
        fprintf(stderr, "sim_reference: kept %s\n", root);
    free(root);
}

static void test_sim_reference(void **state)
{
    (void)state;
    totals tot;
    memset(&tot, 0, sizeof tot);
    const char *s = getenv("CT_SIMREF_SEED");
    for (size_t i = 0; i < NCITIES; i++) {
        city cy = CITIES[i];
        if (s && *s)
            cy.seed = strtoull(s, NULL, 0) + i;
        run_city(&cy, &tot);
    }
    fprintf(stderr,
            "sim_reference: %zu traces, %zu compared (%zu ambiguous and different, not counted), "
            "%zu contacts, "
            "%zu mismatches\n",
            tot.traces, tot.compared, tot.ambiguous, tot.contacts, tot.mismatches);
    assert_int_equal(tot.mismatches, 0);
    /* the comparison must not be empty, nor mostly skipped */
    assert_true(tot.compared * 4 >= tot.traces * 3);
    assert_true(tot.contacts > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
