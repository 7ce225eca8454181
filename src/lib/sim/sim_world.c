/*
 * sim_world.c — builds the simulated city once, before the first day.
 *
 * The city is a disk of radius r_city whose residential density falls off
 * as exp(-r / r0) (r0 = r_city / 2.5: the centre is about three times as
 * dense as the average, the edge a third), inside a suburban ring out to
 * r_out where a few percent live. It is cut into 1 km districts; each
 * inhabited district has shops, cafes and a school (its classes of 25
 * pupils). Offices gather towards the centre (density scale r0 / 2). Four
 * metro lines cross the centre as diameters with a station every km.
 *
 * People (= subscribers) live in households of 1 to 5; a household's
 * first two members are adults (working or not), further members are
 * mostly pupils. Each person has a fixed operator (families often share
 * one), a phone style, a commute mode and, for transit users, the metro
 * stations nearest to home and work.
 *
 * Everything here is drawn from streams keyed by (seed, purpose, index),
 * so the world is a pure function of the parameters. Invariants: every
 * person belongs to exactly one household; a worker's or pupil's `work`
 * is a venue of type office or class; district_hh lists each household
 * once, grouped by district.
 */
#include "sim_world.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "sim_rng.h"

#define EARTH_R 6371008.8
#define PI 3.14159265358979323846

static const char *const OP_IDS[CT_SIM_MAX_OPERATORS] = {
    "250-01", "250-02", "250-99", "250-20", "250-11", "250-35", "250-39", "250-50"};
static const double OP_SHARE[CT_SIM_MAX_OPERATORS] = {0.33, 0.28, 0.24, 0.09,
                                                      0.02, 0.02, 0.01, 0.01};

const char *ct__sim_world_op_id(unsigned i)
{
    assert(i < CT_SIM_MAX_OPERATORS);
    return OP_IDS[i];
}

void ct__sim_world_latlon(const sim_world *w, sim_xy q, double *lat, double *lon)
{
    *lat = w->lat0 + q.y / w->m_per_deg_lat;
    *lon = w->lon0 + q.x / w->m_per_deg_lon;
}

uint32_t ct__sim_world_district(const sim_world *w, sim_xy q)
{
    int ix = (int)floor((q.x + w->r_out) / SIM_DISTRICT_M);
    int iy = (int)floor((q.y + w->r_out) / SIM_DISTRICT_M);
    ix = ix < 0 ? 0 : ix >= w->dgrid ? w->dgrid - 1 : ix;
    iy = iy < 0 ? 0 : iy >= w->dgrid ? w->dgrid - 1 : iy;
    return (uint32_t)(iy * w->dgrid + ix);
}

sim_xy ct__sim_world_line_point(const sim_world *w, int l, double s)
{
    sim_xy q = {s * cos(w->line_angle[l]), s * sin(w->line_angle[l])};
    return q;
}

/* A point at distance r from the centre in a uniform direction. */
static sim_xy polar(sim_rng *r, double radius)
{
    double a = sim_range(r, 0, 2 * PI);
    sim_xy q = {radius * cos(a), radius * sin(a)};
    return q;
}

/* Radius from a 2-D exponential density of scale s, truncated at rmax. */
static double radius_exp2d(sim_rng *r, double s, double rmax)
{
    for (int i = 0; i < 32; i++) {
        double x = -s * log((1.0 - sim_unif(r)) * (1.0 - sim_unif(r)));
        if (x <= rmax)
            return x;
    }
    return rmax * sqrt(sim_unif(r));
}

