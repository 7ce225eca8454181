/*
 * proximity.c — the probability that two people, each known only to be
 * somewhere in a disk, were within D metres of each other.
 *
 * The risk model (docs/RISK.md) weighs every overlap of a case and a
 * contact by this number: two phones in the same 500 m cell have a
 * 1.6e-5 chance of being within 2 m, two GPS fixes of 5 m accuracy at the
 * same spot 0.133. Positions are uniform in their disks and
 * independent, so for A = disk(ca, ra) (the smaller), B = disk(cb, rb),
 * d = |ca - cb|:
 *
 *   P = 1 / (|A| |B|) * integral over y in B of |A ∩ disk(y, D)| dy
 *     = 1 / (|A| |B|) * integral over s of lens(ra, D, s) * s * theta(s) ds
 *
 * where lens(r1, r2, s) is the area common to two disks whose centres are
 * s apart and s * theta(s) is the length of the circle of radius s about
 * ca that lies inside B. The integrand vanishes outside
 * [max(0, d - rb), min(ra + D, d + rb)] and is smooth between the points
 * where lens or theta change form (|ra - D|, ra + D, rb - d, |d - rb|,
 * d + rb). Each such panel is integrated by the Gauss-Kronrod 7-15 rule
 * after the substitution s = u + (v - u)(1 - cos(pi t)) / 2, which turns
 * the square-root behaviour of lens and theta at the panel ends into
 * smooth functions of t; a panel is halved until its 7-point Gauss rule
 * agrees with the 15-point result to 1e-6 of the panel or 1e-8 of the
 * whole, which leaves the 15-point result within about 1e-8 (checked
 * against an independent quadrature by the unit test). Where y lies at
 * least D inside A, the D-disk around it is wholly in A, so that part of
 * the integral is a lens in closed form (pi D^2 |B ∩ disk(ca, ra - D)|)
 * and only the band of width 2D along A's edge is integrated: for two
 * cells of hundreds of metres that band is a small correction. Three
 * shortcuts are exact: no two points of the disks further apart than D
 * (P = 1), disjoint beyond D (P = 0), and the smaller disk grown by D
 * inside the larger (P = D^2 / rb^2).
 *
 * For D much smaller than both radii this is the familiar
 * pi D^2 |A ∩ B| / (|A| |B|); near the disks' edges and for GPS fixes of a
 * few metres, where that approximation is off by tens of percent, this is
 * exact. tests/unit/test_proximity.c checks it against Monte Carlo.
 */
#include "proximity.h"

#include <math.h>

/* The area of a disk of radius r beyond a chord at distance x from its
 * centre, half-length h, seen under half-angle a = atan2(h, x):
 * r^2 a - x h. For a thin segment (small a) the two terms nearly cancel,
 * so there it is r^2 (a - sin a cos a) by its series. */
static double segment(double r, double x, double h)
{
    double a = atan2(h, x);
    if (a < 0.05) {
        double a2 = a * a;
        return r * r * a * a2 * (2.0 / 3.0 - a2 * (2.0 / 15.0 - a2 * (4.0 / 315.0)));
    }
    return r * r * a - x * h;
}

double ct__lens_area(double r1, double r2, double d)
{
    if (d >= r1 + r2)
        return 0.0;
    double small = r1 < r2 ? r1 : r2;
    if (d <= fabs(r1 - r2))
        return M_PI * small * small;
    /* The common chord: its half-length h and its signed distances x1, x2
     * from the two centres; each disk contributes the segment beyond it. */
    double k = (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2);
    double h = sqrt(k > 0.0 ? k : 0.0) / (2.0 * d);
    double x1 = (d * d + r1 * r1 - r2 * r2) / (2.0 * d), x2 = d - x1;
    double area = segment(r1, x1, h) + segment(r2, x2, h);
    return area > 0.0 ? area : 0.0;
}

double ct__inside_probability(double centre_dist, double r_area, double r_phone)
{
    double p = ct__lens_area(r_area, r_phone, centre_dist) / (M_PI * r_phone * r_phone);
    return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
}

/* The angle of the circle of radius s about A's centre that lies in B. */
static double angle_inside(double s, double d, double rb)
{
    if (s + d <= rb)
        return 2.0 * M_PI;
    if (s >= d + rb || s <= d - rb)
        return 0.0;
    double c = (s * s + d * d - rb * rb) / (2.0 * s * d);
    c = c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
    return 2.0 * acos(c);
}

/* Gauss-Kronrod 7-15 on [-1, 1] (the rule of QUADPACK's qk15): the
 * Kronrod nodes (0 first, then the positive ones) with their weights, and
 * the weights of the 7-point Gauss rule on its nodes (every other one). */
