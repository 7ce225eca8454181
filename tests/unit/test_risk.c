/*
 * test_risk.c — the risk model's file, arithmetic and fit (src/lib/risk/risk.c,
 * src/lib/risk/riskfit.c; docs/RISK.md section 4).
 *
 * - The built-in model parses and recommends sane thresholds.
 * - Model files: what a malformed one says (file and line), and that the
 *   text ct__risk_model_text writes reads back to the same numbers.
 * - p_contact: the logistic without knots, the piecewise-linear knots
 *   with clamping, rounding to 4 significant digits, levels at their
 *   boundaries, and the printed form.
 * - The fit: on synthetic evidence drawn from a known logistic model,
 *   risk fit finds its coefficients again (within sampling error), keeps
 *   the noise terms near zero, writes increasing knots, and puts the test
 *   threshold at the smallest 2-digit p that leaves at most the asked
 *   share of the rows at or above it (capped at quarantine's 0.5).
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
#include <unistd.h>

#include "alloc.h"
#include "celltrace.h"
#include "risk.h"
#include "testutil.h"

static void test_builtin(void **state)
{
    (void)state;
    const ct_risk_model *m = ct_risk_model_builtin();
    assert_non_null(m);
    assert_true(strlen(ct_risk_model_version(m)) > 0);
    double t, q;
    ct_risk_model_thresholds(m, &t, &q);
    assert_true(t > 0 && t <= q && q <= 1);
    assert_true(m->n_terms > 1 && m->n_knots > 1);
    for (size_t i = 1; i < m->n_terms; i++)
        assert_true(m->coef[i] >= 0); /* more evidence never lowers p */
    ct_risk_opts o;
    ct_risk_opts_default(&o);
    assert_ptr_equal(o.model, m);
    assert_true(o.test_threshold == t && o.quarantine_threshold == q);
}

static ct_code parse(const char *text, ct_risk_model *m, ct_err *err)
{
    return ct__risk_model_parse(text, "m.txt", m, err);
}

#define HEAD "version v\nvisit_gap_s 10800\ncomove_window_s 60\n"
#define TAIL "test_threshold 0.01\nquarantine_threshold 0.5\n"

static void test_parse_errors(void **state)
{
    (void)state;
    ct_risk_model m;
    ct_err err;
    assert_int_equal(parse(HEAD "term intercept -3\nterm near 0.5\n" TAIL, &m, &err), CT_OK);
    assert_int_equal(m.n_terms, 2);
    struct {
        const char *text, *says;
    } bad[] = {
        {HEAD "term intercept 1\nterm shoe 2\n" TAIL, "m.txt:5: unknown term"},
        {HEAD "term near 1\nterm near 2\n" TAIL, "m.txt:5: term given twice"},
        {HEAD "term near x\n" TAIL, "m.txt:4: expected `term NAME COEFFICIENT`"},
        {HEAD "term near 1\nknot 1 0.1\nknot 0 0.2\n" TAIL, "m.txt:6: knots must increase"},
        {HEAD "term near 1\nknot 1 0.3\nknot 2 0.2\n" TAIL, "m.txt:6: knots must increase"},
        {HEAD "term near 1\nknot 1 1.5\n" TAIL, "m.txt:5: expected `knot Z P`"},
        {HEAD "term near 1\ncolour 3\n" TAIL, "m.txt:5: unknown keyword"},
        {"visit_gap_s 10800\ncomove_window_s 60\nterm near 1\n" TAIL, "a model needs version"},
        {HEAD TAIL, "a model needs version"},
        {HEAD "term near 1\ntest_threshold 0.6\nquarantine_threshold 0.5\n", "above"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parse(bad[i].text, &m, &err), CT_EINVAL);
        if (!strstr(err.msg, bad[i].says)) {
            fprintf(stderr, "case %zu: '%s' does not say '%s'\n", i, err.msg, bad[i].says);
            fail();
        }
    }
}