static void geometry(sim_world *w)
{
    const ct_sim_params *p = w->p;
    double area = p->area_km2 > 0 ? p->area_km2 : (double)p->subscribers / p->density;
    w->r_city = sqrt(area * 1e6 / PI);
    w->r0 = w->r_city / 2.5;
    double ring = w->r_city * 2 < 2000 ? 2000 : w->r_city * 2;
    w->r_out = w->r_city + (ring > 15000 ? 15000 : ring);
    w->lat0 = 55.7558;
    w->lon0 = 37.6173;
    w->m_per_deg_lat = EARTH_R * PI / 180.0;
    w->m_per_deg_lon = w->m_per_deg_lat * cos(w->lat0 * PI / 180.0);
    sim_rng r;
    sim_rng_seed(&r, p->seed, SIM_RS_WORLD, 0, 0);
    double rot = sim_range(&r, 0, PI / 4);
    for (int l = 0; l < 4; l++)
        w->line_angle[l] = rot + l * PI / 4;
    w->line_half = (int32_t)(ceil((w->r_city + 1500) / SIM_STATION_M) * SIM_STATION_M);
    w->dgrid = (int)ceil(2 * w->r_out / SIM_DISTRICT_M);
    w->districts = ct__calloc((size_t)w->dgrid * (size_t)w->dgrid, sizeof *w->districts);
}

static unsigned draw_household_size(sim_rng *r)
{
    double u = sim_unif(r);
    return u < 0.25 ? 1 : u < 0.55 ? 2 : u < 0.80 ? 3 : u < 0.95 ? 4 : 5;
}

static unsigned draw_operator(sim_rng *r, unsigned nops)
{
    double total = 0;
    for (unsigned i = 0; i < nops; i++)
        total += OP_SHARE[i];
    double u = sim_unif(r) * total;
    for (unsigned i = 0; i < nops; i++) {
        if (u < OP_SHARE[i])
            return i;
        u -= OP_SHARE[i];
    }
    return nops - 1;
}

static sim_xy home_position(sim_world *w, sim_rng *r)
{
    if (sim_chance(r, 0.04)) {
        double a2 = w->r_city * w->r_city, b2 = w->r_out * w->r_out;
        return polar(r, sqrt(sim_range(r, a2, b2)));
    }
    return polar(r, radius_exp2d(r, w->r0, w->r_city));
}

static void init_person(sim_world *w, sim_household *h, uint64_t i, unsigned member,
                        unsigned family_op)
{
    const ct_sim_params *p = w->p;
    sim_person *pp = &w->people[i];
    sim_rng r;
    sim_rng_seed(&r, p->seed, SIM_RS_PERSON, i, 0);
    memset(pp, 0, sizeof *pp);
    uint64_t off = sim_hash(p->seed, 77, 0, 0) % 1000000000ull;
    pp->msisdn = 79000000000ull + (i * 387420489ull + off) % 1000000000ull;
    pp->household = (uint32_t)(h - w->hh);
    pp->member = (uint8_t)member;
    pp->work = SIM_NONE;
    pp->case_idx = SIM_NONE;
    if (member < 2)
        pp->role = sim_chance(&r, member == 0 ? 0.72 : 0.6) ? SIM_WORKER : SIM_HOMEBODY;
    else
        pp->role = sim_chance(&r, 0.75) ? SIM_PUPIL : SIM_WORKER;
    pp->op = (uint8_t)(member > 0 && sim_chance(&r, 0.6) ? family_op
                                                          : draw_operator(&r, p->operators));
    pp->precise = (uint8_t)sim_chance(&r, p->precise_share);
    pp->lu_hours = (uint8_t)(1 + sim_below(&r, 3));
    pp->activity = (float)exp(0.55 * sim_normal(&r) - 0.15);
    pp->walk_v = (float)sim_range(&r, 1.1, 1.5);
    pp->wake_min = (uint16_t)(6 * 60 + sim_below(&r, 120));
    pp->bed_min = (uint16_t)(22 * 60 + 15 + sim_below(&r, 90));
    pp->leave_min = (uint16_t)(pp->role == SIM_PUPIL ? 7 * 60 + 35 + sim_below(&r, 20)
                                                     : pp->wake_min + 30 + sim_below(&r, 50));
    pp->work_min = (uint16_t)(pp->role == SIM_PUPIL ? 6 * 60 + sim_below(&r, 60)
                                                    : 8 * 60 + 30 + sim_below(&r, 90));
}

