/*
 * sim_sched.c — daily plans and true positions.
 *
 * A plan is built by a small cursor (struct plan) that appends segments
 * from `t` onwards: stay at home until, travel to a point, stay at a
 * venue until. Travel picks the person's mode: on foot (a straight walk
 * with a personal lateral offset, so people walking the same path are
 * not all on one line), by car (a private space), or by metro: walk to
 * the station, wait on the platform, ride the next train (trains leave
 * each terminus every SIM_HEADWAY_S seconds and run at SIM_TRAIN_V, so
 * everyone boarding train k shares it, exactly), change at the centre if
 * needed, walk on. A plan never leaves the day: segments are clipped at
 * midnight and the rest of the day is spent at home.
 *
 * Positions inside places are functions of (person, time) only: beds and
 * a dinner table at home, desks in offices, paired desks in classes,
 * random spots in shops re-drawn every few minutes, a table in a cafe,
 * a fixed spot in a carriage or on a platform. Small jitters re-drawn
 * every five minutes make distances near 2 m flicker as in life.
 */
#include "sim_sched.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "sim_rng.h"

#define DAY 86400
#define PI 3.14159265358979323846

typedef struct plan {
    const sim_world *w;
    const sim_person *pp;
    uint32_t i;
    int64_t day0, t;
    sim_xy at;
    sim_rng r;
    sim_seg *s;
    size_t n;
} plan;

int ct__sim_is_weekend(int64_t day0)
{
    int64_t dow = ((day0 / DAY) % 7 + 4) % 7; /* 1970-01-01 was a Thursday */
    return dow == 0 || dow == 6;
}

/* ---- building plans --------------------------------------------------- */

static sim_seg *push(plan *pl, int kind, int64_t t1)
{
    int64_t end = pl->day0 + DAY;
    if (t1 > end)
        t1 = end;
    if (t1 <= pl->t || pl->n >= SIM_SEGS_MAX - 1)
        return NULL;
    sim_seg *s = &pl->s[pl->n++];
    memset(s, 0, sizeof *s);
    s->t0 = pl->t;
    s->t1 = t1;
    s->kind = (uint8_t)kind;
    pl->t = t1;
    return s;
}

static void stay_home(plan *pl, int64_t until)
{
    const sim_household *h = &pl->w->hh[pl->pp->household];
    sim_seg *s = push(pl, SIM_SEG_HOME, until);
    if (s) {
        s->place = pl->pp->household;
        s->space = SIM_SPACE(SIM_SP_HOME, s->place);
        s->a = h->pos;
    }
}

static void stay_place(plan *pl, int kind, uint32_t place, int64_t until)
{
    sim_seg *s = push(pl, kind, until);
    if (!s)
        return;
    s->place = place;
    if (kind == SIM_SEG_GUEST) {
        s->space = SIM_SPACE(SIM_SP_HOME, place);
        s->a = pl->w->hh[place].pos;
    } else {
        s->space = SIM_SPACE(SIM_SP_VENUE, place);
        s->a = pl->w->venues[place].pos;
    }
}

static void walk_to(plan *pl, sim_xy to)
{
    double d = hypot(to.x - pl->at.x, to.y - pl->at.y);
    int64_t dur = (int64_t)(d / pl->pp->walk_v) + 60;
    sim_seg *s = push(pl, SIM_SEG_WALK, pl->t + dur);
    if (s) {
        s->space = SIM_SPACE(SIM_SP_STREET, 0);
        s->a = pl->at;
        s->b = to;
        s->v = (float)sim_range(&pl->r, -3.0, 3.0);
    }
    pl->at = to;
}

static void drive_to(plan *pl, sim_xy to)
{
    double d = hypot(to.x - pl->at.x, to.y - pl->at.y);
    sim_seg *s = push(pl, SIM_SEG_CAR, pl->t + (int64_t)(d / 8.0) + 300);
    if (s) {
        s->space = SIM_SPACE(SIM_SP_CAR, pl->i);
        s->a = pl->at;
        s->b = to;
    }
    pl->at = to;
}

/* Seconds a train of direction dir takes from its terminus to station st. */
static int64_t from_terminus(const sim_world *w, int dir, int32_t st)
{
    int64_t term = dir > 0 ? -w->line_half : w->line_half;
    int64_t d = st - term;
    return (d < 0 ? -d : d) / SIM_TRAIN_V;
}

