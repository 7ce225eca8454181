/*
 * cmd_trace.c — `celltrace trace CASE_ID...`: the contacts of cases.
 *
 * CSV is the contract of SPEC 5 (exact header, order, number formats);
 * JSON carries the same fields as an array of objects; the table is for
 * people. Every trace is written to the audit log by the library.
 *
 * Several cases (or --all) are traced by the library's ct_trace_many on
 * --jobs threads and printed here, in the order asked, as if traced one
 * after another: one CSV header, one JSON array. One case is traced on
 * --jobs threads itself (ct_set_trace_threads), with the same answer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void trace_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] trace CASE_ID... [options]\n"
           "       celltrace [--data DIR] [--reason TEXT] trace --all [options]\n\n"
           "Lists the contacts of a case (SPEC section 4), best first: exposure\n"
           "descending, then number. Reading contacts is written to the audit log,\n"
           "one line per case.\n\n"
           "With several CASE_IDs, or --all (every registered case, by case_id), the\n"
           "cases are traced in parallel and printed in that order, one after another:\n"
           "CSV has one header, JSON one array. Every CASE_ID is checked before any\n"
           "tracing starts. One case is traced on --jobs threads (by default the CPUs,\n"
           "up to 8; one with --floor; not on a cluster), which share its candidates\n"
           "by subscriber; the answer is the same on any number.\n\n"
           "Options:\n"
           "  --format table|csv|json   output format (default table)\n"
           "  --all                     trace every registered case\n"
           "  --jobs N                  threads: cases traced at once (default: the number of\n"
           "                            CPUs), or one case's parts (default: the CPUs up to 8;\n"
           "                            --floor takes one whatever is given)\n"
           "  --work                    also print, on stderr, the work done for each case:\n"
           "                            its intervals, candidate events examined, overlaps,\n"
           "                            milliseconds and nanoseconds per candidate; with\n"
           "                            several cases also the total and cases per second;\n"
           "                            with one, also the memory: the peak, and at the end\n"
           "                            the pages mapped from the store against its own\n"
           "  --floor                   with --work and one plain trace: also the trace's floor\n"
           "                            (bench/README.md): the candidates it matched, kept in\n"
           "                            memory, streamed again and their overlaps added to an\n"
           "                            empty table; its time, and the trace's over it\n"
           "  --score                   also the contact risk (docs/RISK.md): p_contact, the\n"
           "                            calibrated probability of a true contact (4 significant\n"
           "                            digits), expected_near_s, the expected seconds within\n"
           "                            the contact distance, and the level (quarantine, test\n"
           "                            or none, from risk.quarantine and risk.test); sorted\n"
           "                            by p_contact, then exposure, then number\n"
           "  --level test|quarantine   only contacts at that level or above (implies --score);\n"
           "                            the other numbers are not read\n"
           "  --explain MSISDN          the evidence for one contact of one case: its episodes\n"
           "                            (when, where, how precise, how likely), shared moves,\n"
           "                            and how each term adds up to p_contact\n"
           "  --model FILE              score with this model file instead of the built-in one\n" CLI_PARAM_HELP "\n"
           "CSV columns: case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n"
           "  with --score or --level also: p_contact,expected_near_s,level\n"
           "Exit status: 0 success, 1 failure (e.g. unknown case; with several cases the\n"
           "output may then be cut short after the cases already printed), 2 usage error.\n");
}

/* The text forms of a contact's times, radius and score, as every format
 * shows them. */
typedef struct contact_text {
    char first[32], last[32], radius[32], p[32], near[32];
} contact_text;

static contact_text texts_of(const ct_contact *c)
{
    contact_text t;
    ct_format_time(c->first_contact, t.first);
    ct_format_time(c->last_contact, t.last);
    ct_format_radius(c->min_radius_m, t.radius);
    ct_format_probability(c->p_contact, t.p);
    ct_format_seconds(c->expected_near_s, t.near);
    return t;
}

typedef enum { OUT_TABLE, OUT_CSV, OUT_JSON } out_format;

