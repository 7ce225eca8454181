/*
 * sim_events.c — network events of a person-day, and the feed rows.
 *
 * Events (per person-day, from one random stream keyed by person and day):
 * - traffic (calls 20 %, SMS 15 %, data 65 %): a Poisson process whose
 *   hourly rate follows a daily rhythm (TRAFFIC, ~26 events a day at
 *   activity 1; each person has an activity factor around 1);
 * - handovers: while walking, driving or riding, the serving cell is
 *   checked every 30 s and 70 % of changes are recorded;
 * - periodic location updates: whenever the phone has been silent for its
 *   timer (1, 2 or 3 hours), carried over midnight via last_ev[].
 * At most one event per second per person (a second event in the same
 * second is dropped), so no two good events of a person are duplicates
 * by SPEC 3.2 unless we make them so on purpose.
 *
 * Rows: each operator has its own column order (and one uses CRLF); a
 * cell event leaves lat/lon/accuracy empty, a point event leaves cell_id
 * empty. Times are mostly ISO UTC, some epoch seconds, a few +03:00;
 * numbers are written in the operator's style, a few in other styles.
 * Every bad row is an extra row derived from a good event and counted
 * by kind; every duplicate is an extra copy (same number, time, operator
 * and location, perhaps written differently) and counted.
 *
 * Files: a row goes to its 6-hour block file of the day, or (late_rate)
 * to the late file named after the next day. All files of a day are
 * closed at the day's end, so at most 5 files per operator are open.
 */
#include "sim_events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "textparse.h"
#include "sim_out.h"
#include "sim_rng.h"

#define DAY 86400
#define PI 3.14159265358979323846
#define EV_MAX 2048
#define FILES 5 /* four 6-hour blocks and the late file */
#define LATE 4

enum { EV_LU = 0, EV_HO, EV_CALL, EV_SMS, EV_DATA };
static const char *const EV_NAME[] = {"lu", "ho", "call", "sms", "data"};

/* Traffic events per hour at activity 1, by UTC+3 hour of the day. */
static const double TRAFFIC[24] = {0.3, 0.15, 0.1, 0.1, 0.1, 0.15, 0.5, 1.0,
                                   1.3, 1.4,  1.4, 1.4, 1.6, 1.6, 1.4, 1.4,
                                   1.4, 1.6,  1.8, 1.9, 1.8, 1.5, 1.0, 0.6};
#define TRAFFIC_MAX 1.9

typedef struct ev {
    int64_t t;
    int kind;
} ev;

struct sim_gen {
    const sim_world *w;
    sim_net *const *nets;
    ct_sim_result *res;
    const ct_sim_params *p;
    int64_t *last_ev;
    unsigned day;
    int64_t day0;
    char date[16], late_date[16]; /* YYYYMMDD of the day and of the next */
    char iso_date[16];            /* YYYY-MM-DD */
    sim_out *files[CT_SIM_MAX_OPERATORS][FILES];
    ct_code rc;
    ct_err err;
    ev *a, *b; /* scratch: candidate and final events */
    size_t na, nb;
};

typedef struct row {
    char msisdn[32], ts[40], cell[48], lat[24], lon[24], acc[16];
    const char *type, *source;
} row;

sim_gen *ct__sim_gen_new(const sim_world *w, sim_net *const *nets, ct_sim_result *res)
{
    sim_gen *g = ct__calloc(1, sizeof *g);
    g->w = w;
    g->nets = nets;
    g->res = res;
    g->p = w->p;
    g->last_ev = ct__malloc(w->n * sizeof *g->last_ev);
    for (uint64_t i = 0; i < w->n; i++) {
        unsigned lu = w->people[i].lu_hours * 3600u;
        g->last_ev[i] = w->p->start - (int64_t)(sim_hash(w->p->seed, 99, i, 0) % lu);
    }
    g->a = ct__malloc(EV_MAX * sizeof *g->a);
    g->b = ct__malloc(EV_MAX * sizeof *g->b);
    return g;
}

void ct__sim_gen_free(sim_gen *g)
{
    if (!g)
        return;
    ct__sim_gen_finish(g, NULL);
    ct__free(g->last_ev);
    ct__free(g->a);
    ct__free(g->b);
    ct__free(g);
}

