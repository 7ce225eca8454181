/*
 * cmd_maint.c — `celltrace check` and `celltrace purge`: is the data
 * directory sound, and deleting what must no longer be kept.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celltrace_notify.h"
#include "cli.h"

static void print_problem(void *ud, int serious, const char *what, const char *problem)
{
    (void)ud;
    printf("%-8s %s: %s\n", serious ? "PROBLEM" : "NOTE", what, problem);
}

int cmd_check(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage: celltrace [--data DIR] check\n\n"
                   "Verifies the data directory: modes of the folder and keys, the manifest,\n"
                   "every segment's checksums and references, SQLite's integrity, every vault\n"
                   "record, the report's counters against a recount, and the audit log's chain\n"
                   "(audit verify). Prints each problem; exit 0\n"
                   "when there is none, 1 otherwise.\n");
            return EXIT_OK;
        }
        return cli_usage_error("check", "unknown option");
    }
    if (optind != argc)
        return cli_usage_error("check", "check takes no arguments");
    ct_err err;
    ct_db *db = cli_open_err(ctx, 0, &err);
    if (!db) {
        printf("PROBLEM  %s\n", err.msg); /* a directory that does not open is the finding */
        return EXIT_FAIL;
    }
    uint64_t problems = 0;
    ct_code rc = ct_check(db, print_problem, NULL, &problems, &err);
    uint64_t groups = 0, differing = 0;
    if (!rc && (rc = ct_report_check(db, &groups, &differing, &err)) == CT_OK && differing) {
        printf("PROBLEM  report: %llu of %llu region-days differ from a recount of the "
               "contacts and messages\n", (unsigned long long)differing,
               (unsigned long long)groups);
        problems++;
    }
    ct_close(db);
    ct_audit_check audit;
    if (!rc && (rc = ct_audit_verify(ctx->data_dir, &audit, &err)) == CT_OK && !audit.ok) {
        printf("PROBLEM  audit log: %s line %llu: %s\n", audit.file,
               (unsigned long long)audit.line, audit.problem);
        problems++;
    }
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (problems) {
        printf("%llu problem%s found in %s\n", (unsigned long long)problems, problems == 1 ? "" : "s",
               ctx->data_dir);
        return EXIT_FAIL;
    }
    printf("%s is sound: keys, manifest, segments, database, vault, report and audit log check out\n",
           ctx->data_dir);
    return EXIT_OK;
}

static void purge_help(void)
{
    printf("Usage: celltrace [--data DIR] purge [--retention-days N]\n"
           "       celltrace [--data DIR] purge --all --yes\n\n"
           "Deletes, for good, location data older than the retention period (default 21\n"
           "days before the newest event; ingest does this by itself). With --all, deletes\n"
           "every personal datum: events, subscribers and their numbers, cases and contacts,\n"
           "reject reports, and replaces the keys. Cells, operators and the audit log stay.\n"
           "--all asks for --yes: there is no undo.\n");
}