/* How a case is written: its format, and whether the risk columns are. */
typedef struct render_opts {
    out_format format;
    int scored;
} render_opts;

/* A case's rows, without header or array brackets (the printer writes
 * what goes around them). */
static void csv_rows(FILE *out, const ct_contacts *cs, int scored)
{
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        contact_text t = texts_of(c);
        cli_csv_text(out, cs->case_id);
        fprintf(out, ",%s,%lld,%s,%s,%s", c->msisdn, (long long)c->exposure_s, t.first, t.last,
                t.radius);
        if (scored)
            fprintf(out, ",%s,%s,%s", t.p, t.near, ct_level_name(c->level));
        fputc('\n', out);
    }
}

static void json_objects(FILE *out, const ct_contacts *cs, int scored)
{
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        contact_text t = texts_of(c);
        fprintf(out, "%s{\"case_id\":", i ? ",\n " : "");
        cli_json_text(out, cs->case_id);
        fprintf(out, ",\"msisdn\":\"%s\",\"exposure_s\":%lld,\"first_contact\":\"%s\","
                     "\"last_contact\":\"%s\",\"min_radius_m\":%s",
                c->msisdn, (long long)c->exposure_s, t.first, t.last, t.radius);
        if (scored)
            fprintf(out, ",\"p_contact\":%s,\"expected_near_s\":%s,\"level\":\"%s\"", t.p, t.near,
                    ct_level_name(c->level));
        fputc('}', out);
    }
}

static void table_section(FILE *out, const ct_contacts *cs, int scored)
{
    fprintf(out, "Case %s: %zu contact%s\n", cs->case_id, cs->n, cs->n == 1 ? "" : "s");
    if (!cs->n)
        return;
    fprintf(out, "%-16s %10s  %-20s  %-20s  %13s", "MSISDN", "EXPOSURE", "FIRST CONTACT",
            "LAST CONTACT", "PRECISION (m)");
    if (scored)
        fprintf(out, "  %10s  %9s  %s", "P_CONTACT", "NEAR (s)", "LEVEL");
    fputc('\n', out);
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        contact_text t = texts_of(c);
        char dur[32];
        long long s = c->exposure_s;
        snprintf(dur, sizeof dur, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
        fprintf(out, "%-16s %10s  %-20s  %-20s  %13s", c->msisdn, dur, t.first, t.last, t.radius);
        if (scored)
            fprintf(out, "  %10s  %9s  %s", t.p, t.near, ct_level_name(c->level));
        fputc('\n', out);
    }
}

/* SPEC 5's exact CSV header, and the three columns --score adds. */
static const char CSV_HEADER[] = "case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n";
static const char CSV_HEADER_SCORED[] = "case_id,msisdn,exposure_s,first_contact,last_contact,"
                                        "min_radius_m,p_contact,expected_near_s,level\n";

static void render_case(FILE *out, render_opts ro, const ct_contacts *cs)
{
    if (ro.format == OUT_CSV)
        csv_rows(out, cs, ro.scored);
    else if (ro.format == OUT_JSON)
        json_objects(out, cs, ro.scored);
    else
        table_section(out, cs, ro.scored);
}

/* Writes the cases in order, with what goes around and between them:
 * CSV's header, JSON's brackets and commas, the table's blank lines. */
typedef struct printer {
    render_opts ro;
    size_t index, count; /* cases written so far, of count */
    int any_json;        /* a JSON object was written */
    int work;            /* --work: a line per case on stderr */
    uint64_t candidates; /* summed for --work's total */
} printer;

static void print_case(printer *pr, const ct_contacts *cs)
{
    out_format format = pr->ro.format;
    int first = pr->index == 0, last = pr->index + 1 == pr->count;
    if (format == OUT_CSV && first)
        fputs(pr->ro.scored ? CSV_HEADER_SCORED : CSV_HEADER, stdout);
    if (format == OUT_JSON) {
        if (first)
            fputs("[", stdout);
        if (cs->n && pr->any_json)
            fputs(",\n ", stdout);
        pr->any_json |= cs->n > 0;
    }
    if (format == OUT_TABLE && !first)
        fputs("\n", stdout);
    render_case(stdout, pr->ro, cs);
    if (format == OUT_JSON && last)
        fputs("]\n", stdout);
    pr->index++;
}

