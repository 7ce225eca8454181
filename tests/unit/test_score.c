/*
 * test_score.c — the risk model's evidence against a brute-force
 * reference (tests/support/ref_score.c), on random small cities.
 *
 * Each round writes a random city (1-2 operators, overlapping cells of
 * 30-900 m, GPS fixes of 1-80 m, 6-18 subscribers over three days, some
 * of them moving together a few seconds apart, events at the same second)
 * as CSV, loads it through the public API and scores every case with
 * ct_trace_scored under random SPEC 4 parameters and time zones. For
 * every contact the engine's expected_near_s, shares, days, places,
 * shared moves, episodes and kinds must equal the reference's (the
 * probabilities to 1e-7 relative: the two integrate differently), its
 * SPEC 4 fields exactly, its p_contact must be the model applied to the
 * reference's evidence, and the order must be p_contact, exposure,
 * number. Ambiguous rounds (a distance within 1e-6 m of a threshold) are
 * skipped and counted.
 *
 * Environment: CT_SCORE_SEED, CT_SCORE_ROUNDS (default 40), CT_TEST_TMP.
 * A failure prints the seed to rerun it alone.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "celltrace.h"
#include "reference.c"
#include "ref_score.c"
#include "risk.h"
#include "score.h"

#define MAX_OPS 2
#define MAX_CELLS 12
#define MAX_SUBS 18
#define MAX_EVENTS 6000

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static int64_t between(rng *r, int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(next_u64(r) % (uint64_t)(hi - lo + 1));
}

typedef struct city {
    int n_ops, n_cells[MAX_OPS], n_subs, n_events, n_cases;
    ref_cell cells[MAX_OPS][MAX_CELLS];
    ref_event ev[MAX_EVENTS];
    ref_case cases[3];
    ref_params params;
    ref_score_params sp;
    const char *zone;
} city;

static const char *const OPS[MAX_OPS] = {"250-01", "250-02"};
static const int64_t BASE_LAT = 557500000, BASE_LON = 376200000; /* 1e-7 degrees */
static const int64_t T0 = 1583020800;                            /* 2020-03-01T00:00:00Z */

static void make_cells(rng *r, city *c)
{
    c->n_ops = (int)between(r, 1, MAX_OPS);
    for (int o = 0; o < c->n_ops; o++) {
        c->n_cells[o] = (int)between(r, 2, MAX_CELLS);
        for (int k = 0; k < c->n_cells[o]; k++) {
            ref_cell *cell = &c->cells[o][k];
            snprintf(cell->op, sizeof cell->op, "%s", OPS[o]);
            snprintf(cell->id, sizeof cell->id, "C%d", k);
            if (k > 0 && between(r, 0, 5) == 0) { /* a second sector at the same centre */
                cell->lat = c->cells[o][k - 1].lat;
                cell->lon = c->cells[o][k - 1].lon;
            } else {
                cell->lat = (double)(BASE_LAT + between(r, -15000, 15000)) / 1e7;
                cell->lon = (double)(BASE_LON + between(r, -25000, 25000)) / 1e7;
            }
            cell->radius_m = (double)between(r, 3000, 90000) / 100.0;
        }
    }
}

static void add_event(city *c, const char *msisdn, int op, int64_t ts, const ref_cell *cell,
                      const double *point)
{
    if (c->n_events >= MAX_EVENTS)
        return;
    ref_event *e = &c->ev[c->n_events++];
    memset(e, 0, sizeof *e);
    snprintf(e->msisdn, sizeof e->msisdn, "%s", msisdn);
    snprintf(e->op, sizeof e->op, "%s", OPS[op]);
    e->ts = ts;
    if (cell) {
        e->is_cell = 1;
        memcpy(e->cell, cell->id, sizeof e->cell);
    } else {
        e->lat = point[0];
        e->lon = point[1];
        e->acc = point[2];
    }
}

/* One subscriber's three days: mostly its home cell, sometimes another
 * cell or a GPS fix near a cell, at gaps from seconds to hours. */
