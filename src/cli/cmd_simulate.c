/*
 * cmd_simulate.c — `celltrace simulate`: a synthetic city with ground truth.
 *
 * Parses options into ct_sim_params (defaults from ct_sim_params_default),
 * runs ct_simulate with a progress bar when stderr is a terminal, and
 * prints a short summary (what was written, how fast). It needs no data
 * directory: the output goes to --out. Exit: 0 done, 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celltrace.h"
#include "celltrace_sim.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("NAME\n"
          "    celltrace simulate - write a synthetic city's operator feeds, cases and truth\n"
          "\n"
          "SYNOPSIS\n"
          "    celltrace simulate --out DIR [--subscribers N] [--days D] [--seed S] [options]\n"
          "\n"
          "DESCRIPTION\n"
          "    Simulates a Moscow-like city: households, offices, schools, shops, cafes\n"
          "    and a metro; each operator's towers and sectors; the network events of\n"
          "    every phone. Writes, in the formats of SPEC 3:\n"
          "      DIR/<operator>/cells.csv          cell catalogue (SPEC 3.1)\n"
          "      DIR/<operator>/events/*.csv[.gz|.zst]  event feed files (SPEC 3.2)\n"
          "      DIR/cases.csv                     cases (SPEC 3.3)\n"
          "      DIR/truth.csv                     case_id,msisdn,minutes: true contacts\n"
          "      DIR/venues.csv                    offices, classes, shops, cafes: a disk each\n"
          "      DIR/visits.csv                    venue_id,msisdn,start,end: every cafe visit\n"
          "      DIR/manifest.json                 parameters and counts\n"
          "    truth.csv lists everyone who was really within --distance metres of a case\n"
          "    for at least --min-exposure seconds (sampled each minute) during the case's\n"
          "    infectious window. The same options give the same bytes.\n"
          "    See docs/SIMULATOR.md.\n"
          "\n"
          "OPTIONS\n"
          "    -o, --out DIR            output directory (created; must be empty)\n"
          "    -n, --subscribers N      people with a phone (default 10000)\n"
          "    -d, --days D             days to simulate (default 14)\n"
          "    -s, --seed S             random seed (default 1)\n"
          "        --start DATE         first day, YYYY-MM-DD (default 2020-03-30)\n"
          "        --area KM2           city area in km2 (default: subscribers / density)\n"
          "        --density N          residents per km2 (default 5000)\n"
          "        --operators K        operators, 1-8 (default 3: 250-01, 250-02, 250-99)\n"
          "        --cases K            infected subscribers (default 5)\n"
          "        --office-cluster K   the first K cases work in one office (default 0)\n"
          "        --isolated-share X   share of cases with an isolation date (default 0.6)\n"
          "        --precise-share X    share of phones reporting GPS positions (default 0.2)\n"
          "        --dirty-rate X       bad rows per good row, 0 disables (default 0.001)\n"
          "        --duplicate-rate X   duplicated rows per good row (default 0.002)\n"
          "        --late-rate X        rows delivered a day late (default 0.01)\n"
          "        --roaming-rate X     person-days served by another operator (default 0.01)\n"
          "        --compress KIND      event files: none, gz or zst (default none)\n"
          "        --distance M         truth: contact distance in metres (default 2)\n"
          "        --min-exposure S     truth: minimum exposure in seconds (default 900)\n"
          "        --infectious-before S  (default 172800)\n"
          "        --infectious-after S   (default 864000)\n"
          "    -h, --help               this help\n"
          "\n"
          "EXIT STATUS\n"
          "    0 success, 1 failure, 2 usage error.\n",
          f);
}

enum {
    O_START = 256, O_AREA, O_DENSITY, O_OPERATORS, O_CASES, O_ISOLATED, O_PRECISE, O_DIRTY,
    O_DUP, O_LATE, O_ROAMING, O_COMPRESS, O_DISTANCE, O_MINEXP, O_BEFORE, O_AFTER, O_CLUSTER
};

static const struct option OPTIONS[] = {
    {"out", required_argument, NULL, 'o'},
    {"subscribers", required_argument, NULL, 'n'},
    {"days", required_argument, NULL, 'd'},
    {"seed", required_argument, NULL, 's'},
    {"start", required_argument, NULL, O_START},
    {"area", required_argument, NULL, O_AREA},
    {"density", required_argument, NULL, O_DENSITY},
    {"operators", required_argument, NULL, O_OPERATORS},
    {"cases", required_argument, NULL, O_CASES},
    {"office-cluster", required_argument, NULL, O_CLUSTER},
    {"isolated-share", required_argument, NULL, O_ISOLATED},
    {"precise-share", required_argument, NULL, O_PRECISE},
    {"dirty-rate", required_argument, NULL, O_DIRTY},
    {"duplicate-rate", required_argument, NULL, O_DUP},
    {"late-rate", required_argument, NULL, O_LATE},
    {"roaming-rate", required_argument, NULL, O_ROAMING},
    {"compress", required_argument, NULL, O_COMPRESS},
    {"distance", required_argument, NULL, O_DISTANCE},
    {"min-exposure", required_argument, NULL, O_MINEXP},
    {"infectious-before", required_argument, NULL, O_BEFORE},
    {"infectious-after", required_argument, NULL, O_AFTER},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_compress(const char *s, ct_sim_compress *c)
{
    if (!strcmp(s, "none"))
        *c = CT_SIM_COMPRESS_NONE;
    else if (!strcmp(s, "gz") || !strcmp(s, "gzip"))
        *c = CT_SIM_COMPRESS_GZ;
    else if (!strcmp(s, "zst") || !strcmp(s, "zstd"))
        *c = CT_SIM_COMPRESS_ZST;
    else
        return -1;
    return 0;
}

/* Applies one numeric option; returns -1 when the text is not a number. */
static int set_number(ct_sim_params *p, int opt, const char *arg)
{
    uint64_t u = 0;
    double x = 0;
    int integer = opt == 'n' || opt == 'd' || opt == 's' || opt == O_OPERATORS ||
                  opt == O_CASES || opt == O_CLUSTER || opt == O_MINEXP || opt == O_BEFORE || opt == O_AFTER;
    if (integer ? parse_u64(arg, &u) : parse_num(arg, &x))
        return -1;
    if (integer && u > (uint64_t)INT64_MAX / 2)
        return -1;
    switch (opt) {
    case 'n': p->subscribers = u; break;
    case 'd': p->days = u > 100000 ? 100000 : (unsigned)u; break;
    case 's': p->seed = u; break;
    case O_OPERATORS: p->operators = u > 1000 ? 1000 : (unsigned)u; break;
    case O_CASES: p->cases = u > 10000000 ? 10000000 : (unsigned)u; break;
    case O_CLUSTER: p->office_cluster = u > 10000000 ? 10000000 : (unsigned)u; break;
    case O_MINEXP: p->min_exposure_s = (int64_t)u; break;
    case O_BEFORE: p->infectious_before_s = (int64_t)u; break;
    case O_AFTER: p->infectious_after_s = (int64_t)u; break;
    case O_AREA: p->area_km2 = x; break;
    case O_DENSITY: p->density = x; break;
    case O_ISOLATED: p->isolated_share = x; break;
    case O_PRECISE: p->precise_share = x; break;
    case O_DIRTY: p->dirty_rate = x; break;
    case O_DUP: p->duplicate_rate = x; break;
    case O_LATE: p->late_rate = x; break;
    case O_ROAMING: p->roaming_rate = x; break;
    case O_DISTANCE: p->contact_distance_m = x; break;
    default: return -1;
    }
    return 0;
}

