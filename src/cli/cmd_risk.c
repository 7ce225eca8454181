/*
 * cmd_risk.c — `celltrace risk features|fit`: the risk model's calibration.
 *
 * `risk features --truth FILE` traces every registered case with scoring
 * and writes, per contact of the net, the evidence the model reads and
 * whether the truth calls it a true contact: no phone number, only what a
 * model is fitted on. `risk fit FILE...` fits the model's coefficients and
 * calibration on such files and writes a model file (docs/RISK.md section
 * 4). scripts/calibrate.sh runs both on the training cities; the fitted
 * file is models/risk-model.txt, built into the binary.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The feature file's header: the columns `risk fit` reads. */
#define FEATURES_HEADER                                                                      \
    "case_id,true,truth_minutes,exposure_s,near_s,share_sum,share_max,comove,comove_n,"     \
    "episodes,days,places,night_s,evidence,log_odds,p_contact\n"

static void risk_help(void)
{
    printf("Usage: celltrace [--data DIR] risk features --truth FILE [options]\n"
           "       celltrace risk fit [--out FILE] [--version TEXT] [options] FEATURES.csv...\n\n"
           "Calibration of the contact risk model (docs/RISK.md).\n\n"
           "features  traces every registered case with scoring and writes to stdout, for\n"
           "          each contact of the net, the evidence the model reads and whether\n"
           "          the truth file (case_id,msisdn,minutes) calls it a true contact.\n"
           "          No phone number is written.\n"
           "fit       fits the model on feature files (from cities never used to evaluate\n"
           "          it) and writes the model file (stdout, or --out).\n\n"
           "Options of features:\n"
           "  --truth FILE              the truth (required)\n"
           "  --model FILE              a model file instead of the built-in one\n" CLI_PARAM_HELP
           "\nOptions of fit:\n"
           "  --out FILE                where to write the model (default stdout)\n"
           "  --version TEXT            the model's version string (recorded with every run)\n"
           "  --test-share X            share of the training net to put at level test (0.05)\n"
           "  --quarantine P            the quarantine threshold (0.5: more likely than not)\n"
           "  --base FILE               take the visit and co-movement constants from this\n"
           "                            model (default: the built-in one)\n"
           "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

static int write_feature_row(void *ud, const ct_eval_row *r)
{
    FILE *out = ud;
    const ct_contact *c = r->contact;
    const ct_evidence *e = r->evidence;
    cli_csv_text(out, r->case_id);
    fprintf(out, ",%d,%lld,%lld,%.9g,%.9g,%.9g,%.9g,%u,%u,%u,%u,%lld,%u,%.9g,%.4g\n", r->is_true,
            (long long)r->truth_minutes, (long long)c->exposure_s, e->near_s, e->share_sum,
            e->share_max, e->comove, e->comove_n, e->episodes, e->days, e->places,
            (long long)e->night_s, c->evidence, e->log_odds, c->p_contact);
    return ferror(out) != 0;
}

static int risk_features(cli_ctx *ctx, int argc, char **argv)
{
    enum { OPT_TRUTH = 1, OPT_MODEL };
    static const struct option opts[] = {{"truth", required_argument, NULL, OPT_TRUTH},
                                         {"model", required_argument, NULL, OPT_MODEL},
                                         CLI_PARAM_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_params p;
    ct_params_default(&p);
    const char *truth_path = NULL, *model_path = NULL;
    int c, got;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == OPT_TRUTH)
            truth_path = optarg;
        else if (c == OPT_MODEL)
            model_path = optarg;
        else if (c == 'h') {
            risk_help();
            return EXIT_OK;
        } else if ((got = cli_param_option(c, optarg, &p)) < 0)
            return cli_usage_error("risk", "%s, not \'%s\'", cli_param_rule(c), optarg);
        else if (got == 0)
            return cli_usage_error("risk", "unknown option");
    }
    if (!truth_path || optind != argc)
        return cli_usage_error("risk", "features needs --truth FILE and nothing else");
    ct_err err;
    if (ct_params_check(&p, &err))
        return cli_usage_error("risk", "%s", err.msg);
    ct_risk_opts risk;
    ct_risk_opts_default(&risk);
    ct_risk_model *model = NULL;
    ct_truth *truth = NULL;
    int rc = EXIT_FAIL;
    if (model_path && ct_risk_model_load(model_path, &model, &err)) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (model)
        risk.model = model;
    ct_db *db = NULL;
    if (ct_truth_load(truth_path, &truth, &err))
        cli_error("%s", err.msg);
    else if ((db = cli_open(ctx, 0)) != NULL) {
        fputs(FEATURES_HEADER, stdout);
        if (ct_evaluate_rows(db, truth, &p, &risk, write_feature_row, stdout, &err))
            cli_error("%s", err.msg);
        else if (fflush(stdout) || ferror(stdout))
            cli_error("cannot write the features");
        else
            rc = EXIT_OK;
    }
    ct_close(db);
    ct_truth_free(truth);
    ct_risk_model_free(model);
    return rc;
}

static int risk_fit(int argc, char **argv)
{
    enum { OPT_OUT = 1, OPT_VERSION, OPT_TEST_SHARE, OPT_QUARANTINE, OPT_BASE };
    static const struct option opts[] = {{"out", required_argument, NULL, OPT_OUT},
                                         {"version", required_argument, NULL, OPT_VERSION},
                                         {"test-share", required_argument, NULL, OPT_TEST_SHARE},
                                         {"quarantine", required_argument, NULL, OPT_QUARANTINE},
                                         {"base", required_argument, NULL, OPT_BASE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_risk_fit_opts fo;
    memset(&fo, 0, sizeof fo);
    const char *out = NULL, *base_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        if (c == OPT_OUT)
            out = optarg;
        else if (c == OPT_VERSION)
            fo.version = optarg;
        else if (c == OPT_BASE)
            base_path = optarg;
        else if (c == OPT_TEST_SHARE || c == OPT_QUARANTINE) {
            double v = strtod(optarg, &end);
            if (!end || *end || !(v > 0 && v <= 1))
                return cli_usage_error("risk", "--test-share and --quarantine take 0 < value <= 1");
            *(c == OPT_TEST_SHARE ? &fo.test_share : &fo.quarantine_threshold) = v;
        } else if (c == 'h') {
            risk_help();
            return EXIT_OK;
        } else
            return cli_usage_error("risk", "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error("risk", "fit needs one or more feature files");
    ct_err err;
    ct_risk_model *base = NULL, *model = NULL;
    if (base_path && ct_risk_model_load(base_path, &base, &err)) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    fo.base = base;
    for (int i = optind; i < argc; i++) /* the same rows twice would weigh double */
        for (int j = optind; j < i; j++)
            if (!strcmp(argv[i], argv[j])) {
                ct_risk_model_free(base);
                return cli_usage_error("risk", "%s is named twice", argv[i]);
            }
    ct_risk_fit_report rep;
    int rc = EXIT_FAIL;
    if (ct_risk_fit((const char *const *)argv + optind, (size_t)(argc - optind), &fo, &model, &rep,
                    &err))
        cli_error("%s", err.msg);
    else {
        char comment[4096];
        int len = snprintf(comment, sizeof comment,
                           "# celltrace contact risk model (docs/RISK.md). Written by\n"
                           "#   celltrace risk fit%s%s",
                           fo.version ? " --version " : "", fo.version ? fo.version : "");
        for (int i = optind; i < argc && len > 0 && (size_t)len < sizeof comment - 512; i++)
            len += snprintf(comment + len, sizeof comment - (size_t)len, " %s", argv[i]);
        snprintf(comment + len, sizeof comment - (size_t)len,
                 "\n# %zu contacts of the net, %zu true; %d Newton steps; log-loss %.6g per "
                 "contact.\n# Regenerate with scripts/calibrate.sh; do not edit by hand.\n",
                 rep.rows, rep.positives, rep.iterations, rep.log_loss);
        if (ct_risk_model_write(model, out, comment, &err))
            cli_error("%s", err.msg);
        else
            rc = EXIT_OK;
        if (out && rc == EXIT_OK)
            fprintf(stderr, "risk fit: %zu contacts (%zu true) from %d files -> %s\n", rep.rows,
                    rep.positives, argc - optind, out);
        if (rc == EXIT_OK && rep.positives < 100)
            fprintf(stderr,
                    "risk fit: warning: only %zu true contacts; coefficients and calibration this "
                    "thin are noise (scripts/calibrate.sh fits on thousands)\n",
                    rep.positives);
    }
    ct_risk_model_free(model);
    ct_risk_model_free(base);
    return rc;
}

int cmd_risk(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        risk_help();
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "features"))
        return risk_features(ctx, argc - 1, argv + 1);
    if (!strcmp(argv[1], "fit"))
        return risk_fit(argc - 1, argv + 1);
    return cli_usage_error("risk", "unknown subcommand '%s'", argv[1]);
}
