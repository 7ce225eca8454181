/*
 * cmd_evaluate.c — `celltrace evaluate --truth FILE`: how good the scored
 * answer is, against the truth (docs/RISK.md section 6).
 *
 * The numbers come from ct_evaluate; this file prints them (a table for
 * people, JSON for programs) and, with --plot, draws them as an SVG a
 * person can read: the precision-recall curves of ranking by p_contact
 * and by exposure_s, and the reliability diagram (mean p_contact of each
 * bin against the share of true contacts in it). The SVG is written by
 * hand: two panels of lines and circles need no library.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void evaluate_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] evaluate --truth FILE [options]\n\n"
           "Traces every registered case with scoring and measures the answer against a\n"
           "truth file (case_id,msisdn,minutes: who was really within the contact distance,\n"
           "for how many minutes, as `celltrace simulate` writes truth.csv). A pair is a true\n"
           "contact when minutes x 60 reaches --min-exposure. Prints, for SPEC 4's net, for\n"
           "level test or above and for level quarantine: precision, recall and F1 (recall\n"
           "over every true contact, also those the net missed); the average precision of\n"
           "ranking by p_contact and by exposure_s; the Brier score; a reliability table of\n"
           "10 bins on a log scale of p_contact; and all of it per kind of evidence\n"
           "(cell-cell, cell-point, point-point: a contact's strongest kind). Numbers are\n"
           "read to match the truth, so every trace is audited.\n\n"
           "Options:\n"
           "  --truth FILE              the truth (required)\n"
           "  --plot FILE.svg           also draw the precision-recall curves and the\n"
           "                            reliability diagram\n"
           "  --format table|json       output format (default table)\n"
           "  --model FILE              a model file instead of the built-in one\n" CLI_PARAM_HELP
           "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

static void pct(char *buf, size_t cap, double v, int defined)
{
    if (!defined)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.2f%%", 100.0 * v);
}

static void counts_row(FILE *out, const char *name, const ct_eval_counts *k)
{
    char p[32], r[32], f[32];
    pct(p, sizeof p, k->precision, k->selected > 0);
    pct(r, sizeof r, k->recall, k->truth > 0);
    pct(f, sizeof f, k->f1, k->selected > 0 && k->truth > 0);
    fprintf(out, "  %-22s %10llu %7llu %10s %9s %9s\n", name, (unsigned long long)k->selected,
            (unsigned long long)k->selected_true, p, r, f);
}

static void print_bins(FILE *out, const ct_eval_slice *s)
{
    fprintf(out, "  %-18s %10s %7s %10s %10s\n", "p_contact", "contacts", "true", "mean p",
            "observed");
    for (int b = 0; b < CT_EVAL_BINS; b++) {
        const ct_eval_bin *bin = &s->bins[b];
        char range[40];
        snprintf(range, sizeof range, "[%g, %g%s", bin->p_lo, bin->p_hi,
                 b + 1 == CT_EVAL_BINS ? "]" : ")");
        if (!bin->n)
            fprintf(out, "  %-18s %10s\n", range, "0");
        else
            fprintf(out, "  %-18s %10llu %7llu %10.4g %10.4g\n", range, (unsigned long long)bin->n,
                    (unsigned long long)bin->positives, bin->mean_p, bin->observed);
    }
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0.0;
}

static void print_table(FILE *out, const ct_evaluation *e, const char *truth)
{
    const ct_eval_slice *all = &e->slices[0];
    fprintf(out, "Evaluation of %zu case%s against %s\n", e->cases, e->cases == 1 ? "" : "s", truth);
    fprintf(out, "Model %s; levels: test at p_contact >= %g, quarantine at >= %g\n",
            e->model_version, e->test_threshold, e->quarantine_threshold);
    fprintf(out, "True contacts: %llu; SPEC 4's net found %llu of them.\n\n",
            (unsigned long long)e->truth, (unsigned long long)e->truth_in_net);
    fprintf(out, "  %-22s %10s %7s %10s %9s %9s\n", "", "contacts", "true", "precision", "recall",
            "F1");
    counts_row(out, "SPEC 4 net", &all->net_counts);
    counts_row(out, "level test or above", &all->test);
    counts_row(out, "level quarantine", &all->quarantine);
    fprintf(out, "\n  level test or above holds %.2f%% of the net.\n",
            100.0 * ratio((double)all->test.selected, (double)all->net));
    fprintf(out, "  Average precision: by p_contact %.4g, by exposure_s %.4g (%.1fx); the net's "
                 "precision %.4g.\n",
            all->ap_p_contact, all->ap_exposure, ratio(all->ap_p_contact, all->ap_exposure),
            all->net_counts.precision);
    fprintf(out, "  Brier score %.6g.\n\nReliability:\n", all->brier);
    print_bins(out, all);
    fprintf(out, "\nBy kind of evidence (a contact's strongest kind):\n");
    fprintf(out, "  %-12s %10s %6s %14s %14s %18s %10s\n", "kind", "contacts", "true",
            "test prec/rec", "quar prec/rec", "AP p / exposure", "Brier");
    for (int k = 1; k < 4; k++) {
        const ct_eval_slice *s = &e->slices[k];
        char tp[32], tr[32], qp[32], qr[32];
        pct(tp, sizeof tp, s->test.precision, s->test.selected > 0);
        pct(tr, sizeof tr, s->test.recall, s->test.truth > 0);
        pct(qp, sizeof qp, s->quarantine.precision, s->quarantine.selected > 0);
        pct(qr, sizeof qr, s->quarantine.recall, s->quarantine.truth > 0);
        char t[80], q[80], ap[48];
        snprintf(t, sizeof t, "%s/%s", tp, tr);
        snprintf(q, sizeof q, "%s/%s", qp, qr);
        snprintf(ap, sizeof ap, "%.3g / %.3g", s->ap_p_contact, s->ap_exposure);
        fprintf(out, "  %-12s %10llu %6llu %14s %14s %18s %10.3g\n", s->name,
                (unsigned long long)s->net, (unsigned long long)s->net_true, t, q, ap, s->brier);
    }
}

/* A ratio, or null when its denominator is 0 (the table prints "-"). */
static void json_ratio(FILE *out, const char *key, double v, int defined)
{
    if (defined)
        fprintf(out, ",\"%s\":%.6g", key, v);
    else
        fprintf(out, ",\"%s\":null", key);
}

