/*
 * cmd_area.c — `celltrace area`: who was in a place at a time.
 *
 * The place is a disk (--lat --lon --radius) or a cell's coverage disk
 * (--cell OP:CELL_ID); the time is [--from, --to). The library answers
 * from SPEC 4's presences (docs/AREA.md) and audits the read; this file
 * parses, checks and prints. CSV's columns and order are SPEC 7's
 * contract; JSON has the same fields; the table is for people. Numbers
 * are masked unless --reveal is given.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "celltrace_notify.h"
#include "cli.h"

static void area_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] area --lat LAT --lon LON --radius M\n"
           "                 --from TIME --to TIME [options]\n"
           "       celltrace [--data DIR] [--reason TEXT] area --cell OP:CELL_ID\n"
           "                 --from TIME --to TIME [options]\n\n"
           "Lists everyone present in a place during a time window for at least\n"
           "--min-stay seconds: an outbreak investigator's question about a venue.\n"
           "Present is exact, in SPEC 4's terms: the sum of a phone's presences\n"
           "(--max-presence) whose disk meets the area's disk (distance between the\n"
           "centres at most RADIUS + r), cut to [FROM, TO). See docs/AREA.md.\n\n"
           "Options:\n"
           "  --lat LAT --lon LON       the centre, in degrees (WGS84)\n"
           "  --radius M                the radius in metres\n"
           "  --cell OP:CELL_ID         a cell's coverage disk instead of a centre and radius\n"
           "  --from TIME --to TIME     the window [FROM, TO): YYYY-MM-DDTHH:MM:SSZ or a date\n"
           "  --min-stay SECONDS        present at least this long (default 900)\n"
           "  --max-presence SECONDS    longest time an event keeps a phone at its place (3600)\n"
           "  --reveal                  whole phone numbers (default: masked, 7999***0001);\n"
           "                            written to the audit log as such\n"
           "  --force                   allow an area wider than 50 km or a window longer\n"
           "                            than 31 days (most of a city: audited as such)\n"
           "  --format table|csv|json   output format (default table)\n"
           "  --work                    also print, on stderr, candidates examined and time\n\n"
           "CSV columns: msisdn,present_s,first_seen,last_seen,min_radius_m,expected_inside_s\n"
           "  sorted by present_s descending, then number. min_radius_m is the smallest\n"
           "  radius of the phone's own disks that were counted; expected_inside_s weighs\n"
           "  each second by the share of the phone's disk that lies inside the area.\n"
           "Exit status: 0 success, 1 failure, 2 usage error (also an area over the limits\n"
           "without --force).\n");
}

typedef struct area_args {
    const char *cmd; /* "area", or "run" for run --area */
    const char *label; /* run --area LABEL */
    ct_area q;
    ct_params p;
    cli_format format;
    int work, output_options;
    int has_lat, has_lon, has_radius, has_from, has_to;
    char cell_op[256];
} area_args;

