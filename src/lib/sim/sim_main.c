/*
 * sim_main.c — ct_simulate: parameters, the day loop, cases and manifest.
 *
 * Order of work: check parameters and the output directory; build the
 * world and each operator's network; write the catalogues and cases.csv;
 * then for each day build every person's segments (one day in memory:
 * memory is bounded by the population, not by the number of days), add
 * the day to the truth, and write the day's events; finally truth.csv
 * and manifest.json. Every output is a pure function of the parameters
 * (the manifest holds no clock time), so same seed, same bytes.
 */
#include "celltrace_sim.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "error.h"
#include "textparse.h"
#include "sim_cells.h"
#include "sim_events.h"
#include "sim_out.h"
#include "sim_sched.h"
#include "sim_truth.h"
#include "sim_venues.h"
#include "sim_world.h"

#define DAY 86400
#define PATH_CAP 1400

static const char *const BAD_NAMES[CT_SIM_BAD_KINDS] = {
    "bad_msisdn", "bad_time", "unknown_cell", "coordinates_out_of_range", "missing_field"};

const char *ct_sim_bad_name(int kind)
{
    return kind >= 0 && kind < CT_SIM_BAD_KINDS ? BAD_NAMES[kind] : "unknown";
}

void ct_sim_params_default(ct_sim_params *p)
{
    memset(p, 0, sizeof *p);
    p->subscribers = 10000;
    p->days = 14;
    p->seed = 1;
    p->start = 1585526400; /* 2020-03-30, a Monday */
    p->density = 5000;
    p->operators = 3;
    p->cases = 5;
    p->isolated_share = 0.6;
    p->precise_share = 0.2;
    p->dirty_rate = 0.001;
    p->duplicate_rate = 0.002;
    p->late_rate = 0.01;
    p->roaming_rate = 0.01;
    p->compress = CT_SIM_COMPRESS_NONE;
    p->contact_distance_m = 2;
    p->min_exposure_s = 900;
    p->infectious_before_s = 172800;
    p->infectious_after_s = 864000;
}

static int share_ok(double v)
{
    return v >= 0 && v <= 1;
}

ct_code ct_sim_params_check(const ct_sim_params *p, ct_err *err)
{
    if (!p->out_dir || !*p->out_dir)
        return ct__fail(err, CT_EINVAL, "no output directory given");
    if (p->subscribers < 1 || p->subscribers > CT_SIM_MAX_SUBSCRIBERS)
        return ct__fail(err, CT_EINVAL, "subscribers must be 1 to %u", CT_SIM_MAX_SUBSCRIBERS);
    if (p->days < 1 || p->days > CT_SIM_MAX_DAYS)
        return ct__fail(err, CT_EINVAL, "days must be 1 to %u", CT_SIM_MAX_DAYS);
    if (p->start < 0 || p->start % DAY || p->start > 253402300799LL - (int64_t)p->days * DAY)
        return ct__fail(err, CT_EINVAL, "start must be a date (00:00 UTC) from 1970 on");
    if (!(p->area_km2 >= 0 && p->area_km2 <= 1e5) || (p->area_km2 == 0 &&
                                                      !(p->density >= 1 && p->density <= 1e6)))
        return ct__fail(err, CT_EINVAL, "area must be 0 to 100000 km2, density 1 to 1e6 per km2");
    if (p->operators < 1 || p->operators > CT_SIM_MAX_OPERATORS)
        return ct__fail(err, CT_EINVAL, "operators must be 1 to %d", CT_SIM_MAX_OPERATORS);
    if (p->cases > p->subscribers || p->cases > 100000)
        return ct__fail(err, CT_EINVAL, "cases must be at most the subscribers (and 100000)");
    if (p->office_cluster > p->cases)
        return ct__fail(err, CT_EINVAL, "an office cluster cannot have more members than cases");
    if (!share_ok(p->isolated_share) || !share_ok(p->precise_share) ||
        !share_ok(p->roaming_rate) || !share_ok(p->late_rate))
        return ct__fail(err, CT_EINVAL, "shares and rates must be between 0 and 1");
    if (!(p->dirty_rate >= 0 && p->dirty_rate <= 0.5) ||
        !(p->duplicate_rate >= 0 && p->duplicate_rate <= 0.5))
        return ct__fail(err, CT_EINVAL, "dirty and duplicate rates must be between 0 and 0.5");
    if (!(p->contact_distance_m >= 0 && p->contact_distance_m <= 1000) ||
        p->min_exposure_s < 0 || p->infectious_before_s < 0 || p->infectious_after_s < 0)
        return ct__fail(err, CT_EINVAL, "contact parameters out of range");
    if ((unsigned)p->compress > CT_SIM_COMPRESS_ZST)
        return ct__fail(err, CT_EINVAL, "unknown compression");
    return CT_OK;
}