void ct__sim_gen_day_begin(sim_gen *g, unsigned day)
{
    int64_t y;
    unsigned m, d;
    g->day = day;
    g->day0 = g->p->start + (int64_t)day * DAY;
    ct__civil_from_days(g->day0 / DAY, &y, &m, &d);
    snprintf(g->date, sizeof g->date, "%04d%02u%02u", (int)y, m, d);
    snprintf(g->iso_date, sizeof g->iso_date, "%04d-%02u-%02u", (int)y, m, d);
    ct__civil_from_days(g->day0 / DAY + 1, &y, &m, &d);
    snprintf(g->late_date, sizeof g->late_date, "%04d%02u%02u", (int)y, m, d);
}

/* ---- files ---------------------------------------------------------------- */

static const char *const EV_HEAD[3] = {
    "msisdn,ts,cell_id,lat,lon,accuracy_m\n",
    "ts,msisdn,event_type,cell_id,lat,lon,accuracy_m\r\n",
    "msisdn,cell_id,ts,accuracy_m,lat,lon,source\n"};

static sim_out *file_for(sim_gen *g, unsigned op, unsigned slot)
{
    sim_out **fp = &g->files[op][slot];
    if (*fp || g->rc)
        return *fp;
    char path[1400], name[64];
    const char *id = ct__sim_world_op_id(op);
    if (slot == LATE)
        snprintf(name, sizeof name, "%s_%s_late.csv", id, g->late_date);
    else
        snprintf(name, sizeof name, "%s_%s_%02u.csv", id, g->date, slot * 6);
    snprintf(path, sizeof path, "%s/%s/events/%s%s", g->p->out_dir, id, name,
             ct__sim_out_ext(g->p->compress));
    g->rc = ct__sim_out_open(path, g->p->compress, fp, &g->err);
    if (g->rc)
        return NULL;
    ct__sim_out_puts(*fp, EV_HEAD[op % 3]);
    g->res->op[op].files++;
    return *fp;
}

static ct_code close_files(sim_gen *g, ct_err *err)
{
    ct_code rc = g->rc;
    if (rc && err)
        *err = g->err;
    for (unsigned op = 0; op < CT_SIM_MAX_OPERATORS; op++)
        for (unsigned k = 0; k < FILES; k++) {
            uint64_t bytes = 0;
            if (!g->files[op][k])
                continue;
            ct_code r = ct__sim_out_close(g->files[op][k], &bytes, rc ? NULL : err);
            g->files[op][k] = NULL;
            g->res->op[op].bytes += bytes;
            rc = rc ? rc : r;
        }
    g->rc = rc;
    return rc;
}

ct_code ct__sim_gen_day_end(sim_gen *g, ct_err *err)
{
    return close_files(g, err);
}

ct_code ct__sim_gen_finish(sim_gen *g, ct_err *err)
{
    return close_files(g, err);
}

/* ---- event times ------------------------------------------------------------ */

static void add(ev *list, size_t *n, int64_t t, int kind)
{
    if (*n < EV_MAX) {
        list[*n].t = t;
        list[*n].kind = kind;
        (*n)++;
    }
}

static void traffic(sim_gen *g, const sim_person *pp, sim_rng *r)
{
    double rate = TRAFFIC_MAX * pp->activity / 3600.0, t = (double)g->day0;
    if (rate <= 0)
        return;
    for (;;) {
        t += sim_expo(r, 1.0 / rate);
        if (t >= (double)(g->day0 + DAY))
            break;
        int hour = (int)(((int64_t)t - g->day0 + 3 * 3600) / 3600 % 24);
        if (!sim_chance(r, TRAFFIC[hour] / TRAFFIC_MAX))
            continue;
        double u = sim_unif(r);
        add(g->a, &g->na, (int64_t)t, u < 0.2 ? EV_CALL : u < 0.35 ? EV_SMS : EV_DATA);
    }
}

static int moving(const sim_seg *s)
{
    return s->kind == SIM_SEG_WALK || s->kind == SIM_SEG_CAR || s->kind == SIM_SEG_RIDE;
}