static double elapsed_ns(const struct timespec *t0, const struct timespec *t1)
{
    return (double)(t1->tv_sec - t0->tv_sec) * 1e9 + (double)(t1->tv_nsec - t0->tv_nsec);
}

/* The --work line of a case, on stderr. */
static void work_line(const ct_contacts *cs, double ns)
{
    fprintf(stderr,
            "work: %s: %llu case intervals, %llu candidates, %llu overlaps, "
            "%zu contacts, %.2f ms, %.1f ns per candidate\n",
            cs->case_id, (unsigned long long)cs->case_intervals,
            (unsigned long long)cs->candidates, (unsigned long long)cs->overlaps, cs->n, ns / 1e6,
            cs->candidates ? ns / (double)cs->candidates : 0.0);
}

/* The --work line on memory, from Linux's /proc/self/status (nothing
 * where it is absent): the peak, and what the process holds at the end of
 * the trace, split into pages mapped from files (the store's segments,
 * shared with the page cache and every other reader) and its own. */
static void memory_line(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    long hwm = -1, file = -1, anon = -1;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            hwm = kb;
        else if (sscanf(line, "RssFile: %ld kB", &kb) == 1)
            file = kb;
        else if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
            anon = kb;
    }
    fclose(f);
    if (hwm >= 0 && file >= 0 && anon >= 0)
        fprintf(stderr, "work: memory: peak %.1f MB; at the end of the trace %.1f MB mapped from files, "
                        "%.1f MB own\n", hwm / 1024.0, file / 1024.0, anon / 1024.0);
}

/* One case, plain or scored. */
static ct_code trace_one(ct_db *db, const char *id, const ct_params *p, const ct_risk_opts *risk,
                         ct_contacts **cs, ct_err *err)
{
    return risk ? ct_trace_scored(db, id, p, risk, cs, err) : ct_trace(db, id, p, cs, err);
}

/* The same on celltrace-mpi's cluster. */
static ct_code trace_on_cluster(const cli_ctx *ctx, const char *id, const ct_params *p,
                                const ct_risk_opts *risk, ct_contacts **cs, ct_err *err)
{
    return ctx->tracer->trace(ctx->tracer->ud, id, p, risk, cs, err);
}

/* ---- several cases ------------------------------------------------------------------ */

typedef struct id_list {
    char **ids;
    size_t n, cap;
    int out_of_memory;
} id_list;

static int collect_case_id(void *ud, const char *case_id)
{
    id_list *list = ud;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        char **grown = realloc(list->ids, cap * sizeof *grown);
        if (!grown) {
            list->out_of_memory = 1;
            return 1;
        }
        list->ids = grown;
        list->cap = cap;
    }
    list->ids[list->n] = strdup(case_id);
    list->out_of_memory = list->ids[list->n++] == NULL;
    return list->out_of_memory;
}

/* The registered case ids, sorted, without reading any number; NULL
 * (reported) on failure. */
static char **registered_cases(cli_ctx *ctx, size_t *n)
{
    id_list list = {NULL, 0, 0, 0};
    ct_err err;
    ct_code rc;
    if (ctx->tracer) {
        rc = ctx->tracer->case_ids(ctx->tracer->ud, collect_case_id, &list, &err);
    } else {
        ct_db *db = cli_open(ctx, 0);
        if (!db)
            return NULL;
        rc = ct_case_ids(db, collect_case_id, &list, &err);
        ct_close(db);
    }
    if (rc || list.out_of_memory) {
        cli_error("%s", rc ? err.msg : "out of memory");
        for (size_t i = 0; i < list.n; i++)
            free(list.ids[i]);
        free(list.ids);
        return NULL;
    }
    *n = list.n;
    char **ids = list.ids ? list.ids : calloc(1, sizeof(char *));
    if (!ids)
        cli_error("out of memory");
    return ids;
}