static void test_text_round_trip(void **state)
{
    (void)state;
    const ct_risk_model *m = ct_risk_model_builtin();
    char *text = ct__risk_model_text(m, "# a comment\n");
    ct_risk_model back;
    ct_err err;
    assert_int_equal(parse(text, &back, &err), CT_OK);
    assert_string_equal(back.version, m->version);
    assert_int_equal(back.n_terms, m->n_terms);
    assert_int_equal(back.n_knots, m->n_knots);
    for (size_t i = 0; i < m->n_terms; i++) {
        assert_int_equal(back.term[i], m->term[i]);
        assert_true(back.coef[i] == m->coef[i]); /* 17 digits: exact */
    }
    for (size_t i = 0; i < m->n_knots; i++)
        assert_true(back.knot_z[i] == m->knot_z[i] && back.knot_p[i] == m->knot_p[i]);
    assert_true(back.test_threshold == m->test_threshold);
    ct__free(text);
}

static void test_probability(void **state)
{
    (void)state;
    ct_risk_model m;
    ct_err err;
    assert_int_equal(parse(HEAD "term intercept 0\n" TAIL, &m, &err), CT_OK);
    assert_true(fabs(ct__risk_probability(&m, 0) - 0.5) < 1e-15);
    assert_true(fabs(ct__risk_probability(&m, log(3)) - 0.75) < 1e-15);
    assert_int_equal(parse(HEAD "term intercept 0\nknot -2 0.01\nknot 0 0.1\nknot 2 0.3\n" TAIL, &m,
                           &err),
                     CT_OK);
    assert_true(ct__risk_probability(&m, -5) == 0.01);  /* clamped below */
    assert_true(ct__risk_probability(&m, 9) == 0.3);    /* and above */
    assert_true(fabs(ct__risk_probability(&m, -1) - 0.055) < 1e-15);
    assert_true(fabs(ct__risk_probability(&m, 1) - 0.2) < 1e-15);
    assert_true(ct__risk_probability(&m, 0) == 0.1);
    /* rounding, levels and the printed form */
    assert_true(ct__risk_round(0.000123456) == 0.0001235);
    assert_true(ct__risk_round(0.5) == 0.5 && ct__risk_round(0) == 0 && ct__risk_round(1) == 1);
    assert_int_equal(ct__risk_level(0.5, 0.01, 0.5), CT_LEVEL_QUARANTINE);
    assert_int_equal(ct__risk_level(0.4999, 0.01, 0.5), CT_LEVEL_TEST);
    assert_int_equal(ct__risk_level(0.01, 0.01, 0.5), CT_LEVEL_TEST);
    assert_int_equal(ct__risk_level(0.009999, 0.01, 0.5), CT_LEVEL_NONE);
    char buf[32];
    static const struct {
        double p;
        const char *text;
    } forms[] = {{0.01234, "0.01234"}, {0.5, "0.5"},       {0.0000012, "0.0000012"},
                 {0, "0"},             {1, "1"},           {0.1, "0.1"},
                 {0.001, "0.001"},     {0.0009999, "0.0009999"}};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        ct_format_probability(forms[i].p, buf);
        assert_string_equal(buf, forms[i].text);
    }
    /* hotspot scores: at most 4 significant digits however large (a score
     * of 12345.6 printed as 12346 before) */
    static const struct {
        double v;
        const char *text;
    } sig[] = {{12345.6, "12350"}, {132.26, "132.3"}, {0.039894, "0.03989"},
               {99999.9, "100000"}, {1234567, "1235000"}, {9999.4, "9999"}};
    for (size_t i = 0; i < sizeof sig / sizeof *sig; i++) {
        ct_format_significant(sig[i].v, buf);
        assert_string_equal(buf, sig[i].text);
    }
    ct_format_seconds(812.44, buf);
    assert_string_equal(buf, "812.4");
    ct_format_seconds(90, buf);
    assert_string_equal(buf, "90");
    ct_level l;
    assert_int_equal(ct_level_parse("test", &l), 0);
    assert_int_equal(l, CT_LEVEL_TEST);
    assert_int_equal(ct_level_parse("maybe", &l), -1);
}