static void make_households(sim_world *w)
{
    const ct_sim_params *p = w->p;
    size_t cap = 0;
    sim_rng r;
    sim_rng_seed(&r, p->seed, SIM_RS_WORLD, 1, 0);
    for (uint64_t i = 0; i < w->n;) {
        uint64_t size = draw_household_size(&r);
        if (size > w->n - i)
            size = w->n - i;
        CT_GROW(w->hh, w->nhh + 1, cap);
        sim_household *h = &w->hh[w->nhh++];
        h->pos = home_position(w, &r);
        h->first = (uint32_t)i;
        h->n = (uint32_t)size;
        h->district = ct__sim_world_district(w, h->pos);
        w->districts[h->district].nhh++;
        unsigned family_op = draw_operator(&r, p->operators);
        for (unsigned m = 0; m < size; m++)
            init_person(w, h, i + m, m, family_op);
        i += size;
    }
}

/* district_hh: households grouped by district (counting sort). */
static void index_households(sim_world *w)
{
    size_t nd = (size_t)w->dgrid * (size_t)w->dgrid;
    uint32_t acc = 0;
    for (size_t d = 0; d < nd; d++) {
        w->districts[d].hh0 = acc;
        acc += w->districts[d].nhh;
        w->districts[d].nhh = 0;
    }
    w->district_hh = ct__malloc((w->nhh ? w->nhh : 1) * sizeof *w->district_hh);
    for (size_t k = 0; k < w->nhh; k++) {
        sim_district *d = &w->districts[w->hh[k].district];
        w->district_hh[d->hh0 + d->nhh++] = (uint32_t)k;
    }
}

static uint32_t add_venue(sim_world *w, size_t *cap, sim_xy pos, int type)
{
    CT_GROW(w->venues, w->nvenues + 1, *cap);
    sim_venue *v = &w->venues[w->nvenues];
    v->pos = pos;
    v->type = (uint8_t)type;
    v->district = ct__sim_world_district(w, pos);
    return (uint32_t)w->nvenues++;
}

static sim_xy district_point(const sim_world *w, uint32_t d, sim_rng *r)
{
    double x0 = (double)(d % (uint32_t)w->dgrid) * SIM_DISTRICT_M - w->r_out;
    double y0 = (double)(d / (uint32_t)w->dgrid) * SIM_DISTRICT_M - w->r_out;
    /* one draw per statement: the order inside an initializer is open */
    double dx = sim_range(r, 50, SIM_DISTRICT_M - 50);
    double dy = sim_range(r, 50, SIM_DISTRICT_M - 50);
    sim_xy q = {x0 + dx, y0 + dy};
    return q;
}

static void make_offices(sim_world *w, size_t *cap)
{
    sim_rng r;
    sim_rng_seed(&r, w->p->seed, SIM_RS_WORLD, 2, 0);
    uint64_t workers = 0;
    for (uint64_t i = 0; i < w->n; i++)
        workers += w->people[i].role == SIM_WORKER;
    uint32_t nof = (uint32_t)(workers / 25 + 1), first = (uint32_t)w->nvenues;
    for (uint32_t k = 0; k < nof; k++)
        add_venue(w, cap, polar(&r, radius_exp2d(&r, w->r0 / 2, w->r_city)), SIM_V_OFFICE);
    uint16_t *seats = ct__calloc(nof, sizeof *seats);
    for (uint64_t i = 0; i < w->n; i++) {
        sim_person *pp = &w->people[i];
        if (pp->role != SIM_WORKER)
            continue;
        uint32_t o = (uint32_t)sim_below(&r, nof);
        pp->work = first + o;
        pp->seat = seats[o] < UINT16_MAX ? seats[o]++ : seats[o];
    }
    ct__free(seats);
}