static void make_life(rng *r, city *c, int s, int op, int precise)
{
    char msisdn[16];
    snprintf(msisdn, sizeof msisdn, "7900000%04d", s % 10000);
    int home = (int)between(r, 0, c->n_cells[op] - 1);
    for (int64_t t = T0 + between(r, 0, 7200); t < T0 + 3 * 86400;) {
        int k = between(r, 0, 9) < 6 ? home : (int)between(r, 0, c->n_cells[op] - 1);
        const ref_cell *cell = &c->cells[op][k];
        if (precise && between(r, 0, 2) == 0) {
            double pt[3] = {(double)((int64_t)(cell->lat * 1e7) + between(r, -3000, 3000)) / 1e7,
                            (double)((int64_t)(cell->lon * 1e7) + between(r, -5000, 5000)) / 1e7,
                            (double)between(r, 100, 8000) / 100.0};
            add_event(c, msisdn, op, t, NULL, pt);
        } else {
            add_event(c, msisdn, op, t, cell, NULL);
        }
        int64_t kind = between(r, 0, 9);
        t += kind < 2 ? between(r, 0, 59) : kind < 6 ? between(r, 60, 900) : between(r, 900, 7200);
    }
}

/* Subscriber `b` copies a stretch of `a`'s events a few seconds later: a
 * pair that moves together. */
static void make_companion(rng *r, city *c, int a, int b)
{
    char ma[16], mb[16];
    snprintf(ma, sizeof ma, "7900000%04d", a % 10000);
    snprintf(mb, sizeof mb, "7900000%04d", b % 10000);
    int64_t from = T0 + between(r, 0, 2 * 86400), to = from + between(r, 3600, 20000);
    int n = c->n_events;
    for (int i = 0; i < n; i++) {
        const ref_event *e = &c->ev[i];
        if (strcmp(e->msisdn, ma) || e->ts < from || e->ts >= to)
            continue;
        ref_event copy = *e;
        snprintf(copy.msisdn, sizeof copy.msisdn, "%s", mb);
        copy.ts += between(r, 0, 40);
        if (c->n_events < MAX_EVENTS)
            c->ev[c->n_events++] = copy;
    }
}

static void make_city(uint64_t seed, city *c)
{
    rng r = {seed};
    memset(c, 0, sizeof *c);
    make_cells(&r, c);
    c->n_subs = (int)between(&r, 6, MAX_SUBS);
    for (int s = 0; s < c->n_subs; s++)
        make_life(&r, c, s, (int)between(&r, 0, c->n_ops - 1), between(&r, 0, 2) == 0);
    for (int k = (int)between(&r, 0, 3); k > 0; k--) {
        int a = (int)between(&r, 0, c->n_subs - 1), b = (int)between(&r, 0, c->n_subs - 1);
        if (a != b)
            make_companion(&r, c, a, b);
    }
    c->n_cases = (int)between(&r, 1, 3);
    for (int k = 0; k < c->n_cases; k++) {
        ref_case *cs = &c->cases[k];
        snprintf(cs->msisdn, sizeof cs->msisdn, "7900000%04d", (int)between(&r, 0, c->n_subs - 1) % 10000);
        cs->onset = T0 + between(&r, 0, 2 * 86400);
        cs->has_isolated = between(&r, 0, 1);
        cs->isolated = cs->onset + between(&r, 3600, 86400);
    }
    static const int64_t PRESENCE[] = {600, 1800, 3600, 7200};
    static const double DIST[] = {0, 1, 2, 10, 50};
    static const int64_t EXPO[] = {0, 300, 900, 3600};
    c->params.max_presence_s = PRESENCE[between(&r, 0, 3)];
    c->params.distance_m = DIST[between(&r, 0, 4)];
    c->params.min_exposure_s = EXPO[between(&r, 0, 3)];
    c->params.before_s = between(&r, 0, 2) ? 172800 : between(&r, 0, 86400);
    c->params.after_s = between(&r, 3600, 864000);
    const ct_risk_model *m = ct_risk_model_builtin();
    c->sp.visit_gap_s = m->visit_gap_s;
    c->sp.comove_window_s = m->comove_window_s;
    c->zone = between(&r, 0, 1) ? "UTC" : "Europe/Moscow";
    c->sp.utc_offset_s = strcmp(c->zone, "UTC") ? 3 * 3600 : 0; /* Moscow in 2020 */
}

