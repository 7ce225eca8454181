/*
 * risk.c — the contact risk model: terms, the model file, p_contact and
 * levels (docs/RISK.md sections 4 and 5).
 *
 * The model is a logistic regression over a fixed list of terms, each a
 * stated function of a pair's evidence, optionally followed by a
 * calibration table (isotonic regression of the training labels on z,
 * interpolated linearly). Its coefficients are numbers in a text file,
 * fitted by `celltrace risk fit` (riskfit.c) on simulated cities whose
 * seeds are never used to evaluate it; the file is built into the binary,
 * so a trace never reads anything at run time that could change an
 * answer silently, and its version is recorded with every stored run.
 *
 * p_contact is rounded to 4 significant digits before anything uses it:
 * the level a contact gets, and the order of a scored trace, follow from
 * the number printed, so anyone can check them from the output alone.
 */
#include "risk.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "fsio.h"

/* ---- the terms ------------------------------------------------------------------ */

static double t_intercept(const ct__evidence *ev)
{
    (void)ev;
    return 1.0;
}

static double t_near(const ct__evidence *ev)
{
    return log1p(ev->near_s / 60.0);
}

static double t_share_sum(const ct__evidence *ev)
{
    return log(1e-5 + ev->share_sum);
}

static double t_share_max(const ct__evidence *ev)
{
    return log(1e-5 + ev->share_max);
}

static double t_exposure(const ct__evidence *ev)
{
    return log1p((double)ev->exposure_s / 3600.0);
}

static double t_day_share(const ct__evidence *ev)
{
    if (ev->exposure_s <= 0)
        return 0.0;
    return 1.0 - (double)ev->night_s / (double)ev->exposure_s;
}

static double t_comove(const ct__evidence *ev)
{
    return log1p(ev->comove);
}

static double t_days(const ct__evidence *ev)
{
    return (double)ev->days;
}

static double t_places(const ct__evidence *ev)
{
    return (double)ev->places;
}

const ct__risk_term_def ct__risk_terms[] = {
    {"intercept", "the base rate: log-odds of a contact of the net with no other evidence",
     t_intercept},
    {"near", "ln(1 + expected minutes within D): the geometry of every overlap", t_near},
    {"share_sum", "ln(1e-5 + sum over visits of this number's share of the visit's evidence, "
                  "times min(1, overlap / T)): how much of the case's crowd points here",
     t_share_sum},
    {"share_max", "ln(1e-5 + the largest share of one visit's evidence)", t_share_max},
    {"exposure", "ln(1 + hours of overlap): SPEC 4's exposure", t_exposure},
    {"day_share", "the part of the overlap outside local night hours 00:00-06:00, 0 to 1",
     t_day_share},
    {"comove", "ln(1 + sum over the case's moves this number shared of 1 / (subscribers "
               "sharing the move)): co-movement", t_comove},
    {"days", "distinct days with at least T seconds together: recurrence in time", t_days},
    {"places", "distinct places of the case with at least T seconds together: recurrence "
               "across places", t_places},
    {NULL, NULL, NULL}};

static int term_index(const char *name, size_t len)
{
    for (int i = 0; ct__risk_terms[i].name; i++)
        if (strlen(ct__risk_terms[i].name) == len && !memcmp(ct__risk_terms[i].name, name, len))
            return i;
    return -1;
}

/* ---- the model file ------------------------------------------------------------- */

/* Reads one number; returns 0 on success. */
static int number(const char **p, double *out)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    char *end;
    errno = 0;
    *out = strtod(*p, &end);
    if (end == *p || errno || !isfinite(*out))
        return -1;
    *p = end;
    return 0;
}

static int line_end(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return *p == '\n' || *p == '\0';
}

