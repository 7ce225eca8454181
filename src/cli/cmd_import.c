/*
 * cmd_import.c — `celltrace cells import`, `celltrace ingest` and
 * `celltrace cases import|add|list`: everything that brings data in.
 *
 * Each prints one summary line (rows read, stored, duplicates, rejected)
 * and exits 3 when rows were rejected, naming the reject report.
 */
#define _GNU_SOURCE /* close_range */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* The summary of an import, or of one file of a spool (file not NULL):
 * the line, or a JSON object ("file" first when there is one). */
static void print_summary(const char *what, const char *file, const ct_import_summary *s,
                          const char *format)
{
    if (format && strcmp(format, "json") == 0) {
        fputs("{", stdout);
        if (file) {
            fputs("\"file\":", stdout);
            cli_json_text(stdout, file);
            fputs(",", stdout);
        }
        printf("\"rows_read\":%llu,\"stored\":%llu,\"duplicates\":%llu,\"rejected\":%llu,"
               "\"rejects\":",
               (unsigned long long)s->rows_read, (unsigned long long)s->stored,
               (unsigned long long)s->duplicates, (unsigned long long)s->rejected);
        cli_json_text(stdout, s->rejects_path);
        fputs("}\n", stdout);
        return;
    }
    printf("%s: %s%s%llu rows read, %llu stored, %llu duplicates, %llu rejected\n", what,
           file ? file : "", file ? ": " : "", (unsigned long long)s->rows_read,
           (unsigned long long)s->stored, (unsigned long long)s->duplicates,
           (unsigned long long)s->rejected);
    if (s->purged_events)
        fprintf(stderr, "celltrace: retention deleted %llu events older than the retention period\n",
                (unsigned long long)s->purged_events);
    if (s->rejected)
        fprintf(stderr, "celltrace: %s%srejected rows are listed in %s\n", file ? file : "",
                file ? ": " : "", s->rejects_path);
}

void cli_print_import_summary(const char *what, const ct_import_summary *s, const char *format)
{
    print_summary(what, NULL, s, format);
}

void cli_print_delivery_summary(const char *file, const ct_import_summary *s, const char *format)
{
    print_summary("ingest", file, s, format);
    fflush(stdout); /* a spool's lines as they come, also into a pipe */
}

int cli_import_exit(const ct_import_summary *s)
{
    return s->rejected ? EXIT_REJECTS : EXIT_OK;
}

static void end_progress(const cli_ctx *ctx)
{
    if (ctx->progress)
        fputs("\r\033[K", stderr);
}

/* ---- what cells import and ingest share ------------------------------------------ */

#define IMPORT_OPTIONS_HELP                                                                        \
    "  --operator OP    the operator whose data this is, e.g. 250-01 (required)\n"                  \
    "  --rejects FILE   where to report rejected rows (default <data>/rejects/)\n"                 \
    "  --format text|json  the summary's format\n"

#define IMPORT_OPTIONS                                                                             \
    {"operator", required_argument, NULL, 'o'}, {"rejects", required_argument, NULL, 'r'},        \
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}

typedef struct import_args {
    const char *op, *format;
    ct_import_opts io;
} import_args;

/* Takes option c if it is one of IMPORT_OPTIONS (not --help): 1 taken,
 * 0 not one of them, -1 a bad value (printed). */
static int import_option(import_args *a, int c, const char *arg, const char *cmd)
{
    switch (c) {
    case 'o': a->op = arg; return 1;
    case 'r': a->io.rejects_path = arg; return 1;
    case 'f':
        if (strcmp(arg, "text") && strcmp(arg, "json"))
            return cli_usage_error(cmd, "--format must be text or json"), -1;
        a->format = arg;
        return 1;
    }
    return 0;
}

/* ---- cells ---------------------------------------------------------------- */

static void cells_help(void)
{
    printf("Usage: celltrace [--data DIR] cells import --operator OP [--rejects FILE] FILE\n\n"
           "Loads an operator's cell catalogue (CSV: cell_id, lat, lon, radius_m, region).\n"
           "Rows upsert by cell_id: new geometry applies to all events of that cell.\n"
           "FILE may be .gz or .zst, or - for stdin.\n\n"
           "Options:\n" IMPORT_OPTIONS_HELP
           "Exit status: 0, 1 failure (nothing applied), 2 usage, 3 some rows rejected.\n");
}