static void json_counts(FILE *out, const char *key, const ct_eval_counts *k)
{
    fprintf(out, "\"%s\":{\"contacts\":%llu,\"true\":%llu,\"truth\":%llu", key,
            (unsigned long long)k->selected, (unsigned long long)k->selected_true,
            (unsigned long long)k->truth);
    json_ratio(out, "precision", k->precision, k->selected > 0);
    json_ratio(out, "recall", k->recall, k->truth > 0);
    json_ratio(out, "f1", k->f1, k->selected > 0 && k->truth > 0);
    fputc('}', out);
}

static void json_slice(FILE *out, const ct_eval_slice *s)
{
    fprintf(out, "{\"kind\":\"%s\",\"net\":%llu,\"net_true\":%llu,", s->name,
            (unsigned long long)s->net, (unsigned long long)s->net_true);
    json_counts(out, "net_counts", &s->net_counts);
    fputc(',', out);
    json_counts(out, "test", &s->test);
    fputc(',', out);
    json_counts(out, "quarantine", &s->quarantine);
    fprintf(out, ",\"average_precision_p_contact\":%.6g,\"average_precision_exposure\":%.6g,"
                 "\"brier\":%.6g,\"reliability\":[",
            s->ap_p_contact, s->ap_exposure, s->brier);
    for (int b = 0; b < CT_EVAL_BINS; b++) {
        const ct_eval_bin *bin = &s->bins[b];
        fprintf(out, "%s{\"p_lo\":%g,\"p_hi\":%g,\"contacts\":%llu,\"true\":%llu,\"mean_p\":%.6g,"
                     "\"observed\":%.6g}",
                b ? "," : "", bin->p_lo, bin->p_hi, (unsigned long long)bin->n,
                (unsigned long long)bin->positives, bin->mean_p, bin->observed);
    }
    fputs("]}", out);
}

static void print_json(FILE *out, const ct_evaluation *e)
{
    fprintf(out, "{\"cases\":%zu,\"truth\":%llu,\"truth_in_net\":%llu,\"model\":", e->cases,
            (unsigned long long)e->truth, (unsigned long long)e->truth_in_net);
    cli_json_text(out, e->model_version);
    fprintf(out, ",\"test_threshold\":%g,\"quarantine_threshold\":%g,\"slices\":[",
            e->test_threshold, e->quarantine_threshold);
    for (int k = 0; k < 4; k++) {
        fputs(k ? ",\n " : "\n ", out);
        json_slice(out, &e->slices[k]);
    }
    fputs("]}\n", out);
}

/* ---- the plot ----------------------------------------------------------------------- */