static int parse_start(const char *arg, int64_t *out)
{
    int64_t t;
    if (strlen(arg) != 10 || ct_parse_time(arg, 1, &t) != 0 || t % 86400)
        return -1;
    *out = t;
    return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(ct_sim_params *p, int argc, char **argv)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:n:d:s:h", OPTIONS, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'o':
            p->out_dir = optarg;
            break;
        case O_START:
            if (parse_start(optarg, &p->start))
                return cli_usage_error("simulate", "--start wants a date YYYY-MM-DD, not '%s'",
                                       optarg);
            break;
        case O_COMPRESS:
            if (parse_compress(optarg, &p->compress))
                return cli_usage_error("simulate", "--compress wants none, gz or zst");
            break;
        case ':':
            return cli_usage_error("simulate", "option %s needs a value", argv[optind - 1]);
        case '?':
            return cli_usage_error("simulate", "unknown option %s", argv[optind - 1]);
        default:
            if (set_number(p, c, optarg))
                return cli_usage_error("simulate", "option %s: '%s' is not a valid number",
                                       argv[optind - 1], optarg);
            break;
        }
    }
    if (optind < argc)
        return cli_usage_error("simulate", "unexpected argument '%s'", argv[optind]);
    if (!p->out_dir)
        return cli_usage_error("simulate", "--out DIR is required");
    return -1;
}

static void progress_days(void *ud, uint64_t done, uint64_t total)
{
    cli_progress(ud, done, total);
}

static void summary(const ct_sim_params *p, const ct_sim_result *r)
{
    double ev_s = r->seconds > 0 ? (double)r->events / r->seconds : 0;
    printf("simulated %llu subscribers, %u days, seed %llu -> %s\n",
           (unsigned long long)p->subscribers, p->days, (unsigned long long)p->seed, p->out_dir);
    for (unsigned op = 0; op < r->operators; op++)
        printf("  %s: %llu cells, %llu events (%llu precise), %llu duplicates, %llu bad rows, %llu files\n",
               r->op[op].id, (unsigned long long)r->op[op].cells,
               (unsigned long long)r->op[op].events, (unsigned long long)r->op[op].point_events,
               (unsigned long long)r->op[op].duplicates,
               (unsigned long long)(r->op[op].bad[0] + r->op[op].bad[1] + r->op[op].bad[2] +
                                    r->op[op].bad[3] + r->op[op].bad[4]),
               (unsigned long long)r->op[op].files);
    printf("  %.1f events per subscriber per day; %llu cases, %llu true contacts\n",
           (double)r->events / (double)p->subscribers / p->days, (unsigned long long)r->cases,
           (unsigned long long)r->truth_pairs);
    printf("  %.1f s, %.0f events/s, %.1f MB of event files\n", r->seconds, ev_s,
           (double)r->bytes / 1e6);
}

int cmd_simulate(cli_ctx *ctx, int argc, char **argv)
{
    ct_sim_params p;
    ct_sim_params_default(&p);
    int rc = parse_args(&p, argc, argv);
    if (rc >= 0)
        return rc;
    ct_err err;
    memset(&err, 0, sizeof err);
    if (ct_sim_params_check(&p, &err) == CT_EINVAL)
        return cli_usage_error("simulate", "%s", err.msg);
    ct_sim_result res;
    ct_code code = ct_simulate(&p, ctx->progress ? progress_days : NULL, (void *)"days", &res,
                               &err);
    if (code != CT_OK) {
        cli_error("simulate: %s", err.msg);
        return EXIT_FAIL;
    }
    if (!ctx->quiet)
        summary(&p, &res);
    return EXIT_OK;
}