/* ---- writing and loading --------------------------------------------------------------- */

static void write_city(const char *dir, const city *c)
{
    char path[1024];
    for (int o = 0; o < c->n_ops; o++) {
        snprintf(path, sizeof path, "%s/cells-%d.csv", dir, o);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "cell_id,lat,lon,radius_m\n");
        for (int k = 0; k < c->n_cells[o]; k++)
            fprintf(f, "%s,%.7f,%.7f,%.2f\n", c->cells[o][k].id, c->cells[o][k].lat,
                    c->cells[o][k].lon, c->cells[o][k].radius_m);
        fclose(f);
        snprintf(path, sizeof path, "%s/events-%d.csv", dir, o);
        f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "msisdn,ts,cell_id,lat,lon,accuracy_m\n");
        for (int i = 0; i < c->n_events; i++) {
            const ref_event *e = &c->ev[i];
            if (strcmp(e->op, OPS[o]))
                continue;
            if (e->is_cell)
                fprintf(f, "%s,%lld,%s,,,\n", e->msisdn, (long long)e->ts, e->cell);
            else
                fprintf(f, "%s,%lld,,%.7f,%.7f,%.2f\n", e->msisdn, (long long)e->ts, e->lat,
                        e->lon, e->acc);
        }
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/cases.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "case_id,msisdn,onset,isolated\n");
    for (int k = 0; k < c->n_cases; k++) {
        fprintf(f, "K%d,%s,%lld,", k, c->cases[k].msisdn, (long long)c->cases[k].onset);
        if (c->cases[k].has_isolated)
            fprintf(f, "%lld", (long long)c->cases[k].isolated);
        fputc('\n', f);
    }
    fclose(f);
}

static ct_db *load_city(const char *dir, const city *c)
{
    char data[1024], path[1100];
    ct_err err;
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(ct_init(data, &err), CT_OK);
    ct_db *db = NULL;
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    ct_set_actor(db, "test_score", "risk evidence cross-check");
    ct_import_opts opts;
    memset(&opts, 0, sizeof opts);
    snprintf(path, sizeof path, "%s/rejects.csv", dir);
    opts.rejects_path = path;
    for (int o = 0; o < c->n_ops; o++) {
        char file[1100];
        ct_import_summary sum;
        snprintf(file, sizeof file, "%s/cells-%d.csv", dir, o);
        assert_int_equal(ct_cells_import(db, OPS[o], file, &opts, &sum, &err), CT_OK);
        assert_int_equal(sum.rejected, 0);
        ct_ingest *in = NULL;
        snprintf(file, sizeof file, "%s/events-%d.csv", dir, o);
        assert_int_equal(ct_ingest_begin(db, OPS[o], &opts, &in, &err), CT_OK);
        assert_int_equal(ct_ingest_file(in, file, &err), CT_OK);
        assert_int_equal(ct_ingest_commit(in, &sum, &err), CT_OK);
        assert_int_equal(sum.rejected, 0);
    }
    char cases[1100];
    ct_import_summary sum;
    snprintf(cases, sizeof cases, "%s/cases.csv", dir);
    assert_int_equal(ct_cases_import(db, cases, &opts, &sum, &err), CT_OK);
    return db;
}

/* ---- the comparison ----------------------------------------------------------------------- */

static int close_rel(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-12;
}

static const ref_evidence *find_ref(const ref_score_result *r, const char *msisdn)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->items[i].msisdn, msisdn))
            return &r->items[i];
    return NULL;
}