/* A finite decimal; 0 or -1. */
static int parse_number(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* "OP:CELL_ID" into the query (the operator is kept in a->cell_op). */
static int parse_cell(const char *s, area_args *a)
{
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : 0;
    if (!colon || n == 0 || n >= sizeof a->cell_op || colon[1] == '\0')
        return -1;
    memcpy(a->cell_op, s, n);
    a->cell_op[n] = '\0';
    a->q.op = a->cell_op;
    a->q.cell_id = colon + 1;
    return 0;
}

static int parse_option(int c, const char *arg, area_args *a)
{
    enum { OPT_LAT = 1, OPT_LON, OPT_RADIUS, OPT_CELL, OPT_FROM, OPT_TO, OPT_STAY, OPT_AREA };
    const char *cmd = a->cmd;
    int64_t stay;
    switch (c) {
    case OPT_LAT:
        a->has_lat = 1;
        return parse_number(arg, &a->q.lat) ? cli_usage_error(cmd, "--lat must be a number of degrees, not '%s'", arg) : -1;
    case OPT_LON:
        a->has_lon = 1;
        return parse_number(arg, &a->q.lon) ? cli_usage_error(cmd, "--lon must be a number of degrees, not '%s'", arg) : -1;
    case OPT_RADIUS:
        a->has_radius = 1;
        if (parse_number(arg, &a->q.radius_m) || !(a->q.radius_m > 0))
            return cli_usage_error(cmd, "--radius must be metres above 0, not '%s'", arg);
        return -1;
    case OPT_CELL:
        return parse_cell(arg, a) ? cli_usage_error(cmd, "--cell must be OP:CELL_ID, not '%s'", arg) : -1;
    case OPT_FROM:
        a->has_from = 1;
        return cli_time_option(cmd, "from", arg, &a->q.from);
    case OPT_TO:
        a->has_to = 1;
        return cli_time_option(cmd, "to", arg, &a->q.to);
    case OPT_STAY: {
        char *end = NULL;
        errno = 0;
        stay = strtoll(arg, &end, 10);
        if (errno || end == arg || *end || stay < 0)
            return cli_usage_error(cmd, "--min-stay must be seconds, 0 or more, not '%s'", arg);
        a->q.min_stay_s = stay;
        return -1;
    }
    case OPT_AREA:
        if (strcmp(cmd, "run") != 0)
            return cli_usage_error(cmd, "unknown option");
        a->label = arg;
        return -1;
    default:
        return cli_usage_error(cmd, "unknown option");
    }
}

/* The rules between options; -1 when the query can run. */
static int check_args(area_args *a, const char *format)
{
    const char *cmd = a->cmd;
    if (strcmp(cmd, "run") == 0 && a->output_options)
        return cli_usage_error(cmd, "--reveal, --format and --work are options of `area`, not of run --area");
    int rc = cli_format_option(cmd, format, &a->format);
    if (rc >= 0)
        return rc;
    int disk = a->has_lat || a->has_lon || a->has_radius;
    if (a->q.op && disk)
        return cli_usage_error(cmd, "give --cell or --lat/--lon/--radius, not both");
    if (!a->q.op && !(a->has_lat && a->has_lon && a->has_radius))
        return cli_usage_error(cmd, "expected --lat, --lon and --radius (or --cell)");
    if (!a->q.op && (a->q.lat < -90 || a->q.lat > 90 || a->q.lon < -180 || a->q.lon > 180))
        return cli_usage_error(cmd, "the centre must be within lat -90..90, lon -180..180");
    if (!a->has_from || !a->has_to)
        return cli_usage_error(cmd, "expected --from and --to");
    if (a->q.to <= a->q.from)
        return cli_usage_error(cmd, "--to must be after --from");
    ct_err err;
    if (ct_params_check(&a->p, &err) != CT_OK)
        return cli_usage_error(cmd, "%s", err.msg);
    return -1;
}

/* Parses options into *a; returns -1 when the query can run, else an exit status. */
static int parse_area_args(int argc, char **argv, const char *cmd, area_args *a)
{
    static const struct option opts[] = {{"lat", required_argument, NULL, 1},
                                         {"lon", required_argument, NULL, 2},
                                         {"radius", required_argument, NULL, 3},
                                         {"cell", required_argument, NULL, 4},
                                         {"from", required_argument, NULL, 5},
                                         {"to", required_argument, NULL, 6},
                                         {"min-stay", required_argument, NULL, 7},
                                         {"area", required_argument, NULL, 8},
                                         {"max-presence", required_argument, NULL, CLI_OPT_MAX_PRESENCE},
                                         {"reveal", no_argument, NULL, 'r'},
                                         {"force", no_argument, NULL, 'F'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"work", no_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    ct_params_default(&a->p);
    a->q.min_stay_s = 900;
    const char *format = "table";
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            area_help();
            return EXIT_OK;
        } else if (c == 'f') {
            format = optarg;
            a->output_options = 1;
        } else if (c == 'w') {
            a->work = 1;
            a->output_options = 1;
        } else if (c == 'r') {
            a->q.reveal = 1;
            a->output_options = 1;
        } else if (c == 'F') {
            a->q.force = 1;
        } else if (c == CLI_OPT_MAX_PRESENCE) {
            if (cli_param_option(c, optarg, &a->p) < 0)
                return cli_usage_error(cmd, "%s, not '%s'", cli_param_rule(c), optarg);
        } else if (c == '?') {
            return cli_usage_error(cmd, "unknown option");
        } else if ((rc = parse_option(c, optarg, a)) >= 0) {
            return rc;
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return check_args(a, format);
}

/* ---- output ----------------------------------------------------------------------- */

typedef struct presence_text {
    char first[32], last[32], radius[32], inside[32];
} presence_text;

static presence_text texts_of(const ct_presence *p)
{
    presence_text t;
    ct_format_time(p->first_seen, t.first);
    ct_format_time(p->last_seen, t.last);
    ct_format_radius(p->min_radius_m, t.radius);
    ct_format_seconds(p->expected_inside_s, t.inside);
    return t;
}

static void print_csv(const ct_presences *ps)
{
    fputs("msisdn,present_s,first_seen,last_seen,min_radius_m,expected_inside_s\n", stdout);
    for (size_t i = 0; i < ps->n; i++) {
        const ct_presence *p = &ps->items[i];
        presence_text t = texts_of(p);
        printf("%s,%lld,%s,%s,%s,%s\n", p->msisdn, (long long)p->present_s, t.first, t.last,
               t.radius, t.inside);
    }
}

static void print_json(const ct_presences *ps)
{
    fputs("[", stdout);
    for (size_t i = 0; i < ps->n; i++) {
        const ct_presence *p = &ps->items[i];
        presence_text t = texts_of(p);
        printf("%s{\"msisdn\":\"%s\",\"present_s\":%lld,\"first_seen\":\"%s\",\"last_seen\":\"%s\","
               "\"min_radius_m\":%s,\"expected_inside_s\":%s}",
               i ? ",\n " : "", p->msisdn, (long long)p->present_s, t.first, t.last, t.radius,
               t.inside);
    }
    fputs("]\n", stdout);
}

static void print_table(const area_args *a, const ct_presences *ps)
{
    char from[32], to[32], radius[32];
    ct_format_time(a->q.from, from);
    ct_format_time(a->q.to, to);
    ct_format_radius(ps->radius_m, radius);
    if (a->q.op)
        printf("Cell %s:%s ", a->q.op, a->q.cell_id);
    printf("(%.7f, %.7f), radius %s m, %s to %s: %zu present for at least %lld s\n", ps->lat,
           ps->lon, radius, from, to, ps->n, (long long)a->q.min_stay_s);
    if (!ps->n)
        return;
    printf("%-16s %10s  %-20s  %-20s  %13s  %10s\n", "MSISDN", "PRESENT", "FIRST SEEN",
           "LAST SEEN", "PRECISION (m)", "INSIDE (s)");
    for (size_t i = 0; i < ps->n; i++) {
        const ct_presence *p = &ps->items[i];
        presence_text t = texts_of(p);
        char dur[32];
        long long s = p->present_s;
        snprintf(dur, sizeof dur, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
        printf("%-16s %10s  %-20s  %-20s  %13s  %10s\n", p->msisdn, dur, t.first, t.last,
               t.radius, t.inside);
    }
}

int cmd_area(cli_ctx *ctx, int argc, char **argv)
{
    area_args a;
    int rc = parse_area_args(argc, argv, "area", &a);
    if (rc >= 0)
        return rc;
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ct_presences *ps = NULL;
    ct_err err;
    ct_code code = ct_area_query(db, &a.q, &a.p, &ps, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ct_close(db);
    if ((rc = cli_query_status("area", code, &err)) >= 0)
        return rc;
    if (a.format == CLI_CSV)
        print_csv(ps);
    else if (a.format == CLI_JSON)
        print_json(ps);
    else
        print_table(&a, ps);
    if (a.work)
        fprintf(stderr, "work: area: %llu candidates, %llu overlaps, %zu present, %.2f ms\n",
                (unsigned long long)ps->candidates, (unsigned long long)ps->overlaps, ps->n,
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    ct_presences_free(ps);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* ---- run --area ------------------------------------------------------------------------ */

int cmd_run_area(cli_ctx *ctx, int argc, char **argv)
{
    area_args a;
    int rc = parse_area_args(argc, argv, "run", &a);
    if (rc >= 0)
        return rc;
    if (!a.label)
        return cli_usage_error("run", "--area needs a LABEL");
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_area_run_summary s;
    ct_err err;
    ct_code code = ct_run_area(db, a.label, &a.q, &a.p, &s, &err);
    ct_close(db);
    if ((rc = cli_query_status("run", code, &err)) >= 0)
        return rc;
    printf("area %s: %llu present, %llu test invitations queued, %llu already covered by a "
           "message, %llu registered cases\n",
           a.label, (unsigned long long)s.present, (unsigned long long)s.queued,
           (unsigned long long)s.already_covered, (unsigned long long)s.cases);
    return EXIT_OK;
}