/* ---- directories ------------------------------------------------------------ */

static ct_code make_dir(const char *path, ct_err *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return ct__fail_errno(err, CT_EIO, errno, "cannot create %s", path);
    return CT_OK;
}

static ct_code check_empty(const char *dir, ct_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return ct__fail_errno(err, CT_EIO, errno, "cannot open %s", dir);
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    if (!empty)
        return ct__fail(err, CT_EEXIST, "%s is not empty: choose a new directory", dir);
    return CT_OK;
}

static ct_code prepare_dirs(const ct_sim_params *p, ct_err *err)
{
    char path[PATH_CAP];
    ct_code rc = make_dir(p->out_dir, err);
    if (rc || (rc = check_empty(p->out_dir, err)))
        return rc;
    for (unsigned op = 0; op < p->operators && !rc; op++) {
        snprintf(path, sizeof path, "%s/%s", p->out_dir, ct__sim_world_op_id(op));
        rc = make_dir(path, err);
        snprintf(path, sizeof path, "%s/%s/events", p->out_dir, ct__sim_world_op_id(op));
        rc = rc ? rc : make_dir(path, err);
    }
    return rc;
}

/* ---- cases.csv ------------------------------------------------------------------ */

static void fmt_when(int64_t t, int date_only, char *buf)
{
    int64_t y;
    unsigned m, d;
    ct__civil_from_days(t / DAY, &y, &m, &d);
    int64_t s = t % DAY;
    if (date_only)
        snprintf(buf, 32, "%04d-%02u-%02u", (int)y, m, d);
    else
        snprintf(buf, 32, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d, (int)(s / 3600),
                 (int)(s / 60 % 60), (int)(s % 60));
}

static ct_code write_cases(const sim_world *w, const char *path, ct_err *err)
{
    sim_out *o;
    ct_code rc = ct__sim_out_open(path, CT_SIM_COMPRESS_NONE, &o, err);
    if (rc)
        return rc;
    ct__sim_out_puts(o, "case_id,msisdn,onset,isolated,region\n");
    for (size_t k = 0; k < w->ncases; k++) {
        const sim_case *c = &w->cases[k];
        const sim_household *h = &w->hh[w->people[c->person].household];
        char onset[32], iso[32] = "", *b = ct__sim_out_reserve(o, 256);
        fmt_when(c->onset, c->onset_is_date, onset);
        if (c->has_isolated)
            fmt_when(c->isolated, 1, iso);
        int n = snprintf(b, 256, "%s,+%llu,%s,%s,%s\n", c->id,
                         (unsigned long long)w->people[c->person].msisdn, onset, iso,
                         hypot(h->pos.x, h->pos.y) <= w->r_city ? "RU-MOW" : "RU-MOS");
        ct__sim_out_commit(o, (size_t)n);
    }
    return ct__sim_out_close(o, NULL, err);
}

/* ---- manifest.json ---------------------------------------------------------------- */

static void json_counts(FILE *f, const ct_sim_op_counts *c, const char *ind)
{
    fprintf(f, "%s\"events\": %llu,\n%s\"point_events\": %llu,\n%s\"duplicates\": %llu,\n", ind,
            (unsigned long long)c->events, ind, (unsigned long long)c->point_events, ind,
            (unsigned long long)c->duplicates);
    fprintf(f, "%s\"bad_rows\": {", ind);
    for (int k = 0; k < CT_SIM_BAD_KINDS; k++)
        fprintf(f, "%s\"%s\": %llu", k ? ", " : "", BAD_NAMES[k], (unsigned long long)c->bad[k]);
    fprintf(f, "},\n%s\"rows\": %llu", ind, (unsigned long long)c->rows);
}