/* The p_contact the model gives the reference's evidence. */
static double model_p(const ref_evidence *e)
{
    ct__evidence ev;
    memset(&ev, 0, sizeof ev);
    ev.exposure_s = e->exposure_s;
    ev.near_s = e->near_s;
    ev.night_s = e->night_s;
    ev.share_sum = e->share_sum;
    ev.share_max = e->share_max;
    ev.comove = e->comove;
    ev.comove_n = e->comove_n;
    ev.episodes = e->episodes;
    ev.days = e->days;
    ev.places = e->places;
    ev.kinds = e->kinds;
    const ct_risk_model *m = ct_risk_model_builtin();
    return ct__risk_round(ct__risk_probability(m, ct__risk_log_odds(m, &ev)));
}

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "test_score seed %llu case K%d %s: ", (unsigned long long)seed, k, \
                    c->items[i].msisdn);                                                   \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            bad++;                                                                         \
        }                                                                                  \
    } while (0)

static int compare(uint64_t seed, int k, const ct_contacts *c, const ref_score_result *r,
                   const ref_params *p)
{
    int bad = 0;
    size_t ref_contacts = 0;
    for (size_t j = 0; j < r->n; j++)
        ref_contacts += r->items[j].exposure_s > 0 && r->items[j].exposure_s >= p->min_exposure_s;
    if (ref_contacts != c->n) {
        fprintf(stderr, "test_score seed %llu case K%d: %zu contacts, reference %zu\n",
                (unsigned long long)seed, k, c->n, ref_contacts);
        return 1;
    }
    for (size_t i = 0; i < c->n; i++) {
        const ct_contact *x = &c->items[i];
        const ct_evidence *e = &c->evidence[i];
        const ref_evidence *f = find_ref(r, x->msisdn);
        CHECK(f != NULL, "not in the reference");
        if (!f)
            continue;
        CHECK(x->exposure_s == f->exposure_s, "exposure %lld, reference %lld",
              (long long)x->exposure_s, (long long)f->exposure_s);
        CHECK(x->first_contact == f->first && x->last_contact == f->last, "first/last differ");
        CHECK(x->min_radius_m == f->min_radius, "min radius %.17g vs %.17g", x->min_radius_m,
              f->min_radius);
        CHECK(close_rel(x->expected_near_s, f->near_s, 1e-7), "near %.12g vs %.12g",
              x->expected_near_s, f->near_s);
        CHECK(e->night_s == f->night_s, "night %lld vs %lld", (long long)e->night_s,
              (long long)f->night_s);
        CHECK(close_rel(e->share_sum, f->share_sum, 1e-7), "share_sum %.12g vs %.12g",
              e->share_sum, f->share_sum);
        CHECK(close_rel(e->share_max, f->share_max, 1e-7), "share_max %.12g vs %.12g",
              e->share_max, f->share_max);
        CHECK(e->episodes == f->episodes, "episodes %u vs %u", e->episodes, f->episodes);
        CHECK(e->days == f->days, "days %u vs %u", e->days, f->days);
        CHECK(e->places == f->places, "places %u vs %u", e->places, f->places);
        CHECK(e->comove_n == f->comove_n, "moves %u vs %u", e->comove_n, f->comove_n);
        CHECK(close_rel(e->comove, f->comove, 1e-12), "comove %.12g vs %.12g", e->comove,
              f->comove);
        CHECK(x->evidence == f->kinds, "kinds %u vs %u", x->evidence, f->kinds);
        double want = model_p(f);
        CHECK(close_rel(x->p_contact, want, 2e-4), "p %.6g, model on the reference %.6g",
              x->p_contact, want);
        if (i > 0) {
            const ct_contact *y = &c->items[i - 1];
            int ordered = y->p_contact > x->p_contact ||
                          (y->p_contact == x->p_contact &&
                           (y->exposure_s > x->exposure_s ||
                            (y->exposure_s == x->exposure_s && strcmp(y->msisdn, x->msisdn) < 0)));
            CHECK(ordered, "out of order after %s", y->msisdn);
        }
    }
    return bad;
}

typedef struct totals {
    int rounds, traces, skipped, contacts, failures;
} totals;