static ct_code parse_line(const char *line, size_t len, ct_risk_model *m, const char *name,
                          int lineno, ct_err *err)
{
    char word[32];
    size_t w = 0;
    while (w < len && !isspace((unsigned char)line[w]))
        w++;
    if (w >= sizeof word)
        return ct__fail(err, CT_EINVAL, "%s:%d: unknown keyword", name, lineno);
    memcpy(word, line, w);
    word[w] = 0;
    const char *p = line + w;
    double a = 0, b = 0;
    if (!strcmp(word, "version")) {
        while (*p == ' ')
            p++;
        size_t n = 0;
        while (p[n] && p[n] != '\n' && p[n] != '\r')
            n++;
        if (n == 0 || n >= sizeof m->version)
            return ct__fail(err, CT_EINVAL, "%s:%d: version must be 1-63 characters", name, lineno);
        memcpy(m->version, p, n);
        m->version[n] = 0;
        return CT_OK;
    }
    if (!strcmp(word, "term")) {
        while (*p == ' ')
            p++;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n]))
            n++;
        int idx = term_index(p, n);
        p += n;
        if (idx < 0)
            return ct__fail(err, CT_EINVAL, "%s:%d: unknown term", name, lineno);
        if (m->n_terms == CT_RISK_TERMS_MAX || number(&p, &a) || !line_end(p))
            return ct__fail(err, CT_EINVAL, "%s:%d: expected `term NAME COEFFICIENT`", name, lineno);
        for (size_t i = 0; i < m->n_terms; i++)
            if (m->term[i] == (unsigned)idx)
                return ct__fail(err, CT_EINVAL, "%s:%d: term given twice", name, lineno);
        m->term[m->n_terms] = (unsigned)idx;
        m->coef[m->n_terms++] = a;
        return CT_OK;
    }
    if (!strcmp(word, "knot")) {
        if (m->n_knots == CT_RISK_KNOTS_MAX || number(&p, &a) || number(&p, &b) || !line_end(p) ||
            b < 0 || b > 1)
            return ct__fail(err, CT_EINVAL, "%s:%d: expected `knot Z P` with 0 <= P <= 1", name, lineno);
        if (m->n_knots && (a <= m->knot_z[m->n_knots - 1] || b < m->knot_p[m->n_knots - 1]))
            return ct__fail(err, CT_EINVAL, "%s:%d: knots must increase in z and not decrease in p",
                            name, lineno);
        m->knot_z[m->n_knots] = a;
        m->knot_p[m->n_knots++] = b;
        return CT_OK;
    }
    if (number(&p, &a) || !line_end(p))
        return ct__fail(err, CT_EINVAL, "%s:%d: expected `%s NUMBER`", name, lineno, word);
    if (!strcmp(word, "visit_gap_s") && a >= 0 && a <= 7 * 86400)
        m->visit_gap_s = (int64_t)a;
    else if (!strcmp(word, "comove_window_s") && a >= 0 && a <= 3600)
        m->comove_window_s = (int64_t)a;
    else if (!strcmp(word, "test_threshold") && a > 0 && a <= 1)
        m->test_threshold = a;
    else if (!strcmp(word, "quarantine_threshold") && a > 0 && a <= 1)
        m->quarantine_threshold = a;
    else
        return ct__fail(err, CT_EINVAL, "%s:%d: unknown keyword or value out of range", name, lineno);
    return CT_OK;
}

ct_code ct__risk_model_parse(const char *text, const char *name, ct_risk_model *m, ct_err *err)
{
    memset(m, 0, sizeof *m);
    m->visit_gap_s = -1;
    m->comove_window_s = -1;
    int lineno = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        lineno++;
        const char *p = line;
        while (p < line + len && (*p == ' ' || *p == '\t'))
            p++;
        if (p < line + len && *p != '#' && *p != '\r') {
            ct_code rc = parse_line(p, len - (size_t)(p - line), m, name, lineno, err);
            if (rc)
                return rc;
        }
        line += len + (nl != NULL);
    }
    if (!m->version[0] || m->visit_gap_s < 0 || m->comove_window_s < 0 || !m->n_terms ||
        !m->test_threshold || !m->quarantine_threshold)
        return ct__fail(err, CT_EINVAL,
                        "%s: a model needs version, visit_gap_s, comove_window_s, terms and "
                        "both thresholds", name);
    if (m->test_threshold > m->quarantine_threshold)
        return ct__fail(err, CT_EINVAL, "%s: test_threshold is above quarantine_threshold", name);
    return CT_OK;
}

char *ct__risk_model_text(const ct_risk_model *m, const char *header_comment)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return ct__strdup("");
    if (header_comment)
        fputs(header_comment, f);
    fprintf(f, "version %s\n", m->version);
    fprintf(f, "visit_gap_s %lld\ncomove_window_s %lld\n", (long long)m->visit_gap_s,
            (long long)m->comove_window_s);
    for (size_t i = 0; i < m->n_terms; i++)
        fprintf(f, "term %s %.17g\n", ct__risk_terms[m->term[i]].name, m->coef[i]);
    for (size_t i = 0; i < m->n_knots; i++)
        fprintf(f, "knot %.17g %.17g\n", m->knot_z[i], m->knot_p[i]);
    fprintf(f, "test_threshold %.10g\nquarantine_threshold %.10g\n", m->test_threshold,
            m->quarantine_threshold);
    fclose(f);
    char *copy = ct__strdup(text ? text : "");
    free(text);
    return copy;
}

/* ---- probabilities and levels ----------------------------------------------------- */

double ct__risk_log_odds(const ct_risk_model *m, const ct__evidence *ev)
{
    double z = 0.0;
    for (size_t i = 0; i < m->n_terms; i++)
        z += m->coef[i] * ct__risk_terms[m->term[i]].value(ev);
    return z;
}

