/*
 * test_geo.c — haversine distances and the disk grid.
 *
 * The grid must never miss a disk within reach: random disks and queries
 * (including near the poles and across the antimeridian, with radii from
 * a metre to 100 km) are checked against a brute-force scan.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "geo.h"
#include "testutil.h"

static void distance_known_values(void **state)
{
    (void)state;
    assert_true(ct__distance_m(55.75, 37.62, 55.75, 37.62) == 0.0);
    /* one degree of latitude on this sphere: R * pi / 180 */
    double one_deg = CT_EARTH_RADIUS_M * M_PI / 180.0;
    assert_true(fabs(ct__distance_m(10.0, 20.0, 11.0, 20.0) - one_deg) < 1e-6);
    /* antipodes: half the circumference */
    assert_true(fabs(ct__distance_m(0, 0, 0, 180) - CT_EARTH_RADIUS_M * M_PI) < 1e-6);
    /* symmetric */
    assert_true(ct__distance_m(55.75, 37.62, 55.76, 37.63) == ct__distance_m(55.76, 37.63, 55.75, 37.62));
    /* the conformance cells A1-A2 are 0.01 degree of latitude apart: about 1112 m */
    double d = ct__distance_m(55.75, 37.62, 55.76, 37.62);
    assert_true(d > 1111.0 && d < 1113.0);
}

static void grid_levels_grow_with_radius(void **state)
{
    (void)state;
    assert_int_equal(ct__grid_level(1), 0);
    assert_true(ct__grid_level(1000) > ct__grid_level(50));
    assert_true(ct__grid_level(100000) < CT_GRID_LEVELS);
}

typedef struct disk {
    double lat, lon, r;
    uint64_t key;
} disk;

static int in_spans(uint64_t key, const ct_grid_span *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (key >= s[i].lo && key <= s[i].hi)
            return 1;
    return 0;
}

static void random_point(uint64_t *seed, int region, double *lat, double *lon)
{
    switch (region) {
    case 0: /* a city */
        *lat = tu_uniform(seed, 55.5, 56.0);
        *lon = tu_uniform(seed, 37.3, 37.9);
        break;
    case 1: /* near a pole */
        *lat = tu_uniform(seed, 89.0, 90.0);
        *lon = tu_uniform(seed, -180, 180);
        break;
    case 2: /* across the antimeridian */
        *lat = tu_uniform(seed, -10, 10);
        *lon = tu_rand(seed) & 1 ? tu_uniform(seed, 179.0, 180.0) : tu_uniform(seed, -180.0, -179.0);
        break;
    default:
        *lat = tu_uniform(seed, -90, 90);
        *lon = tu_uniform(seed, -180, 180);
    }
}

static void grid_never_misses(void **state)
{
    (void)state;
    uint64_t seed = 42;
    ct_grid_span spans[CT_GRID_SPANS_MAX];
    for (int region = 0; region < 4; region++) {
        enum { N = 400 };
        disk d[N];
        double level_max[CT_GRID_LEVELS] = {0};
        for (int i = 0; i < N; i++) {
            random_point(&seed, region, &d[i].lat, &d[i].lon);
            d[i].r = exp(tu_uniform(&seed, 0, log(100000.0)));
            unsigned level = ct__grid_level(d[i].r);
            d[i].key = ct__grid_key(level, d[i].lat, d[i].lon);
            if (d[i].r > level_max[level])
                level_max[level] = d[i].r;
        }
        for (int q = 0; q < 200; q++) {
            double lat, lon, reach = exp(tu_uniform(&seed, 0, log(50000.0)));
            random_point(&seed, region, &lat, &lon);
            for (int i = 0; i < N; i++) {
                if (ct__distance_m(lat, lon, d[i].lat, d[i].lon) > reach + d[i].r)
                    continue;
                unsigned level = ct__grid_level(d[i].r);
                unsigned n = ct__grid_query(level, lat, lon, reach + level_max[level], spans);
                if (!in_spans(d[i].key, spans, n))
                    fail_msg("region %d: disk %d (%.6f,%.6f r=%.1f) missed by query (%.6f,%.6f reach=%.1f)",
                             region, i, d[i].lat, d[i].lon, d[i].r, lat, lon, reach);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(distance_known_values),
        cmocka_unit_test(grid_levels_grow_with_radius),
        cmocka_unit_test(grid_never_misses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