/* ct_run's trace (without_numbers): the same contacts, scores and
 * levels, with no number read. Returns the differences. */
static int same_without_numbers(ct_db *db, const char *id, const ct_params *p,
                                const ct_risk_opts *risk, const ct_contacts *with)
{
    ct_risk_opts bare = *risk;
    bare.without_numbers = 1;
    ct_contacts *cs = NULL;
    ct_err err;
    assert_int_equal(ct_trace_scored(db, id, p, &bare, &cs, &err), CT_OK);
    int diff = cs->n != with->n;
    for (size_t i = 0; !diff && i < cs->n; i++) {
        const ct_contact *a = &cs->items[i];
        int found = 0;
        for (size_t j = 0; j < with->n && !found; j++) {
            const ct_contact *b = &with->items[j];
            found = a->subscriber == b->subscriber && a->exposure_s == b->exposure_s &&
                    a->first_contact == b->first_contact && a->last_contact == b->last_contact &&
                    a->p_contact == b->p_contact && a->expected_near_s == b->expected_near_s &&
                    a->level == b->level;
        }
        diff = !found || a->msisdn[0] != '\0';
    }
    if (diff)
        fprintf(stderr, "test_score: case %s differs when traced without numbers\n", id);
    ct_contacts_free(cs);
    return diff;
}

static void run_round(uint64_t seed, totals *tot)
{
    static city c; /* large: not on the stack */
    make_city(seed, &c);
    const char *tmp = getenv("CT_TEST_TMP") ? getenv("CT_TEST_TMP") : "/tmp";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/score-%d-%llu", tmp, (int)getpid(), (unsigned long long)seed);
    mkdir(tmp, 0700);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_city(dir, &c);
    ct_db *db = load_city(dir, &c);
    ref_cell cells[MAX_OPS * MAX_CELLS];
    size_t ncells = 0;
    for (int o = 0; o < c.n_ops; o++)
        for (int k = 0; k < c.n_cells[o]; k++)
            cells[ncells++] = c.cells[o][k];
    ref_store store;
    assert_int_equal(ref_prepare(cells, ncells, c.ev, (size_t)c.n_events, &store), 0);
    ct_params p = {c.params.max_presence_s, c.params.distance_m, c.params.min_exposure_s,
                   c.params.before_s, c.params.after_s};
    ct_risk_opts risk;
    ct_risk_opts_default(&risk);
    risk.timezone = c.zone;
    for (int k = 0; k < c.n_cases; k++) {
        char id[16];
        snprintf(id, sizeof id, "K%d", k);
        ct_contacts *cs = NULL;
        ct_err err;
        assert_int_equal(ct_trace_scored(db, id, &p, &risk, &cs, &err), CT_OK);
        tot->failures += same_without_numbers(db, id, &p, &risk, cs);
        ref_score_result r;
        assert_int_equal(ref_score(&store, &c.cases[k], &c.params, &c.sp, &r), 0);
        tot->traces++;
        if (r.ambiguous)
            tot->skipped++;
        else {
            tot->contacts += (int)cs->n;
            tot->failures += compare(seed, k, cs, &r, &c.params);
        }
        ref_score_result_free(&r);
        ct_contacts_free(cs);
    }
    ref_store_free(&store);
    ct_close(db);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!tot->failures && system(cmd) != 0)
        fprintf(stderr, "test_score: could not remove %s\n", dir);
    tot->rounds++;
}

static void test_score_random(void **state)
{
    (void)state;
    uint64_t seed = getenv("CT_SCORE_SEED") ? strtoull(getenv("CT_SCORE_SEED"), NULL, 10) : 20261130;
    int rounds = getenv("CT_SCORE_ROUNDS") ? atoi(getenv("CT_SCORE_ROUNDS")) : 40;
    totals tot = {0, 0, 0, 0, 0};
    for (int i = 0; i < rounds && !tot.failures; i++)
        run_round(seed + (uint64_t)i, &tot);
    fprintf(stderr, "test_score: %d rounds, %d traces (%d skipped as ambiguous), %d contacts "
                    "compared, %d differences\n",
            tot.rounds, tot.traces, tot.skipped, tot.contacts, tot.failures);
    assert_int_equal(tot.failures, 0);
    assert_true(tot.contacts > 50); /* the cities must produce contacts to compare */
    assert_true(tot.skipped * 4 < tot.traces + 4);
}