int cmd_cells(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {IMPORT_OPTIONS, {NULL, 0, NULL, 0}};
    import_args a = {NULL, "text", {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL}};
    int c, took;
    while ((c = getopt_long(argc, argv, "o:r:f:h", opts, NULL)) != -1) {
        if ((took = import_option(&a, c, optarg, "cells")) < 0)
            return EXIT_USAGE;
        if (took)
            continue;
        if (c == 'h') {
            cells_help();
            return EXIT_OK;
        }
        return cli_usage_error("cells", "unknown option");
    }
    const char *op = a.op, *format = a.format;
    ct_import_opts io = a.io;
    if (optind >= argc || strcmp(argv[optind], "import") != 0)
        return cli_usage_error("cells", "expected `cells import --operator OP FILE`");
    if (!op)
        return cli_usage_error("cells", "--operator is required");
    if (argc - optind != 2)
        return cli_usage_error("cells", "expected exactly one FILE");
    ct_db *db = cli_open(ctx, 1);
    if (!db)
        return EXIT_FAIL;
    if (ctx->progress) {
        io.progress = cli_progress;
        io.progress_ud = "cells";
    }
    ct_import_summary sum;
    ct_err err;
    ct_code rc = ct_cells_import(db, op, argv[optind + 1], &io, &sum, &err);
    end_progress(ctx);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cli_print_import_summary("cells", &sum, format);
    return cli_import_exit(&sum);
}

/* ---- ingest ------------------------------------------------------------------ */

/* One bar over all the files of an ingest: the library reports progress
 * within the current file; this adds the sizes of the files before it. */
typedef struct batch_progress {
    uint64_t base, total;
} batch_progress;

