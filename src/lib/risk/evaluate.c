/*
 * evaluate.c — how good the scored answer is, measured against truth
 * (docs/RISK.md section 6).
 *
 * Truth is a CSV of case_id,msisdn,minutes: who really was within D of a
 * case, and for how many sampled minutes (the simulator writes it; a
 * field study could too). Every registered case is traced with scoring,
 * every contact of SPEC 4's net is matched against the truth, and from
 * the pooled contacts of all cases come:
 *   - precision, recall and F1 of the net, of level test or above and of
 *     level quarantine; recall counts every true contact of the traced
 *     cases, also those the net missed;
 *   - average precision of ranking by p_contact and by exposure_s:
 *     AP = sum over distinct score thresholds, from the highest, of
 *     (recall gained) * (precision at that threshold), ties taken
 *     together, recall over all true contacts;
 *   - the Brier score, mean (p - y)^2 over the net;
 *   - a reliability table of ten bins on a log scale of p (the net's
 *     probabilities span five decades, so equal-width bins would put
 *     nearly everything in the first).
 * The same numbers are given per kind of evidence, a contact counted
 * under its strongest kind.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "csv.h"
#include "db.h"
#include "error.h"
#include "risk.h"
#include "textparse.h"

/* ---- truth ------------------------------------------------------------------------ */

typedef struct truth_pair {
    char case_id[CT_ID_MAX + 1];
    char msisdn[CT_MSISDN_MAX + 1];
    int64_t minutes;
} truth_pair;

struct ct_truth {
    truth_pair *pairs; /* sorted by (case_id, msisdn) */
    size_t n, cap;
};

static int cmp_pair(const void *a, const void *b)
{
    const truth_pair *x = a, *y = b;
    int c = strcmp(x->case_id, y->case_id);
    return c ? c : strcmp(x->msisdn, y->msisdn);
}

/* One row: a reason when it cannot be used, else NULL. */
static const char *truth_row(ct_csv *csv, const int col[3], truth_pair *tp)
{
    size_t l[3];
    const char *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = ct__csv_field(csv, col[i], &l[i]);
    uint64_t num, minutes;
    if (l[0] == 0 || l[0] > CT_ID_MAX)
        return "case_id must be 1 to 64 characters";
    if (ct__parse_msisdn(f[1], l[1], &num, tp->msisdn) != 0)
        return "msisdn is not a phone number";
    if (ct__parse_u64(f[2], l[2], &minutes) != 0 || minutes > 100000000)
        return "minutes must be a whole number";
    memcpy(tp->case_id, f[0], l[0]);
    tp->case_id[l[0]] = 0;
    tp->minutes = (int64_t)minutes;
    return NULL;
}

ct_code ct_truth_load(const char *path, ct_truth **out, ct_err *err)
{
    ct_csv *csv = NULL;
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    if (rc)
        return rc;
    const int col[3] = {ct__csv_column(csv, "case_id"), ct__csv_column(csv, "msisdn"),
                        ct__csv_column(csv, "minutes")};
    ct_truth *t = ct__calloc(1, sizeof *t);
    if (col[0] < 0 || col[1] < 0 || col[2] < 0)
        rc = ct__fail(err, CT_EINVAL, "%s: the header needs columns case_id, msisdn and minutes",
                      ct__csv_name(csv));
    while (!rc) {
        const char *reason = NULL;
        int got = ct__csv_next(csv, &reason, err);
        if (got == CT_CSV_EOF)
            break;
        if (got < 0) {
            rc = err ? err->code : CT_EIO;
            break;
        }
        truth_pair tp;
        if (got == CT_CSV_ROW)
            reason = truth_row(csv, col, &tp);
        if (reason) {
            rc = ct__fail(err, CT_EINVAL, "%s:%llu: %s", ct__csv_name(csv),
                          (unsigned long long)ct__csv_line(csv), reason);
            break;
        }
        CT_GROW(t->pairs, t->n + 1, t->cap);
        t->pairs[t->n++] = tp;
    }
    ct__csv_close(csv);
    if (rc) {
        ct_truth_free(t);
        return rc;
    }
    if (t->n)
        qsort(t->pairs, t->n, sizeof *t->pairs, cmp_pair);
    for (size_t i = 1; i < t->n; i++)
        if (!cmp_pair(&t->pairs[i - 1], &t->pairs[i])) {
            ct_truth_free(t);
            return ct__fail(err, CT_EINVAL, "%s: case %s lists one number twice", path,
                            t->pairs[i].case_id);
        }
    *out = t;
    return CT_OK;
}

void ct_truth_free(ct_truth *t)
{
    if (!t)
        return;
    ct__free(t->pairs);
    ct__free(t);
}

static int64_t truth_minutes(const ct_truth *t, const char *case_id, const char *msisdn)
{
    truth_pair key;
    snprintf(key.case_id, sizeof key.case_id, "%s", case_id);
    snprintf(key.msisdn, sizeof key.msisdn, "%s", msisdn);
    const truth_pair *p = t->n ? bsearch(&key, t->pairs, t->n, sizeof *t->pairs, cmp_pair) : NULL;
    return p ? p->minutes : 0;
}

