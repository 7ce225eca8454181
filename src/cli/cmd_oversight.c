/*
 * cmd_oversight.c — `celltrace oversight [--week YYYY-Www]`: the weekly
 * numbers for an oversight body (library: notify/oversight.c; docs/API.md).
 * Counts only, no personal data.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "celltrace_notify.h"
#include "cli.h"

static void oversight_help(void)
{
    printf("Usage: celltrace [--data DIR] oversight [--week YYYY-Www] [--format table|json]\n\n"
           "Per region, for one ISO week in the `timezone` setting (default: this week):\n"
           "cases (by onset), contacts found by level, SMS sent and delivered, appeals\n"
           "filed, decided, decided in time, upheld (and the upheld share) and overdue;\n"
           "then the reads of personal data per user (audit records, records read) and\n"
           "what retention deleted. No personal data.\n");
}

static void print_json(const ct_oversight *o)
{
    char from[32], to[32];
    ct_format_time(o->from, from);
    ct_format_time(o->to, to);
    printf("{\"week\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"regions\":[", o->week, from, to);
    for (size_t i = 0; i < o->n_regions; i++) {
        const ct_oversight_region *g = &o->regions[i];
        printf("%s{\"region\":", i ? "," : "");
        cli_json_text(stdout, g->region);
        printf(",\"cases\":%llu,\"contacts\":%llu,\"quarantine\":%llu,\"test\":%llu,\"none\":%llu,"
               "\"sms_sent\":%llu,\"sms_delivered\":%llu,\"appeals_filed\":%llu,"
               "\"appeals_decided\":%llu,\"appeals_decided_in_time\":%llu,\"appeals_upheld\":%llu,"
               "\"upheld_share\":",
               (unsigned long long)g->cases, (unsigned long long)g->contacts,
               (unsigned long long)g->quarantine, (unsigned long long)g->test,
               (unsigned long long)g->none, (unsigned long long)g->sms_sent,
               (unsigned long long)g->sms_delivered, (unsigned long long)g->appeals_filed,
               (unsigned long long)g->appeals_decided,
               (unsigned long long)g->appeals_decided_in_time,
               (unsigned long long)g->appeals_upheld);
        if (g->appeals_decided)
            printf("%.4g", (double)g->appeals_upheld / (double)g->appeals_decided);
        else
            printf("null");
        printf(",\"appeals_overdue\":%llu}", (unsigned long long)g->appeals_overdue);
    }
    printf("],\"reads\":[");
    for (size_t i = 0; i < o->n_readers; i++) {
        printf("%s{\"who\":", i ? "," : "");
        cli_json_text(stdout, o->readers[i].who);
        printf(",\"reads\":%llu,\"records\":%llu}", (unsigned long long)o->readers[i].reads,
               (unsigned long long)o->readers[i].records);
    }
    printf("],\"retention\":{\"purges\":%llu,\"events_deleted\":%llu}}\n",
           (unsigned long long)o->retention_purges,
           (unsigned long long)o->retention_events_deleted);
}

static void print_table(const ct_oversight *o)
{
    char from[32], to[32];
    ct_format_time(o->from, from);
    ct_format_time(o->to, to);
    printf("week %s (%s to %s)\n\n", o->week, from, to);
    printf("%-10s %6s %8s %6s %6s %6s %6s %9s %7s %7s %7s %7s %7s %7s\n", "REGION", "CASES",
           "CONTACTS", "QUAR", "TEST", "NONE", "SENT", "DELIVERED", "FILED", "DECIDED", "INTIME",
           "UPHELD", "SHARE", "OVERDUE");
    for (size_t i = 0; i < o->n_regions; i++) {
        const ct_oversight_region *g = &o->regions[i];
        char share[16] = "-";
        if (g->appeals_decided)
            snprintf(share, sizeof share, "%.0f%%",
                     100.0 * (double)g->appeals_upheld / (double)g->appeals_decided);
        printf("%-10s %6llu %8llu %6llu %6llu %6llu %6llu %9llu %7llu %7llu %7llu %7llu %7s %7llu\n",
               g->region, (unsigned long long)g->cases, (unsigned long long)g->contacts,
               (unsigned long long)g->quarantine, (unsigned long long)g->test,
               (unsigned long long)g->none, (unsigned long long)g->sms_sent,
               (unsigned long long)g->sms_delivered, (unsigned long long)g->appeals_filed,
               (unsigned long long)g->appeals_decided,
               (unsigned long long)g->appeals_decided_in_time,
               (unsigned long long)g->appeals_upheld, share,
               (unsigned long long)g->appeals_overdue);
    }
    printf("\nreads of personal data\n%-40s %8s %10s\n", "WHO", "READS", "RECORDS");
    for (size_t i = 0; i < o->n_readers; i++)
        printf("%-40s %8llu %10llu\n", o->readers[i].who, (unsigned long long)o->readers[i].reads,
               (unsigned long long)o->readers[i].records);
    printf("\nretention: %llu purges deleted %llu events\n", (unsigned long long)o->retention_purges,
           (unsigned long long)o->retention_events_deleted);
}

int cmd_oversight(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"week", required_argument, NULL, 'w'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *week = NULL;
    cli_format format = CLI_TABLE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'w': week = optarg; break;
        case 'f': {
            int st = cli_format_table_json("oversight", optarg, &format);
            if (st >= 0)
                return st;
            break;
        }
        case 'h': oversight_help(); return EXIT_OK;
        default: return cli_usage_error("oversight", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("oversight", "unexpected argument '%s'", argv[optind]);
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_oversight o;
    ct_err err;
    ct_code rc = ct_oversight_get(db, week, &o, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return rc == CT_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    if (format == CLI_JSON)
        print_json(&o);
    else
        print_table(&o);
    ct_oversight_free(&o);
    return EXIT_OK;
}
