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
    ct_import_opts io = {NULL, d->ctx->progress ? cli_progress : NULL, (void *)op, 0};
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

/* ---- truth and scoring ------------------------------------------------------- */

typedef struct truth_row {
    char case_id[CT_ID_MAX + 1];
    char msisdn[CT_MSISDN_MAX + 1];
} truth_row;

typedef struct truth {
    truth_row *rows;
    size_t n, cap;
} truth;

static int load_truth(const demo *d, truth *t)
{
    char path[1300], line[512];
    snprintf(path, sizeof path, "%s/truth.csv", d->city);
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first) { /* header */
            first = 0;
            continue;
        }
        char *save = NULL, *id = strtok_r(line, ",\r\n", &save), *num = strtok_r(NULL, ",\r\n", &save);
        if (!id || !num)
            continue;
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 256;
            t->rows = realloc(t->rows, t->cap * sizeof *t->rows);
            if (!t->rows)
                abort();
        }
        snprintf(t->rows[t->n].case_id, sizeof t->rows[t->n].case_id, "%s", id);
        snprintf(t->rows[t->n].msisdn, sizeof t->rows[t->n].msisdn, "%s", num);
        t->n++;
    }
    fclose(f);
    return 0;
}

static int truth_has(const truth *t, const char *case_id, const char *msisdn)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].case_id, case_id) && !strcmp(t->rows[i].msisdn, msisdn))
            return 1;
    return 0;
}

static size_t truth_count(const truth *t, const char *case_id)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += !strcmp(t->rows[i].case_id, case_id);
    return n;
}

typedef struct case_ids {
    char (*ids)[CT_ID_MAX + 1];
    size_t n, cap;
} case_ids;

static int collect_case(void *ud, const ct_case *c)
{
    case_ids *k = ud;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->ids = realloc(k->ids, k->cap * sizeof *k->ids);
        if (!k->ids)
            abort();
    }
    snprintf(k->ids[k->n++], CT_ID_MAX + 1, "%s", c->case_id);
    return 0;
}

typedef struct score {
    size_t found, truth, true_found, precise;
    double trace_s;
} score;

static void trace_one(ct_db *db, const char *case_id, const truth *t, score *total)
{
    ct_contacts *cs = NULL;
    ct_err err;
    double t0 = now_s();
    if (ct_trace(db, case_id, NULL, &cs, &err)) {
        cli_error("%s", err.msg);
        return;
    }
    double dt = now_s() - t0;
    size_t tp = 0, precise = 0, want = truth_count(t, case_id);
    int64_t exposure = 0;
    for (size_t i = 0; i < cs->n; i++) {
        tp += truth_has(t, case_id, cs->items[i].msisdn);
        precise += cs->items[i].min_radius_m <= 100.0;
        exposure += cs->items[i].exposure_s;
    }
    say("   %-8s %8zu %9.1f h %9zu %8zu/%-6zu %7.1f ms\n", case_id, cs->n,
        cs->n ? (double)exposure / (double)cs->n / 3600.0 : 0.0, precise, tp, want, dt * 1000);
    total->found += cs->n;
    total->truth += want;
    total->true_found += tp;
    total->precise += precise;
    total->trace_s += dt;
    ct_contacts_free(cs);
}

static int stage_trace(demo *d)
{
    ct_err err;
    ct_db *db = NULL;
    truth t = {NULL, 0, 0};
    case_ids k = {NULL, 0, 0};
    if (load_truth(d, &t) || ct_open(d->data, 0, &db, &err)) {
        free(t.rows);
        if (!db)
            cli_error("%s", err.msg);
        return -1;
    }
    ct_set_actor(db, "celltrace demo", "demonstration on simulated data");
    say("3. Tracing every case (SPEC defaults: 2 m, 15 min, infectious 2 days before onset):\n"
           "   %-8s %8s %11s %9s %15s %10s\n",
        "case", "contacts", "mean exp.", "<=100 m", "true found", "trace");
    score s;
    memset(&s, 0, sizeof s);
    int rc = ct_cases_list(db, collect_case, &k, &err) ? -1 : 0;
    for (size_t i = 0; i < k.n && !rc; i++)
        trace_one(db, k.ids[i], &t, &s);
    d->stage[2] = s.trace_s;
    say("\n   Recall    %5.1f%%  (%zu of the %zu people truly within 2 m for 15 min were found)\n",
        s.truth ? 100.0 * (double)s.true_found / (double)s.truth : 100.0, s.true_found, s.truth);
    say("   Precision %5.1f%%  (%zu of the %zu contacts found were true contacts)\n",
        s.found ? 100.0 * (double)s.true_found / (double)s.found : 100.0, s.true_found, s.found);
    say("   %zu contacts (%.1f%%) rest on evidence within 100 m (precise positions or small cells);\n"
           "   the rest share a cell's coverage disk: a wide net, as SPEC 4 defines a contact.\n",
        s.precise, s.found ? 100.0 * (double)s.precise / (double)s.found : 0.0);
    ct_close(db);
    free(t.rows);
    free(k.ids);
    return rc;
}

/* ---- the command ----------------------------------------------------------------- */

static void demo_help(void)
{
    printf("Usage: celltrace demo [--dir DIR] [--subscribers N] [--days D] [--seed S] [--cases K]\n\n"
           "Runs celltrace end to end on a simulated city: simulate, ingest every operator's\n"
           "files, register the cases, trace each one, and score the contacts against the\n"
           "simulator's ground truth (recall, precision). Leaves DIR/data to explore.\n\n"
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
    if (prepare_root(&d) || stage_simulate(&d, &p) || stage_ingest(&d) || stage_trace(&d))
        return EXIT_FAIL;
    if (!no_sms && demo_sms_stage(ctx, d.root, d.data, &d.stage[3]))
        return EXIT_FAIL;
    say("\nDone in %.1f s (simulate %.1f s, ingest %.1f s, trace %.2f s, SMS %.1f s).\n",
        now_s() - t0, d.stage[0], d.stage[1], d.stage[2], d.stage[3]);
    /* name the binary as the user invoked it (./build/celltrace is not on PATH) */
    const char *me = ctx->program ? ctx->program : "celltrace";
    say("\nExplore the data (every read of numbers is written to %s/audit.log):\n"
        "  export CELLTRACE_DATA=%s\n"
        "  %s stats\n"
        "  %s cases list\n"
        "  %s trace C0001 --format csv\n"
        "  %s trace C0001 --distance 50 --min-exposure 1800\n"
        "  %s outbox list; %s report; %s export --region RU-MOW\n"
        "The simulated feeds and the truth are in %s.\n",
        d.data, d.data, me, me, me, me, me, me, me, d.city);
    return EXIT_OK;
}