/* True contacts of a case: minutes * 60 >= min_exposure_s. */
static uint64_t truth_of_case(const ct_truth *t, const char *case_id, int64_t min_exposure_s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += !strcmp(t->pairs[i].case_id, case_id) && t->pairs[i].minutes * 60 >= min_exposure_s &&
             t->pairs[i].minutes > 0;
    return n;
}

/* ---- every contact of every case ----------------------------------------------------- */

typedef struct id_list {
    char **ids;
    size_t n, cap;
} id_list;

static int add_id(void *ud, const char *id)
{
    id_list *l = ud;
    CT_GROW(l->ids, l->n + 1, l->cap);
    l->ids[l->n++] = ct__strdup(id);
    return 0;
}

static void ids_free(id_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        ct__free(l->ids[i]);
    ct__free(l->ids);
}

/* Calls case_fn once per case (with its truth count) and fn per contact. */
static ct_code walk(ct_db *db, const ct_truth *truth, const ct_params *p,
                    const ct_risk_opts *risk, ct_eval_row_fn fn,
                    void (*case_fn)(void *ud, uint64_t truth), void *ud, ct_err *err)
{
    ct_params params;
    if (p)
        params = *p;
    else
        ct_params_default(&params);
    ct_risk_opts r;
    if (risk)
        r = *risk;
    else
        ct_risk_opts_default(&r);
    r.min_level = CT_LEVEL_NONE; /* the net, every level */
    id_list ids = {NULL, 0, 0};
    ct_code rc = ct_case_ids(db, add_id, &ids, err);
    int stop = 0;
    for (size_t i = 0; i < ids.n && !rc && !stop; i++) {
        ct_contacts *cs = NULL;
        rc = ct_trace_scored(db, ids.ids[i], &params, &r, &cs, err);
        if (rc)
            break;
        if (case_fn)
            case_fn(ud, truth_of_case(truth, ids.ids[i], params.min_exposure_s));
        for (size_t k = 0; k < cs->n && !stop; k++) {
            ct_eval_row row = {ids.ids[i], &cs->items[k], &cs->evidence[k], 0, 0};
            row.truth_minutes = truth_minutes(truth, ids.ids[i], cs->items[k].msisdn);
            row.is_true = row.truth_minutes > 0 && row.truth_minutes * 60 >= params.min_exposure_s;
            stop = fn(ud, &row);
        }
        ct_contacts_free(cs);
    }
    ids_free(&ids);
    return rc;
}

ct_code ct_evaluate_rows(ct_db *db, const ct_truth *truth, const ct_params *p,
                         const ct_risk_opts *risk, ct_eval_row_fn fn, void *ud, ct_err *err)
{
    return walk(db, truth, p, risk, fn, NULL, ud, err);
}

/* ---- metrics ---------------------------------------------------------------------------- */

/* What the metrics need of one contact (the numbers are gone). */
typedef struct scored_row {
    double p, exposure;
    uint8_t is_true, level, kind; /* kind: slice index 1..3 */
} scored_row;

typedef struct collector {
    scored_row *rows;
    size_t n, cap;
    size_t cases;
    uint64_t truth;
} collector;

static uint8_t slice_of(unsigned evidence)
{
    if (evidence & CT_EVIDENCE_POINT_POINT)
        return 3;
    if (evidence & CT_EVIDENCE_CELL_POINT)
        return 2;
    return 1;
}

static int collect_row(void *ud, const ct_eval_row *r)
{
    collector *c = ud;
    CT_GROW(c->rows, c->n + 1, c->cap);
    c->rows[c->n++] = (scored_row){r->contact->p_contact, (double)r->contact->exposure_s,
                                   (uint8_t)r->is_true, (uint8_t)r->contact->level,
                                   slice_of(r->contact->evidence)};
    return 0;
}

static void count_case(void *ud, uint64_t truth)
{
    collector *c = ud;
    c->cases++;
    c->truth += truth;
}

static void finish_counts(ct_eval_counts *k)
{
    k->precision = k->selected ? (double)k->selected_true / (double)k->selected : 0.0;
    k->recall = k->truth ? (double)k->selected_true / (double)k->truth : 0.0;
    k->f1 = k->precision + k->recall > 0
                ? 2 * k->precision * k->recall / (k->precision + k->recall)
                : 0.0;
}

/* Rows sorted by score descending (scores[i] belongs to rows[order[i]]). */
typedef struct ranked {
    double score;
    uint8_t is_true;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
    return x > y ? -1 : x < y;
}

/* Average precision of a ranking, and its curve (one point per distinct
 * score) when curve is not NULL. */