static int has_id(char **ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) /* sorted, but n is small next to a trace */
        if (strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

/* ct_trace_many hands each case here, in order. */
static int print_traced(void *ud, size_t index, const ct_contacts *cs, uint64_t ns)
{
    printer *pr = ud;
    (void)index;
    if (pr->work)
        work_line(cs, (double)ns);
    pr->candidates += cs->candidates;
    print_case(pr, cs);
    return 0;
}

/* Several cases on celltrace-mpi's cluster: one after another, each on
 * every shard at once. */
static int trace_batch_on_cluster(cli_ctx *ctx, char **ids, size_t n, const ct_params *p,
                                  const ct_risk_opts *risk, render_opts ro, int work)
{
    printer pr = {ro, 0, n, 0, work, 0};
    struct timespec t0, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n; i++) {
        ct_err err;
        ct_contacts *cs = NULL;
        clock_gettime(CLOCK_MONOTONIC, &c0);
        ct_code rc = trace_on_cluster(ctx, ids[i], p, risk, &cs, &err);
        clock_gettime(CLOCK_MONOTONIC, &c1);
        if (rc) {
            fflush(stdout);
            cli_error("%s", err.msg);
            return EXIT_FAIL;
        }
        print_traced(&pr, i, cs, (uint64_t)elapsed_ns(&c0, &c1));
        ct_contacts_free(cs);
    }
    if (work) {
        double ns = elapsed_ns(&t0, &c1);
        fprintf(stderr, "work: %zu cases, %llu candidates, %.2f s, %.1f cases per second, "
                        "on the cluster\n",
                n, (unsigned long long)pr.candidates, ns / 1e9, ns > 0 ? (double)n * 1e9 / ns : 0.0);
    }
    return EXIT_OK;
}

/* Several cases on `jobs` threads (the library's ct_trace_many), printed
 * as if traced one after another. */
