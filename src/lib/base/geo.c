/*
 * geo.c — haversine distance and the conservative tile cover of a circle.
 *
 * Why a bounding box in degrees: tiles are lat/lon squares, so the cover
 * of a circle is the range of rows and columns its box touches. For a
 * circle of angular radius a = reach / R around (lat, lon):
 *   - latitude spans lat +- a (clamped to the poles);
 *   - if the circle contains a pole, every longitude is possible;
 *   - otherwise longitudes span lon +- asin(sin a / cos lat) (the exact
 *     extent of a small circle on the sphere), wrapped at +-180.
 * A small margin (1e-9 degrees) absorbs rounding; being generous only
 * costs a few more tiles, never a missed disk.
 */
#include "geo.h"

#include <math.h>

#define DEG2RAD (M_PI / 180.0)
#define RAD2DEG (180.0 / M_PI)
#define MARGIN_DEG 1e-9

double ct__distance_m(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * DEG2RAD, p2 = lat2 * DEG2RAD;
    double dp = (lat2 - lat1) * DEG2RAD, dl = (lon2 - lon1) * DEG2RAD;
    double sp = sin(dp / 2), sl = sin(dl / 2);
    double a = sp * sp + cos(p1) * cos(p2) * sl * sl;
    if (a > 1.0)
        a = 1.0;
    return 2.0 * CT_EARTH_RADIUS_M * asin(sqrt(a));
}

static double tile_deg(unsigned level)
{
    return CT_GRID_BASE_DEG * (double)(1u << level);
}

unsigned ct__grid_level(double radius_m)
{
    double metres_per_deg = CT_EARTH_RADIUS_M * DEG2RAD;
    unsigned level = 0;
    while (level + 1 < CT_GRID_LEVELS && tile_deg(level) * metres_per_deg < radius_m)
        level++;
    return level;
}

static uint64_t rows_at(unsigned level)
{
    return (uint64_t)ceil(180.0 / tile_deg(level)) + 1;
}

static uint64_t cols_at(unsigned level)
{
    return (uint64_t)ceil(360.0 / tile_deg(level)) + 1;
}

static uint64_t make_key(unsigned level, uint64_t row, uint64_t col)
{
    return ((uint64_t)level << 44) | (row << 22) | col;
}

/* Clamped before the conversion: a coordinate outside the globe (or NaN)
 * must not reach a float-to-integer conversion (undefined behaviour). */
static uint64_t row_of(unsigned level, double lat)
{
    double r = floor((lat + 90.0) / tile_deg(level));
    if (!(r >= 0)) /* also NaN */
        r = 0;
    if (r > (double)(rows_at(level) - 1))
        r = (double)(rows_at(level) - 1);
    uint64_t max = rows_at(level) - 1;
    return (uint64_t)r > max ? max : (uint64_t)r;
}

static uint64_t col_of(unsigned level, double lon)
{
    double c = floor((lon + 180.0) / tile_deg(level));
    if (!(c >= 0))
        c = 0;
    if (c > (double)(cols_at(level) - 1))
        c = (double)(cols_at(level) - 1);
    uint64_t max = cols_at(level) - 1;
    return (uint64_t)c > max ? max : (uint64_t)c;
}

uint64_t ct__grid_key(unsigned level, double lat, double lon)
{
    return make_key(level, row_of(level, lat), col_of(level, lon));
}

/* Column ranges (at most two, when wrapping) covering the box's longitudes. */
static unsigned column_ranges(unsigned level, double lon, double dlon, uint64_t lo[2],
                              uint64_t hi[2])
{
    if (dlon >= 180.0) {
        lo[0] = 0;
        hi[0] = cols_at(level) - 1;
        return 1;
    }
    double west = lon - dlon - MARGIN_DEG, east = lon + dlon + MARGIN_DEG;
    unsigned n = 0;
    if (west < -180.0) {
        lo[n] = col_of(level, west + 360.0);
        hi[n++] = cols_at(level) - 1;
        west = -180.0;
    }
    if (east > 180.0) {
        lo[n] = 0;
        hi[n++] = col_of(level, east - 360.0);
        east = 180.0;
    }
    lo[n] = col_of(level, west);
    hi[n++] = col_of(level, east);
    return n;
}

unsigned ct__grid_query(unsigned level, double lat, double lon, double reach_m,
                        ct_grid_span *spans)
{
    double a = reach_m / CT_EARTH_RADIUS_M; /* angular radius, radians */
    double dlat = a * RAD2DEG;
    double south = lat - dlat - MARGIN_DEG, north = lat + dlat + MARGIN_DEG;
    double dlon = 360.0;
    if (north < 90.0 && south > -90.0 && a < M_PI / 2) {
        double s = sin(a) / cos(lat * DEG2RAD);
        if (s < 1.0)
            dlon = asin(s) * RAD2DEG;
    }
    uint64_t clo[2], chi[2];
    unsigned ncols = column_ranges(level, lon, dlon, clo, chi);
    uint64_t r0 = row_of(level, south < -90.0 ? -90.0 : south);
    uint64_t r1 = row_of(level, north > 90.0 ? 90.0 : north);
    if ((r1 - r0 + 1) * ncols > CT_GRID_SPANS_MAX) {
        spans[0].lo = make_key(level, r0, 0);
        spans[0].hi = make_key(level, r1, cols_at(level) - 1);
        return 1;
    }
    unsigned n = 0;
    for (uint64_t r = r0; r <= r1; r++)
        for (unsigned k = 0; k < ncols; k++) {
            spans[n].lo = make_key(level, r, clo[k]);
            spans[n].hi = make_key(level, r, chi[k]);
            n++;
        }
    return n;
}
