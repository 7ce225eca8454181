/*
 * test_proximity.c — the probability of being within D (src/lib/risk/proximity.c,
 * docs/RISK.md section 2) against Monte Carlo and an independent
 * quadrature.
 *
 * Monte Carlo: for each configuration, 4 million pairs of points drawn
 * uniformly in the two disks (a fixed-seed generator, so the test is
 * deterministic); the formula must lie within 5 standard errors of the
 * share of pairs within D. That is the stated tolerance: about 0.1 % of p
 * for p = 0.1, 2.5 % for p = 1e-4 (the 500 m cell of the issue).
 * Quadrature: the engine must agree with tests/support/ref_score.c's
 * tanh-sinh integration of the same probability to 1e-7 (relative)
 * wherever p > 1e-7, on 3000 random configurations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proximity.h"
#include "reference.c"
#include "ref_score.c"

typedef struct rng {
    uint64_t s;
} rng;

static double uniform(rng *r) /* [0, 1) */
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static void in_disk(rng *r, double radius, double *x, double *y)
{
    double a = 2 * M_PI * uniform(r), rr = radius * sqrt(uniform(r));
    *x = rr * cos(a);
    *y = rr * sin(a);
}

static double monte_carlo(rng *r, double d, double ra, double rb, double dmax, long n)
{
    long hit = 0;
    for (long i = 0; i < n; i++) {
        double x1, y1, x2, y2;
        in_disk(r, ra, &x1, &y1);
        in_disk(r, rb, &x2, &y2);
        x2 += d;
        hit += (x1 - x2) * (x1 - x2) + (y1 - y2) * (y1 - y2) <= dmax * dmax;
    }
    return (double)hit / (double)n;
}

static void test_against_monte_carlo(void **state)
{
    (void)state;
    /* centre distance, radii, D: cells, GPS fixes, a fix against a cell,
     * edges, D larger than the disks */
    static const double CASES[][4] = {
        {0, 500, 500, 2},   {0, 150, 150, 2},   {100, 150, 200, 2}, {340, 150, 200, 2},
        {0, 5, 5, 2},       {3, 5, 5, 2},       {7, 3, 3, 2},       {0, 2, 2, 2},
        {1, 2, 2, 2},       {5, 0.5, 8, 2},     {79, 5, 80, 2},     {12.5, 5, 8, 2},
        {48, 1, 50, 2},     {52, 1, 50, 2},     {10, 15, 24, 10},   {25, 6.5, 25.7, 50},
        {0, 1, 1, 2},       {1002, 1000, 3, 2}, {60, 30, 40, 0.5},  {0, 40, 40, 20}};
    rng r = {20261130};
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        double d = CASES[i][0], ra = CASES[i][1], rb = CASES[i][2], dmax = CASES[i][3];
        long n = 4000000;
        double mc = monte_carlo(&r, d, ra, rb, dmax, n);
        double p = ct__near_probability(d, ra, rb, dmax);
        double se = sqrt(fmax(p * (1 - p), 1.0 / (double)n) / (double)n);
        if (fabs(p - mc) > 5 * se) {
            fprintf(stderr, "d=%g ra=%g rb=%g D=%g: formula %.6g, Monte Carlo %.6g (se %.2g)\n", d,
                    ra, rb, dmax, p, mc, se);
            fail();
        }
        /* the order of the disks does not matter */
        assert_true(fabs(ct__near_probability(d, rb, ra, dmax) - p) <= 1e-15 + 1e-12 * p);
    }
}

static void test_exact_cases(void **state)
{
    (void)state;
    /* the number: two phones anywhere in the same 500 m cell */
    assert_true(fabs(ct__near_probability(0, 500, 500, 2) / 1.6e-5 - 1) < 0.01);
    /* a small disk well inside a large one: D^2 / rb^2 */
    assert_true(ct__near_probability(10, 5, 300, 2) == 4.0 / 90000.0);
    /* disjoint beyond D, and everything within D */
    assert_true(ct__near_probability(100, 40, 50, 9.9) == 0.0);
    assert_true(ct__near_probability(1, 2, 3, 50) == 1.0);
    /* D = 0: a point has no area */
    assert_true(ct__near_probability(0, 5, 5, 0) == 0.0);
    /* two random points of a disk of radius D are within D with
     * probability 1 - 3 sqrt(3) / (4 pi) */
    double known = 1 - 3 * sqrt(3) / (4 * M_PI);
    assert_true(fabs(ct__near_probability(0, 2, 2, 2) - known) < 1e-10);
    /* lens areas: identical disks, one inside the other, half-overlap */
    assert_true(fabs(ct__lens_area(3, 3, 0) - M_PI * 9) < 1e-12);
    assert_true(fabs(ct__lens_area(2, 10, 5) - M_PI * 4) < 1e-12);
    double r = 1, lens = 2 * r * r * acos(0.5) - 0.5 * sqrt(3); /* d = r */
    assert_true(fabs(ct__lens_area(r, r, r) - lens) < 1e-12);
    /* a thin sliver of two large disks keeps its digits */
    double sliver = ct__lens_area(5000, 5000, 9999.999);
    assert_true(sliver > 0 && sliver < 1e-2);
}

static void test_decreasing_with_distance(void **state)
{
    (void)state;
    double prev = 2;
    for (double d = 0; d < 420; d += 3.7) {
        double p = ct__near_probability(d, 150, 250, 2);
        assert_true(p <= prev + 1e-15);
        prev = p;
    }
    assert_true(prev == 0.0);
}

static void test_against_independent_quadrature(void **state)
{
    (void)state;
    rng r = {77};
    static const double D[] = {0.5, 1, 2, 10, 50};
    int compared = 0;
    for (int k = 0; k < 3000; k++) {
        double ra = exp(log(0.5) + uniform(&r) * log(4000));
        double rb = exp(log(0.5) + uniform(&r) * log(4000));
        double dmax = D[(int)(uniform(&r) * 5)];
        double d = uniform(&r) * (ra + rb + dmax) * 1.01;
        double p = ct__near_probability(d, ra, rb, dmax), q = ref_near_probability(d, ra, rb, dmax);
        if (fmax(p, q) < 1e-7)
            continue; /* below what any output shows */
        compared++;
        if (fabs(p - q) > 1e-7 * fmax(p, q)) {
            fprintf(stderr, "d=%.17g ra=%.17g rb=%.17g D=%g: engine %.15g, reference %.15g\n", d,
                    ra, rb, dmax, p, q);
            fail();
        }
    }
    assert_true(compared > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_monte_carlo),
                                       cmocka_unit_test(test_exact_cases),
                                       cmocka_unit_test(test_decreasing_with_distance),
                                       cmocka_unit_test(test_against_independent_quadrature)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