static int trace_batch(cli_ctx *ctx, char **ids, size_t n, const ct_params *p,
                       const ct_risk_opts *risk, render_opts ro, int jobs, int work)
{
    if (n == 0) { /* --all with no case registered: an empty answer */
        if (ro.format == OUT_CSV)
            fputs(ro.scored ? CSV_HEADER_SCORED : CSV_HEADER, stdout);
        else if (ro.format == OUT_JSON)
            puts("[]");
        else
            puts("No cases registered.");
        return EXIT_OK;
    }
    if (ctx->tracer)
        return trace_batch_on_cluster(ctx, ids, n, p, risk, ro, work);
    ct_keyring *keys = cli_keys(ctx); /* once, for every worker's handle */
    if (!keys)
        return EXIT_FAIL;
    printer pr = {ro, 0, n, 0, work, 0};
    ct_trace_many_opts mo = {p, risk, jobs, NULL, ctx->reason, NULL};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ct_err err;
    ct_code rc = ct_trace_many(ctx->data_dir, keys, (const char *const *)ids, n, &mo, print_traced,
                               &pr, NULL, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        fflush(stdout);
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (work) {
        double ns = elapsed_ns(&t0, &t1);
        fprintf(stderr, "work: %zu cases, %llu candidates, %.2f s, %.1f cases per second, %d jobs\n",
                n, (unsigned long long)pr.candidates, ns / 1e9,
                ns > 0 ? (double)n * 1e9 / ns : 0.0, jobs);
    }
    return EXIT_OK;
}

/* What the command line asked for. */
typedef struct trace_args {
    ct_params p;
    render_opts ro;
    int work, all, score, floor;
    long jobs;
    int jobs_given; /* --jobs was given: else one case takes at most ONE_CASE_THREADS */
    ct_level min_level;
    const char *explain, *model_path;
} trace_args;

/* Parses options into *a; returns -1 when done, else an exit status. */
static int parse_trace_args(int argc, char **argv, trace_args *a)
{
    enum { OPT_ALL = 1, OPT_JOBS, OPT_SCORE, OPT_LEVEL, OPT_EXPLAIN, OPT_MODEL, OPT_FLOOR };
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"work", no_argument, NULL, 'w'},
                                         {"all", no_argument, NULL, OPT_ALL},
                                         {"jobs", required_argument, NULL, OPT_JOBS},
                                         {"score", no_argument, NULL, OPT_SCORE},
                                         {"level", required_argument, NULL, OPT_LEVEL},
                                         {"explain", required_argument, NULL, OPT_EXPLAIN},
                                         {"model", required_argument, NULL, OPT_MODEL},
                                         {"floor", no_argument, NULL, OPT_FLOOR},
                                         CLI_PARAM_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    ct_params_default(&a->p);
    a->jobs = sysconf(_SC_NPROCESSORS_ONLN);
    const char *format = "table";
    int c, got;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else if (c == 'w')
            a->work = 1;
        else if (c == OPT_ALL)
            a->all = 1;
        else if (c == OPT_SCORE)
            a->score = 1;
        else if (c == OPT_EXPLAIN)
            a->explain = optarg;
        else if (c == OPT_MODEL)
            a->model_path = optarg;
        else if (c == OPT_FLOOR)
            a->floor = 1;
        else if (c == OPT_LEVEL) {
            if (ct_level_parse(optarg, &a->min_level) || a->min_level == CT_LEVEL_NONE)
                return cli_usage_error("trace", "--level must be test or quarantine");
            a->score = 1;
        } else if (c == OPT_JOBS) {
            char *end;
            errno = 0;
            a->jobs_given = 1;
            a->jobs = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || a->jobs < 1 || a->jobs > 256)
                return cli_usage_error("trace", "--jobs must be 1 to 256");
        } else if (c == 'h') {
            trace_help();
            return EXIT_OK;
        } else if ((got = cli_param_option(c, optarg, &a->p)) < 0)
            return cli_usage_error("trace", "%s, not \'%s\'", cli_param_rule(c), optarg);
        else if (got == 0)
            return cli_usage_error("trace", "unknown option");
    }
    if (strcmp(format, "table") == 0)
        a->ro.format = OUT_TABLE;
    else if (strcmp(format, "csv") == 0)
        a->ro.format = OUT_CSV;
    else if (strcmp(format, "json") == 0)
        a->ro.format = OUT_JSON;
    else
        return cli_usage_error("trace", "--format must be table, csv or json");
    a->ro.scored = a->score;
    if (a->all && argc > optind)
        return cli_usage_error("trace", "give CASE_IDs or --all, not both");
    if (!a->all && argc == optind)
        return cli_usage_error("trace", "expected a CASE_ID (or --all)");
    if (a->explain && (a->all || argc - optind != 1 || a->ro.format == OUT_CSV || a->work))
        return cli_usage_error("trace", "--explain takes one CASE_ID, table or json, no --work");
    if (a->floor && (!a->work || a->all || argc - optind != 1 || a->score || a->explain))
        return cli_usage_error("trace", "--floor takes one CASE_ID, --work, and no --score");
    if (a->model_path && !a->score && !a->explain)
        return cli_usage_error("trace", "--model needs --score, --level or --explain");
    if (a->jobs < 1)
        a->jobs = 1;
    ct_err err;
    if (ct_params_check(&a->p, &err) != CT_OK)
        return cli_usage_error("trace", "%s", err.msg);
    return -1;
}

/* Several cases, or --all: checked, then traced by a batch. */
static int trace_several(cli_ctx *ctx, char **argv, int n_args, const trace_args *a,
                         const ct_risk_opts *risk)
{
    size_t n_reg = 0;
    char **reg = registered_cases(ctx, &n_reg);
    if (!reg)
        return EXIT_FAIL;
    int rc = EXIT_OK;
    for (int i = 0; i < n_args && rc == EXIT_OK; i++)
        if (!has_id(reg, n_reg, argv[i])) {
            cli_error("no case with case_id %s", argv[i]);
            rc = EXIT_FAIL;
        }
    if (rc == EXIT_OK) {
        char **ids = a->all ? reg : argv;
        size_t n = a->all ? n_reg : (size_t)n_args;
        long jobs = (size_t)a->jobs > n ? (n ? (long)n : 1) : a->jobs;
        rc = trace_batch(ctx, ids, n, &a->p, risk, a->ro, (int)jobs, a->work);
    }
    for (size_t i = 0; i < n_reg; i++)
        free(reg[i]);
    free(reg);
    return rc;
}