/* Each term against its formula in docs/RISK.md 4.1, worked out by hand
 * for one made-up piece of evidence (not through the engine's functions),
 * and z as the sum of coefficient times term. */
static void test_terms_by_hand(void **state)
{
    (void)state;
    ct__evidence ev;
    memset(&ev, 0, sizeof ev);
    ev.exposure_s = 5400;  /* 1.5 h */
    ev.near_s = 120;       /* 2 min */
    ev.night_s = 1800;     /* a third of the overlap at night */
    ev.share_sum = 0.002;
    ev.share_max = 0.0015;
    ev.comove = 0.5;
    ev.days = 2;
    ev.places = 3;
    static const struct {
        const char *name;
        double want;
    } expect[] = {
        {"intercept", 1.0},
        {"near", 1.0986122886681098},        /* ln(1 + 2)        */
        {"share_sum", -6.209620556911153},   /* ln(0.00201)      */
        {"share_max", -6.495645628155304},   /* ln(0.00151)      */
        {"exposure", 0.91629073187415511},   /* ln(1 + 1.5)      */
        {"day_share", 2.0 / 3.0},            /* 1 - 1800 / 5400  */
        {"comove", 0.40546510810816438},     /* ln(1.5)          */
        {"days", 2.0},
        {"places", 3.0},
    };
    size_t n = sizeof expect / sizeof *expect;
    for (size_t i = 0; i < n; i++) {
        size_t t = 0;
        while (ct__risk_terms[t].name && strcmp(ct__risk_terms[t].name, expect[i].name))
            t++;
        assert_non_null(ct__risk_terms[t].name);
        double got = ct__risk_terms[t].value(&ev);
        if (fabs(got - expect[i].want) > 1e-12)
            fail_msg("term %s = %.17g, RISK.md says %.17g", expect[i].name, got, expect[i].want);
    }
    /* no overlap: day_share is 0, not a division by zero */
    ct__evidence none;
    memset(&none, 0, sizeof none);
    size_t ds = 0;
    while (strcmp(ct__risk_terms[ds].name, "day_share"))
        ds++;
    assert_true(ct__risk_terms[ds].value(&none) == 0.0);
    /* z of a model with every term is the sum of coefficient x term */
    ct_risk_model m;
    ct_err err;
    assert_int_equal(parse(HEAD "term intercept -4\nterm near 0.5\nterm share_sum 0.25\n"
                                "term share_max 1\nterm exposure 0.75\nterm day_share 5\n"
                                "term comove 2\nterm days 0.1\nterm places 0.2\n" TAIL,
                           &m, &err),
                     CT_OK);
    double z = -4 + 0.5 * expect[1].want + 0.25 * expect[2].want + 1 * expect[3].want +
               0.75 * expect[4].want + 5 * expect[5].want + 2 * expect[6].want + 0.1 * 2 + 0.2 * 3;
    assert_true(fabs(ct__risk_log_odds(&m, &ev) - z) < 1e-12);
}

/* A run re-levels when any number of the model changes, even if its
 * version string does not (a refit that kept the default version). */
static void test_digest(void **state)
{
    (void)state;
    ct_risk_model a, b;
    ct_err err;
    char da[17], db[17];
    assert_int_equal(parse(HEAD "term intercept -4\nterm exposure 0.5\n" TAIL, &a, &err), CT_OK);
    assert_int_equal(parse(HEAD "term intercept -4\nterm exposure 0.5\n" TAIL, &b, &err), CT_OK);
    ct__risk_model_digest(&a, da);
    ct__risk_model_digest(&b, db);
    assert_int_equal(strlen(da), 16);
    assert_string_equal(da, db);
    assert_int_equal(parse(HEAD "term intercept -4\nterm exposure 0.50001\n" TAIL, &b, &err), CT_OK);
    assert_string_equal(a.version, b.version);
    ct__risk_model_digest(&b, db);
    assert_string_not_equal(da, db);
}