static void handovers(sim_gen *g, uint32_t i, const sim_net *net, const sim_seg *segs,
                      size_t n, sim_rng *r)
{
    for (size_t k = 0; k < n; k++) {
        if (!moving(&segs[k]))
            continue;
        uint32_t prev = UINT32_MAX;
        for (int64_t t = segs[k].t0; t < segs[k].t1; t += 30) {
            sim_pos pos;
            ct__sim_seg_pos(g->w, i, &segs[k], t, &pos);
            uint32_t c = ct__sim_net_serving(net, pos.world, 0);
            if (prev != UINT32_MAX && c != prev && sim_chance(r, 0.7))
                add(g->a, &g->na, t, EV_HO);
            prev = c;
        }
    }
}

static int cmp_ev(const void *x, const void *y)
{
    const ev *a = x, *b = y;
    return a->t < b->t ? -1 : a->t > b->t ? 1 : a->kind - b->kind;
}

/* Merges periodic updates into the sorted candidates: g->b. */
static void location_updates(sim_gen *g, uint32_t i)
{
    int64_t timer = g->w->people[i].lu_hours * 3600, prev = g->last_ev[i];
    int64_t end = g->day0 + DAY;
    g->nb = 0;
    for (size_t k = 0; k <= g->na; k++) {
        int64_t t = k < g->na ? g->a[k].t : end;
        while (t - prev > timer && prev + timer < end) {
            prev += timer;
            if (prev >= g->day0)
                add(g->b, &g->nb, prev, EV_LU);
        }
        if (k == g->na)
            break;
        if (g->nb && g->b[g->nb - 1].t == t)
            continue; /* one event per second */
        add(g->b, &g->nb, t, g->a[k].kind);
        prev = t;
    }
    g->last_ev[i] = prev;
}

/* ---- text --------------------------------------------------------------- */

static void fmt_msisdn(uint64_t num, int style, char *out)
{
    char d[24];
    snprintf(d, sizeof d, "%llu", (unsigned long long)num);
    switch (style) {
    case 0: snprintf(out, 32, "%s", d); break;
    case 1: snprintf(out, 32, "+%s", d); break;
    case 2: snprintf(out, 32, "+%.1s %.3s %.3s-%.2s-%.2s", d, d + 1, d + 4, d + 7, d + 9); break;
    case 3: snprintf(out, 32, "%.1s-%.3s-%.3s-%.2s-%.2s", d, d + 1, d + 4, d + 7, d + 9); break;
    case 4: snprintf(out, 32, "+%.1s (%.3s) %.3s-%.2s-%.2s", d, d + 1, d + 4, d + 7, d + 9); break;
    default: snprintf(out, 32, "%.1s.%.3s.%.3s.%.2s.%.2s", d, d + 1, d + 4, d + 7, d + 9); break;
    }
}