/* The trace sums a subscriber's consecutive overlaps with a visit into
 * one part before the scorer's table sees them (ct__episode_part), and
 * a scan holds several visits open at once, closing them as the days
 * pass. The evidence must have the same bits as when every overlap is a
 * part of its own and visits are filled and closed one by one, for any
 * grouping and interleaving: overlaps of random lengths, near
 * probabilities with all 53 bits, across local midnights, in three
 * visits of five intervals. */
typedef struct test_overlap {
    uint32_t sub, iv, kind;
    int64_t start, end;
    double radius, near_p;
} test_overlap;

static void parts_add_up_exactly(void **state)
{
    (void)state;
    enum { N_IVS = 5, N_SUBS = 3000, PER_VISIT = 8000 };
    /* overlaps per visit: the open table grows after visit 0 is closed */
    const int n_ov[3] = {1000, 2000, PER_VISIT};
    /* three visits: {0, 1} and {2, 3}, each two intervals at one place
     * back to back, and {4}; two days apart */
    ct__case_interval ivs[N_IVS];
    for (int i = 0; i < N_IVS; i++) {
        int64_t start = T0 + (i / 2) * 2 * 86400 + (i % 2) * 3 * 3600;
        ivs[i] = (ct__case_interval){.start = start, .end = start + 3 * 3600,
                                     .lat = 55.75 + (i / 2) * 0.1, .lon = 37.62, .radius = 300,
                                     .loc = (uint32_t)i, .op = 0};
    }
    ct__score_params sp = {.visit_gap_s = 1800, .comove_window_s = 60, .min_exposure_s = 900,
                           .distance_m = 2.0, .utc_offset_s = 3 * 3600};
    ct__scorer *one = ct__scorer_new(&sp, ivs, N_IVS, T0 - 86400);
    ct__scorer *summed = ct__scorer_new(&sp, ivs, N_IVS, T0 - 86400);
    uint32_t n_visits;
    ct__scorer_visits(one, &n_visits);
    assert_int_equal(n_visits, 3);
    static test_overlap ov[3][PER_VISIT];
    rng r = {UINT64_C(20261202)};
    const uint32_t iv_of_visit[3][2] = {{0, 1}, {2, 3}, {4, 4}};
    for (uint32_t v = 0; v < 3; v++) {
        uint32_t sub = 0;
        for (int k = 0; k < n_ov[v]; k++) {
            if (k == 0 || between(&r, 0, 3) == 0) /* runs of a few overlaps per subscriber */
                sub = (uint32_t)between(&r, 0, N_SUBS - 1);
            test_overlap *o = &ov[v][k];
            o->sub = sub;
            o->iv = iv_of_visit[v][between(&r, 0, 1)];
            o->start = between(&r, ivs[o->iv].start, ivs[o->iv].end - 1);
            o->end = o->start + between(&r, 1, ivs[o->iv].end - o->start);
            o->radius = (double)between(&r, 10, 3000) / 7.0;
            o->near_p = (double)(next_u64(&r) >> 11) / 9007199254740992.0; /* 53 bits */
            o->kind = 1u << between(&r, 0, 2);
        }
    }
    /* one: every overlap alone, visit after visit, each closed when done */
    for (uint32_t v = 0; v < 3; v++) {
        for (int k = 0; k < n_ov[v]; k++) {
            const test_overlap *o = &ov[v][k];
            ct__episode_part alone;
            ct__episode_part_start(&alone, o->start, o->end, o->radius);
            ct__scorer_part_note(one, &alone, o->start, o->end, o->near_p, o->kind);
            ct__scorer_add_part(one, o->sub, o->iv, &alone);
        }
        ct__scorer_close_visits(one, v + 1);
    }
    /* summed: visits interleaved in stretches of up to 9 overlaps,
     * consecutive ones of a subscriber and visit summed; first visit 0
     * with the first half of visit 1, then visit 0 is closed while 1
     * stays open, then the rest of 1 with visit 2 */
    int taken[3] = {0, 0, 0};
    ct__episode_part part;
    uint32_t part_sub = UINT32_MAX, part_iv = 0;
    const int upto[2][3] = {{n_ov[0], n_ov[1] / 2, 0}, {n_ov[0], n_ov[1], n_ov[2]}};
    for (int phase = 0; phase < 2; phase++) {
        while (taken[0] + taken[1] + taken[2] < upto[phase][0] + upto[phase][1] + upto[phase][2]) {
            uint32_t v = (uint32_t)between(&r, 0, 2);
            for (int stretch = (int)between(&r, 1, 9); stretch > 0 && taken[v] < upto[phase][v]; stretch--) {
                const test_overlap *o = &ov[v][taken[v]++];
                if (o->sub != part_sub || ivs[o->iv].visit != ivs[part_iv].visit) {
                    if (part_sub != UINT32_MAX)
                        ct__scorer_add_part(summed, part_sub, part_iv, &part);
                    part_sub = o->sub;
                    part_iv = o->iv;
                    ct__episode_part_start(&part, o->start, o->end, o->radius);
                } else {
                    ct__episode_part_grow(&part, o->start, o->end, o->radius);
                }
                ct__scorer_part_note(summed, &part, o->start, o->end, o->near_p, o->kind);
            }
        }
        ct__scorer_add_part(summed, part_sub, part_iv, &part);
        part_sub = UINT32_MAX;
        ct__scorer_close_visits(summed, phase == 0 ? 1 : 3);
    }
    size_t n_one, n_summed;
    ct__evidence *a = ct__scorer_finish(one, &n_one);
    ct__evidence *b = ct__scorer_finish(summed, &n_summed);
    assert_true(n_one > N_SUBS / 2);
    assert_int_equal(n_summed, n_one);
    int64_t night = 0;
    for (size_t i = 0; i < n_one; i++) { /* every field, doubles bit for bit */
        assert_int_equal(a[i].sub, b[i].sub);
        assert_int_equal(a[i].exposure_s, b[i].exposure_s);
        assert_int_equal(a[i].first, b[i].first);
        assert_int_equal(a[i].last, b[i].last);
        assert_int_equal(a[i].night_s, b[i].night_s);
        assert_int_equal(a[i].comove_n, b[i].comove_n);
        assert_int_equal(a[i].episodes, b[i].episodes);
        assert_int_equal(a[i].days, b[i].days);
        assert_int_equal(a[i].places, b[i].places);
        assert_int_equal(a[i].kinds, b[i].kinds);
        const double *da[] = {&a[i].min_radius, &a[i].near_s, &a[i].share_sum, &a[i].share_max,
                              &a[i].comove};
        const double *db[] = {&b[i].min_radius, &b[i].near_s, &b[i].share_sum, &b[i].share_max,
                              &b[i].comove};
        for (size_t f = 0; f < sizeof da / sizeof da[0]; f++)
            assert_memory_equal(da[f], db[f], sizeof *da[f]);
        night += a[i].night_s;
    }
    assert_true(night > 0); /* 00:00-06:00 local (UTC+3) is in the first intervals */
    uint32_t nv;
    const ct__visit *va = ct__scorer_visits(one, &nv), *vb = ct__scorer_visits(summed, &nv);
    for (uint32_t v = 0; v < nv; v++) {
        assert_int_equal(va[v].subscribers, vb[v].subscribers);
        assert_memory_equal(&va[v].near_total, &vb[v].near_total, sizeof va[v].near_total);
    }
    free(a);
    free(b);
    ct__scorer_free(one);
    ct__scorer_free(summed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_score_random),
                                       cmocka_unit_test(parts_add_up_exactly)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
