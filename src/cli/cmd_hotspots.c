/*
 * cmd_hotspots.c — `celltrace hotspots`: where the cases met.
 *
 * The library ranks places and hours by the expected seconds that pairs
 * of cases spent within the contact distance there (docs/AREA.md section
 * 3) and counts the other subscribers present; this file parses, checks
 * and prints. JSON is an array of objects with the place's disk, ready to
 * draw on a map.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void hotspots_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] hotspots --from TIME --to TIME [options]\n\n"
           "Finds the places and hours where cases met during their infectious windows:\n"
           "possible transmission sites. For every pair of cases, their co-located\n"
           "presences (SPEC 4) add the expected seconds the two were within the contact\n"
           "distance to the more precise of the two places (a cell, or the grid square of a\n"
           "GPS fix), hour by hour. A row is a place and an hour with at least --min-cases\n"
           "cases; its score is those expected seconds, so small, precise places come\n"
           "first. See docs/AREA.md.\n\n"
           "Options:\n"
           "  --from TIME --to TIME     the window [FROM, TO): YYYY-MM-DDTHH:MM:SSZ or a date\n"
           "  --min-cases K             cases a place and hour needs (default 2)\n"
           "  --resolution M            side of a GPS fix's grid square in metres (default 50)\n"
           "  --limit N                 rows printed, best first (default 20; 0 = all)\n"
           "  --others-stay SECONDS     others present: at least this long in the hour (900)\n"
           "  --no-others               do not count the others present (a scan per row\n"
           "                            printed): others_present is empty, null in JSON\n"
           "  --format table|csv|json   output format (default table)\n" CLI_PARAM_HELP "\n"
           "CSV columns: place,lat,lon,radius_m,hour,cases,case_ids,others_present,score\n"
           "  place is OP:CELL_ID or grid:LAT/LON; case_ids are joined by ';'; score is the\n"
           "  expected seconds case pairs spent within the contact distance (4 significant\n"
           "  digits).\n"
           "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

typedef struct hotspots_args {
    ct_hotspot_query q;
    ct_params p;
    cli_format format;
    int has_from, has_to;
} hotspots_args;

static int parse_count(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_option(int c, const char *arg, hotspots_args *a)
{
    enum { OPT_FROM = 1, OPT_TO, OPT_MIN_CASES, OPT_RESOLUTION, OPT_LIMIT, OPT_OTHERS };
    uint64_t v;
    char *end = NULL;
    switch (c) {
    case OPT_FROM:
        a->has_from = 1;
        return cli_time_option("hotspots", "from", arg, &a->q.from);
    case OPT_TO:
        a->has_to = 1;
        return cli_time_option("hotspots", "to", arg, &a->q.to);
    case OPT_MIN_CASES:
        if (parse_count(arg, 100000, &v) || v < 2)
            return cli_usage_error("hotspots", "--min-cases must be 2 or more, not '%s'", arg);
        a->q.min_cases = (unsigned)v;
        return -1;
    case OPT_RESOLUTION:
        errno = 0;
        a->q.resolution_m = strtod(arg, &end);
        if (errno || end == arg || *end || !(a->q.resolution_m >= 1 && a->q.resolution_m <= 10000))
            return cli_usage_error("hotspots", "--resolution must be 1 to 10000 metres, not '%s'", arg);
        return -1;
    case OPT_LIMIT:
        if (parse_count(arg, 1000000000, &v))
            return cli_usage_error("hotspots", "--limit must be a count (0 = all), not '%s'", arg);
        a->q.limit = (size_t)v;
        return -1;
    case OPT_OTHERS:
        if (parse_count(arg, 86400, &v))
            return cli_usage_error("hotspots", "--others-stay must be 0 to 86400 seconds, not '%s'", arg);
        a->q.others_min_stay_s = (int64_t)v;
        return -1;
    default:
        return cli_usage_error("hotspots", "unknown option");
    }
}

static int parse_hotspots_args(int argc, char **argv, hotspots_args *a)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 1},
                                         {"to", required_argument, NULL, 2},
                                         {"min-cases", required_argument, NULL, 3},
                                         {"resolution", required_argument, NULL, 4},
                                         {"limit", required_argument, NULL, 5},
                                         {"others-stay", required_argument, NULL, 6},
                                         {"no-others", no_argument, NULL, 'N'},
                                         {"format", required_argument, NULL, 'f'},
                                         CLI_PARAM_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    ct_hotspot_query_default(&a->q);
    ct_params_default(&a->p);
    const char *format = "table";
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            hotspots_help();
            return EXIT_OK;
        } else if (c == 'f') {
            format = optarg;
        } else if (c == 'N') {
            a->q.count_others = 0;
        } else if (c == '?') {
            return cli_usage_error("hotspots", "unknown option");
        } else if (c >= CLI_OPT_MAX_PRESENCE) {
            if (cli_param_option(c, optarg, &a->p) < 0)
                return cli_usage_error("hotspots", "%s, not '%s'", cli_param_rule(c), optarg);
        } else if ((rc = parse_option(c, optarg, a)) >= 0) {
            return rc;
        }
    }
    if (optind < argc)
        return cli_usage_error("hotspots", "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_format_option("hotspots", format, &a->format)) >= 0)
        return rc;
    if (!a->has_from || !a->has_to)
        return cli_usage_error("hotspots", "expected --from and --to");
    if (a->q.to <= a->q.from)
        return cli_usage_error("hotspots", "--to must be after --from");
    ct_err err;
    if (ct_params_check(&a->p, &err) != CT_OK)
        return cli_usage_error("hotspots", "%s", err.msg);
    return -1;
}

/* ---- output ------------------------------------------------------------------- */