/* Pupils fill the classes of their home district's school, 25 a class. */
static void make_classes(sim_world *w, size_t *cap)
{
    size_t nd = (size_t)w->dgrid * (size_t)w->dgrid;
    uint32_t *cur = ct__malloc(nd * sizeof *cur);
    uint16_t *fill = ct__calloc(nd, sizeof *fill);
    for (size_t d = 0; d < nd; d++)
        cur[d] = SIM_NONE;
    for (uint64_t i = 0; i < w->n; i++) {
        sim_person *pp = &w->people[i];
        if (pp->role != SIM_PUPIL)
            continue;
        uint32_t d = w->hh[pp->household].district;
        if (cur[d] == SIM_NONE || fill[d] >= 25) {
            sim_rng r;
            sim_rng_seed(&r, w->p->seed, SIM_RS_VENUE, d, 0); /* the school's site */
            sim_xy site = district_point(w, d, &r);
            cur[d] = add_venue(w, cap, site, SIM_V_CLASS);
            fill[d] = 0;
        }
        pp->work = cur[d];
        pp->seat = fill[d]++;
    }
    ct__free(cur);
    ct__free(fill);
}

static void make_shops(sim_world *w, size_t *cap)
{
    size_t nd = (size_t)w->dgrid * (size_t)w->dgrid;
    for (size_t d = 0; d < nd; d++) {
        sim_district *ds = &w->districts[d];
        uint32_t residents = 0;
        for (uint32_t k = 0; k < ds->nhh; k++)
            residents += w->hh[w->district_hh[ds->hh0 + k]].n;
        if (!residents)
            continue;
        sim_rng r;
        sim_rng_seed(&r, w->p->seed, SIM_RS_VENUE, d, 1);
        ds->shop0 = (uint32_t)w->nvenues;
        ds->nshop = residents / 250 + 1;
        for (uint32_t k = 0; k < ds->nshop; k++)
            add_venue(w, cap, district_point(w, (uint32_t)d, &r), SIM_V_SHOP);
        ds->cafe0 = (uint32_t)w->nvenues;
        ds->ncafe = residents / 500 + 1;
        for (uint32_t k = 0; k < ds->ncafe; k++)
            add_venue(w, cap, district_point(w, (uint32_t)d, &r), SIM_V_CAFE);
    }
}

/* Nearest metro line and station (metres along it) of a point. */
static void nearest_station(const sim_world *w, sim_xy q, uint8_t *line, int32_t *st)
{
    double best = INFINITY;
    for (int l = 0; l < 4; l++) {
        double c = cos(w->line_angle[l]), s = sin(w->line_angle[l]);
        double along = q.x * c + q.y * s, perp = fabs(-q.x * s + q.y * c);
        if (perp < best) {
            best = perp;
            *line = (uint8_t)l;
            double k = floor(along / SIM_STATION_M + 0.5) * SIM_STATION_M;
            if (k > w->line_half)
                k = w->line_half;
            if (k < -w->line_half)
                k = -w->line_half;
            *st = (int32_t)k;
        }
    }
}

static void choose_modes(sim_world *w)
{
    for (uint64_t i = 0; i < w->n; i++) {
        sim_person *pp = &w->people[i];
        pp->mode = SIM_BY_FOOT;
        if (pp->role != SIM_WORKER)
            continue;
        sim_xy h = w->hh[pp->household].pos, o = w->venues[pp->work].pos;
        double d = hypot(h.x - o.x, h.y - o.y);
        if (d < 1500)
            continue;
        sim_rng r;
        sim_rng_seed(&r, w->p->seed, SIM_RS_PERSON, i, 1);
        int suburb = hypot(h.x, h.y) > w->r_city;
        nearest_station(w, h, &pp->line_home, &pp->st_home);
        nearest_station(w, o, &pp->line_work, &pp->st_work);
        int same = pp->line_home == pp->line_work && pp->st_home == pp->st_work;
        pp->mode = same || sim_chance(&r, suburb ? 0.5 : 0.25) ? SIM_BY_CAR : SIM_BY_TRANSIT;
    }
}