/* ---- the fit ------------------------------------------------------------------------- */

static uint64_t rng_state = 20261201;

static double uniform(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Rows whose label follows z = -5 + 1.0 exposure + 2.0 day_share; every
 * other term is noise. */
static void write_features(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "case_id,true,truth_minutes,exposure_s,near_s,share_sum,share_max,comove,comove_n,"
               "episodes,days,places,night_s,evidence,log_odds,p_contact\n");
    for (int i = 0; i < n; i++) {
        double hours = exp(uniform() * log(100)), day = uniform();
        double exposure = hours * 3600, night = (1 - day) * exposure;
        double z = -5 + log1p(hours) + 2 * day;
        int y = uniform() < 1 / (1 + exp(-z));
        fprintf(f, "K%d,%d,0,%.0f,%.6g,%.6g,%.6g,%.6g,%d,%d,%d,%d,%.0f,1,0,0\n", i % 7, y, exposure,
                uniform() * 60, uniform() * 0.01, uniform() * 0.01, uniform(), (int)(uniform() * 4),
                1 + (int)(uniform() * 5), (int)(uniform() * 4), (int)(uniform() * 3),
                floor(night));
    }
    fclose(f);
}

/* The share of the rows of a features file whose p_contact under m,
 * rounded as printed, is at least t. */
static double share_at_or_above(const char *path, const ct_risk_model *m, double t)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    size_t n = 0, above = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        ct__evidence ev;
        memset(&ev, 0, sizeof ev);
        double exposure, night;
        unsigned comove_n, episodes, days, places;
        int y;
        assert_int_equal(sscanf(line, "%*[^,],%d,%*[^,],%lf,%lf,%lf,%lf,%lf,%u,%u,%u,%u,%lf", &y,
                                &exposure, &ev.near_s, &ev.share_sum, &ev.share_max, &ev.comove,
                                &comove_n, &episodes, &days, &places, &night),
                         11);
        ev.exposure_s = (int64_t)exposure;
        ev.night_s = (int64_t)night;
        ev.days = days;
        ev.places = places;
        n++;
        above += ct__risk_round(ct__risk_probability(m, ct__risk_log_odds(m, &ev))) >= t;
    }
    fclose(f);
    return (double)above / (double)n;
}

static double coef_of(const ct_risk_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_terms; i++)
        if (!strcmp(ct__risk_terms[m->term[i]].name, name))
            return m->coef[i];
    fail_msg("no term %s", name);
    return 0;
}

