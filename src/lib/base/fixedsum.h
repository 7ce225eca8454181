/*
 * fixedsum.h — a sum of non-negative doubles that does not depend on the
 * order of its terms (internal, header-only).
 *
 * Each term is cut at 2^-64 into whole units and a 64-bit fraction, and
 * both are summed as integers (the fraction carrying into the units).
 * Integer addition is exact, so any order gives the same bits; only each
 * term's bits below 2^-64 are dropped. The trace reads a subscriber's
 * overlaps in an order that depends on how the store is laid out (day by
 * day, cell by cell); their expected seconds near a case (score.c) and
 * inside an area (area.c) are summed this way so that the answer does not.
 */
#ifndef CT_FIXEDSUM_H
#define CT_FIXEDSUM_H

#include <math.h>
#include <stdint.h>

typedef struct ct_fixed_sum {
    int64_t whole;
    uint64_t frac;
} ct_fixed_sum;

#define CT_FIXED_ONE 18446744073709551616.0 /* 2^64 */

/* Adds x (>= 0, finite, below 2^63). */
static inline void ct__fixed_add(ct_fixed_sum *f, double x)
{
    double whole = floor(x);
    uint64_t frac = (uint64_t)((x - whole) * CT_FIXED_ONE); /* < 2^64: x - whole < 1 */
    f->whole += (int64_t)whole;
    f->frac += frac;
    f->whole += f->frac < frac; /* carried */
}

/* Adds another sum g: the same bits as adding g's terms one by one. */
static inline void ct__fixed_add_sum(ct_fixed_sum *f, const ct_fixed_sum *g)
{
    f->whole += g->whole;
    f->frac += g->frac;
    f->whole += f->frac < g->frac; /* carried */
}

static inline double ct__fixed_value(const ct_fixed_sum *f)
{
    return (double)f->whole + (double)f->frac / CT_FIXED_ONE;
}

#endif