static void fill_case(sim_world *w, sim_case *c, sim_rng *r)
{
    const ct_sim_params *p = w->p;
    unsigned lo = p->days > 2 ? 2 : p->days - 1;
    int64_t day = p->start + (int64_t)(lo + sim_below(r, p->days - lo)) * 86400;
    c->onset_is_date = sim_chance(r, 0.6);
    c->onset = day + (c->onset_is_date ? 0 : (int64_t)(6 * 3600 + sim_below(r, 16 * 3600)));
    c->has_isolated = sim_chance(r, p->isolated_share);
    c->isolated = day + (int64_t)(1 + sim_below(r, 4)) * 86400;
    c->w0 = c->onset - p->infectious_before_s;
    c->w1 = c->has_isolated ? c->isolated : c->onset + p->infectious_after_s;
}

/* Workers of one office with at least k of them, chosen at random (its
 * own stream, so cities without a cluster keep their bytes); the first k
 * people drawn from them into *members. 0 when no office is big enough. */
static size_t office_cluster(sim_world *w, size_t k, uint64_t *members)
{
    sim_rng r;
    sim_rng_seed(&r, w->p->seed, SIM_RS_CASES, 1, 0);
    uint32_t *count = ct__calloc(w->nvenues + 1, sizeof *count);
    for (uint64_t i = 0; i < w->n; i++)
        if (w->people[i].role == SIM_WORKER)
            count[w->people[i].work]++;
    uint32_t office = SIM_NONE;
    for (size_t tries = 0; tries < 4 * w->nvenues && office == SIM_NONE; tries++) {
        uint32_t v = (uint32_t)sim_below(&r, w->nvenues);
        if (w->venues[v].type == SIM_V_OFFICE && count[v] >= k)
            office = v;
    }
    ct__free(count);
    w->cluster_office = office;
    size_t n = 0;
    while (office != SIM_NONE && n < k) {
        uint64_t i = sim_below(&r, w->n);
        if (w->people[i].role != SIM_WORKER || w->people[i].work != office)
            continue;
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= members[j] == i;
        if (!dup)
            members[n++] = i;
    }
    return n;
}

static void make_cases(sim_world *w)
{
    const ct_sim_params *p = w->p;
    sim_rng r;
    sim_rng_seed(&r, p->seed, SIM_RS_CASES, 0, 0);
    w->ncases = p->cases;
    w->cases = ct__calloc(w->ncases ? w->ncases : 1, sizeof *w->cases);
    uint64_t *cluster = ct__calloc(p->office_cluster + 1, sizeof *cluster);
    w->cluster_office = SIM_NONE;
    size_t n_cluster = p->office_cluster ? office_cluster(w, p->office_cluster, cluster) : 0;
    for (size_t k = 0; k < w->ncases; k++) {
        uint64_t i;
        if (k < n_cluster)
            i = cluster[k];
        else
            do
                i = sim_below(&r, w->n);
            while (w->people[i].case_idx != SIM_NONE);
        w->people[i].case_idx = (uint32_t)k;
        sim_case *c = &w->cases[k];
        c->person = (uint32_t)i;
        snprintf(c->id, sizeof c->id, "C%04u", (unsigned)(k + 1));
        fill_case(w, c, &r);
    }
    ct__free(cluster);
}

sim_world *ct__sim_world_build(const ct_sim_params *p)
{
    sim_world *w = ct__calloc(1, sizeof *w);
    w->p = p;
    w->n = p->subscribers;
    w->people = ct__calloc(w->n, sizeof *w->people);
    geometry(w);
    make_households(w);
    index_households(w);
    size_t cap = 0;
    make_offices(w, &cap);
    make_classes(w, &cap);
    make_shops(w, &cap);
    choose_modes(w);
    make_cases(w);
    return w;
}

void ct__sim_world_free(sim_world *w)
{
    if (!w)
        return;
    ct__free(w->people);
    ct__free(w->hh);
    ct__free(w->venues);
    ct__free(w->districts);
    ct__free(w->district_hh);
    ct__free(w->cases);
    ct__free(w);
}
