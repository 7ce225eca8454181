/*
 * cmd_trace.c — `celltrace trace CASE_ID...`: the contacts of cases.
 *
 * CSV is the contract of SPEC 5 (exact header, order, number formats);
 * JSON carries the same fields as an array of objects; the table is for
 * people. Every trace is written to the audit log by the library.
 *
 * Several cases (or --all) are traced by --jobs threads, each with its own
 * read-only handle (sharing the one unlocked keyring and the process's
 * segment maps: docs/ARCHITECTURE.md, "Many cases"), and printed
 * in the order asked as if traced one after another: one CSV header, one
 * JSON array. Workers run at most a few cases ahead of the printer, so
 * memory holds a few cases' contacts, not all of them.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
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
           "tracing starts.\n\n"
           "Options:\n"
           "  --format table|csv|json   output format (default table)\n"
           "  --all                     trace every registered case\n"
           "  --jobs N                  cases traced at once (default: the number of CPUs)\n"
           "  --work                    also print, on stderr, the work done for each case:\n"
           "                            its intervals, candidate events examined, overlaps,\n"
           "                            milliseconds and nanoseconds per candidate; with\n"
           "                            several cases also the total and cases per second\n"
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

/* A case's rows, without header or array brackets: the part that can be
 * written by a worker while the printer writes earlier cases. */
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

/* Writes the cases' rendered texts, in order, with what goes around and
 * between them: CSV's header, JSON's brackets and commas, the table's
 * blank lines. */
typedef struct printer {
    render_opts ro;
    size_t index, count; /* cases written so far, of count */
    int any_json;        /* a JSON object was written */
} printer;

static void print_case(printer *pr, const char *text, size_t len)
{
    out_format format = pr->ro.format;
    int first = pr->index == 0, last = pr->index + 1 == pr->count;
    if (format == OUT_CSV && first)
        fputs(pr->ro.scored ? CSV_HEADER_SCORED : CSV_HEADER, stdout);
    if (format == OUT_JSON) {
        if (first)
            fputs("[", stdout);
        if (len && pr->any_json)
            fputs(",\n ", stdout);
        pr->any_json |= len > 0;
    }
    if (format == OUT_TABLE && !first)
        fputs("\n", stdout);
    fwrite(text, 1, len, stdout);
    if (format == OUT_JSON && last)
        fputs("]\n", stdout);
    pr->index++;
}

/* A case's text in memory (NULL when out of memory). */
static char *render_to_memory(render_opts ro, const ct_contacts *cs, size_t *len)
{
    char *text = NULL;
    FILE *mem = open_memstream(&text, len);
    if (!mem)
        return NULL;
    render_case(mem, ro, cs);
    int bad = ferror(mem);
    if (fclose(mem) != 0 || bad) {
        free(text);
        return NULL;
    }
    return text;
}

static double elapsed_ns(const struct timespec *t0, const struct timespec *t1)
{
    return (double)(t1->tv_sec - t0->tv_sec) * 1e9 + (double)(t1->tv_nsec - t0->tv_nsec);
}