double ct__risk_probability(const ct_risk_model *m, double z)
{
    if (!m->n_knots)
        return 1.0 / (1.0 + exp(-z));
    if (z <= m->knot_z[0])
        return m->knot_p[0];
    for (size_t i = 1; i < m->n_knots; i++)
        if (z <= m->knot_z[i]) {
            double f = (z - m->knot_z[i - 1]) / (m->knot_z[i] - m->knot_z[i - 1]);
            return m->knot_p[i - 1] + f * (m->knot_p[i] - m->knot_p[i - 1]);
        }
    return m->knot_p[m->n_knots - 1];
}

double ct__risk_round(double p)
{
    if (!(p > 0))
        return 0.0;
    char buf[32];
    snprintf(buf, sizeof buf, "%.4g", p);
    return strtod(buf, NULL);
}

ct_level ct__risk_level(double p, double test_threshold, double quarantine_threshold)
{
    if (p >= quarantine_threshold)
        return CT_LEVEL_QUARANTINE;
    if (p >= test_threshold)
        return CT_LEVEL_TEST;
    return CT_LEVEL_NONE;
}

/* ---- the public face ---------------------------------------------------------------- */

extern const char ct__risk_model_builtin_text[]; /* generated from models/risk-model.txt */

static ct_risk_model builtin_model;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void parse_builtin(void)
{
    ct_err err;
    if (ct__risk_model_parse(ct__risk_model_builtin_text, "built-in model", &builtin_model, &err)) {
        fprintf(stderr, "celltrace: %s\n", err.msg);
        abort(); /* a build with a broken model file must not trace; the tests parse it */
    }
}

const ct_risk_model *ct_risk_model_builtin(void)
{
    pthread_once(&builtin_once, parse_builtin);
    return &builtin_model;
}

ct_code ct_risk_model_load(const char *path, ct_risk_model **out, ct_err *err)
{
    char *text = NULL;
    size_t len = 0;
    ct_code rc = ct__fs_read_file(path, 1 << 20, &text, &len, err);
    if (rc)
        return rc;
    ct_risk_model *m = ct__malloc(sizeof *m);
    rc = ct__risk_model_parse(text, path, m, err);
    ct__free(text);
    if (rc) {
        ct__free(m);
        return rc;
    }
    *out = m;
    return CT_OK;
}

void ct_risk_model_free(ct_risk_model *m)
{
    ct__free(m);
}

const char *ct_risk_model_version(const ct_risk_model *m)
{
    return m->version;
}

void ct__risk_model_digest(const ct_risk_model *m, char out[17])
{
    char *text = ct__risk_model_text(m, NULL);
    uint8_t h[8];
    crypto_generichash(h, sizeof h, (const uint8_t *)text, strlen(text),
                       (const uint8_t *)CT_SCORER_VERSION, strlen(CT_SCORER_VERSION));
    ct__free(text);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

void ct_risk_model_thresholds(const ct_risk_model *m, double *test, double *quarantine)
{
    *test = m->test_threshold;
    *quarantine = m->quarantine_threshold;
}

void ct_risk_opts_default(ct_risk_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = ct_risk_model_builtin();
    o->test_threshold = o->model->test_threshold;
    o->quarantine_threshold = o->model->quarantine_threshold;
    o->min_level = CT_LEVEL_NONE;
}

ct_code ct_risk_opts_configured(const char *data_dir, const ct_risk_model *model,
                                ct_risk_opts *o, ct_err *err)
{
    ct_conf conf;
    ct_code rc = ct__conf_load(data_dir, &conf, err);
    if (rc)
        return rc;
    ct_risk_opts_default(o);
    if (model)
        o->model = model;
    o->test_threshold = conf.risk_test > 0 ? conf.risk_test : o->model->test_threshold;
    o->quarantine_threshold =
        conf.risk_quarantine > 0 ? conf.risk_quarantine : o->model->quarantine_threshold;
    if (o->test_threshold > o->quarantine_threshold)
        return ct__fail(err, CT_EINVAL,
                        "the test threshold (%g) is above the quarantine threshold (%g): "
                        "check risk.test and risk.quarantine (celltrace config list)",
                        o->test_threshold, o->quarantine_threshold);
    return CT_OK;
}

const char *ct_level_name(ct_level level)
{
    switch (level) {
    case CT_LEVEL_QUARANTINE:
        return "quarantine";
    case CT_LEVEL_TEST:
        return "test";
    default:
        return "none";
    }
}

int ct_level_parse(const char *s, ct_level *out)
{
    for (int l = CT_LEVEL_NONE; l <= CT_LEVEL_QUARANTINE; l++)
        if (!strcmp(s, ct_level_name((ct_level)l))) {
            *out = (ct_level)l;
            return 0;
        }
    return -1;
}
