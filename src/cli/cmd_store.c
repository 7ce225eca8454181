/*
 * cmd_store.c — `celltrace stats`: what the data directory holds (init
 * is in cmd_keys.c, beside the keys it makes).
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static void stats_text(const ct_stats *s, const ct_keys_where *w)
{
    char first[32] = "-", last[32] = "-";
    if (s->days) {
        ct_format_time(s->first_day, first);
        ct_format_time(s->last_day, last);
        first[10] = last[10] = '\0';
    }
    printf("subscribers   %llu\n", (unsigned long long)s->subscribers);
    printf("events        %llu (%llu in cells, %llu precise positions)\n", (unsigned long long)s->events,
           (unsigned long long)s->cell_events, (unsigned long long)s->point_events);
    printf("days          %llu (%s .. %s)\n", (unsigned long long)s->days, first, last);
    printf("operators     %llu\n", (unsigned long long)s->operators);
    printf("cells         %llu\n", (unsigned long long)s->cells);
    printf("cases         %llu\n", (unsigned long long)s->cases);
    printf("store bytes   %llu", (unsigned long long)s->store_bytes);
    if (s->events)
        printf(" (%.1f bytes per event)", (double)s->store_bytes / (double)s->events);
    printf("\ntotal bytes   %llu\n", (unsigned long long)s->total_bytes);
    printf("keys          %s, %s\n", ct_key_provider_name(w->provider), w->path);
    if (w->inside_data)
        printf("warning: the keys are kept in clear inside the data directory: a copy of it\n"
               "         opens without them (see `celltrace keys --help`, docs/KEYS.md)\n");
}

static void stats_json(const ct_stats *s, const ct_keys_where *w)
{
    printf("{\"subscribers\":%llu,\"events\":%llu,\"cell_events\":%llu,\"point_events\":%llu,"
           "\"days\":%llu,\"first_day\":%lld,"
           "\"last_day\":%lld,\"operators\":%llu,\"cells\":%llu,\"cases\":%llu,"
           "\"store_bytes\":%llu,\"total_bytes\":%llu,\"keys\":{\"provider\":\"%s\","
           "\"keys_inside_data\":%s}}\n",
           (unsigned long long)s->subscribers, (unsigned long long)s->events,
           (unsigned long long)s->cell_events, (unsigned long long)s->point_events,
           (unsigned long long)s->days, (long long)s->first_day, (long long)s->last_day,
           (unsigned long long)s->operators, (unsigned long long)s->cells,
           (unsigned long long)s->cases, (unsigned long long)s->store_bytes,
           (unsigned long long)s->total_bytes, ct_key_provider_name(w->provider),
           w->inside_data ? "true" : "false");
}

void cli_print_stats(const ct_stats *s, const ct_keys_where *w, int json)
{
    if (json)
        stats_json(s, w);
    else
        stats_text(s, w);
}

int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *format = "text";
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage: celltrace [--data DIR] stats [--format text|json]\n\n"
                   "What the store holds: subscribers, events, days, operators, cells,\n"
                   "cases, and its size on disk; where its keys are kept, with a warning when\n"
                   "a copy of the directory would carry them. Reads no personal data.\n");
            return EXIT_OK;
        }
        if (c != 'f')
            return cli_usage_error("stats", "unknown option");
        format = optarg;
    }
    if (strcmp(format, "text") && strcmp(format, "json"))
        return cli_usage_error("stats", "--format must be text or json");
    if (optind != argc)
        return cli_usage_error("stats", "stats takes no arguments");
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_stats s;
    ct_err err;
    ct_keys_where w;
    int rc = EXIT_OK;
    if (ct_stats_get(db, &s, &err) != CT_OK || ct_keys_where_of(ctx->data_dir, &w, &err) != CT_OK) {
        cli_error("%s", err.msg);
        rc = EXIT_FAIL;
    } else if (strcmp(format, "json") == 0) {
        stats_json(&s, &w);
    } else {
        stats_text(&s, &w);
    }
    ct_close(db);
    return rc;
}