static double average_precision(ranked *r, size_t n, uint64_t truth, ct_pr_point **curve,
                                size_t *n_curve)
{
    qsort(r, n, sizeof *r, cmp_ranked);
    double ap = 0, prev_recall = 0;
    uint64_t tp = 0;
    if (curve) {
        *curve = ct__calloc(n + 1, sizeof **curve);
        *n_curve = 0;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && r[j].score == r[i].score)
            tp += r[j++].is_true;
        double recall = truth ? (double)tp / (double)truth : 0.0;
        double precision = (double)tp / (double)j;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        if (curve)
            (*curve)[(*n_curve)++] = (ct_pr_point){recall, precision};
        i = j;
    }
    return ap;
}

/* The reliability bins' lower edges: a log scale over the probabilities
 * a net holds. */
static const double BIN_EDGE[CT_EVAL_BINS + 1] = {0,    1e-4, 3e-4, 1e-3, 3e-3, 0.01,
                                                  0.03, 0.1,  0.3,  0.6,  1.0};

static void slice_metrics(const collector *c, int slice, uint64_t truth, ct_eval_slice *s,
                          ct_evaluation *ev)
{
    static const char *NAMES[4] = {"all", "cell-cell", "cell-point", "point-point"};
    memset(s, 0, sizeof *s);
    s->name = NAMES[slice];
    ranked *by_p = ct__calloc(c->n + 1, sizeof *by_p), *by_x = ct__calloc(c->n + 1, sizeof *by_x);
    size_t n = 0;
    double brier = 0;
    for (int b = 0; b < CT_EVAL_BINS; b++) {
        s->bins[b].p_lo = BIN_EDGE[b];
        s->bins[b].p_hi = BIN_EDGE[b + 1];
    }
    for (size_t i = 0; i < c->n; i++) {
        const scored_row *r = &c->rows[i];
        if (slice && r->kind != slice)
            continue;
        by_p[n] = (ranked){r->p, r->is_true};
        by_x[n++] = (ranked){r->exposure, r->is_true};
        s->net_true += r->is_true;
        s->test.selected += r->level >= CT_LEVEL_TEST;
        s->test.selected_true += r->level >= CT_LEVEL_TEST && r->is_true;
        s->quarantine.selected += r->level >= CT_LEVEL_QUARANTINE;
        s->quarantine.selected_true += r->level >= CT_LEVEL_QUARANTINE && r->is_true;
        brier += (r->p - r->is_true) * (r->p - r->is_true);
        int b = 0;
        while (b + 1 < CT_EVAL_BINS && r->p >= BIN_EDGE[b + 1])
            b++;
        s->bins[b].n++;
        s->bins[b].positives += r->is_true;
        s->bins[b].mean_p += r->p;
    }
    s->net = n;
    /* Recall of a kind counts the true contacts the net found with that
     * kind: the truth the net missed has no kind. */
    uint64_t denom = slice ? s->net_true : truth;
    s->net_counts = (ct_eval_counts){n, s->net_true, denom, 0, 0, 0};
    s->test.truth = s->quarantine.truth = denom;
    finish_counts(&s->net_counts);
    finish_counts(&s->test);
    finish_counts(&s->quarantine);
    s->brier = n ? brier / (double)n : 0.0;
    for (int b = 0; b < CT_EVAL_BINS; b++)
        if (s->bins[b].n) {
            s->bins[b].mean_p /= (double)s->bins[b].n;
            s->bins[b].observed = (double)s->bins[b].positives / (double)s->bins[b].n;
        }
    s->ap_p_contact = average_precision(by_p, n, denom, slice ? NULL : &ev->pr_p_contact,
                                        &ev->n_pr_p_contact);
    s->ap_exposure = average_precision(by_x, n, denom, slice ? NULL : &ev->pr_exposure,
                                       &ev->n_pr_exposure);
    ct__free(by_p);
    ct__free(by_x);
}

ct_code ct_evaluate(ct_db *db, const ct_truth *truth, const ct_params *p,
                    const ct_risk_opts *risk, ct_evaluation **out, ct_err *err)
{
    collector c;
    memset(&c, 0, sizeof c);
    ct_code rc = walk(db, truth, p, risk, collect_row, count_case, &c, err);
    if (rc) {
        ct__free(c.rows);
        return rc;
    }
    ct_evaluation *ev = ct__calloc(1, sizeof *ev);
    ct_risk_opts r;
    if (risk)
        r = *risk;
    else
        ct_risk_opts_default(&r);
    if (!r.model)
        r.model = ct_risk_model_builtin();
    snprintf(ev->model_version, sizeof ev->model_version, "%s", r.model->version);
    ev->test_threshold = r.test_threshold;
    ev->quarantine_threshold = r.quarantine_threshold;
    ev->cases = c.cases;
    ev->truth = c.truth;
    for (int s = 0; s < 4; s++)
        slice_metrics(&c, s, c.truth, &ev->slices[s], ev);
    ev->truth_in_net = ev->slices[0].net_true;
    ct__free(c.rows);
    *out = ev;
    return CT_OK;
}

void ct_evaluation_free(ct_evaluation *e)
{
    if (!e)
        return;
    ct__free(e->pr_p_contact);
    ct__free(e->pr_exposure);
    ct__free(e);
}
