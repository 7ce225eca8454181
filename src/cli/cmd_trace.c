/*
 * cmd_trace.c — `celltrace trace CASE_ID`: the contacts of one case.
 *
 * CSV is the contract of SPEC 5 (exact header, order, number formats);
 * JSON carries the same fields as an array of objects; the table is for
 * people. Every trace is written to the audit log by the library.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void trace_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] trace CASE_ID [options]\n\n"
           "Lists the contacts of a case (SPEC section 4), best first: exposure\n"
           "descending, then number. Reading contacts is written to the audit log.\n\n"
           "Options:\n"
           "  --format table|csv|json   output format (default table)\n"
           "  --work                    also print, on stderr, the work done: the case's\n"
           "                            intervals, candidate events examined, overlaps,\n"
           "                            milliseconds and nanoseconds per candidate\n" CLI_PARAM_HELP "\n"
           "CSV columns: case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n"
           "Exit status: 0 success, 1 failure (e.g. unknown case), 2 usage error.\n");
}

/* The text forms of a contact's times and radius, as every format shows them. */
typedef struct contact_text {
    char first[32], last[32], radius[32];
} contact_text;

static contact_text texts_of(const ct_contact *c)
{
    contact_text t;
    ct_format_time(c->first_contact, t.first);
    ct_format_time(c->last_contact, t.last);
    ct_format_radius(c->min_radius_m, t.radius);
    return t;
}

static void print_csv(const ct_contacts *cs)
{
    printf("case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n");
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        contact_text t = texts_of(c);
        cli_csv_text(stdout, cs->case_id);
        printf(",%s,%lld,%s,%s,%s\n", c->msisdn, (long long)c->exposure_s, t.first, t.last, t.radius);
    }
}

static void print_json(const ct_contacts *cs)
{
    printf("[");
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        contact_text t = texts_of(c);
        printf("%s{\"case_id\":", i ? ",\n " : "");
        cli_json_text(stdout, cs->case_id);
        printf(",\"msisdn\":\"%s\",\"exposure_s\":%lld,\"first_contact\":\"%s\","
               "\"last_contact\":\"%s\",\"min_radius_m\":%s}",
               c->msisdn, (long long)c->exposure_s, t.first, t.last, t.radius);
    }
    printf("]\n");
}

static void print_table(const ct_contacts *cs)
{
    printf("Case %s: %zu contact%s\n", cs->case_id, cs->n, cs->n == 1 ? "" : "s");
    if (!cs->n)
        return;
    printf("%-16s %10s  %-20s  %-20s  %s\n", "MSISDN", "EXPOSURE", "FIRST CONTACT", "LAST CONTACT",
           "PRECISION (m)");
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        contact_text t = texts_of(c);
        char dur[32];
        long long s = c->exposure_s;
        snprintf(dur, sizeof dur, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
        printf("%-16s %10s  %-20s  %-20s  %s\n", c->msisdn, dur, t.first, t.last, t.radius);
    }
}

int cmd_trace(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"work", no_argument, NULL, 'w'},
                                         CLI_PARAM_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_params p;
    ct_params_default(&p);
    const char *format = "table";
    int c, got, work = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else if (c == 'w')
            work = 1;
        else if (c == 'h') {
            trace_help();
            return EXIT_OK;
        } else if ((got = cli_param_option(c, optarg, &p)) < 0)
            return cli_usage_error("trace", "bad value '%s' for an option", optarg);
        else if (got == 0)
            return cli_usage_error("trace", "unknown option");
    }
    if (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json"))
        return cli_usage_error("trace", "--format must be table, csv or json");
    if (argc - optind != 1)
        return cli_usage_error("trace", "expected exactly one CASE_ID");
    ct_err err;
    if (ct_params_check(&p, &err) != CT_OK)
        return cli_usage_error("trace", "%s", err.msg);
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_contacts *cs = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ct_code rc = ct_trace(db, argv[optind], &p, &cs, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ct_close(db);
    if (!rc && work) {
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        fprintf(stderr, "work: %llu case intervals, %llu candidates, %llu overlaps, %zu contacts, "
                        "%.2f ms, %.1f ns per candidate\n",
                (unsigned long long)cs->case_intervals, (unsigned long long)cs->candidates,
                (unsigned long long)cs->overlaps, cs->n, ns / 1e6,
                cs->candidates ? ns / (double)cs->candidates : 0.0);
    }
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (strcmp(format, "csv") == 0)
        print_csv(cs);
    else if (strcmp(format, "json") == 0)
        print_json(cs);
    else
        print_table(cs);
    ct_contacts_free(cs);
    return EXIT_OK;
}
