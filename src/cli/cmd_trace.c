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

#include "cli.h"

static void trace_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] trace CASE_ID [options]\n\n"
           "Lists the contacts of a case (SPEC section 4), best first: exposure\n"
           "descending, then number. Reading contacts is written to the audit log.\n\n"
           "Options:\n"
           "  --format table|csv|json   output format (default table)\n"
           "  --max-presence SECONDS    longest time an event keeps a phone at its place (3600)\n"
           "  --distance METRES         how near two people must be (2)\n"
           "  --min-exposure SECONDS    cumulative time that makes a contact (900)\n"
           "  --infectious-before SECONDS  infectious time before onset (172800)\n"
           "  --infectious-after SECONDS   infectious time after onset without isolation (864000)\n\n"
           "CSV columns: case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n"
           "Exit status: 0 success, 1 failure (e.g. unknown case), 2 usage error.\n");
}

static int parse_seconds(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_metres(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || end == s || !(v >= 0))
        return -1;
    *out = v;
    return 0;
}

static void print_csv(const ct_contacts *cs)
{
    printf("case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m\n");
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        char first[32], last[32], radius[32];
        ct_format_time(c->first_contact, first);
        ct_format_time(c->last_contact, last);
        ct_format_radius(c->min_radius_m, radius);
        const char *id = cs->case_id;
        int quote = strpbrk(id, ",\"\r\n") != NULL;
        if (quote) {
            putchar('"');
            for (const char *p = id; *p; p++) {
                if (*p == '"')
                    putchar('"');
                putchar(*p);
            }
            putchar('"');
        } else {
            fputs(id, stdout);
        }
        printf(",%s,%lld,%s,%s,%s\n", c->msisdn, (long long)c->exposure_s, first, last, radius);
    }
}

static void print_json(const ct_contacts *cs)
{
    printf("[");
    for (size_t i = 0; i < cs->n; i++) {
        const ct_contact *c = &cs->items[i];
        char first[32], last[32], radius[32];
        ct_format_time(c->first_contact, first);
        ct_format_time(c->last_contact, last);
        ct_format_radius(c->min_radius_m, radius);
        printf("%s{\"case_id\":\"", i ? ",\n " : "");
        for (const char *p = cs->case_id; *p; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\')
                printf("\\%c", ch);
            else if (ch < 0x20)
                printf("\\u%04x", ch);
            else
                putchar(ch);
        }
        printf("\",\"msisdn\":\"%s\",\"exposure_s\":%lld,\"first_contact\":\"%s\","
               "\"last_contact\":\"%s\",\"min_radius_m\":%s}",
               c->msisdn, (long long)c->exposure_s, first, last, radius);
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
        char first[32], last[32], radius[32], dur[32];
        ct_format_time(c->first_contact, first);
        ct_format_time(c->last_contact, last);
        ct_format_radius(c->min_radius_m, radius);
        long long s = c->exposure_s;
        snprintf(dur, sizeof dur, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
        printf("%-16s %10s  %-20s  %-20s  %s\n", c->msisdn, dur, first, last, radius);
    }
}

int cmd_trace(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"max-presence", required_argument, NULL, 'p'},
                                         {"distance", required_argument, NULL, 'd'},
                                         {"min-exposure", required_argument, NULL, 'e'},
                                         {"infectious-before", required_argument, NULL, 'b'},
                                         {"infectious-after", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_params p;
    ct_params_default(&p);
    const char *format = "table";
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'p': bad |= parse_seconds(optarg, &p.max_presence_s); break;
        case 'd': bad |= parse_metres(optarg, &p.contact_distance_m); break;
        case 'e': bad |= parse_seconds(optarg, &p.min_exposure_s); break;
        case 'b': bad |= parse_seconds(optarg, &p.infectious_before_s); break;
        case 'a': bad |= parse_seconds(optarg, &p.infectious_after_s); break;
        case 'h': trace_help(); return EXIT_OK;
        default: return cli_usage_error("trace", "unknown option");
        }
        if (bad)
            return cli_usage_error("trace", "bad value '%s' for an option", optarg);
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
    ct_code rc = ct_trace(db, argv[optind], &p, &cs, &err);
    ct_close(db);
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
