/*
 * sim_cells.c — towers, sectors, serving cells and the cell catalogue.
 *
 * Towers stand on rings around the centre. The spacing between towers
 * grows with the distance r from the centre, spacing(r) = 250 m + 0.3 r,
 * so the centre has small cells (catalogue radius ~140 m) and the
 * suburbs large ones (several km). A tower's sectors reach 0.75 x its
 * spacing; the catalogue describes a sector as the smallest disk holding
 * its 120-degree wedge: centre half-way along the sector's azimuth,
 * radius 0.87 x reach. The nearest-tower rule leaves some served points
 * outside that disk, as real catalogues do.
 *
 * Lookup is a uniform grid of GRID_M buckets searched ring by ring until
 * no unvisited bucket can hold a nearer tower (the second nearest is
 * tracked too). The grid covers the world plus a margin; points outside
 * are clamped to the border buckets, which only costs search time.
 */
#include "sim_cells.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "sim_out.h"
#include "sim_rng.h"

#define GRID_M 500.0
#define PI 3.14159265358979323846

static double spacing(double r)
{
    return 250.0 + 0.3 * r;
}

static void add_tower(sim_net *n, size_t *cap, sim_xy p, double az0)
{
    CT_GROW(n->towers, n->ntowers + 1, *cap);
    sim_tower *t = &n->towers[n->ntowers++];
    t->p = p;
    t->az0 = az0;
    t->reach = 0.75 * spacing(hypot(p.x, p.y));
}

static void place_towers(sim_net *n, const sim_world *w)
{
    sim_rng r;
    sim_rng_seed(&r, w->p->seed, SIM_RS_CELLS, n->op, 0);
    size_t cap = 0;
    /* one draw per statement: C leaves the order inside an initializer open,
     * and the same seed must give the same city whatever the compiler */
    double cx = sim_range(&r, -60, 60);
    double cy = sim_range(&r, -60, 60);
    sim_xy c = {cx, cy};
    add_tower(n, &cap, c, sim_range(&r, 0, 2 * PI));
    double rad = spacing(0) * sim_range(&r, 0.6, 1.0);
    double limit = w->r_out + spacing(w->r_out);
    while (rad < limit) {
        double s = spacing(rad);
        unsigned k = (unsigned)(2 * PI * rad / s + 0.5);
        double rot = sim_range(&r, 0, 2 * PI);
        for (unsigned j = 0; j < k; j++) {
            double a = rot + 2 * PI * j / k, rr = rad + sim_range(&r, -0.2, 0.2) * s;
            double jx = sim_range(&r, -0.15, 0.15); /* one draw per statement */
            double jy = sim_range(&r, -0.15, 0.15);
            sim_xy p = {rr * cos(a) + jx * s, rr * sin(a) + jy * s};
            add_tower(n, &cap, p, sim_range(&r, 0, 2 * PI));
        }
        rad += 0.87 * s;
    }
}

static int bucket_coord(const sim_net *n, double v)
{
    int k = (int)floor((v + n->half) / GRID_M);
    return k < 0 ? 0 : k >= n->gw ? n->gw - 1 : k;
}

static void build_grid(sim_net *n, const sim_world *w)
{
    n->half = w->r_out + spacing(w->r_out) * 2;
    n->gw = (int)ceil(2 * n->half / GRID_M);
    size_t nb = (size_t)n->gw * (size_t)n->gw;
    n->gstart = ct__calloc(nb + 1, sizeof *n->gstart);
    n->gitems = ct__malloc((n->ntowers ? n->ntowers : 1) * sizeof *n->gitems);
    for (size_t t = 0; t < n->ntowers; t++) {
        size_t b = (size_t)bucket_coord(n, n->towers[t].p.y) * (size_t)n->gw +
                   (size_t)bucket_coord(n, n->towers[t].p.x);
        n->gstart[b + 1]++;
    }
    for (size_t b = 0; b < nb; b++)
        n->gstart[b + 1] += n->gstart[b];
    uint32_t *fill = ct__calloc(nb, sizeof *fill);
    for (size_t t = 0; t < n->ntowers; t++) {
        size_t b = (size_t)bucket_coord(n, n->towers[t].p.y) * (size_t)n->gw +
                   (size_t)bucket_coord(n, n->towers[t].p.x);
        n->gitems[n->gstart[b] + fill[b]++] = (uint32_t)t;
    }
    ct__free(fill);
}

sim_net *ct__sim_net_build(const sim_world *w, unsigned op)
{
    sim_net *n = ct__calloc(1, sizeof *n);
    n->op = op;
    place_towers(n, w);
    build_grid(n, w);
    return n;
}

void ct__sim_net_free(sim_net *n)
{
    if (!n)
        return;
    ct__free(n->towers);
    ct__free(n->gstart);
    ct__free(n->gitems);
    ct__free(n);
}

typedef struct near2 {
    uint32_t t[2];
    double d2[2];
} near2;

static void consider(const sim_net *n, near2 *b, sim_xy q, int bx, int by)
{
    if (bx < 0 || by < 0 || bx >= n->gw || by >= n->gw)
        return;
    size_t k = (size_t)by * (size_t)n->gw + (size_t)bx;
    for (uint32_t j = n->gstart[k]; j < n->gstart[k + 1]; j++) {
        uint32_t t = n->gitems[j];
        double dx = n->towers[t].p.x - q.x, dy = n->towers[t].p.y - q.y;
        double d2 = dx * dx + dy * dy;
        if (d2 < b->d2[0]) {
            b->t[1] = b->t[0];
            b->d2[1] = b->d2[0];
            b->t[0] = t;
            b->d2[0] = d2;
        } else if (d2 < b->d2[1]) {
            b->t[1] = t;
            b->d2[1] = d2;
        }
    }
}