/* The text forms of a row's hour, radius and score, as every format shows them. */
typedef struct hotspot_text {
    char hour[32], radius[32], score[32], others[32];
} hotspot_text;

static hotspot_text texts_of(const ct_hotspot *h)
{
    hotspot_text t;
    ct_format_time(h->hour, t.hour);
    ct_format_radius(h->radius_m, t.radius);
    ct_format_significant(h->score, t.score);
    if (h->others_present == CT_OTHERS_NOT_COUNTED)
        t.others[0] = '\0';
    else
        snprintf(t.others, sizeof t.others, "%llu", (unsigned long long)h->others_present);
    return t;
}

/* The row's case ids joined by ';'; returns new (free with free()), or
 * NULL out of memory. */
static char *join_cases(const ct_hotspot *h)
{
    size_t cap = h->n_cases * (CT_ID_MAX + 1) + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    buf[0] = '\0';
    for (size_t k = 0; k < h->n_cases; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", k ? ";" : "", h->case_ids[k]);
    return buf;
}

static void print_csv(const ct_hotspots *hs)
{
    fputs("place,lat,lon,radius_m,hour,cases,case_ids,others_present,score\n", stdout);
    for (size_t i = 0; i < hs->n; i++) {
        const ct_hotspot *h = &hs->items[i];
        hotspot_text t = texts_of(h);
        char *ids = join_cases(h);
        cli_csv_text(stdout, h->place);
        printf(",%.7f,%.7f,%s,%s,%zu,", h->lat, h->lon, t.radius, t.hour, h->n_cases);
        cli_csv_text(stdout, ids ? ids : "");
        printf(",%s,%s\n", t.others, t.score);
        free(ids);
    }
}

static void print_json(const ct_hotspots *hs)
{
    fputs("[", stdout);
    for (size_t i = 0; i < hs->n; i++) {
        const ct_hotspot *h = &hs->items[i];
        hotspot_text t = texts_of(h);
        printf("%s{\"place\":", i ? ",\n " : "");
        cli_json_text(stdout, h->place);
        printf(",\"kind\":\"%s\",\"lat\":%.7f,\"lon\":%.7f,\"radius_m\":%s,\"hour\":\"%s\","
               "\"cases\":[",
               h->is_cell ? "cell" : "grid", h->lat, h->lon, t.radius, t.hour);
        for (size_t k = 0; k < h->n_cases; k++) {
            fputs(k ? "," : "", stdout);
            cli_json_text(stdout, h->case_ids[k]);
        }
        printf("],\"others_present\":%s,\"score\":%s}", t.others[0] ? t.others : "null", t.score);
    }
    fputs("]\n", stdout);
}

static void print_table(const hotspots_args *a, const ct_hotspots *hs)
{
    char from[32], to[32];
    ct_format_time(a->q.from, from);
    ct_format_time(a->q.to, to);
    printf("Hotspots %s to %s: %zu places and hours with %u or more of %zu cases",
           from, to, hs->n_places, a->q.min_cases, hs->cases);
    if (hs->n < hs->n_places)
        printf(" (the first %zu)", hs->n);
    printf("\n");
    if (!hs->n)
        return;
    printf("%-28s %-20s %9s %6s %7s %9s  %s\n", "PLACE", "HOUR", "RADIUS(m)", "CASES", "OTHERS",
           "SCORE(s)", "CASE IDS");
    for (size_t i = 0; i < hs->n; i++) {
        const ct_hotspot *h = &hs->items[i];
        hotspot_text t = texts_of(h);
        char *ids = join_cases(h);
        printf("%-28s %-20s %9s %6zu %7s %9s  %s\n", h->place, t.hour, t.radius, h->n_cases,
               t.others[0] ? t.others : "-", t.score, ids ? ids : "");
        free(ids);
    }
}

int cmd_hotspots(cli_ctx *ctx, int argc, char **argv)
{
    hotspots_args a;
    int rc = parse_hotspots_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_hotspots *hs = NULL;
    ct_err err;
    ct_code code = ct_hotspots_find(db, &a.q, &a.p, &hs, &err);
    ct_close(db);
    if ((rc = cli_query_status("hotspots", code, &err)) >= 0)
        return rc;
    if (a.format == CLI_CSV)
        print_csv(hs);
    else if (a.format == CLI_JSON)
        print_json(hs);
    else
        print_table(&a, hs);
    ct_hotspots_free(hs);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}