static void json_params(FILE *f, const ct_sim_params *p, const sim_world *w)
{
    static const char *const COMP[] = {"none", "gz", "zst"};
    char start[32];
    fmt_when(p->start, 1, start);
    fprintf(f, "  \"generator\": \"celltrace simulate %s\",\n", CT_VERSION);
    fprintf(f, "  \"parameters\": {\n    \"subscribers\": %llu,\n    \"days\": %u,\n",
            (unsigned long long)p->subscribers, p->days);
    fprintf(f, "    \"seed\": %llu,\n    \"start\": \"%s\",\n    \"area_km2\": %.3f,\n",
            (unsigned long long)p->seed, start, 3.14159265358979 * w->r_city * w->r_city / 1e6);
    fprintf(f, "    \"operators\": %u,\n    \"cases\": %u,\n    \"isolated_share\": %g,\n",
            p->operators, p->cases, p->isolated_share);
    if (p->office_cluster && w->cluster_office != SIM_NONE)
        fprintf(f, "    \"office_cluster\": %u,\n    \"office_cluster_venue\": \"V%u\",\n",
                p->office_cluster, w->cluster_office);
    else if (p->office_cluster)
        fprintf(f, "    \"office_cluster\": %u,\n    \"office_cluster_venue\": null,\n",
                p->office_cluster);
    fprintf(f, "    \"precise_share\": %g,\n    \"dirty_rate\": %g,\n    \"duplicate_rate\": %g,\n",
            p->precise_share, p->dirty_rate, p->duplicate_rate);
    fprintf(f, "    \"late_rate\": %g,\n    \"roaming_rate\": %g,\n    \"compress\": \"%s\"\n  },\n",
            p->late_rate, p->roaming_rate, COMP[p->compress]);
    fprintf(f, "  \"truth\": {\n    \"contact_distance_m\": %g,\n    \"min_exposure_s\": %lld,\n",
            p->contact_distance_m, (long long)p->min_exposure_s);
    fprintf(f, "    \"infectious_before_s\": %lld,\n    \"infectious_after_s\": %lld,\n",
            (long long)p->infectious_before_s, (long long)p->infectious_after_s);
    fprintf(f, "    \"sample_s\": 60,\n    \"file\": \"truth.csv\"\n  },\n");
    fprintf(f, "  \"city\": {\n    \"radius_m\": %.0f,\n    \"world_radius_m\": %.0f,\n",
            w->r_city, w->r_out);
    fprintf(f, "    \"centre\": [%.4f, %.4f],\n    \"households\": %zu,\n    \"venues\": %zu\n  },\n",
            w->lat0, w->lon0, w->nhh, w->nvenues);
}

static ct_code write_manifest(const ct_sim_params *p, const sim_world *w, const ct_sim_result *r,
                              const char *path, ct_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ct__fail_errno(err, CT_EIO, errno, "cannot create %s", path);
    fprintf(f, "{\n");
    json_params(f, p, w);
    fprintf(f, "  \"operators\": [\n");
    for (unsigned op = 0; op < r->operators; op++) {
        const ct_sim_op_counts *c = &r->op[op];
        fprintf(f, "    {\n      \"id\": \"%s\",\n      \"cells\": %llu,\n      \"files\": %llu,\n",
                c->id, (unsigned long long)c->cells, (unsigned long long)c->files);
        json_counts(f, c, "      ");
        fprintf(f, "\n    }%s\n", op + 1 < r->operators ? "," : "");
    }
    ct_sim_op_counts total;
    memset(&total, 0, sizeof total);
    total.events = r->events;
    total.point_events = r->point_events;
    total.duplicates = r->duplicates;
    total.rows = r->rows;
    memcpy(total.bad, r->bad, sizeof total.bad);
    fprintf(f, "  ],\n  \"totals\": {\n");
    json_counts(f, &total, "    ");
    fprintf(f, ",\n    \"bad_rows_total\": %llu,\n    \"cases\": %llu,\n    \"truth_pairs\": %llu\n  }\n}\n",
            (unsigned long long)r->bad_total, (unsigned long long)r->cases,
            (unsigned long long)r->truth_pairs);
    if (ferror(f) | (fclose(f) != 0))
        return ct__fail(err, CT_EIO, "cannot write %s", path);
    return CT_OK;
}

/* ---- the run ------------------------------------------------------------------------ */

typedef struct run {
    const ct_sim_params *p;
    sim_world *w;
    sim_net *nets[CT_SIM_MAX_OPERATORS];
    sim_truth *truth;
    sim_out *visits; /* visits.csv (sim_venues.h) */
    sim_gen *gen;
    sim_seg *segs;
    size_t *off, segs_cap;
    ct_sim_result *res;
} run;