/* Panels: x from px to px + PW, y from py to py + PH (SVG y grows down). */
enum { PW = 380, PH = 300, LEFT1 = 70, LEFT2 = 540, TOP = 60 };

static double log_pos(double v, double lo, double hi, double len)
{
    if (v < lo)
        v = lo;
    return (log10(v) - log10(lo)) / (log10(hi) - log10(lo)) * len;
}

static void axes(FILE *f, int px, const char *xlabel, const char *ylabel, int x_log)
{
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#333'/>\n", px, TOP,
            PW, PH);
    static const double DECADES[] = {1e-4, 1e-3, 1e-2, 1e-1, 1};
    for (int i = 0; i < 5; i++) {
        double y = TOP + PH - log_pos(DECADES[i], 1e-4, 1, PH);
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/>"
                   "<text x='%d' y='%.1f' font-size='11' text-anchor='end'>%g</text>\n",
                px, y, px + PW, y, px - 6, y + 4, DECADES[i]);
        double x = x_log ? px + log_pos(DECADES[i], 1e-4, 1, PW) : px + PW * i / 4.0;
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ddd'/>"
                   "<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>%g</text>\n",
                x, TOP, x, TOP + PH, x, TOP + PH + 16, x_log ? DECADES[i] : i / 4.0);
    }
    fprintf(f, "<text x='%d' y='%d' font-size='13' text-anchor='middle'>%s</text>\n", px + PW / 2,
            TOP + PH + 38, xlabel);
    fprintf(f, "<text transform='translate(%d %d) rotate(-90)' font-size='13' "
               "text-anchor='middle'>%s</text>\n",
            px - 48, TOP + PH / 2, ylabel);
}

static void curve(FILE *f, const ct_pr_point *pts, size_t n, const char *colour)
{
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colour);
    double last_recall = -1;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && pts[i].recall - last_recall < 1.0 / 600)
            continue; /* at most about 600 points: enough for the eye */
        last_recall = pts[i].recall;
        fprintf(f, "%.1f,%.1f ", LEFT1 + pts[i].recall * PW,
                TOP + PH - log_pos(pts[i].precision, 1e-4, 1, PH));
    }
    fputs("'/>\n", f);
}

static void legend(FILE *f, int x, int y, const char *colour, const char *text, int dashed)
{
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'%s/>"
               "<text x='%d' y='%d' font-size='12'>%s</text>\n",
            x, y, x + 24, y, colour, dashed ? " stroke-dasharray='5,4'" : "", x + 30, y + 4, text);
}

int eval_write_plot(const char *path, const ct_evaluation *e)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const ct_eval_slice *all = &e->slices[0];
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='980' height='440' "
               "font-family='sans-serif'>\n<rect width='980' height='440' fill='white'/>\n");
    fprintf(f, "<text x='490' y='24' font-size='15' text-anchor='middle'>celltrace evaluate: "
               "%zu cases, %llu true contacts, model ",
            e->cases, (unsigned long long)e->truth);
    for (const char *c = e->model_version; *c; c++) /* XML-safe version text */
        fputc(*c == '<' || *c == '>' || *c == '&' || *c == '\'' ? '_' : *c, f);
    fputs("</text>\n", f);
    fprintf(f, "<text x='%d' y='%d' font-size='13' text-anchor='middle'>Precision and recall "
               "(ranking all contacts of the net)</text>\n",
            LEFT1 + PW / 2, TOP - 10);
    axes(f, LEFT1, "recall", "precision (log scale)", 0);
    curve(f, e->pr_p_contact, e->n_pr_p_contact, "#c0392b");
    curve(f, e->pr_exposure, e->n_pr_exposure, "#2471a3");
    double net_y = TOP + PH - log_pos(all->net_counts.precision, 1e-4, 1, PH);
    fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#777' stroke-dasharray='5,4'/>\n",
            LEFT1, net_y, LEFT1 + PW, net_y);
    legend(f, LEFT1 + 150, TOP + 16, "#c0392b", "by p_contact", 0);
    legend(f, LEFT1 + 150, TOP + 34, "#2471a3", "by exposure_s", 0);
    legend(f, LEFT1 + 150, TOP + 52, "#777", "the net's precision", 1);
    fprintf(f, "<text x='%d' y='%d' font-size='13' text-anchor='middle'>Reliability (mean "
               "p_contact per bin against observed)</text>\n",
            LEFT2 + PW / 2, TOP - 10);
    axes(f, LEFT2, "mean p_contact of the bin (log scale)", "share truly in contact (log scale)", 1);
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#777' stroke-dasharray='5,4'/>\n",
            LEFT2, TOP + PH, LEFT2 + PW, TOP);
    for (int b = 0; b < CT_EVAL_BINS; b++) {
        const ct_eval_bin *bin = &all->bins[b];
        if (!bin->n)
            continue;
        /* a bin with no true contact has no place on a log scale: a hollow
         * circle on the bottom edge */
        int none = bin->positives == 0;
        double r = 3 + 2 * log10((double)bin->n);
        fprintf(f, "<circle cx='%.1f' cy='%.1f' r='%.1f' %s>"
                   "<title>%llu contacts, mean p %.4g, observed %.4g</title></circle>\n",
                LEFT2 + log_pos(bin->mean_p, 1e-4, 1, PW),
                TOP + PH - log_pos(none ? 1e-4 : bin->observed, 1e-4, 1, PH), r,
                none ? "fill='none' stroke='#c0392b' stroke-width='2'"
                     : "fill='#c0392b' fill-opacity='0.6'",
                (unsigned long long)bin->n, bin->mean_p, bin->observed);
    }
    legend(f, LEFT2 + 16, TOP + 16, "#777", "perfect calibration", 1);
    fprintf(f, "<circle cx='%d' cy='%d' r='5' fill='#c0392b' fill-opacity='0.6'/>"
               "<text x='%d' y='%d' font-size='12'>a bin (area grows with its contacts)</text>\n",
            LEFT2 + 28, TOP + 34, LEFT2 + 46, TOP + 38);
    fprintf(f, "<circle cx='%d' cy='%d' r='5' fill='none' stroke='#c0392b' stroke-width='2'/>"
               "<text x='%d' y='%d' font-size='12'>a bin with no true contact</text>\n",
            LEFT2 + 28, TOP + 52, LEFT2 + 46, TOP + 56);
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

