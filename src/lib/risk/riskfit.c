/*
 * riskfit.c — fitting the risk model on labelled evidence (docs/RISK.md
 * section 4): `celltrace risk fit`.
 *
 * Input: feature files written by `risk features` on training cities
 * (one row per contact of the net: its evidence and whether the truth
 * calls it a true contact). Output: a model file.
 *
 * 1. Logistic regression of the label on the terms of risk.c, every
 *    coefficient but the intercept held at or above zero: more evidence
 *    of any kind never lowers p_contact, so each term reads as a
 *    likelihood ratio of at least one. Projected Newton: each step solves
 *    the Newton system on the coefficients not held at zero, then backs
 *    off until the penalised log-likelihood improves. A tiny ridge
 *    (lambda = 2e-6 per row) keeps the system well posed when two terms
 *    move together.
 * 2. Calibration: isotonic regression (pool adjacent violators) of the
 *    label on the fitted log-odds z, its blocks merged to at most 48
 *    knots (always the neighbours whose merge adds least squared error),
 *    interpolated linearly. A logistic curve is right in the
 *    middle and overconfident at the top, where few training contacts
 *    lie; the isotonic map follows what was observed.
 * 3. Thresholds: test at the smallest p_contact of 2 significant digits
 *    that keeps at most the given share of the net (default 5 %) at level
 *    test or above in the training rows; quarantine at 0.5 unless told
 *    otherwise ("more likely than not").
 * Every number is deterministic: rows are read in the order given, sums
 * run in that order, and the same files give the same model file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "csv.h"
#include "error.h"
#include "fsio.h"
#include "risk.h"

#define KNOTS_MAX 48

typedef struct fit_data {
    float *x;    /* rows x k term values */
    uint8_t *y;
    size_t n, cap, k;
    unsigned term[CT_RISK_TERMS_MAX];
} fit_data;

/* ---- reading feature files --------------------------------------------------------- */

static const char *const COLUMNS[] = {"true",     "exposure_s", "near_s",  "share_sum",
                                      "share_max", "comove",    "comove_n", "episodes",
                                      "days",      "places",    "night_s",
                                      "evidence"};
enum { N_COLUMNS = sizeof COLUMNS / sizeof *COLUMNS };

static int field_number(ct_csv *csv, int col, double *out)
{
    size_t len;
    const char *f = ct__csv_field(csv, col, &len);
    if (!len)
        return -1;
    char *end;
    *out = strtod(f, &end);
    return end == f + len && isfinite(*out) ? 0 : -1;
}

static ct_code read_row(ct_csv *csv, const int *col, fit_data *d, ct_err *err)
{
    double v[N_COLUMNS];
    for (int i = 0; i < N_COLUMNS; i++)
        if (field_number(csv, col[i], &v[i]))
            return ct__fail(err, CT_EINVAL, "%s:%llu: column %s is not a number", ct__csv_name(csv),
                            (unsigned long long)ct__csv_line(csv), COLUMNS[i]);
    /* Counts and seconds must be whole, non-negative and in range before
     * they are converted: a hand-edited file must not reach undefined
     * behaviour. Columns 1 and 6-11 are integers. */
    static const int integer_column[N_COLUMNS] = {0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    for (int i = 1; i < N_COLUMNS; i++)
        if (!(v[i] >= 0 && v[i] <= 4e9) || (integer_column[i] && v[i] != floor(v[i])))
            return ct__fail(err, CT_EINVAL, "%s:%llu: column %s must be %s from 0 to 4e9",
                            ct__csv_name(csv), (unsigned long long)ct__csv_line(csv), COLUMNS[i],
                            integer_column[i] ? "a whole number" : "a number");
    ct__evidence ev;
    memset(&ev, 0, sizeof ev);
    ev.exposure_s = (int64_t)v[1];
    ev.near_s = v[2];
    ev.share_sum = v[3];
    ev.share_max = v[4];
    ev.comove = v[5];
    ev.comove_n = (uint32_t)v[6];
    ev.episodes = (uint32_t)v[7];
    ev.days = (uint32_t)v[8];
    ev.places = (uint32_t)v[9];
    ev.night_s = (int64_t)v[10];
    ev.kinds = (uint32_t)v[11];
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 4096;
        d->x = ct__reallocarray(d->x, d->cap * d->k, sizeof *d->x);
        d->y = ct__reallocarray(d->y, d->cap, sizeof *d->y);
    }
    for (size_t j = 0; j < d->k; j++)
        d->x[d->n * d->k + j] = (float)ct__risk_terms[d->term[j]].value(&ev);
    d->y[d->n++] = v[0] > 0.5;
    return CT_OK;
}