static ct_code setup(run *r, ct_err *err)
{
    char path[PATH_CAP];
    const ct_sim_params *p = r->p;
    r->w = ct__sim_world_build(p);
    ct_code rc = CT_OK;
    for (unsigned op = 0; op < p->operators && !rc; op++) {
        r->nets[op] = ct__sim_net_build(r->w, op);
        snprintf(r->res->op[op].id, sizeof r->res->op[op].id, "%s", ct__sim_world_op_id(op));
        r->res->op[op].cells = r->nets[op]->ntowers * 3;
        snprintf(path, sizeof path, "%s/%s/cells.csv", p->out_dir, ct__sim_world_op_id(op));
        rc = ct__sim_net_write_catalogue(r->w, r->nets[op], path, err);
    }
    r->res->operators = p->operators;
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/cases.csv", p->out_dir);
    rc = write_cases(r->w, path, err);
    snprintf(path, sizeof path, "%s/venues.csv", p->out_dir);
    if (!rc)
        rc = ct__sim_venues_write(r->w, path, err);
    snprintf(path, sizeof path, "%s/geography.geojson", p->out_dir);
    if (!rc)
        rc = ct__sim_geography_write(r->w, path, err);
    snprintf(path, sizeof path, "%s/visits.csv", p->out_dir);
    if (!rc)
        rc = ct__sim_out_open(path, CT_SIM_COMPRESS_NONE, &r->visits, err);
    if (!rc)
        ct__sim_visits_header(r->visits);
    r->truth = ct__sim_truth_new(r->w);
    r->gen = ct__sim_gen_new(r->w, r->nets, r->res);
    r->off = ct__malloc((r->w->n + 1) * sizeof *r->off);
    return rc;
}

static void build_day(run *r, unsigned day)
{
    size_t n = 0;
    for (uint64_t i = 0; i < r->w->n; i++) {
        CT_GROW(r->segs, n + SIM_SEGS_MAX, r->segs_cap);
        r->off[i] = n;
        n += ct__sim_sched_day(r->w, (uint32_t)i, day, r->segs + n);
    }
    r->off[r->w->n] = n;
}

static ct_code one_day(run *r, unsigned day, ct_err *err)
{
    build_day(r, day);
    ct__sim_truth_day(r->truth, day, r->segs, r->off);
    ct__sim_visits_day(r->visits, r->w, r->segs, r->off);
    ct__sim_gen_day_begin(r->gen, day);
    for (uint64_t i = 0; i < r->w->n; i++)
        ct__sim_gen_person(r->gen, (uint32_t)i, r->segs + r->off[i], r->off[i + 1] - r->off[i]);
    return ct__sim_gen_day_end(r->gen, err);
}

static void totals(ct_sim_result *res)
{
    for (unsigned op = 0; op < res->operators; op++) {
        const ct_sim_op_counts *c = &res->op[op];
        res->events += c->events;
        res->point_events += c->point_events;
        res->duplicates += c->duplicates;
        res->rows += c->rows;
        res->bytes += c->bytes;
        for (int k = 0; k < CT_SIM_BAD_KINDS; k++) {
            res->bad[k] += c->bad[k];
            res->bad_total += c->bad[k];
        }
    }
}

static ct_code finish(run *r, ct_err *err)
{
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/truth.csv", r->p->out_dir);
    ct_code rc = ct__sim_truth_write(r->truth, path, &r->res->truth_pairs, err);
    ct_code vrc = ct__sim_out_close(r->visits, NULL, rc ? NULL : err);
    r->visits = NULL;
    if (rc || vrc)
        return rc ? rc : vrc;
    r->res->cases = r->w->ncases;
    r->res->households = r->w->nhh;
    r->res->venues = r->w->nvenues;
    totals(r->res);
    snprintf(path, sizeof path, "%s/manifest.json", r->p->out_dir);
    return write_manifest(r->p, r->w, r->res, path, err);
}

static void teardown(run *r)
{
    ct__sim_out_close(r->visits, NULL, NULL); /* after a failure: already closed otherwise */
    ct__sim_gen_free(r->gen);
    ct__sim_truth_free(r->truth);
    for (unsigned op = 0; op < CT_SIM_MAX_OPERATORS; op++)
        ct__sim_net_free(r->nets[op]);
    ct__sim_world_free(r->w);
    ct__free(r->segs);
    ct__free(r->off);
}

ct_code ct_simulate(const ct_sim_params *p, ct_progress_fn progress, void *ud,
                    ct_sim_result *res, ct_err *err)
{
    ct_sim_result local;
    double t0 = ct__now_s();
    res = res ? res : &local;
    memset(res, 0, sizeof *res);
    ct_code rc = ct_sim_params_check(p, err);
    if (rc || (rc = prepare_dirs(p, err)))
        return rc;
    run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.res = res;
    rc = setup(&r, err);
    for (unsigned day = 0; day < p->days && !rc; day++) {
        rc = one_day(&r, day, err);
        if (progress)
            progress(ud, day + 1, p->days);
    }
    if (!rc)
        rc = finish(&r, err);
    teardown(&r);
    res->seconds = ct__now_s() - t0;
    return rc;
}