static void nearest_two(const sim_net *n, sim_xy q, near2 *b)
{
    b->t[0] = b->t[1] = 0;
    b->d2[0] = b->d2[1] = INFINITY;
    int cx = bucket_coord(n, q.x), cy = bucket_coord(n, q.y);
    for (int ring = 0; ring <= n->gw; ring++) {
        for (int dx = -ring; dx <= ring; dx++) {
            consider(n, b, q, cx + dx, cy - ring);
            if (ring)
                consider(n, b, q, cx + dx, cy + ring);
        }
        for (int dy = -ring + 1; dy <= ring - 1; dy++) {
            consider(n, b, q, cx - ring, cy + dy);
            consider(n, b, q, cx + ring, cy + dy);
        }
        double safe = ring * GRID_M; /* any unvisited tower is at least this far */
        if (b->d2[1] <= safe * safe)
            break;
    }
}

static unsigned sector_of(const sim_tower *t, sim_xy q)
{
    double a = atan2(q.y - t->p.y, q.x - t->p.x) - t->az0 + PI / 3;
    a = fmod(a, 2 * PI);
    if (a < 0)
        a += 2 * PI;
    unsigned s = (unsigned)(a / (2 * PI / 3));
    return s > 2 ? 2 : s;
}

uint32_t ct__sim_net_serving(const sim_net *n, sim_xy q, int second)
{
    near2 b;
    nearest_two(n, q, &b);
    uint32_t t = second && n->ntowers > 1 ? b.t[1] : b.t[0];
    return t * 3 + sector_of(&n->towers[t], q);
}

size_t ct__sim_net_cell_id(const sim_net *n, uint32_t cell, char *buf)
{
    uint32_t t = cell / 3, s = cell % 3, lac = 7700 + t / 64;
    int k;
    switch (n->op % 3) {
    case 0:
        k = snprintf(buf, 48, "250%02u-%u-%u", n->op + 1, lac, t * 10 + s + 1);
        break;
    case 1:
        k = snprintf(buf, 48, "%u:%u", lac, t * 10 + s + 1);
        break;
    default:
        k = snprintf(buf, 48, "C%u.%u.%c", lac, t, 'A' + (int)s);
        break;
    }
    return (size_t)k;
}

size_t ct__sim_net_unknown_id(const sim_net *n, uint64_t k, char *buf)
{
    /* LAC 9999 is never used: towers would have to number 147 000. */
    unsigned v = (unsigned)(k % 100000);
    int len;
    switch (n->op % 3) {
    case 0:
        len = snprintf(buf, 48, "250%02u-9999-%u", n->op + 1, v);
        break;
    case 1:
        len = snprintf(buf, 48, "9999:%u", v);
        break;
    default:
        len = snprintf(buf, 48, "C9999.%u.B", v);
        break;
    }
    return (size_t)len;
}

static void cell_disk(const sim_net *n, uint32_t cell, sim_xy *c, double *radius)
{
    const sim_tower *t = &n->towers[cell / 3];
    double az = t->az0 + (cell % 3) * (2 * PI / 3);
    c->x = t->p.x + 0.5 * t->reach * cos(az);
    c->y = t->p.y + 0.5 * t->reach * sin(az);
    *radius = 0.87 * t->reach;
}

static void write_cell(const sim_world *w, const sim_net *n, sim_out *o, uint32_t cell)
{
    char id[48], *p = ct__sim_out_reserve(o, 256);
    sim_xy c;
    double radius, lat, lon;
    cell_disk(n, cell, &c, &radius);
    ct__sim_world_latlon(w, c, &lat, &lon);
    ct__sim_net_cell_id(n, cell, id);
    const char *region = hypot(n->towers[cell / 3].p.x, n->towers[cell / 3].p.y) <= w->r_city
                             ? "RU-MOW" : "RU-MOS";
    int k;
    switch (n->op % 3) {
    case 0:
        k = snprintf(p, 256, "%s,%.6f,%.6f,%.0f,%s\n", id, lat, lon, radius, region);
        break;
    case 1:
        k = snprintf(p, 256, "%s,%s,%.6f,%.6f,%.0f,%u\r\n", id, region, lat, lon, radius,
                     (unsigned)(cell % 3) * 120);
        break;
    default:
        k = snprintf(p, 256, "%.6f,%.6f,%.0f,%s,%s,%s\n", lon, lat, radius, id, region,
                     cell % 2 ? "LTE" : "GSM");
        break;
    }
    ct__sim_out_commit(o, (size_t)k);
}

ct_code ct__sim_net_write_catalogue(const sim_world *w, const sim_net *n, const char *path,
                                ct_err *err)
{
    static const char *const HEAD[3] = {"cell_id,lat,lon,radius_m,region\n",
                                        "cell_id,region,lat,lon,radius_m,azimuth\r\n",
                                        "lon,lat,radius_m,cell_id,region,tech\n"};
    sim_out *o;
    ct_code rc = ct__sim_out_open(path, CT_SIM_COMPRESS_NONE, &o, err);
    if (rc)
        return rc;
    ct__sim_out_puts(o, HEAD[n->op % 3]);
    for (uint32_t c = 0; c < n->ntowers * 3; c++)
        write_cell(w, n, o, c);
    return ct__sim_out_close(o, NULL, err);
}