int cmd_purge(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                         {"yes", no_argument, NULL, 'y'},
                                         {"retention-days", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int all = 0, yes = 0, c;
    long days = CT_RETENTION_DAYS_DEFAULT;
    char *end = NULL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': all = 1; break;
        case 'y': yes = 1; break;
        case 'r':
            days = strtol(optarg, &end, 10);
            if (!*optarg || *end || days < 1 || days > 3660)
                return cli_usage_error("purge", "--retention-days must be 1 to 3660");
            break;
        case 'h': purge_help(); return EXIT_OK;
        default: return cli_usage_error("purge", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("purge", "purge takes no arguments");
    if (all && !yes)
        return cli_usage_error("purge", "purge --all deletes every personal datum; add --yes to confirm");
    ct_db *db = cli_open(ctx, 1);
    if (!db)
        return EXIT_FAIL;
    ct_err err;
    ct_purge_summary sum;
    ct_code rc = all ? ct_purge_all(db, &err) : ct_purge(db, (int)days, &sum, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (all)
        printf("purge: every personal datum deleted and the keys replaced\n");
    else
        printf("purge: %llu days (%llu events) deleted\n", (unsigned long long)sum.days_deleted,
               (unsigned long long)sum.events_deleted);
    return EXIT_OK;
}

/* ---- compact ------------------------------------------------------------------ */

static void compact_help(void)
{
    printf("Usage: celltrace [--data DIR] compact [--format text|json]\n\n"
           "Merges the runs of every day stored as several (each delivery for a day\n"
           "already stored is written as a new run of it; docs/FORMAT.md) into one\n"
           "file per day. Answers do not change; reading gets faster, because a day\n"
           "of several runs is merged in memory by every process that reads it.\n"
           "`ingest` starts this in the background after a delivery that left runs;\n"
           "run it yourself after `ingest --compact off`, or to wait for the merge.\n"
           "Deliveries may go on meanwhile: the writer lock is held only to swap\n"
           "the merged file in. A second compaction waits for the first.\n\n"
           "Options:\n"
           "  --format text|json  the summary's format\n"
           "Exit status: 0, 1 failure (the runs stay as they were), 2 usage.\n");
}

static void upgrade_help(void)
{
    printf("Usage: celltrace [--data DIR] upgrade [--format text|json]\n\n"
           "Rewrites every day stored in an older format (day segments of version 2,\n"
           "written before 2026-12-02; docs/FORMAT.md) in the current one, about half\n"
           "the size, and merges days of several runs as `compact` does. Answers do\n"
           "not change. Until then the older days are read as they are, through a\n"
           "current copy that each process that reads them makes in memory.\n"
           "Each day is swapped in on its own, as a compaction swaps a day: stopped\n"
           "or crashed at any point, every day is its old file or its new one, and a\n"
           "second run goes on from there. Deliveries may go on meanwhile.\n\n"
           "Options:\n"
           "  --format text|json  the summary's format\n"
           "Exit status: 0, 1 failure (days not yet swapped stay as they were), 2 usage.\n");
}

/* compact and upgrade: the same merge (ct_upgrade also rewrites days of
 * an older segment version). */
static int run_compaction(cli_ctx *ctx, int argc, char **argv, const char *name, int upgrade)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *format = "text";
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'h':
            if (upgrade)
                upgrade_help();
            else
                compact_help();
            return EXIT_OK;
        default: return cli_usage_error(name, "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error(name, upgrade ? "upgrade takes no arguments" : "compact takes no arguments");
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
        return cli_usage_error(name, "--format must be text or json");
    ct_compact_summary sum;
    ct_err err;
    if ((upgrade ? ct_upgrade : ct_compact)(ctx->data_dir, &sum, &err) != CT_OK) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (!strcmp(format, "json") && upgrade)
        printf("{\"days\":%llu,\"runs\":%llu,\"events\":%llu,\"days_left\":%llu,\"days_old\":%llu}\n",
               (unsigned long long)sum.days, (unsigned long long)sum.runs,
               (unsigned long long)sum.events, (unsigned long long)sum.days_left,
               (unsigned long long)sum.days_old);
    else if (!strcmp(format, "json"))
        printf("{\"days\":%llu,\"runs\":%llu,\"events\":%llu,\"days_left\":%llu}\n",
               (unsigned long long)sum.days, (unsigned long long)sum.runs,
               (unsigned long long)sum.events, (unsigned long long)sum.days_left);
    else if (upgrade)
        printf("upgrade: %llu days rewritten from %llu files (%llu events); %llu days left in an "
               "older format, %llu of several runs\n",
               (unsigned long long)sum.days, (unsigned long long)sum.runs,
               (unsigned long long)sum.events, (unsigned long long)sum.days_old,
               (unsigned long long)sum.days_left);
    else
        printf("compact: %llu days merged from %llu runs (%llu events); %llu days of several "
               "runs left\n",
               (unsigned long long)sum.days, (unsigned long long)sum.runs,
               (unsigned long long)sum.events, (unsigned long long)sum.days_left);
    return EXIT_OK;
}

int cmd_compact(cli_ctx *ctx, int argc, char **argv)
{
    return run_compaction(ctx, argc, argv, "compact", 0);
}

int cmd_upgrade(cli_ctx *ctx, int argc, char **argv)
{
    return run_compaction(ctx, argc, argv, "upgrade", 1);
}
