/*
 * cmd_demo.c — `celltrace demo`: the whole job on a simulated city.
 *
 * Simulates a city with ground truth, creates a data directory, imports
 * every operator's cell catalogue, ingests every feed file, registers the
 * cases, traces each case and compares the contacts with the truth the
 * simulator knows: recall (true contacts found) and precision (found
 * contacts that are true). Prints what a health official would read and
 * how long each stage took, then leaves the data directory to explore.
 *
 * Uses only the public API, as any program built on celltrace would.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "celltrace_sim.h"
#include "cli.h"

#define MARKER ".celltrace-demo"
#define MAX_FILES 4096

typedef struct demo {
    cli_ctx *ctx;
    char root[1024], city[1100], data[1100];
    double t0, stage[6];
    ct_sim_result sim;
    char top_contact[CT_MSISDN_MAX + 1]; /* C0001's most likely contact, for --explain */
} demo;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Demo output goes to stdout and is flushed at once: it is read live. */
static void say(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---- the demo folder ----------------------------------------------------- */

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir)
            return -1;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            if (remove_tree(child) != 0) {
                closedir(dir);
                return -1;
            }
        }
        closedir(dir);
        return rmdir(path);
    }
    return unlink(path);
}

/* A previous demo's folder is replaced; anything else is left alone. */
static int prepare_root(demo *d)
{
    char marker[1200];
    snprintf(marker, sizeof marker, "%s/%s", d->root, MARKER);
    struct stat st;
    if (stat(d->root, &st) == 0) {
        if (access(marker, F_OK) != 0) {
            cli_error("%s exists and was not made by `celltrace demo`; choose another --dir", d->root);
            return -1;
        }
        if (remove_tree(d->root) != 0) {
            cli_error("cannot remove the previous demo in %s: %s", d->root, strerror(errno));
            return -1;
        }
    }
    if (mkdir(d->root, 0700) != 0) {
        cli_error("cannot create %s: %s", d->root, strerror(errno));
        return -1;
    }
    FILE *f = fopen(marker, "w");
    if (f)
        fclose(f);
    snprintf(d->city, sizeof d->city, "%s/city", d->root);
    snprintf(d->data, sizeof d->data, "%s/data", d->root);
    return 0;
}

/* ---- stages ---------------------------------------------------------------- */