/* Threads for one case when --jobs is not given: each adds a part that
 * repeats the case's links and postings and holds tables sized by the
 * catalogue and the day's subscribers, so past a few the parts cost more
 * than they save. */
enum { ONE_CASE_THREADS = 8 };

static int trace_single(cli_ctx *ctx, const char *case_id, const trace_args *a,
                        const ct_risk_opts *risk)
{
    ct_db *db = ctx->tracer ? NULL : cli_open(ctx, 0);
    if (!db && !ctx->tracer)
        return EXIT_FAIL;
    long threads = a->jobs_given || a->jobs < ONE_CASE_THREADS ? a->jobs : ONE_CASE_THREADS;
    if (db) /* the floor's kernel runs on one thread: so does the trace it is held against */
        ct_set_trace_threads(db, a->floor ? 1 : (int)threads);
    ct_err err;
    ct_contacts *cs = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ct_code rc = db ? trace_one(db, case_id, &a->p, risk, &cs, &err)
                    : trace_on_cluster(ctx, case_id, &a->p, risk, &cs, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc && a->work)
        memory_line(); /* before the store is closed: its maps are still there */
    ct_floor fl;
    if (!rc && a->floor)
        rc = ct_trace_floor(db, case_id, &a->p, &fl, &err);
    ct_close(db);
    if (rc) {
        ct_contacts_free(cs);
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (a->work)
        work_line(cs, elapsed_ns(&t0, &t1));
    if (a->floor) {
        double trace_ms = (double)elapsed_ns(&t0, &t1) / 1e6, kernel_ms = (double)fl.kernel_ns / 1e6;
        fprintf(stderr,
                "floor: %s: %llu pairs streamed, %llu overlaps, %llu contacts, kernel %.2f ms "
                "(%.1f ns per pair); the trace took %.1f times the kernel\n",
                cs->case_id, (unsigned long long)fl.pairs, (unsigned long long)fl.overlaps,
                (unsigned long long)fl.contacts, kernel_ms,
                fl.pairs ? (double)fl.kernel_ns / (double)fl.pairs : 0.0,
                kernel_ms > 0 ? trace_ms / kernel_ms : 0.0);
    }
    printer pr = {a->ro, 0, 1, 0, 0, 0};
    print_case(&pr, cs);
    ct_contacts_free(cs);
    return EXIT_OK;
}

int cmd_trace(cli_ctx *ctx, int argc, char **argv)
{
    trace_args a;
    int rc = parse_trace_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (ctx->tracer && (a.explain || a.floor))
        return cli_usage_error("trace", "--explain and --floor are not offered on a cluster");
    ct_risk_model *model = NULL;
    ct_risk_opts risk;
    ct_err err;
    if (a.score || a.explain) {
        if (a.model_path && ct_risk_model_load(a.model_path, &model, &err)) {
            cli_error("%s", err.msg);
            return EXIT_FAIL;
        }
        if (ct_risk_opts_configured(ctx->data_dir, model, &risk, &err)) {
            cli_error("%s", err.msg);
            ct_risk_model_free(model);
            return EXIT_FAIL;
        }
        risk.min_level = a.min_level;
    }
    const ct_risk_opts *r = a.score || a.explain ? &risk : NULL;
    if (a.explain)
        rc = trace_explain(ctx, argv[optind], a.explain, &a.p, r, a.ro.format == OUT_JSON);
    else if (a.all || argc - optind > 1)
        rc = trace_several(ctx, argv + optind, argc - optind, &a, r);
    else
        rc = trace_single(ctx, argv[optind], &a, r);
    ct_risk_model_free(model);
    return rc;
}
