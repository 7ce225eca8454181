/*
 * proximity.h — how likely two imprecise positions were within D metres
 * (internal; the formula is docs/RISK.md section 2).
 *
 * Each position is a disk: a cell's coverage disk, or a GPS point with its
 * accuracy as radius. The true position is taken as uniform in its disk,
 * independently of the other's, and the result is the exact probability
 * that the two true positions are at most D apart.
 */
#ifndef CT_PROXIMITY_H
#define CT_PROXIMITY_H

/* P(|X - Y| <= d_max) for X uniform in the disk of radius ra and Y uniform
 * in the disk of radius rb, the centres `centre_dist` metres apart. Radii
 * must be > 0, d_max >= 0. Exact up to the quadrature's error (below 1e-7
 * relative: tests/unit/test_proximity.c). */
double ct__near_probability(double centre_dist, double ra, double rb, double d_max);

/* Area of the intersection of two disks of radii r1, r2 whose centres are
 * d apart (the lens). */
double ct__lens_area(double r1, double r2, double d);

/* P(|X - c| <= r_area) for X uniform in a phone's disk of radius r_phone
 * (> 0) whose centre is `centre_dist` metres from c: the share of the
 * phone's disk inside the area's disk (docs/AREA.md). */
double ct__inside_probability(double centre_dist, double r_area, double r_phone);

#endif