static void test_fit(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("risk-fit"), path[1100];
    snprintf(path, sizeof path, "%s/features.csv", dir);
    write_features(path, 60000);
    char features[1100];
    snprintf(features, sizeof features, "%s", path);
    const char *paths[] = {path};
    ct_risk_fit_opts fo = {NULL, "synthetic", 0, 0};
    ct_risk_model *m = NULL;
    ct_risk_fit_report rep;
    ct_err err;
    assert_int_equal(ct_risk_fit(paths, 1, &fo, &m, &rep, &err), CT_OK);
    assert_int_equal(rep.rows, 60000);
    double e = coef_of(m, "exposure"), d = coef_of(m, "day_share"), c = coef_of(m, "intercept");
    fprintf(stderr, "fit: intercept %.3f exposure %.3f day_share %.3f (true -5, 1, 2)\n", c, e, d);
    assert_true(fabs(e - 1.0) < 0.15 && fabs(d - 2.0) < 0.25 && fabs(c + 5.0) < 0.5);
    for (size_t i = 1; i < m->n_terms; i++) { /* the noise terms stay (near) zero */
        assert_true(m->coef[i] >= 0);
        const char *name = ct__risk_terms[m->term[i]].name;
        if (strcmp(name, "exposure") && strcmp(name, "day_share") && m->coef[i] >= 0.15)
            fail_msg("noise term %s got coefficient %g", name, m->coef[i]);
    }
    /* the test threshold is the smallest 2-digit p that leaves at most 5 %
     * of the rows at or above it, unless that is above quarantine's 0.5:
     * then it is 0.5 (here, where 15 % of the rows reach 0.5) */
    double at = share_at_or_above(features, m, m->test_threshold);
    fprintf(stderr, "fit: test threshold %g leaves %.4f of the rows at or above\n",
            m->test_threshold, at);
    if (m->test_threshold < m->quarantine_threshold) {
        assert_true(at <= 0.05);
        double mag = pow(10, floor(log10(m->test_threshold)) - 1);
        assert_true(share_at_or_above(features, m, m->test_threshold - mag) > 0.05);
    } else {
        assert_true(m->test_threshold == m->quarantine_threshold && at > 0.05);
    }
    /* with a 20 % share asked, the threshold comes below 0.5 and obeys */
    ct_risk_fit_opts wide = fo;
    wide.test_share = 0.2;
    ct_risk_model *w = NULL;
    assert_int_equal(ct_risk_fit(paths, 1, &wide, &w, &rep, &err), CT_OK);
    assert_true(w->test_threshold < w->quarantine_threshold);
    assert_true(share_at_or_above(features, w, w->test_threshold) <= 0.2);
    double step = pow(10, floor(log10(w->test_threshold)) - 1);
    assert_true(share_at_or_above(features, w, w->test_threshold - step) > 0.2);
    ct_risk_model_free(w);
    assert_true(m->n_knots >= 2 && m->n_knots <= CT_RISK_KNOTS_MAX);
    for (size_t i = 1; i < m->n_knots; i++)
        assert_true(m->knot_z[i] > m->knot_z[i - 1] && m->knot_p[i] >= m->knot_p[i - 1]);
    assert_true(m->quarantine_threshold == 0.5);
    /* written and read back, it is the same model */
    snprintf(path, sizeof path, "%s/model.txt", dir);
    assert_int_equal(ct_risk_model_write(m, path, "# test\n", &err), CT_OK);
    ct_risk_model *back = NULL;
    assert_int_equal(ct_risk_model_load(path, &back, &err), CT_OK);
    assert_true(back->coef[1] == m->coef[1] && back->n_knots == m->n_knots);
    ct_risk_model_free(back);
    ct_risk_model_free(m);
    /* no true row: nothing to fit */
    snprintf(path, sizeof path, "%s/empty.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "case_id,true,exposure_s,near_s,share_sum,share_max,comove,comove_n,episodes,days,"
               "places,night_s,evidence\nK1,0,900,1,0.1,0.1,0,0,1,1,1,0,1\n");
    fclose(f);
    paths[0] = path;
    assert_int_equal(ct_risk_fit(paths, 1, &fo, &m, &rep, &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "both true and other"));
    /* a negative or fractional count is refused with its line, not cast */
    f = fopen(path, "w");
    fprintf(f, "case_id,true,exposure_s,near_s,share_sum,share_max,comove,comove_n,episodes,days,"
               "places,night_s,evidence\nK1,1,900,1,0.1,0.1,0,0,1,-3,1,0,1\n"
               "K1,0,900,1,0.1,0.1,0,0,1.5,1,1,0,1\n");
    fclose(f);
    assert_int_equal(ct_risk_fit(paths, 1, &fo, &m, &rep, &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, ":2: column days must be a whole number"));
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_builtin),
                                       cmocka_unit_test(test_parse_errors),
                                       cmocka_unit_test(test_text_round_trip),
                                       cmocka_unit_test(test_probability),
        cmocka_unit_test(test_terms_by_hand),
        cmocka_unit_test(test_digest),
                                       cmocka_unit_test(test_fit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