int cmd_evaluate(cli_ctx *ctx, int argc, char **argv)
{
    enum { OPT_TRUTH = 1, OPT_PLOT, OPT_MODEL };
    static const struct option opts[] = {{"truth", required_argument, NULL, OPT_TRUTH},
                                         {"plot", required_argument, NULL, OPT_PLOT},
                                         {"model", required_argument, NULL, OPT_MODEL},
                                         {"format", required_argument, NULL, 'f'},
                                         CLI_PARAM_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_params p;
    ct_params_default(&p);
    const char *truth_path = NULL, *plot = NULL, *model_path = NULL, *format = "table";
    int c, got;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == OPT_TRUTH)
            truth_path = optarg;
        else if (c == OPT_PLOT)
            plot = optarg;
        else if (c == OPT_MODEL)
            model_path = optarg;
        else if (c == 'f')
            format = optarg;
        else if (c == 'h') {
            evaluate_help();
            return EXIT_OK;
        } else if ((got = cli_param_option(c, optarg, &p)) < 0)
            return cli_usage_error("evaluate", "%s, not \'%s\'", cli_param_rule(c), optarg);
        else if (got == 0)
            return cli_usage_error("evaluate", "unknown option");
    }
    int json = !strcmp(format, "json");
    if (!json && strcmp(format, "table"))
        return cli_usage_error("evaluate", "--format must be table or json");
    if (!truth_path || optind != argc)
        return cli_usage_error("evaluate", "expected --truth FILE and no other argument");
    ct_err err;
    if (ct_params_check(&p, &err))
        return cli_usage_error("evaluate", "%s", err.msg);
    ct_risk_model *model = NULL;
    ct_truth *truth = NULL;
    ct_evaluation *ev = NULL;
    ct_risk_opts risk;
    ct_db *db = NULL;
    int rc = EXIT_FAIL;
    if (model_path && ct_risk_model_load(model_path, &model, &err))
        cli_error("%s", err.msg);
    else if (ct_risk_opts_configured(ctx->data_dir, model, &risk, &err) ||
             ct_truth_load(truth_path, &truth, &err))
        cli_error("%s", err.msg);
    else if ((db = cli_open(ctx, 0)) != NULL) {
        if (ct_evaluate(db, truth, &p, &risk, &ev, &err))
            cli_error("%s", err.msg);
        else if (plot && eval_write_plot(plot, ev))
            cli_error("cannot write the plot %s", plot);
        else {
            if (json)
                print_json(stdout, ev);
            else
                print_table(stdout, ev, truth_path);
            rc = EXIT_OK;
        }
    }
    ct_close(db);
    ct_evaluation_free(ev);
    ct_truth_free(truth);
    ct_risk_model_free(model);
    return rc;
}