static void batch_progress_fn(void *ud, uint64_t done, uint64_t total)
{
    const batch_progress *bp = ud;
    (void)total;
    cli_progress((void *)"ingest", bp->base + done, bp->total);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return strcmp(path, "-") != 0 && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void ingest_help(void)
{
    printf("Usage: celltrace [--data DIR] ingest --operator OP [--rejects FILE] FILE...\n"
           "       celltrace [--data DIR] ingest --operator OP --spool DIR [--once]\n\n"
           "Stores location events (CSV: msisdn, ts, then cell_id or lat, lon,\n"
           "accuracy_m). Files may be .gz or .zst; - reads stdin. Events identical to\n"
           "stored ones are counted as duplicates. All files land together, atomically.\n\n"
           "With --spool, one process takes the operator's deliveries from a drop\n"
           "folder: each file there is one delivery, committed on its own, in name\n"
           "order, then removed (it holds numbers in clear). Deliver by writing\n"
           "NAME.part (or .NAME, NAME.tmp) and renaming it to NAME. A file that\n"
           "cannot be read moves to DIR/failed/ with NAME.error, removed once it\n"
           "is older than the retention period; each delivery's rejected rows get\n"
           "their own report. One summary line per delivery.\n"
           "Files are claimed into DIR/.taking/ (the spool's own) before they are\n"
           "read; a file it may not read is left where it is. It runs until SIGINT\n"
           "or SIGTERM (the delivery under way finishes; a wait for files or for\n"
           "another writer ends at once), then exits 0, or 1 if a file or the\n"
           "store failed in a way that needs someone.\n\n"
           "Options:\n" IMPORT_OPTIONS_HELP
           "  --retention-days N|never  afterwards, delete events older than N days (1 to\n"
           "                   3660) before the newest one (default 21, SPEC 6); never\n"
           "                   keeps everything. With --spool, files set aside in\n"
           "                   failed/ longer ago than that go too\n"
           "  --compact background|now|off  a delivery for a day already stored is\n"
           "                   written as a new run of the day; afterwards, merge the\n"
           "                   runs into one file per day in a detached process\n"
           "                   (default, or $CT_COMPACT), before returning, or not\n"
           "                   (`celltrace compact`)\n"
           "  --spool DIR      take deliveries from the drop folder DIR (above)\n"
           "  --once           with --spool: take the files there now, then exit\n"
           "  --settle S       with --spool: leave a file until it is unchanged for S\n"
           "                   seconds (default 2; 0 takes it at once)\n"
           "  --format text|json  the summary's format\n"
           "Exit status: 0, 1 failure (nothing applied; with --spool: the files\n"
           "stored before it stay, and --once also exits 1 when a file was set\n"
           "aside), 2 usage, 3 some rows rejected.\n");
}

/* ct_compact_coalescing in a detached process (new session, no terminal, standard
 * streams on /dev/null, so that no caller waits for it): the delivery is
 * stored and answered; reading is fast again once its day is merged. A
 * failure only leaves the runs, which read exactly the same. */
void cli_compact_in_background(const char *dir)
{
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0)
            waitpid(pid, NULL, 0); /* the first child ends at once */
        return;
    }
    if (setsid() < 0 || fork() != 0)
        _exit(0);
    /* the defaults, whatever the caller set (ingest --spool stops on a
     * flag): a merge stopped by a signal leaves the runs, which read the
     * same, and a service's stop does not wait for it */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    /* and none of the caller's descriptors: a lock it holds (ingest
     * --spool's claim folder) must not outlive it in a merge. One call
     * (Linux 5.9), not a close per possible descriptor (20 000 here, a
     * millisecond and more per delivery); the loop only where it is
     * missing */
    if (close_range(STDERR_FILENO + 1, ~0U, 0) != 0) {
        long open_max = sysconf(_SC_OPEN_MAX);
        for (int fd = STDERR_FILENO + 1; fd < (open_max > 0 && open_max < 65536 ? open_max : 65536);
             fd++)
            close(fd);
    }
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    ct_compact_summary sum;
    ct_err err;
    if (ct_compact_coalescing(dir, &sum, &err) == CT_OK)
        _exit(0);
    /* nobody waits for this process: the error stays where check sees it */
    ct_compact_note_failure(dir, &err);
    _exit(1);
}

static int compact_mode_valid(const char *mode)
{
    return !strcmp(mode, "background") || !strcmp(mode, "now") || !strcmp(mode, "off");
}

/* --compact's default: $CT_COMPACT when it names a mode (scripts and
 * tests that want no process outliving the command), else background. */
static const char *compact_default(void)
{
    const char *env = getenv("CT_COMPACT");
    return env && compact_mode_valid(env) ? env : "background";
}