/* The --work line of a case (malloc'd; NULL when out of memory). */
static char *work_line(const ct_contacts *cs, double ns)
{
    enum { LINE_MAX_LEN = 512 };
    char *line = malloc(LINE_MAX_LEN);
    if (!line || snprintf(line, LINE_MAX_LEN,
                          "work: %s: %llu case intervals, %llu candidates, %llu overlaps, "
                          "%zu contacts, %.2f ms, %.1f ns per candidate\n",
                          cs->case_id, (unsigned long long)cs->case_intervals,
                          (unsigned long long)cs->candidates, (unsigned long long)cs->overlaps,
                          cs->n, ns / 1e6, cs->candidates ? ns / (double)cs->candidates : 0.0) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

/* One case, plain or scored. */
static ct_code trace_one(ct_db *db, const char *id, const ct_params *p, const ct_risk_opts *risk,
                         ct_contacts **cs, ct_err *err)
{
    return risk ? ct_trace_scored(db, id, p, risk, cs, err) : ct_trace(db, id, p, cs, err);
}

/* ---- several cases ------------------------------------------------------------------ */

typedef struct batch {
    cli_ctx *ctx;
    const ct_params *params;
    const ct_risk_opts *risk; /* NULL: plain SPEC 4 traces */
    char **ids;
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t next;              /* the next case a worker takes */
    size_t printed;           /* cases handed to the printer */
    size_t ahead;             /* how far workers may run ahead of it */
    render_opts ro;
    char **text;              /* per case, its rendered rows, set when traced */
    size_t *text_len;
    char **work;              /* per case, its --work line (NULL without --work) */
    int want_work;
    int failed;               /* a worker failed: stop taking cases */
    size_t failed_at;         /* the case that failed (n: a handle did not open) */
    int running;              /* workers not yet finished */
    ct_err err;               /* the first failure */
    uint64_t candidates;
} batch;

/* No case is left for a worker: all taken, or the next one comes after a
 * failure (the cases before a failure are still traced). Under b->lock. */
static int batch_done(const batch *b)
{
    return b->next >= b->n || (b->failed && b->next >= b->failed_at);
}

static void *batch_worker(void *arg)
{
    batch *b = arg;
    ct_err err;
    ct_db *db = NULL;
    ct_code rc = ct_open_keyed(b->ctx->data_dir, 0, b->ctx->keys, &db, &err);
    if (!rc)
        ct_set_actor(db, NULL, b->ctx->reason);
    size_t failed_case = b->n; /* n: no case, the handle */
    pthread_mutex_lock(&b->lock);
    if (rc && b->next >= b->n)
        rc = CT_OK; /* nothing left for this worker: its open does not matter */
    while (!rc) {
        while (!batch_done(b) && b->next >= b->printed + b->ahead)
            pthread_cond_wait(&b->changed, &b->lock);
        if (batch_done(b))
            break;
        size_t i = b->next++;
        pthread_mutex_unlock(&b->lock);
        ct_contacts *cs = NULL;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = trace_one(db, b->ids[i], b->params, b->risk, &cs, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        size_t len = 0;
        char *text = NULL, *work = NULL;
        if (!rc && !(text = render_to_memory(b->ro, cs, &len))) {
            snprintf(err.msg, sizeof err.msg, "out of memory");
            rc = CT_ENOMEM;
        }
        if (!rc && b->want_work && !(work = work_line(cs, elapsed_ns(&t0, &t1)))) {
            snprintf(err.msg, sizeof err.msg, "out of memory");
            rc = CT_ENOMEM;
        }
        if (rc) {
            free(text);
            failed_case = i;
        }
        uint64_t candidates = cs ? cs->candidates : 0;
        ct_contacts_free(cs);
        pthread_mutex_lock(&b->lock);
        if (!rc) {
            b->text[i] = text;
            b->text_len[i] = len;
            b->work[i] = work;
            b->candidates += candidates;
        }
        pthread_cond_broadcast(&b->changed);
    }
    if (rc && (!b->failed || failed_case < b->failed_at)) {
        b->failed = 1; /* the earliest failing case is the one reported */
        b->failed_at = failed_case;
        b->err = err;
    }
    b->running--;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
    ct_close(db);
    return NULL;
}

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
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return NULL;
    ct_err err;
    ct_code rc = ct_case_ids(db, collect_case_id, &list, &err);
    ct_close(db);
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
    if (!cli_keys(ctx)) /* once, for every worker's handle */
        return EXIT_FAIL;
    batch b;
    memset(&b, 0, sizeof b);
    b.ctx = ctx;
    b.params = p;
    b.risk = risk;
    b.ids = ids;
    b.n = n;
    b.ahead = (size_t)jobs * 2;
    b.ro = ro;
    b.want_work = work;
    b.text = calloc(n + 1, sizeof *b.text);
    b.text_len = calloc(n + 1, sizeof *b.text_len);
    b.work = calloc(n + 1, sizeof *b.work);
    pthread_t *threads = calloc((size_t)jobs, sizeof *threads);
    if (!b.text || !b.text_len || !b.work || !threads) {
        free(b.text);
        free(b.text_len);
        free(b.work);
        free(threads);
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.changed, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int started = 0;
    b.running = jobs;
    for (; started < jobs; started++)
        if (pthread_create(&threads[started], NULL, batch_worker, &b))
            break;
    printer pr = {ro, 0, n, 0};
    pthread_mutex_lock(&b.lock);
    b.running -= jobs - started;
    if (!started) {
        b.failed = 1;
        b.failed_at = n;
        snprintf(b.err.msg, sizeof b.err.msg, "cannot start a thread");
    }
    /* After a failure, the cases before it that are traced are still
     * printed, so the output is what a sequential run would have printed
     * before stopping; the printer stops at the first case that will not
     * come. */
    while (b.printed < n) {
        size_t i = b.printed;
        if (!b.text[i]) {
            if (b.failed && (i >= b.failed_at || b.running == 0))
                break;
            pthread_cond_wait(&b.changed, &b.lock);
            continue;
        }
        char *text = b.text[i], *line = b.work[i];
        b.text[i] = b.work[i] = NULL;
        pthread_mutex_unlock(&b.lock);
        if (line)
            fputs(line, stderr);
        print_case(&pr, text, b.text_len[i]);
        free(text);
        free(line);
        pthread_mutex_lock(&b.lock);
        b.printed++;
        pthread_cond_broadcast(&b.changed);
    }
    pthread_cond_broadcast(&b.changed); /* after a failure: wake the workers to see it */
    pthread_mutex_unlock(&b.lock);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (size_t i = 0; i < n; i++) {
        free(b.text[i]);
        free(b.work[i]);
    }
    int rc = EXIT_OK;
    if (b.failed) {
        fflush(stdout);
        cli_error("%s", b.err.msg);
        rc = EXIT_FAIL;
    } else if (work) {
        double ns = elapsed_ns(&t0, &t1);
        fprintf(stderr, "work: %zu cases, %llu candidates, %.2f s, %.1f cases per second, %d jobs\n",
                n, (unsigned long long)b.candidates, ns / 1e9,
                ns > 0 ? (double)n * 1e9 / ns : 0.0, jobs);
    }
    pthread_cond_destroy(&b.changed);
    pthread_mutex_destroy(&b.lock);
    free(threads);
    free(b.text);
    free(b.text_len);
    free(b.work);
    return rc;
}

/* What the command line asked for. */
typedef struct trace_args {
    ct_params p;
    render_opts ro;
    int work, all, score;
    long jobs;
    ct_level min_level;
    const char *explain, *model_path;
} trace_args;

/* Parses options into *a; returns -1 when done, else an exit status. */
static int parse_trace_args(int argc, char **argv, trace_args *a)
{
    enum { OPT_ALL = 1, OPT_JOBS, OPT_SCORE, OPT_LEVEL, OPT_EXPLAIN, OPT_MODEL };
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"work", no_argument, NULL, 'w'},
                                         {"all", no_argument, NULL, OPT_ALL},
                                         {"jobs", required_argument, NULL, OPT_JOBS},
                                         {"score", no_argument, NULL, OPT_SCORE},
                                         {"level", required_argument, NULL, OPT_LEVEL},
                                         {"explain", required_argument, NULL, OPT_EXPLAIN},
                                         {"model", required_argument, NULL, OPT_MODEL},
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
        else if (c == OPT_LEVEL) {
            if (ct_level_parse(optarg, &a->min_level) || a->min_level == CT_LEVEL_NONE)
                return cli_usage_error("trace", "--level must be test or quarantine");
            a->score = 1;
        } else if (c == OPT_JOBS) {
            char *end;
            errno = 0;
            a->jobs = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || a->jobs < 1 || a->jobs > 256)
                return cli_usage_error("trace", "--jobs must be 1 to 256");
        } else if (c == 'h') {
            trace_help();
            return EXIT_OK;
        } else if ((got = cli_param_option(c, optarg, &a->p)) < 0)
            return cli_usage_error("trace", "bad value '%s' for an option", optarg);
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

static int trace_single(cli_ctx *ctx, const char *case_id, const trace_args *a,
                        const ct_risk_opts *risk)
{
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_err err;
    ct_contacts *cs = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ct_code rc = trace_one(db, case_id, &a->p, risk, &cs, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (a->work) {
        char *line = work_line(cs, elapsed_ns(&t0, &t1));
        if (line)
            fputs(line, stderr);
        free(line);
    }
    size_t len = 0;
    char *text = render_to_memory(a->ro, cs, &len);
    ct_contacts_free(cs);
    if (!text) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    printer pr = {a->ro, 0, 1, 0};
    print_case(&pr, text, len);
    free(text);
    return EXIT_OK;
}

int cmd_trace(cli_ctx *ctx, int argc, char **argv)
{
    trace_args a;
    int rc = parse_trace_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
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
