/*
 * risk.h — the contact risk model: from a pair's evidence to p_contact and
 * a level (internal; the public face is in celltrace.h, the formulas in
 * docs/RISK.md).
 *
 * A model is a short text file (models/risk-model.txt, built into the
 * binary; `trace --model FILE` reads another): the visit and co-movement
 * constants, one coefficient per named term, an optional calibration
 * table, and the thresholds it recommends. Terms are a fixed list below,
 * each a stated function of ct__evidence, so the file holds numbers only.
 *
 *   z         = sum over terms of coefficient * value(evidence)
 *   p_raw     = 1 / (1 + exp(-z))
 *   p_contact = p_raw, or the calibration table's piecewise-linear map of
 *               z when the model has one (knots strictly increasing in z,
 *               non-decreasing in p), clamped to its end values outside.
 */
#ifndef CT_RISK_H
#define CT_RISK_H

#include <stddef.h>

#include "celltrace.h"
#include "score.h"

#define CT_RISK_TERMS_MAX 24
#define CT_RISK_KNOTS_MAX 64

typedef struct ct__risk_term_def {
    const char *name;
    const char *meaning; /* for --explain and docs/RISK.md */
    double (*value)(const ct__evidence *ev);
} ct__risk_term_def;

/* The terms a model may use, in a fixed order (NULL-terminated). */
extern const ct__risk_term_def ct__risk_terms[];

struct ct_risk_model {
    char version[64];
    int64_t visit_gap_s, comove_window_s;
    size_t n_terms;
    unsigned term[CT_RISK_TERMS_MAX]; /* index into ct__risk_terms */
    double coef[CT_RISK_TERMS_MAX];
    size_t n_knots;
    double knot_z[CT_RISK_KNOTS_MAX], knot_p[CT_RISK_KNOTS_MAX];
    double test_threshold, quarantine_threshold; /* recommended */
};

/* Parses a model's text (NUL-terminated); `name` names it in errors. */
ct_code ct__risk_model_parse(const char *text, const char *name, ct_risk_model *m, ct_err *err);

/* Writes a model as text that ct__risk_model_parse reads back exactly
 * (numbers with 17 significant digits). Returns new. */
char *ct__risk_model_text(const ct_risk_model *m, const char *header_comment);

/* The version of the evidence and of the terms' formulas: bump it with
 * any change to proximity.c, score.c or the terms that moves a p_contact,
 * so that `run` re-levels every case. */
#define CT_SCORER_VERSION "scorer-1"

/* 16 hex digits that change with any number of the model (its whole text)
 * or with CT_SCORER_VERSION: part of a run's signature, so a refit that
 * keeps the version string still re-levels. */
void ct__risk_model_digest(const ct_risk_model *m, char out[17]);

/* z (the log-odds before calibration) and p_contact of a pair. */
double ct__risk_log_odds(const ct_risk_model *m, const ct__evidence *ev);
double ct__risk_probability(const ct_risk_model *m, double z);

/* The level of p under thresholds. */
ct_level ct__risk_level(double p, double test_threshold, double quarantine_threshold);

/* Rounds p to 4 significant digits, as every output shows it and as
 * levels and orders use it (so a printed p decides its level). */
double ct__risk_round(double p);

#endif
