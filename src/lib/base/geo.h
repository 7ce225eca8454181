/*
 * geo.h — distances and the disk grid (internal).
 *
 * Distance is the haversine great-circle distance on a sphere of radius
 * 6 371 008.8 m (SPEC 2), computed by one function used everywhere.
 *
 * The disk grid finds, among many disks (centre, radius), those that may
 * lie within distance q of a point. Disks are filed by level: level L has
 * square tiles of CT_GRID_BASE_DEG * 2^L degrees, and a disk goes to the
 * smallest level whose tile is at least its radius. A query for (c, q)
 * visits, per level, the tiles overlapping a conservative bounding box of
 * the circle of radius q + (largest radius filed at that level) around c.
 * The box is exact-conservative on the sphere (it handles the poles and
 * the antimeridian), so a disk within reach is never missed; callers then
 * apply the exact test. Keys sort by (level, row, column), so a row of
 * tiles is one contiguous key range.
 */
#ifndef CT_GEO_H
#define CT_GEO_H

#include <stdint.h>

#define CT_EARTH_RADIUS_M 6371008.8
#define CT_GRID_LEVELS 12
#define CT_GRID_BASE_DEG (1.0 / 2048.0) /* about 54 m of latitude */

/* Haversine distance in metres. */
double ct__distance_m(double lat1, double lon1, double lat2, double lon2);

/* Grid level for a disk of radius r metres. */
unsigned ct__grid_level(double radius_m);

/* The tile key of a centre at a level. */
uint64_t ct__grid_key(unsigned level, double lat, double lon);

/* One row of tiles to visit: keys lo..hi inclusive. */
typedef struct ct_grid_span {
    uint64_t lo, hi;
} ct_grid_span;

#define CT_GRID_SPANS_MAX 4096

/* Fills spans (at most CT_GRID_SPANS_MAX) with the key ranges of level
 * `level` that may hold a centre within reach_m of (lat, lon). Returns the
 * number of spans. When the box would need more rows than fit, the rows
 * are merged into one range covering them (still correct, slower). */
unsigned ct__grid_query(unsigned level, double lat, double lon, double reach_m,
                        ct_grid_span *spans);

#endif