static ct_code read_file(const char *path, fit_data *d, ct_err *err)
{
    ct_csv *csv = NULL;
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    if (rc)
        return rc;
    int col[N_COLUMNS];
    for (int i = 0; i < N_COLUMNS && !rc; i++)
        if ((col[i] = ct__csv_column(csv, COLUMNS[i])) < 0)
            rc = ct__fail(err, CT_EINVAL, "%s: no column %s (write it with `risk features`)", path,
                          COLUMNS[i]);
    while (!rc) {
        const char *reason = NULL;
        int got = ct__csv_next(csv, &reason, err);
        if (got == CT_CSV_EOF)
            break;
        if (got < 0)
            rc = err ? err->code : CT_EIO;
        else if (got == CT_CSV_BAD)
            rc = ct__fail(err, CT_EINVAL, "%s:%llu: %s", path,
                          (unsigned long long)ct__csv_line(csv), reason);
        else
            rc = read_row(csv, col, d, err);
    }
    ct__csv_close(csv);
    return rc;
}

/* ---- the logistic regression ----------------------------------------------------------- */

/* The log-odds of row i under coefficients w. */
static double row_log_odds(const fit_data *d, size_t i, const double *w)
{
    const float *x = d->x + i * d->k;
    double z = 0;
    for (size_t j = 0; j < d->k; j++)
        z += w[j] * x[j];
    return z;
}

static double penalised_loss(const fit_data *d, const double *w, double lambda)
{
    double loss = 0;
    for (size_t i = 0; i < d->n; i++) {
        double z = row_log_odds(d, i, w);
        /* log(1 + e^z) - y z, without overflow */
        loss += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - (d->y[i] ? z : 0);
    }
    for (size_t j = 1; j < d->k; j++)
        loss += 0.5 * lambda * w[j] * w[j];
    return loss;
}

/* Gradient g and Hessian h (k x k) of the penalised loss at w. */
static void derivatives(const fit_data *d, const double *w, double lambda, double *g, double *h)
{
    size_t k = d->k;
    memset(g, 0, k * sizeof *g);
    memset(h, 0, k * k * sizeof *h);
    for (size_t i = 0; i < d->n; i++) {
        const float *x = d->x + i * k;
        double p = 1.0 / (1.0 + exp(-row_log_odds(d, i, w))), r = p - d->y[i], s = p * (1 - p);
        for (size_t a = 0; a < k; a++) {
            g[a] += r * x[a];
            for (size_t b = 0; b <= a; b++)
                h[a * k + b] += s * x[a] * x[b];
        }
    }
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < a; b++)
            h[b * k + a] = h[a * k + b];
    for (size_t j = 1; j < k; j++) {
        g[j] += lambda * w[j];
        h[j * k + j] += lambda;
    }
}

/* Solves h d = -g on the free coordinates (Cholesky); others get 0.
 * Returns -1 when the system is not positive definite. */
static int newton_direction(size_t k, const double *g, const double *h, const int *free_j,
                            double *dir)
{
    double a[CT_RISK_TERMS_MAX * CT_RISK_TERMS_MAX], b[CT_RISK_TERMS_MAX];
    size_t idx[CT_RISK_TERMS_MAX], m = 0;
    for (size_t j = 0; j < k; j++)
        if (free_j[j])
            idx[m++] = j;
    for (size_t r = 0; r < m; r++) {
        b[r] = -g[idx[r]];
        for (size_t c = 0; c < m; c++)
            a[r * m + c] = h[idx[r] * k + idx[c]];
    }
    for (size_t c = 0; c < m; c++) { /* in place: a = L L^T */
        double s = a[c * m + c];
        for (size_t t = 0; t < c; t++)
            s -= a[c * m + t] * a[c * m + t];
        if (!(s > 0))
            return -1;
        a[c * m + c] = sqrt(s);
        for (size_t r = c + 1; r < m; r++) {
            double v = a[r * m + c];
            for (size_t t = 0; t < c; t++)
                v -= a[r * m + t] * a[c * m + t];
            a[r * m + c] = v / a[c * m + c];
        }
    }
    for (size_t r = 0; r < m; r++) { /* L y = b */
        for (size_t t = 0; t < r; t++)
            b[r] -= a[r * m + t] * b[t];
        b[r] /= a[r * m + r];
    }
    for (size_t r = m; r-- > 0;) { /* L^T x = y */
        for (size_t t = r + 1; t < m; t++)
            b[r] -= a[t * m + r] * b[t];
        b[r] /= a[r * m + r];
    }
    memset(dir, 0, k * sizeof *dir);
    for (size_t r = 0; r < m; r++)
        dir[idx[r]] = b[r];
    return 0;
}