int cmd_ingest(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {IMPORT_OPTIONS,
                                         {"retention-days", required_argument, NULL, 'R'},
                                         {"compact", required_argument, NULL, 'C'},
                                         {"spool", required_argument, NULL, 'S'},
                                         {"once", no_argument, NULL, '1'},
                                         {"settle", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    import_args a = {NULL, "text", {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL}};
    const char *compact = compact_default();
    cli_spool_args spool = {NULL, NULL, NULL, NULL, {NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL}, 2.0,
                            0};
    int settle_given = 0;
    char *end = NULL;
    long days;
    int c, took;
    while ((c = getopt_long(argc, argv, "o:r:f:h", opts, NULL)) != -1) {
        if ((took = import_option(&a, c, optarg, "ingest")) < 0)
            return EXIT_USAGE;
        if (took)
            continue;
        switch (c) {
        case 'R':
            if (!strcmp(optarg, "never")) { /* the same numbers as the API and purge */
                a.io.retention_days = CT_RETENTION_NEVER;
                break;
            }
            days = strtol(optarg, &end, 10);
            if (!*optarg || *end || days < 1 || days > 3660)
                return cli_usage_error("ingest", "--retention-days must be 1 to 3660, or never");
            a.io.retention_days = (int)days;
            break;
        case 'C':
            if (!compact_mode_valid(optarg))
                return cli_usage_error("ingest", "--compact must be background, now or off");
            compact = optarg;
            break;
        case 'S': spool.dir = optarg; break;
        case '1': spool.once = 1; break;
        case 's':
            settle_given = 1;
            spool.settle_s = strtod(optarg, &end);
            if (!*optarg || *end || !(spool.settle_s >= 0 && spool.settle_s <= 86400))
                return cli_usage_error("ingest", "--settle must be 0 to 86400 seconds");
            break;
        case 'h': ingest_help(); return EXIT_OK;
        default: return cli_usage_error("ingest", "unknown option");
        }
    }
    const char *op = a.op, *format = a.format;
    ct_import_opts io = a.io;
    if (!op)
        return cli_usage_error("ingest", "--operator is required");
    if (spool.dir) {
        if (optind < argc)
            return cli_usage_error("ingest", "--spool takes no FILE: the files are the folder's");
        if (io.rejects_path)
            return cli_usage_error("ingest", "--spool writes one reject report a delivery: "
                                             "no --rejects");
        spool.op = op;
        spool.format = format;
        spool.compact = compact;
        spool.io = io;
        return cli_ingest_spool(ctx, &spool);
    }
    if (spool.once || settle_given)
        return cli_usage_error("ingest", "--once and --settle go with --spool");
    if (optind >= argc)
        return cli_usage_error("ingest", "expected at least one FILE");
    ct_db *db = cli_open(ctx, 1);
    if (!db)
        return EXIT_FAIL;
    ct_ingest *in = NULL;
    ct_import_summary sum;
    ct_err err;
    batch_progress bp = {0, 0};
    for (int i = optind; i < argc; i++)
        bp.total += file_size(argv[i]);
    if (ctx->progress) {
        io.progress = batch_progress_fn;
        io.progress_ud = &bp;
    }
    io.memory_mb = cli_ingest_memory_mb();
    ct_code rc = ct_ingest_begin(db, op, &io, &in, &err);
    for (int i = optind; !rc && i < argc; i++) {
        rc = ct_ingest_file(in, argv[i], &err);
        bp.base += file_size(argv[i]);
    }
    if (rc) {
        ct_ingest_abort(in);
    } else {
        if (ctx->progress)
            fprintf(stderr, "\rsealing...\033[K");
        rc = ct_ingest_commit(in, &sum, &err);
    }
    end_progress(ctx);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        cli_error("nothing of this ingest was stored");
        return EXIT_FAIL;
    }
    if (sum.days_of_runs && !strcmp(compact, "now")) {
        ct_compact_summary merged;
        if (ct_compact(ctx->data_dir, &merged, &err) != CT_OK) /* the delivery is stored */
            cli_error("the events were stored, but merging their days failed: %s", err.msg);
    } else if (sum.days_of_runs && !strcmp(compact, "background")) {
        fflush(NULL); /* nothing buffered is written twice */
        cli_compact_in_background(ctx->data_dir);
    }
    cli_print_import_summary("ingest", &sum, format);
    return cli_import_exit(&sum);
}

/* ---- cases ------------------------------------------------------------------------ */

static void cases_help(void)
{
    printf("Usage:\n"
           "  celltrace [--data DIR] cases import [--rejects FILE] FILE\n"
           "  celltrace [--data DIR] cases add --case-id ID --msisdn NUMBER --onset TIME\n"
           "                                   [--isolated TIME] [--region CODE]\n"
           "  celltrace [--data DIR] [--reason TEXT] cases list [--format table|csv|json]\n\n"
           "The case registry. A case file has columns case_id, msisdn, onset, and\n"
           "optionally isolated and region; onset and isolated are a date (YYYY-MM-DD)\n"
           "or a time. A case_id registered with other values is rejected.\n"
           "`cases list` shows phone numbers: it is written to the audit log.\n");
}

static int cases_import(cli_ctx *ctx, const char *path, const char *rejects)
{
    ct_db *db = cli_open(ctx, 1);
    if (!db)
        return EXIT_FAIL;
    ct_import_opts io = {rejects, NULL, NULL, 0, 0, 0, 0, NULL, NULL};
    ct_import_summary sum;
    ct_err err;
    ct_code rc = ct_cases_import(db, path, &io, &sum, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cli_print_import_summary("cases", &sum, "text");
    return cli_import_exit(&sum);
}

static int cases_add(cli_ctx *ctx, const char *const f[5])
{
    if (!f[0] || !f[1] || !f[2])
        return cli_usage_error("cases", "cases add needs --case-id, --msisdn and --onset");
    ct_db *db = cli_open(ctx, 1);
    if (!db)
        return EXIT_FAIL;
    ct_err err;
    ct_code rc = ct_case_add(db, f[0], f[1], f[2], f[3], f[4], &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return rc == CT_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
}

typedef struct list_state {
    const char *format;
    int n;
} list_state;

static int print_case(void *ud, const ct_case *c)
{
    list_state *ls = ud;
    char onset[32], iso[32] = "";
    ct_format_time(c->onset, onset);
    if (c->has_isolated)
        ct_format_time(c->isolated, iso);
    if (strcmp(ls->format, "csv") == 0) {
        cli_csv_text(stdout, c->case_id);
        printf(",%s,%s,%s,", c->msisdn, onset, iso);
        cli_csv_text(stdout, c->region);
        putchar('\n');
    } else if (strcmp(ls->format, "json") == 0) {
        printf("%s{\"case_id\":", ls->n ? ",\n " : "");
        cli_json_text(stdout, c->case_id);
        printf(",\"msisdn\":\"%s\",\"onset\":\"%s\",\"isolated\":", c->msisdn, onset);
        if (c->has_isolated)
            printf("\"%s\"", iso);
        else
            printf("null");
        printf(",\"region\":");
        cli_json_text(stdout, c->region);
        putchar('}');
    } else {
        printf("%-16s %-16s %-20s %-20s %s\n", c->case_id, c->msisdn, onset, c->has_isolated ? iso : "-",
               c->region[0] ? c->region : "-");
    }
    ls->n++;
    return 0;
}

static int cases_list(cli_ctx *ctx, const char *format)
{
    if (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json"))
        return cli_usage_error("cases", "--format must be table, csv or json");
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    list_state ls = {format, 0};
    if (strcmp(format, "csv") == 0)
        printf("case_id,msisdn,onset,isolated,region\n");
    else if (strcmp(format, "json") == 0)
        printf("[");
    else
        printf("%-16s %-16s %-20s %-20s %s\n", "CASE", "MSISDN", "ONSET", "ISOLATED", "REGION");
    ct_err err;
    ct_code rc = ct_cases_list(db, print_case, &ls, &err);
    if (strcmp(format, "json") == 0)
        printf("]\n");
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_cases(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"case-id", required_argument, NULL, 'c'},
                                         {"msisdn", required_argument, NULL, 'm'},
                                         {"onset", required_argument, NULL, 'o'},
                                         {"isolated", required_argument, NULL, 'i'},
                                         {"region", required_argument, NULL, 'g'},
                                         {"rejects", required_argument, NULL, 'r'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *f[5] = {NULL, NULL, NULL, NULL, NULL}, *rejects = NULL, *format = "table";
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': f[0] = optarg; break;
        case 'm': f[1] = optarg; break;
        case 'o': f[2] = optarg; break;
        case 'i': f[3] = optarg; break;
        case 'g': f[4] = optarg; break;
        case 'r': rejects = optarg; break;
        case 'f': format = optarg; break;
        case 'h': cases_help(); return EXIT_OK;
        default: return cli_usage_error("cases", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("cases", "expected import, add or list");
    const char *sub = argv[optind];
    if (strcmp(sub, "import") == 0) {
        if (argc - optind != 2)
            return cli_usage_error("cases", "expected `cases import FILE`");
        return cases_import(ctx, argv[optind + 1], rejects);
    }
    if (argc - optind != 1)
        return cli_usage_error("cases", "unexpected argument '%s'", argv[optind + 1]);
    if (strcmp(sub, "add") == 0)
        return cases_add(ctx, f);
    if (strcmp(sub, "list") == 0)
        return cases_list(ctx, format);
    return cli_usage_error("cases", "unknown sub-command '%s'", sub);
}