static void two(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static void fmt_iso(int64_t t, int64_t day0, const char *date, const char *suffix, char *out)
{
    int64_t s = t - day0;
    memcpy(out, date, 10);
    out[10] = 'T';
    two(out + 11, (int)(s / 3600));
    out[13] = ':';
    two(out + 14, (int)(s / 60 % 60));
    out[16] = ':';
    two(out + 17, (int)(s % 60));
    strcpy(out + 19, suffix);
}

static void fmt_time(const sim_gen *g, int64_t t, int style, char *out)
{
    if (style == 1) {
        snprintf(out, 40, "%lld", (long long)t);
    } else if (style == 2) { /* Moscow local time with its offset */
        int64_t y;
        unsigned m, d;
        int64_t lt = t + 3 * 3600, ld = lt - ((lt % DAY) + DAY) % DAY;
        char date[16];
        ct__civil_from_days(ld / DAY, &y, &m, &d);
        snprintf(date, sizeof date, "%04d-%02u-%02u", (int)y, m, d);
        fmt_iso(lt, ld, date, "+03:00", out);
    } else {
        fmt_iso(t, g->day0, g->iso_date, "Z", out);
    }
}

static int time_style(sim_rng *r)
{
    double u = sim_unif(r);
    return u < 0.90 ? 0 : u < 0.97 ? 1 : 2;
}

static int number_style(unsigned op, sim_rng *r)
{
    if (sim_chance(r, 0.04))
        return (int)sim_below(r, 6);
    return op < 3 ? (int)op : 3;
}

static size_t cat(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return n;
}

static void write_row(sim_out *o, unsigned op, const row *rw)
{
    char *p = ct__sim_out_reserve(o, 512), *q = p;
    switch (op % 3) {
    case 0:
        q += cat(q, rw->msisdn); *q++ = ',';
        q += cat(q, rw->ts); *q++ = ',';
        q += cat(q, rw->cell); *q++ = ',';
        q += cat(q, rw->lat); *q++ = ',';
        q += cat(q, rw->lon); *q++ = ',';
        q += cat(q, rw->acc); *q++ = '\n';
        break;
    case 1:
        q += cat(q, rw->ts); *q++ = ',';
        q += cat(q, rw->msisdn); *q++ = ',';
        q += cat(q, rw->type); *q++ = ',';
        q += cat(q, rw->cell); *q++ = ',';
        q += cat(q, rw->lat); *q++ = ',';
        q += cat(q, rw->lon); *q++ = ',';
        q += cat(q, rw->acc); *q++ = '\r'; *q++ = '\n';
        break;
    default:
        q += cat(q, rw->msisdn); *q++ = ',';
        q += cat(q, rw->cell); *q++ = ',';
        q += cat(q, rw->ts); *q++ = ',';
        q += cat(q, rw->acc); *q++ = ',';
        q += cat(q, rw->lat); *q++ = ',';
        q += cat(q, rw->lon); *q++ = ',';
        q += cat(q, rw->source); *q++ = '\n';
        break;
    }
    ct__sim_out_commit(o, (size_t)(q - p));
}

/* ---- one event ------------------------------------------------------------ */

static void gps_fix(const sim_gen *g, const sim_pos *pos, sim_rng *r, row *rw)
{
    double acc = pos->outdoors ? 3 + sim_expo(r, 5) : 8 + sim_expo(r, 15);
    acc = acc > 80 ? 80 : acc;
    acc = floor(acc * 10 + 0.5) / 10;
    /* honest: the true position is always inside the reported disk */
    double e = acc * 0.45 * sqrt(-2 * log(1 - sim_unif(r)));
    e = e > 0.95 * acc ? 0.95 * acc : e;
    double a = sim_range(r, 0, 2 * PI), lat, lon;
    sim_xy q = {pos->world.x + e * cos(a), pos->world.y + e * sin(a)};
    ct__sim_world_latlon(g->w, q, &lat, &lon);
    snprintf(rw->lat, sizeof rw->lat, "%.6f", lat);
    snprintf(rw->lon, sizeof rw->lon, "%.6f", lon);
    snprintf(rw->acc, sizeof rw->acc, "%.1f", acc);
    rw->cell[0] = '\0';
    rw->source = "gps";
}

static void cell_fix(const sim_net *net, const sim_pos *pos, sim_rng *r, row *rw)
{
    uint32_t c = ct__sim_net_serving(net, pos->world, sim_chance(r, 0.12));
    ct__sim_net_cell_id(net, c, rw->cell);
    rw->lat[0] = rw->lon[0] = rw->acc[0] = '\0';
    rw->source = "net";
}

/* Turns a good row into a bad one of the given kind. */
static void spoil(const sim_net *net, int kind, sim_rng *r, row *rw)
{
    static const char *const BAD_NUM[] = {"12345", "7916ABC4567", "+7916123456789012",
                                          "0916123456"};
    static const char *const BAD_TS[] = {"2020-02-30T10:00:00Z", "2020-04-01T25:10:00Z",
                                         "01/04/2020 10:00", "2020-13-01T10:00:00Z",
                                         "N/A", "2020-04-01T10:00:00+25:00"};
    switch (kind) {
    case CT_SIM_BAD_MSISDN:
        snprintf(rw->msisdn, sizeof rw->msisdn, "%s", BAD_NUM[sim_below(r, 4)]);
        break;
    case CT_SIM_BAD_TIME:
        snprintf(rw->ts, sizeof rw->ts, "%s", BAD_TS[sim_below(r, 6)]);
        break;
    case CT_SIM_BAD_CELL:
        ct__sim_net_unknown_id(net, sim_next(r), rw->cell);
        rw->lat[0] = rw->lon[0] = rw->acc[0] = '\0';
        break;
    case CT_SIM_BAD_COORD:
        rw->cell[0] = '\0';
        snprintf(rw->lat, sizeof rw->lat, "%.6f", sim_chance(r, 0.5) ? 55.75 : 91 + 80 * sim_unif(r));
        snprintf(rw->lon, sizeof rw->lon, "%.6f", rw->lat[0] == '5' ? 181 + 170 * sim_unif(r) : 37.62);
        snprintf(rw->acc, sizeof rw->acc, "25.0");
        break;
    default: {
        unsigned v = (unsigned)sim_below(r, 3);
        if (v == 0)
            rw->msisdn[0] = '\0';
        else if (v == 1)
            rw->ts[0] = '\0';
        else { /* a point event without its longitude */
            rw->cell[0] = '\0';
            snprintf(rw->lat, sizeof rw->lat, "55.751000");
            rw->lon[0] = '\0';
            rw->acc[0] = '\0';
        }
        break;
    }
    }
}

static void emit(sim_gen *g, unsigned op, unsigned slot, const row *rw)
{
    sim_out *o = file_for(g, op, slot);
    if (o)
        write_row(o, op, rw);
    g->res->op[op].rows++;
}

static void one_event(sim_gen *g, const sim_person *pp, unsigned op, const ev *e,
                      const sim_pos *pos, int underground, sim_rng *r)
{
    const ct_sim_params *p = g->p;
    ct_sim_op_counts *cnt = &g->res->op[op];
    row rw;
    rw.type = EV_NAME[e->kind];
    fmt_msisdn(pp->msisdn, number_style(op, r), rw.msisdn);
    fmt_time(g, e->t, time_style(r), rw.ts);
    if (pp->precise && e->kind == EV_DATA && !underground && sim_chance(r, 0.7)) {
        gps_fix(g, pos, r, &rw);
        cnt->point_events++;
    } else {
        cell_fix(g->nets[op], pos, r, &rw);
    }
    unsigned slot = sim_chance(r, p->late_rate) ? LATE : (unsigned)((e->t - g->day0) / 21600);
    emit(g, op, slot, &rw);
    cnt->events++;
    if (p->duplicate_rate > 0 && sim_chance(r, p->duplicate_rate)) {
        row dup = rw;
        int late = sim_chance(r, 0.5);
        if (late) { /* re-delivered, written afresh */
            fmt_msisdn(pp->msisdn, (int)sim_below(r, 6), dup.msisdn);
            fmt_time(g, e->t, (int)sim_below(r, 3), dup.ts);
        }
        emit(g, op, late ? LATE : slot, &dup);
        cnt->duplicates++;
    }
    if (p->dirty_rate > 0 && sim_chance(r, p->dirty_rate)) {
        int kind = (int)sim_below(r, CT_SIM_BAD_KINDS);
        spoil(g->nets[op], kind, r, &rw);
        emit(g, op, slot, &rw);
        cnt->bad[kind]++;
    }
}

uint64_t ct__sim_gen_person(sim_gen *g, uint32_t i, const sim_seg *segs, size_t n)
{
    const sim_person *pp = &g->w->people[i];
    const ct_sim_params *p = g->p;
    sim_rng r;
    sim_rng_seed(&r, p->seed, SIM_RS_EVENTS, i, g->day);
    unsigned op = pp->op;
    if (p->operators > 1 && sim_chance(&r, p->roaming_rate))
        op = (op + 1 + (unsigned)sim_below(&r, p->operators - 1)) % p->operators;
    g->na = 0;
    traffic(g, pp, &r);
    handovers(g, i, g->nets[op], segs, n, &r);
    qsort(g->a, g->na, sizeof *g->a, cmp_ev);
    location_updates(g, i);
    size_t k = 0;
    for (size_t j = 0; j < g->nb; j++) {
        while (k + 1 < n && segs[k].t1 <= g->b[j].t)
            k++;
        sim_pos pos;
        ct__sim_seg_pos(g->w, i, &segs[k], g->b[j].t, &pos);
        int under = segs[k].kind == SIM_SEG_RIDE || segs[k].kind == SIM_SEG_PLATFORM;
        one_event(g, pp, op, &g->b[j], &pos, under, &r);
    }
    return g->nb;
}