static int fit_logistic(const fit_data *d, double *w, int *iterations)
{
    size_t k = d->k;
    double lambda = 2e-6 * (double)d->n;
    double g[CT_RISK_TERMS_MAX], h[CT_RISK_TERMS_MAX * CT_RISK_TERMS_MAX], dir[CT_RISK_TERMS_MAX];
    size_t pos = 0;
    for (size_t i = 0; i < d->n; i++)
        pos += d->y[i];
    memset(w, 0, k * sizeof *w);
    w[0] = log(((double)pos + 0.5) / ((double)(d->n - pos) + 0.5)); /* the base rate */
    double loss = penalised_loss(d, w, lambda);
    int it;
    for (it = 0; it < 100; it++) {
        derivatives(d, w, lambda, g, h);
        int free_j[CT_RISK_TERMS_MAX];
        double worst = 0;
        for (size_t j = 0; j < k; j++) {
            /* a coefficient at zero whose gradient pushes it below stays there */
            free_j[j] = j == 0 || w[j] > 0 || g[j] < 0;
            if (free_j[j] && fabs(g[j]) > worst)
                worst = fabs(g[j]);
        }
        if (worst < 1e-7 * (double)d->n)
            break;
        if (newton_direction(k, g, h, free_j, dir))
            return -1;
        double step = 1, next[CT_RISK_TERMS_MAX], next_loss = loss;
        for (int back = 0; back < 40; back++, step /= 2) {
            for (size_t j = 0; j < k; j++) {
                next[j] = w[j] + step * dir[j];
                if (j > 0 && next[j] < 0)
                    next[j] = 0;
            }
            next_loss = penalised_loss(d, next, lambda);
            if (next_loss < loss)
                break;
        }
        if (!(next_loss < loss))
            break; /* no step improves: converged to the precision of doubles */
        double change = loss - next_loss;
        memcpy(w, next, k * sizeof *w);
        loss = next_loss;
        if (change < 1e-12 * loss)
            break;
    }
    *iterations = it + 1;
    return 0;
}

/* ---- isotonic calibration -------------------------------------------------------------- */

typedef struct block {
    double z_sum, y_sum, n;
} block;

typedef struct scored {
    double z;
    uint8_t y;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored *)a)->z, y = ((const scored *)b)->z;
    return x < y ? -1 : x > y;
}

static double mean_y(const block *b)
{
    return b->y_sum / b->n;
}

/* Pool adjacent violators over rows sorted by z; equal z share a block. */
static block *pav(const scored *r, size_t n, size_t *n_blocks)
{
    block *b = ct__calloc(n + 1, sizeof *b);
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        block cur = {0, 0, 0};
        size_t j = i;
        for (; j < n && r[j].z == r[i].z; j++) {
            cur.z_sum += r[j].z;
            cur.y_sum += r[j].y;
            cur.n += 1;
        }
        b[m++] = cur;
        while (m > 1 && mean_y(&b[m - 2]) >= mean_y(&b[m - 1])) {
            b[m - 2].z_sum += b[m - 1].z_sum;
            b[m - 2].y_sum += b[m - 1].y_sum;
            b[m - 2].n += b[m - 1].n;
            m--;
        }
        i = j;
    }
    *n_blocks = m;
    return b;
}

/* What merging two neighbouring blocks costs: the rise in the squared
 * error of the calibration (Ward's criterion). */
static double merge_cost(const block *a, const block *b)
{
    double d = mean_y(a) - mean_y(b);
    return a->n * b->n / (a->n + b->n) * d * d;
}

/* Merges the adjacent pair that costs least until at most max blocks
 * remain; a merge of neighbours keeps the means non-decreasing. */
static size_t thin_blocks(block *b, size_t m, size_t max)
{
    while (m > max) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (merge_cost(&b[i], &b[i + 1]) < merge_cost(&b[best], &b[best + 1]))
                best = i;
        b[best].z_sum += b[best + 1].z_sum;
        b[best].y_sum += b[best + 1].y_sum;
        b[best].n += b[best + 1].n;
        memmove(&b[best + 1], &b[best + 2], (m - best - 2) * sizeof *b);
        m--;
    }
    return m;
}