static int64_t div_ceil(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* Where a standing passenger ends up along a 20 m carriage: people crowd
 * around the four doors (2.5, 7.5, 12.5, 17.5 m). */
static double near_door(sim_rng *r)
{
    double door = (double)sim_below(r, 4); /* draws in a fixed order (see sim_cells.c) */
    double u = 2.5 + 5.0 * door + 1.2 * sim_normal(r);
    return u < 0 ? 0 : u > 20 ? 20 : u;
}

/* Waits at station st of line l and rides to station st2. */
static void ride(plan *pl, int l, int32_t st, int32_t st2)
{
    const sim_world *w = pl->w;
    int dir = st2 > st ? 1 : -1;
    int64_t off = from_terminus(w, dir, st);
    int64_t k = div_ceil(pl->t - off, SIM_HEADWAY_S);
    int64_t board = k * SIM_HEADWAY_S + off;
    int64_t station = (st + w->line_half) / SIM_STATION_M;
    sim_seg *s = push(pl, SIM_SEG_PLATFORM, board);
    if (s) {
        s->space = SIM_SPACE(SIM_SP_PLATFORM, ((uint64_t)station * 4 + (uint64_t)l) * 2 + (dir > 0));
        s->a = ct__sim_world_line_point(w, l, st);
        double stairs = sim_chance(&pl->r, 0.5) ? 15 : 105; /* by the stairs */
        s->u = (float)(stairs + 6 * sim_normal(&pl->r));
        s->v = (float)sim_range(&pl->r, 0, 8);
    }
    pl->t = board > pl->t ? board : pl->t;
    s = push(pl, SIM_SEG_RIDE, k * SIM_HEADWAY_S + from_terminus(w, dir, st2));
    if (s) {
        s->carriage = (uint8_t)sim_below(&pl->r, SIM_CARRIAGES);
        s->space = SIM_SPACE(SIM_SP_TRAIN, ((uint64_t)k << 6) | ((uint64_t)l << 4) |
                                               ((uint64_t)(dir > 0) << 3) | s->carriage);
        s->train = k;
        s->line = (uint8_t)l;
        s->dir = (int8_t)dir;
        s->u = (float)near_door(&pl->r);
        s->v = (float)sim_range(&pl->r, 0, 2.8);
    }
    pl->at = ct__sim_world_line_point(w, l, st2);
}

static void metro(plan *pl, int l1, int32_t s1, int l2, int32_t s2, sim_xy to)
{
    const sim_world *w = pl->w;
    walk_to(pl, ct__sim_world_line_point(w, l1, s1));
    if (l1 == l2) {
        if (s1 != s2)
            ride(pl, l1, s1, s2);
    } else {
        if (s1 != 0)
            ride(pl, l1, s1, 0);
        /* the change at the central interchange: a short passage */
        pl->at = ct__sim_world_line_point(w, l1, s1 > 0 ? 40 : -40);
        walk_to(pl, ct__sim_world_line_point(w, l2, s2 > 0 ? 40 : -40));
        pl->at = ct__sim_world_line_point(w, l2, 0);
        if (s2 != 0)
            ride(pl, l2, 0, s2);
    }
    walk_to(pl, to);
}

static void commute(plan *pl, int outbound)
{
    const sim_person *pp = pl->pp;
    const sim_world *w = pl->w;
    sim_xy home = w->hh[pp->household].pos, work = w->venues[pp->work].pos;
    sim_xy to = outbound ? work : home;
    if (pp->mode == SIM_BY_CAR)
        drive_to(pl, to);
    else if (pp->mode == SIM_BY_TRANSIT && outbound)
        metro(pl, pp->line_home, pp->st_home, pp->line_work, pp->st_work, to);
    else if (pp->mode == SIM_BY_TRANSIT)
        metro(pl, pp->line_work, pp->st_work, pp->line_home, pp->st_home, to);
    else
        walk_to(pl, to);
}

static int64_t at_min(const plan *pl, double minutes)
{
    return pl->day0 + (int64_t)(minutes * 60);
}

/* From home: walk to a local venue (or a friend's flat), stay, walk back. */
static void outing(plan *pl, int kind, uint32_t place, int64_t start, int64_t stay)
{
    const sim_world *w = pl->w;
    stay_home(pl, start);
    sim_xy to = kind == SIM_SEG_GUEST ? w->hh[place].pos : w->venues[place].pos;
    walk_to(pl, to);
    stay_place(pl, kind, place, pl->t + stay);
    walk_to(pl, w->hh[pl->pp->household].pos);
}

static uint32_t local_venue(plan *pl, int type)
{
    const sim_district *d = &pl->w->districts[pl->w->hh[pl->pp->household].district];
    if (type == SIM_V_SHOP)
        return d->shop0 + (uint32_t)sim_below(&pl->r, d->nshop);
    return d->cafe0 + (uint32_t)sim_below(&pl->r, d->ncafe);
}

static void worker_day(plan *pl)
{
    const sim_person *pp = pl->pp;
    stay_home(pl, at_min(pl, pp->leave_min));
    commute(pl, 1);
    stay_place(pl, SIM_SEG_VENUE, pp->work, pl->t + (int64_t)pp->work_min * 60);
    commute(pl, 0);
    if (sim_chance(&pl->r, 0.3)) {
        uint32_t v = local_venue(pl, SIM_V_SHOP);
        int64_t stay = (int64_t)sim_range(&pl->r, 900, 2100);
        outing(pl, SIM_SEG_VENUE, v, pl->t + 600, stay);
    }
    if (pl->t < at_min(pl, 20 * 60) && sim_chance(&pl->r, 0.12)) {
        uint32_t v = local_venue(pl, SIM_V_CAFE);
        int64_t start = pl->t + (int64_t)sim_range(&pl->r, 1800, 5400);
        int64_t stay = (int64_t)sim_range(&pl->r, 3600, 9000);
        outing(pl, SIM_SEG_VENUE, v, start, stay);
    }
}

static void pupil_day(plan *pl)
{
    const sim_person *pp = pl->pp;
    stay_home(pl, at_min(pl, pp->leave_min));
    walk_to(pl, pl->w->venues[pp->work].pos);
    int64_t end = at_min(pl, 8 * 60 + 30) + (int64_t)pp->work_min * 60;
    stay_place(pl, SIM_SEG_VENUE, pp->work, end > pl->t + 60 ? end : pl->t + 60);
    walk_to(pl, pl->w->hh[pp->household].pos);
    if (sim_chance(&pl->r, 0.25)) {
        uint32_t v = local_venue(pl, SIM_V_CAFE);
        int64_t start = at_min(pl, sim_range(&pl->r, 16 * 60, 18 * 60));
        int64_t stay = (int64_t)sim_range(&pl->r, 1800, 5400);
        outing(pl, SIM_SEG_VENUE, v, start, stay);
    }
}

static void homebody_day(plan *pl)
{
    if (sim_chance(&pl->r, 0.65)) {
        uint32_t v = local_venue(pl, SIM_V_SHOP);
        int64_t start = at_min(pl, sim_range(&pl->r, 10 * 60, 16 * 60));
        int64_t stay = (int64_t)sim_range(&pl->r, 1200, 3600);
        outing(pl, SIM_SEG_VENUE, v, start, stay);
    }
    if (sim_chance(&pl->r, 0.2)) {
        uint32_t v = local_venue(pl, SIM_V_CAFE);
        int64_t start = at_min(pl, sim_range(&pl->r, 16 * 60, 18 * 60));
        int64_t stay = (int64_t)sim_range(&pl->r, 3600, 7200);
        outing(pl, SIM_SEG_VENUE, v, start, stay);
    }
}

static uint32_t friend_household(plan *pl)
{
    const sim_district *d = &pl->w->districts[pl->w->hh[pl->pp->household].district];
    uint32_t h = pl->w->district_hh[d->hh0 + (uint32_t)sim_below(&pl->r, d->nhh)];
    return h == pl->pp->household ? SIM_NONE : h;
}

static void weekend_day(plan *pl)
{
    double u = sim_unif(&pl->r);
    if (u < 0.45) {
        uint32_t v = local_venue(pl, SIM_V_SHOP);
        int64_t start = at_min(pl, sim_range(&pl->r, 11 * 60, 17 * 60));
        int64_t stay = (int64_t)sim_range(&pl->r, 1800, 5400);
        outing(pl, SIM_SEG_VENUE, v, start, stay);
    } else if (u < 0.65) {
        uint32_t f = friend_household(pl);
        if (f != SIM_NONE) {
            int64_t start = at_min(pl, sim_range(&pl->r, 13 * 60, 16 * 60));
            int64_t stay = (int64_t)sim_range(&pl->r, 7200, 14400);
            outing(pl, SIM_SEG_GUEST, f, start, stay);
        }
    }
    if (pl->t < at_min(pl, 18 * 60) && sim_chance(&pl->r, 0.2)) {
        uint32_t v = local_venue(pl, SIM_V_CAFE);
        int64_t start = at_min(pl, sim_range(&pl->r, 18 * 60, 20 * 60));
        int64_t stay = (int64_t)sim_range(&pl->r, 5400, 9000);
        outing(pl, SIM_SEG_VENUE, v, start, stay);
    }
}

static int isolated_today(const sim_world *w, const sim_person *pp, int64_t day0)
{
    if (pp->case_idx == SIM_NONE)
        return 0;
    const sim_case *c = &w->cases[pp->case_idx];
    return c->has_isolated && day0 + DAY > c->isolated;
}

size_t ct__sim_sched_day(const sim_world *w, uint32_t i, unsigned day, sim_seg *out)
{
    plan pl;
    memset(&pl, 0, sizeof pl);
    pl.w = w;
    pl.i = i;
    pl.pp = &w->people[i];
    pl.day0 = w->p->start + (int64_t)day * DAY;
    pl.t = pl.day0;
    pl.at = w->hh[pl.pp->household].pos;
    pl.s = out;
    sim_rng_seed(&pl.r, w->p->seed, SIM_RS_SCHED, i, day);
    if (isolated_today(w, pl.pp, pl.day0))
        ; /* stays at home all day */
    else if (ct__sim_is_weekend(pl.day0))
        weekend_day(&pl);
    else if (pl.pp->role == SIM_WORKER)
        worker_day(&pl);
    else if (pl.pp->role == SIM_PUPIL)
        pupil_day(&pl);
    else
        homebody_day(&pl);
    stay_home(&pl, pl.day0 + DAY);
    assert(pl.n >= 1 && out[0].t0 == pl.day0 && out[pl.n - 1].t1 == pl.day0 + DAY);
    return pl.n;
}

/* ---- positions ---------------------------------------------------------- */

static double jitter(uint64_t h, double amp)
{
    return (sim_hunif(h) - 0.5) * 2 * amp;
}

static void home_spot(const sim_world *w, uint32_t i, int64_t t, double *x, double *y)
{
    const sim_person *pp = &w->people[i];
    int64_t tod = (t - w->p->start) % DAY;
    uint64_t seed = w->p->seed;
    unsigned m = pp->member, n = w->hh[pp->household].n;
    double bx = m == 0 ? 1.0 : m == 1 ? 1.8 : 6.0 + 1.6 * ((m - 2) % 2);
    double by = m < 2 ? 1.0 : 1.0 + 2.2 * ((m - 2) / 2);
    uint64_t h5 = sim_hash(seed, SIM_RS_SPOT, i, (uint64_t)t / 300);
    if (tod < pp->wake_min * 60 || tod >= pp->bed_min * 60) {
        *x = bx + jitter(h5, 0.1);
        *y = by + jitter(h5 >> 7, 0.1);
        return;
    }
    uint64_t room = sim_hash(seed, SIM_RS_SPOT, i, (uint64_t)t / 1200 + 1000000007ull) % 10;
    double a = 2 * PI * m / (n ? n : 1);
    if (tod >= 19 * 3600 && tod < 19 * 3600 + 2400)
        room = 4; /* dinner together */
    if (room < 4) {
        *x = 3.5 + 1.2 * cos(2 * PI * m / 5);
        *y = 6.0 + 1.2 * sin(2 * PI * m / 5);
    } else if (room < 6) {
        *x = 8.0 + 0.75 * cos(a);
        *y = 6.0 + 0.75 * sin(a);
    } else if (room < 8) {
        *x = bx;
        *y = by + 0.5;
    } else if (room == 8) {
        *x = 9.5;
        *y = 1.0;
    } else {
        *x = 0.5;
        *y = 7.5;
    }
    *x += jitter(h5, 0.3);
    *y += jitter(h5 >> 7, 0.3);
}

static void guest_spot(const sim_world *w, uint32_t i, int64_t t, double *x, double *y)
{
    uint64_t h = sim_hash(w->p->seed, SIM_RS_SPOT, i, (uint64_t)t / 1200 + 2000000011ull);
    double a = 2 * PI * sim_hunif(h);
    *x = 3.5 + 1.4 * cos(a);
    *y = 6.0 + 1.4 * sin(a);
}

static void office_spot(const sim_world *w, uint32_t i, int64_t t, double *x, double *y)
{
    const sim_person *pp = &w->people[i];
    uint64_t seed = w->p->seed;
    uint64_t hb = sim_hash(seed, SIM_RS_SPOT, i, (uint64_t)t / 1200 + 3000000019ull);
    uint64_t h5 = sim_hash(seed, SIM_RS_SPOT, i, (uint64_t)t / 300);
    if (sim_hunif(hb) < 0.12) { /* away from the desk: meeting, kitchen */
        *x = 30 * sim_hunif(hb >> 3);
        *y = 30 * sim_hunif(h5 >> 5);
        return;
    }
    *x = 1.0 + 1.8 * (pp->seat % 8) + jitter(h5, 0.25);
    *y = 1.0 + 3.0 * (pp->seat / 8) + jitter(h5 >> 7, 0.25);
}

static void class_spot(const sim_world *w, uint32_t i, int64_t t, double *x, double *y)
{
    const sim_person *pp = &w->people[i];
    uint64_t h5 = sim_hash(w->p->seed, SIM_RS_SPOT, i, (uint64_t)t / 300);
    int64_t tod = (t - w->p->start) % DAY;
    if (tod % 3600 >= 45 * 60 && tod % 3600 < 55 * 60) { /* break: the corridor */
        *x = 40 * sim_hunif(h5);
        *y = 10 * sim_hunif(h5 >> 9);
        return;
    }
    unsigned desk = pp->seat / 2u, side = pp->seat % 2u;
    *x = 1.0 + 2.0 * (desk % 4) + 0.7 * side + jitter(h5, 0.15);
    *y = 1.0 + 1.3 * (desk / 4) + jitter(h5 >> 7, 0.15);
}

static void venue_spot(const sim_world *w, uint32_t i, const sim_seg *s, int64_t t,
                       double *x, double *y)
{
    uint64_t seed = w->p->seed;
    switch (w->venues[s->place].type) {
    case SIM_V_OFFICE:
        office_spot(w, i, t, x, y);
        return;
    case SIM_V_CLASS:
        class_spot(w, i, t, x, y);
        return;
    case SIM_V_SHOP: {
        uint64_t h = sim_hash(seed, SIM_RS_SPOT, i, (uint64_t)t / 180 + 4000000007ull);
        *x = 30 * sim_hunif(h);
        *y = 20 * sim_hunif(h >> 9 | h << 55);
        return;
    }
    default: { /* cafe: one of 16 tables for the whole visit */
        uint64_t h = sim_hash(seed, SIM_RS_SPOT, i, (uint64_t)s->t0);
        unsigned table = (unsigned)(h % 16);
        double a = 2 * PI * sim_hunif(h >> 4);
        uint64_t h5 = sim_hash(seed, SIM_RS_SPOT, i, (uint64_t)t / 300);
        *x = 2 + 3.0 * (table % 4) + 0.6 * cos(a) + jitter(h5, 0.1);
        *y = 2 + 3.0 * (table / 4) + 0.6 * sin(a) + jitter(h5 >> 7, 0.1);
        return;
    }
    }
}

static void moving_pos(const sim_seg *s, int64_t t, sim_pos *out)
{
    double f = s->t1 > s->t0 ? (double)(t - s->t0) / (double)(s->t1 - s->t0) : 0;
    double dx = s->b.x - s->a.x, dy = s->b.y - s->a.y, len = hypot(dx, dy);
    out->world.x = s->a.x + f * dx;
    out->world.y = s->a.y + f * dy;
    if (len > 0) {
        out->world.x += -dy / len * s->v;
        out->world.y += dx / len * s->v;
    }
    out->lx = out->world.x;
    out->ly = out->world.y;
    out->outdoors = 1;
}

static void ride_pos(const sim_world *w, const sim_seg *s, int64_t t, sim_pos *out)
{
    double term = s->dir > 0 ? -w->line_half : w->line_half;
    double front = term + s->dir * (double)SIM_TRAIN_V * (double)(t - s->train * SIM_HEADWAY_S);
    double along = front - s->dir * (s->carriage * SIM_CARRIAGE_M + s->u);
    sim_xy q = ct__sim_world_line_point(w, s->line, along);
    double a = w->line_angle[s->line];
    out->world.x = q.x - sin(a) * (s->v - 1.4);
    out->world.y = q.y + cos(a) * (s->v - 1.4);
    out->lx = s->u;
    out->ly = s->v;
}

void ct__sim_seg_pos(const sim_world *w, uint32_t i, const sim_seg *s, int64_t t, sim_pos *out)
{
    assert(t >= s->t0 && t < s->t1);
    out->space = s->space;
    out->outdoors = 0;
    switch (s->kind) {
    case SIM_SEG_WALK:
    case SIM_SEG_CAR:
        moving_pos(s, t, out);
        return;
    case SIM_SEG_RIDE:
        ride_pos(w, s, t, out);
        return;
    case SIM_SEG_PLATFORM:
        out->lx = s->u;
        out->ly = s->v;
        break;
    case SIM_SEG_HOME:
        home_spot(w, i, t, &out->lx, &out->ly);
        break;
    case SIM_SEG_GUEST:
        guest_spot(w, i, t, &out->lx, &out->ly);
        break;
    default:
        venue_spot(w, i, s, t, &out->lx, &out->ly);
        break;
    }
    out->world.x = s->a.x + out->lx;
    out->world.y = s->a.y + out->ly;
}