static const double GK_NODE[8] = {0.0,
                                  0.207784955007898467600689403773245,
                                  0.405845151377397166906606412076961,
                                  0.586087235467691130294144845693013,
                                  0.741531185599394439863864773280788,
                                  0.864864423359769072789712788640926,
                                  0.949107912342758524526189684047851,
                                  0.991455371120812639206854697526329};
static const double K15_WEIGHT[8] = {0.209482141084727828012999174891714,
                                     0.204432940075298892414161999234649,
                                     0.190350578064785409913256402421014,
                                     0.169004726639267902826583426598550,
                                     0.140653259715525918745189590510238,
                                     0.104790010322250183839876322541518,
                                     0.063092092629978553290700663189204,
                                     0.022935322010529224963732008058970};
static const double G7_WEIGHT[4] = {0.417959183673469387755102040816327, /* node 0 */
                                    0.381830050505118944950369775488975, /* node 2 */
                                    0.279705391489276667901467771423780, /* node 4 */
                                    0.129484966168869693270611432679082}; /* node 6 */

static double integrand(double s, double ra, double rb, double d, double d_max)
{
    return ct__lens_area(ra, d_max, s) * s * angle_inside(s, d, rb);
}

/* The integral over [u, v] by the 15-point Kronrod rule, after the
 * substitution s = u + (v - u)(1 - cos(pi t)) / 2; *error is its
 * difference from the 7-point Gauss rule on the same nodes. */
static double kronrod(double u, double v, double ra, double rb, double d, double d_max,
                      double *error)
{
    double h = v - u, k15 = 0.0, g7 = 0.0;
    for (int i = -7; i <= 7; i++) {
        int a = i < 0 ? -i : i;
        double x = i < 0 ? -GK_NODE[a] : GK_NODE[a];
        double t = (x + 1.0) / 2.0;
        double s = u + h * (1.0 - cos(M_PI * t)) / 2.0;
        double f = integrand(s, ra, rb, d, d_max) * h * M_PI / 4.0 * sin(M_PI * t);
        k15 += K15_WEIGHT[a] * f;
        if (a % 2 == 0)
            g7 += G7_WEIGHT[a / 2] * f;
    }
    *error = fabs(k15 - g7);
    return k15;
}

/* The integral over [u, v]: a panel whose two rules differ by more than
 * 1e-6 of it (or of the whole, `tiny`) is halved, at most 12 times. A
 * break point just outside a panel (two of the five a hair apart) makes
 * the integrand nearly singular at its end, where one rule is not enough;
 * the Kronrod result of a panel that passes is far better than the test. */
static double panel(double u, double v, double ra, double rb, double d, double d_max,
                    double tiny, int depth)
{
    double error, whole = kronrod(u, v, ra, rb, d, d_max, &error);
    if (depth >= 12 || error <= 1e-6 * fabs(whole) + tiny)
        return whole;
    double m = (u + v) / 2;
    return panel(u, m, ra, rb, d, d_max, tiny / 2, depth + 1) +
           panel(m, v, ra, rb, d, d_max, tiny / 2, depth + 1);
}

double ct__near_probability(double centre_dist, double ra, double rb, double d_max)
{
    double d = centre_dist;
    if (ra > rb) {
        double swap = ra;
        ra = rb;
        rb = swap;
    }
    if (d >= ra + rb + d_max)
        return 0.0;
    if (d + ra + rb <= d_max)
        return 1.0; /* no two points of the disks are further apart than D */
    if (d + ra + d_max <= rb)
        return d_max * d_max / (rb * rb);
    double lo = d > rb ? d - rb : 0.0, hi = ra + d_max < d + rb ? ra + d_max : d + rb;
    double norm = M_PI * ra * ra * M_PI * rb * rb, sum = 0.0;
    /* Where y is at least D inside A's edge, A ∩ disk(y, D) is the whole
     * D-disk: that part of the integral is pi D^2 |B ∩ disk(ca, ra - D)|,
     * a lens. Only the band of width 2D around A's edge is integrated. */
    if (ra > d_max) {
        sum = M_PI * d_max * d_max * ct__lens_area(ra - d_max, rb, d);
        if (lo < ra - d_max)
            lo = ra - d_max;
    }
    double tiny = 1e-8 * (sum > 0.0 ? sum : 1e-2 * norm);
    double cut[5] = {fabs(ra - d_max), ra + d_max, rb - d, fabs(d - rb), d + rb};
    /* Sort the five break points (insertion sort) and integrate between
     * those inside (lo, hi). */
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && cut[j] < cut[j - 1]; j--) {
            double swap = cut[j];
            cut[j] = cut[j - 1];
            cut[j - 1] = swap;
        }
    double from = lo;
    for (int i = 0; i <= 5; i++) {
        double to = i < 5 ? cut[i] : hi;
        if (to > hi)
            to = hi;
        if (to > from) {
            sum += panel(from, to, ra, rb, d, d_max, tiny, 0);
            from = to;
        }
    }
    double p = sum / norm;
    return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
}