static void calibrate(const fit_data *d, const double *w, ct_risk_model *m)
{
    scored *r = ct__malloc((d->n + 1) * sizeof *r);
    for (size_t i = 0; i < d->n; i++)
        r[i] = (scored){row_log_odds(d, i, w), d->y[i]};
    qsort(r, d->n, sizeof *r, cmp_scored);
    size_t nb;
    block *b = pav(r, d->n, &nb);
    nb = thin_blocks(b, nb, KNOTS_MAX);
    m->n_knots = 0;
    for (size_t i = 0; i < nb; i++) {
        double z = b[i].z_sum / b[i].n, p = mean_y(&b[i]);
        if (m->n_knots && z <= m->knot_z[m->n_knots - 1])
            continue; /* cannot happen with distinct block means; kept strict */
        m->knot_z[m->n_knots] = z;
        m->knot_p[m->n_knots++] = p;
    }
    ct__free(b);
    ct__free(r);
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* The smallest p with 2 significant digits that keeps at most `share` of
 * the rows at or above it: just above the (share * n + 1)-th largest p. */
static double threshold_for_share(const fit_data *d, const ct_risk_model *m, const double *w,
                                  double share)
{
    double *p = ct__malloc((d->n + 1) * sizeof *p);
    for (size_t i = 0; i < d->n; i++)
        p[i] = ct__risk_round(ct__risk_probability(m, row_log_odds(d, i, w)));
    qsort(p, d->n, sizeof *p, cmp_desc);
    size_t k = (size_t)(share * (double)d->n);
    double v = k < d->n ? p[k] : 0.0;
    ct__free(p);
    if (!(v > 0))
        return 1e-6;
    double mag = pow(10, floor(log10(v)) - 1);
    double t = ceil(v / mag) * mag;
    if (t <= v)
        t += mag;
    return ct__risk_round(t);
}

ct_code ct_risk_fit(const char *const *paths, size_t n_paths, const ct_risk_fit_opts *opts,
                    ct_risk_model **out, ct_risk_fit_report *report, ct_err *err)
{
    const ct_risk_model *base = opts->base ? opts->base : ct_risk_model_builtin();
    fit_data d;
    memset(&d, 0, sizeof d);
    for (unsigned t = 0; ct__risk_terms[t].name; t++)
        d.term[d.k++] = t;
    ct_code rc = CT_OK;
    for (size_t i = 0; i < n_paths && !rc; i++)
        rc = read_file(paths[i], &d, err);
    size_t pos = 0;
    for (size_t i = 0; i < d.n; i++)
        pos += d.y[i];
    if (!rc && (pos == 0 || pos == d.n))
        rc = ct__fail(err, CT_EINVAL, "the feature files need both true and other contacts "
                                      "(%zu rows, %zu true)", d.n, pos);
    double w[CT_RISK_TERMS_MAX];
    int iterations = 0;
    if (!rc && fit_logistic(&d, w, &iterations))
        rc = ct__fail(err, CT_EINVAL, "the fit did not converge: a term has no spread in these rows");
    if (rc) {
        ct__free(d.x);
        ct__free(d.y);
        return rc;
    }
    ct_risk_model *m = ct__calloc(1, sizeof *m);
    snprintf(m->version, sizeof m->version, "%s", opts->version ? opts->version : "unnamed");
    m->visit_gap_s = base->visit_gap_s;
    m->comove_window_s = base->comove_window_s;
    m->n_terms = d.k;
    for (size_t j = 0; j < d.k; j++) {
        m->term[j] = d.term[j];
        m->coef[j] = w[j];
    }
    calibrate(&d, w, m);
    m->quarantine_threshold = opts->quarantine_threshold > 0 ? opts->quarantine_threshold : 0.5;
    m->test_threshold = threshold_for_share(&d, m, w, opts->test_share > 0 ? opts->test_share : 0.05);
    if (m->test_threshold > m->quarantine_threshold)
        m->test_threshold = m->quarantine_threshold;
    if (report) {
        report->rows = d.n;
        report->positives = pos;
        report->iterations = iterations;
        report->log_loss = penalised_loss(&d, w, 0) / (double)d.n;
    }
    ct__free(d.x);
    ct__free(d.y);
    *out = m;
    return CT_OK;
}

ct_code ct_risk_model_write(const ct_risk_model *m, const char *path, const char *comment,
                            ct_err *err)
{
    char *text = ct__risk_model_text(m, comment);
    ct_code rc = CT_OK;
    if (path)
        rc = ct__fs_write_file(path, text, strlen(text), 0644, err);
    else if (fputs(text, stdout) < 0 || fflush(stdout))
        rc = ct__fail(err, CT_EIO, "cannot write the model to stdout");
    ct__free(text);
    return rc;
}