static int stage_simulate(demo *d, ct_sim_params *p)
{
    ct_err err;
    p->out_dir = d->city;
    say("1. Simulating %llu people for %u days (seed %llu)...\n", (unsigned long long)p->subscribers,
        p->days, (unsigned long long)p->seed);
    double t = now_s();
    if (ct_simulate(p, d->ctx->progress ? cli_progress : NULL, (void *)"simulate", &d->sim, &err)) {
        cli_error("%s", err.msg);
        return -1;
    }
    d->stage[0] = now_s() - t;
    if (d->ctx->progress)
        fputs("\r\033[K", stderr);
    say("   %llu events from %u operators, %llu cases, %llu true contacts (%.1f s)\n",
        (unsigned long long)d->sim.events, d->sim.operators, (unsigned long long)d->sim.cases,
        (unsigned long long)d->sim.truth_pairs, d->stage[0]);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The feed files of one operator, sorted by name; returns new strings. */
static int list_feeds(const char *dir, char **files, int max)
{
    DIR *dd = opendir(dir);
    int n = 0;
    if (!dd)
        return 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL && n < max) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        files[n] = malloc(len);
        snprintf(files[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(dd);
    qsort(files, (size_t)n, sizeof *files, cmp_str);
    return n;
}

static int ingest_operator(demo *d, ct_db *db, const char *op, ct_import_summary *total)
{
    char path[1300];
    ct_err err;
    ct_import_summary s;
    ct_import_opts io = {NULL, d->ctx->progress ? cli_progress : NULL, (void *)op, 0,
                         cli_ingest_memory_mb(), 0, 0, NULL, NULL};
    snprintf(path, sizeof path, "%s/%s/cells.csv", d->city, op);
    if (ct_cells_import(db, op, path, &io, &s, &err)) {
        cli_error("%s", err.msg);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s/events", d->city, op);
    char *files[MAX_FILES];
    int n = list_feeds(path, files, MAX_FILES), rc = 0;
    ct_ingest *in = NULL;
    if (ct_ingest_begin(db, op, &io, &in, &err))
        rc = -1;
    for (int i = 0; i < n && !rc; i++)
        rc = ct_ingest_file(in, files[i], &err) ? -1 : 0;
    if (rc)
        ct_ingest_abort(in);
    else
        rc = ct_ingest_commit(in, &s, &err) ? -1 : 0;
    for (int i = 0; i < n; i++)
        free(files[i]);
    if (rc) {
        cli_error("%s", err.msg);
        return -1;
    }
    total->rows_read += s.rows_read;
    total->stored += s.stored;
    total->duplicates += s.duplicates;
    total->rejected += s.rejected;
    return 0;
}

static int stage_ingest(demo *d)
{
    ct_err err;
    say("2. Ingesting the operators' files into %s...\n", d->data);
    double t = now_s();
    if (ct_init(d->data, &err)) {
        cli_error("%s", err.msg);
        return -1;
    }
    ct_db *db = NULL;
    if (ct_open(d->data, 1, &db, &err)) {
        cli_error("%s", err.msg);
        return -1;
    }
    ct_import_summary total;
    memset(&total, 0, sizeof total);
    int rc = 0;
    for (unsigned i = 0; i < d->sim.operators && !rc; i++)
        rc = ingest_operator(d, db, d->sim.op[i].id, &total);
    char cases[1300];
    snprintf(cases, sizeof cases, "%s/cases.csv", d->city);
    ct_import_summary cs;
    if (!rc && ct_cases_import(db, cases, NULL, &cs, &err)) {
        cli_error("%s", err.msg);
        rc = -1;
    }
    char geography[1300]; /* the districts and metro lines, for the map of `serve` */
    snprintf(geography, sizeof geography, "%s/geography.geojson", d->city);
    size_t shapes;
    if (!rc && ct_geography_import(db, geography, &shapes, &err)) {
        cli_error("%s", err.msg);
        rc = -1;
    }
    /* the operators after the first added runs to their days: one file a
     * day again, as `ingest` does in the background (ct_compact takes the
     * writer lock, so this handle goes first) */
    ct_close(db);
    db = NULL;
    ct_compact_summary merged;
    if (!rc && ct_compact(d->data, &merged, &err)) {
        cli_error("%s", err.msg);
        rc = -1;
    }
    if (!rc && ct_open(d->data, 0, &db, &err)) {
        cli_error("%s", err.msg);
        rc = -1;
    }
    ct_stats st;
    if (!rc && ct_stats_get(db, &st, &err) == CT_OK) {
        d->stage[1] = now_s() - t;
        if (d->ctx->progress)
            fputs("\r\033[K", stderr);
        say("   %llu rows read: %llu stored, %llu duplicates, %llu rejected (bad rows the\n"
               "   simulator injected: %llu); store %.1f MB, %.1f bytes per event (%.1f s)\n",
            (unsigned long long)total.rows_read, (unsigned long long)total.stored,
            (unsigned long long)total.duplicates, (unsigned long long)total.rejected,
            (unsigned long long)d->sim.bad_total, (double)st.store_bytes / 1e6,
            st.events ? (double)st.store_bytes / (double)st.events : 0.0, d->stage[1]);
    }
    ct_close(db);
    return rc;
}

/* ---- tracing and scoring against the truth ----------------------------------- */

/* One case's line: its net, its levels, the truth found at each. */
typedef struct case_score {
    const char *case_id;
    size_t net, test, quarantine, true_net, true_test;
} case_score;

typedef struct demo_scores {
    case_score *cases;
    size_t n, cap;
    char top[CT_MSISDN_MAX + 1]; /* the first case's most likely contact */
} demo_scores;

static int count_row(void *ud, const ct_eval_row *r)
{
    demo_scores *s = ud;
    if (!s->n || strcmp(s->cases[s->n - 1].case_id, r->case_id)) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->cases = realloc(s->cases, s->cap * sizeof *s->cases);
            if (!s->cases)
                abort();
        }
        s->cases[s->n++] = (case_score){strdup(r->case_id), 0, 0, 0, 0, 0};
        if (s->n == 1) /* rows come best first */
            snprintf(s->top, sizeof s->top, "%s", r->contact->msisdn);
    }
    case_score *c = &s->cases[s->n - 1];
    c->net++;
    c->test += r->contact->level >= CT_LEVEL_TEST;
    c->quarantine += r->contact->level == CT_LEVEL_QUARANTINE;
    c->true_net += r->is_true;
    c->true_test += r->is_true && r->contact->level >= CT_LEVEL_TEST;
    return 0;
}

static void counts_line(const char *name, const ct_eval_counts *k)
{
    say("   %-22s %9llu %7llu %9.2f%% %8.1f%%\n", name, (unsigned long long)k->selected,
        (unsigned long long)k->selected_true, k->selected ? 100.0 * k->precision : 0.0,
        100.0 * k->recall);
}

/* Every case traced with scoring: a line per case, then the accuracy of
 * the net and of each level against the simulator's truth, and the plot. */
static int stage_trace(demo *d)
{
    ct_err err;
    ct_db *db = NULL;
    ct_truth *truth = NULL;
    ct_risk_opts risk;
    char path[1300];
    snprintf(path, sizeof path, "%s/truth.csv", d->city);
    if (ct_truth_load(path, &truth, &err) || ct_risk_opts_configured(d->data, NULL, &risk, &err) ||
        ct_open(d->data, 0, &db, &err)) {
        cli_error("%s", err.msg);
        ct_truth_free(truth);
        return -1;
    }
    ct_set_actor(db, "celltrace demo", "demonstration on simulated data");
    say("3. Tracing every case (SPEC 4's net: 2 m, 15 min) and scoring each contact\n"
        "   (docs/RISK.md: test at p_contact >= %g, quarantine at >= %g):\n"
        "   %-8s %8s %8s %11s %14s %16s\n",
        risk.test_threshold, risk.quarantine_threshold, "case", "net", "test+", "quarantine",
        "true in net", "true at test+");
    demo_scores s = {NULL, 0, 0, ""};
    ct_evaluation *ev = NULL;
    double t = now_s();
    int rc = ct_evaluate_rows(db, truth, NULL, &risk, count_row, &s, &err) ? -1 : 0;
    d->stage[2] = now_s() - t;
    for (size_t i = 0; i < s.n; i++) {
        const case_score *c = &s.cases[i];
        say("   %-8s %8zu %8zu %11zu %14zu %16zu\n", c->case_id, c->net, c->test, c->quarantine,
            c->true_net, c->true_test);
        free((void *)c->case_id);
    }
    free(s.cases);
    snprintf(d->top_contact, sizeof d->top_contact, "%s", s.top);
    snprintf(path, sizeof path, "%s/evaluation.svg", d->root);
    if (!rc && ct_evaluate(db, truth, NULL, &risk, &ev, &err) == CT_OK) {
        const ct_eval_slice *all = &ev->slices[0];
        say("\n   Against the truth (%llu people were within 2 m of a case for 15 min):\n"
            "   %-22s %9s %7s %10s %9s\n",
            (unsigned long long)ev->truth, "", "contacts", "true", "precision", "recall");
        counts_line("SPEC 4 net", &all->net_counts);
        counts_line("level test or above", &all->test);
        counts_line("level quarantine", &all->quarantine);
        say("   Ranking by p_contact finds true contacts %.1fx better than by exposure\n"
            "   (average precision %.4f against %.4f). Cells of hundreds of metres cannot\n"
            "   tell who was within 2 m: docs/RISK.md gives the limits with numbers.\n",
            all->ap_exposure > 0 ? all->ap_p_contact / all->ap_exposure : 0.0, all->ap_p_contact,
            all->ap_exposure);
        if (eval_write_plot(path, ev) == 0)
            say("   Precision-recall curves and the reliability diagram: %s\n", path);
    } else if (!rc) {
        cli_error("%s", err.msg);
        rc = -1;
    }
    if (rc && s.n == 0)
        cli_error("%s", err.msg);
    ct_evaluation_free(ev);
    ct_truth_free(truth);
    ct_close(db);
    return rc;
}

/* ---- the command ----------------------------------------------------------------- */

static void demo_help(void)
{
    printf("Usage: celltrace demo [--dir DIR] [--subscribers N] [--days D] [--seed S] [--cases K]\n\n"
           "Runs celltrace end to end on a simulated city: simulate, ingest every operator's\n"
           "files, register the cases, trace and score each one, measure the net and the\n"
           "levels against the simulator's ground truth (precision, recall; the plot in\n"
           "DIR/evaluation.svg), and send the SMS of `run` through a local Kannel. Leaves\n"
           "DIR/data to explore.\n\n"
           "Options:\n"
           "  --dir DIR          where to work (default ./celltrace-demo; a previous demo there\n"
           "                     is replaced, any other folder is refused)\n"
           "  --subscribers N    people with a phone (default 20000)\n"
           "  --days D           days simulated (default 14)\n"
           "  --seed S           random seed (default 1)\n"
           "  --cases K          cases (default 10)\n"
           "  --no-sms           skip the SMS stage (run, notify through a local Kannel)\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || end == s || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int cmd_demo(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'D'},
                                         {"subscribers", required_argument, NULL, 'n'},
                                         {"days", required_argument, NULL, 'd'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"cases", required_argument, NULL, 'c'},
                                         {"no-sms", no_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    demo d;
    memset(&d, 0, sizeof d);
    d.ctx = ctx;
    snprintf(d.root, sizeof d.root, "%s", "./celltrace-demo");
    ct_sim_params p;
    ct_sim_params_default(&p);
    p.subscribers = 20000;
    p.days = 14;
    p.cases = 10;
    uint64_t v;
    int c, no_sms = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            demo_help();
            return EXIT_OK;
        }
        if (c == 'S') {
            no_sms = 1;
            continue;
        }
        if (c == 'D') {
            snprintf(d.root, sizeof d.root, "%s", optarg);
            continue;
        }
        if (c == '?' || parse_u64(optarg, &v))
            return cli_usage_error("demo", "bad option or value");
        if (c == 'n')
            p.subscribers = v;
        else if (c == 'd')
            p.days = (unsigned)v;
        else if (c == 's')
            p.seed = v;
        else if (c == 'c')
            p.cases = (unsigned)v;
    }
    if (optind != argc)
        return cli_usage_error("demo", "demo takes no arguments");
    ct_err err;
    p.out_dir = d.root; /* checked here, replaced by the city folder later */
    if (ct_sim_params_check(&p, &err))
        return cli_usage_error("demo", "%s", err.msg);
    double t0 = now_s();
    if (prepare_root(&d) || stage_simulate(&d, &p) || stage_ingest(&d) || stage_trace(&d) ||
        demo_area_stage(d.city, d.data, &d.stage[4]))
        return EXIT_FAIL;
    if (!no_sms && demo_sms_stage(ctx, d.root, d.data, &d.stage[3]))
        return EXIT_FAIL;
    say("\nDone in %.1f s (simulate %.1f s, ingest %.1f s, trace %.2f s, area %.3f s, SMS %.1f s).\n",
        now_s() - t0, d.stage[0], d.stage[1], d.stage[2], d.stage[4], d.stage[3]);
    /* name the binary as the user invoked it (./build/celltrace is not on PATH) */
    const char *me = ctx->program ? ctx->program : "celltrace";
    say("\nExplore the data (every read of numbers is written to %s/audit.log):\n"
        "  export CELLTRACE_DATA=%s\n"
        "  %s stats\n"
        "  %s cases list\n"
        "  %s trace C0001 --format csv\n"
        "  %s trace C0001 --level test\n"
        "  %s trace C0001 --explain %s\n"
        "  %s evaluate --truth %s/truth.csv --plot %s/evaluation.svg\n"
        "  %s outbox list; %s report; %s export --region RU-MOW --level test\n"
        "  %s users add hq --role federal; %s serve   (then http://127.0.0.1:8080/)\n"
        "The simulated feeds and the truth are in %s.\n",
        d.data, d.data, me, me, me, me, me, d.top_contact, me, d.city, d.root, me, me, me, me, me,
        d.city);
    return EXIT_OK;
}
