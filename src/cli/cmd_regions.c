/*
 * cmd_regions.c — what people read after a run: `outbox list`, `export
 * --region R` for a regional headquarters, and the daily `report`.
 *
 * CSV follows RFC 4180 (fields quoted only when needed), JSON is an array
 * of objects with the same fields; times are SPEC time stamps. Every
 * command here is written to the audit log by the library.
 */
#include <getopt.h>
#include <string.h>

#include "celltrace_notify.h"
#include "cli.h"

typedef struct out_ctx {
    int json;
    size_t n;
} out_ctx;

static void csv_field(const char *s, int last)
{
    cli_csv_text(stdout, s);
    putchar(last ? '\n' : ',');
}

static const char *when(int64_t t, char *buf)
{
    if (!t)
        return "";
    ct_format_time(t, buf);
    return buf;
}

/* Writes one record: names and values as text; numeric[i] = no quotes in JSON. */
static void record(out_ctx *o, size_t n, const char *const *names, const char *const *vals,
                   const int *numeric)
{
    if (!o->json) {
        for (size_t i = 0; i < n; i++)
            csv_field(vals[i], i + 1 == n);
        return;
    }
    printf("%s{", o->n ? ",\n " : "");
    for (size_t i = 0; i < n; i++) {
        printf("%s\"%s\":", i ? "," : "", names[i]);
        if (numeric[i])
            fputs(vals[i], stdout);
        else if (!*vals[i] && (strstr(names[i], "_at") || !strcmp(names[i], "created")))
            fputs("null", stdout);
        else
            cli_json_text(stdout, vals[i]);
    }
    putchar('}');
    o->n++;
}

static void header(const out_ctx *o, size_t n, const char *const *names)
{
    if (o->json) {
        putchar('[');
        return;
    }
    for (size_t i = 0; i < n; i++)
        csv_field(names[i], i + 1 == n);
}

static void footer(const out_ctx *o)
{
    if (o->json)
        printf("]\n");
}

static int parse_format(const char *cmd, const char *f, out_ctx *o)
{
    if (!strcmp(f, "csv"))
        o->json = 0;
    else if (!strcmp(f, "json"))
        o->json = 1;
    else
        return cli_usage_error(cmd, "--format must be csv or json");
    return 0;
}

/* ---- outbox list ------------------------------------------------------------ */

/* What a listing command asked for (each uses its own fields). */
typedef struct listing_args {
    const char *state, *region, *day;
    int64_t since;
    ct_level min_level;
} listing_args;

typedef ct_code (*listing_query)(ct_db *db, const listing_args *a, out_ctx *o, ct_err *err);

/* Opens the data directory, writes the header, the rows `query` gives and
 * the footer: the common body of outbox list, export and report. */
static int run_listing(cli_ctx *ctx, out_ctx *o, size_t n_cols, const char *const *cols,
                       listing_query query, const listing_args *a)
{
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_err err;
    header(o, n_cols, cols);
    ct_code rc = query(db, a, o, &err);
    footer(o);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static const char *const OUTBOX_COLS[] = {"id", "key", "msisdn", "kind", "state", "attempts",
                                          "case_id", "region", "created", "sent_at", "done_at",
                                          "last_error", "text"};
static const int OUTBOX_NUM[] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};

static int outbox_row(void *ud, const ct_outbox_row *r)
{
    char id[24], att[16], c[32], s[32], d[32];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    snprintf(att, sizeof att, "%d", r->attempts);
    const char *vals[] = {id, r->key, r->msisdn, r->kind, r->state, att, r->case_id, r->region,
                          when(r->created, c), when(r->sent_at, s), when(r->done_at, d),
                          r->last_error, r->text};
    record(ud, 13, OUTBOX_COLS, vals, OUTBOX_NUM);
    return 0;
}

static ct_code query_outbox(ct_db *db, const listing_args *a, out_ctx *o, ct_err *err)
{
    return ct_outbox_list(db, a->state, outbox_row, o, err);
}

static int outbox_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] outbox list [--state S] "
           "[--format csv|json]\n\n"
           "Every queued message with its idempotency key, number, kind (new or extension:\n"
           "an order to self-isolate; test: an invitation to a test), state (queued, sent,\n"
           "delivered, failed, expired), attempts and text. Audited.\n");
    return EXIT_OK;
}

int cmd_outbox(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"state", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    out_ctx o = {0, 0};
    const char *state = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return outbox_help();
        if (c == 'f' && parse_format("outbox", optarg, &o))
            return EXIT_USAGE;
        if (c == 's')
            state = optarg;
        if (c == '?')
            return cli_usage_error("outbox", "unknown option");
    }
    if (argc - optind != 1 || strcmp(argv[optind], "list"))
        return cli_usage_error("outbox", "expected `outbox list`");
    listing_args a = {.state = state};
    return run_listing(ctx, &o, 13, OUTBOX_COLS, query_outbox, &a);
}

/* ---- export ------------------------------------------------------------------ */

/* The risk columns come last, so that readers of the first nine keep working. */
static const char *const EXPORT_COLS[] = {"msisdn", "case_id", "region", "exposure_s",
                                          "first_contact", "last_contact", "quarantine_end",
                                          "notification", "updated_at", "p_contact",
                                          "expected_near_s", "level"};
static const int EXPORT_NUM[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0};
#define EXPORT_N (sizeof EXPORT_COLS / sizeof *EXPORT_COLS)

static int export_row(void *ud, const ct_export_row *r)
{
    char e[24], f[32], l[32], q[32], u[32], p[32], near[32];
    snprintf(e, sizeof e, "%lld", (long long)r->exposure_s);
    ct_format_probability(r->p_contact, p);
    ct_format_seconds(r->expected_near_s, near);
    const char *vals[] = {r->msisdn, r->case_id, r->region, e, when(r->first_contact, f),
                          when(r->last_contact, l), when(r->quarantine_end, q), r->state,
                          when(r->updated, u), p, near, ct_level_name(r->level)};
    record(ud, EXPORT_N, EXPORT_COLS, vals, EXPORT_NUM);
    return 0;
}

static ct_code query_export(ct_db *db, const listing_args *a, out_ctx *o, ct_err *err)
{
    return ct_export(db, a->region, a->since, a->min_level, export_row, o, err);
}

static int export_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] export --region R [--since TIME]\n"
           "                 [--level test|quarantine] [--format csv|json]\n\n"
           "The contacts whose home region is R: number, case, exposure, last contact,\n"
           "quarantine end and the state of their notification, by last contact; then\n"
           "p_contact, expected_near_s and level (quarantine, test or none) as the last\n"
           "`run` scored them. Contacts at level none get no SMS but are listed here.\n"
           "--since keeps contacts stored or changed at or after TIME; --level keeps\n"
           "contacts at that level or above (the other numbers are not read). Audited.\n\n"
           "CSV columns: msisdn,case_id,region,exposure_s,first_contact,last_contact,\n"
           "  quarantine_end,notification,updated_at,p_contact,expected_near_s,level\n");
    return EXIT_OK;
}

int cmd_export(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"region", required_argument, NULL, 'r'},
                                         {"since", required_argument, NULL, 's'},
                                         {"level", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    out_ctx o = {0, 0};
    const char *region = NULL;
    int64_t since = 0;
    ct_level level = CT_LEVEL_NONE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return export_help();
        if (c == 'f' && parse_format("export", optarg, &o))
            return EXIT_USAGE;
        if (c == 'r')
            region = optarg;
        if (c == 's' && ct_parse_time(optarg, 1, &since) != 0)
            return cli_usage_error("export", "bad --since '%s'", optarg);
        if (c == 'l' && (ct_level_parse(optarg, &level) != 0 || level == CT_LEVEL_NONE))
            return cli_usage_error("export", "--level must be test or quarantine");
        if (c == '?')
            return cli_usage_error("export", "unknown option");
    }
    if (!region || !*region || optind != argc)
        return cli_usage_error("export", "expected --region R and no other argument");
    listing_args a = {.region = region, .since = since, .min_level = level};
    return run_listing(ctx, &o, EXPORT_N, EXPORT_COLS, query_export, &a);
}

/* ---- report -------------------------------------------------------------------- */

/* The appeals' columns come last, so that readers of the first eleven keep working. */
static const char *const REPORT_COLS[] = {
    "day",  "region", "cases",       "contacts", "notified",        "delivered",      "failed",
    "quarantine", "test", "none", "invitations", "appeals", "appeals_pending", "appeals_overdue"};
static const int REPORT_NUM[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
#define REPORT_N (sizeof REPORT_COLS / sizeof *REPORT_COLS)

typedef struct report_out {
    out_ctx *o;
    uint64_t overdue;
} report_out;

static int report_row(void *ud, const ct_report_row *r)
{
    report_out *x = ud;
    char n[REPORT_N - 2][24];
    const uint64_t v[REPORT_N - 2] = {r->cases,      r->contacts,        r->notified,
                                      r->delivered,  r->failed,          r->quarantine,
                                      r->test,       r->none,            r->invitations,
                                      r->appeals,    r->appeals_pending, r->appeals_overdue};
    const char *vals[REPORT_N] = {r->day, r->region};
    for (size_t i = 0; i < REPORT_N - 2; i++) {
        snprintf(n[i], sizeof n[i], "%llu", (unsigned long long)v[i]);
        vals[i + 2] = n[i];
    }
    x->overdue += r->appeals_overdue;
    record(x->o, REPORT_N, REPORT_COLS, vals, REPORT_NUM);
    return 0;
}

static ct_code query_report(ct_db *db, const listing_args *a, out_ctx *o, ct_err *err)
{
    report_out x = {o, 0};
    ct_code rc = ct_report(db, a->day, report_row, &x, err);
    if (!rc && x.overdue) /* the flag: on stderr, so the rows stay machine-readable */
        cli_error("%llu appeal%s past the deadline (column appeals_overdue): "
                  "see `celltrace appeals list`", (unsigned long long)x.overdue,
                  x.overdue == 1 ? "" : "s");
    return rc;
}

static int report_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] report [--date YYYY-MM-DD] "
           "[--format csv|json]\n\n"
           "Per region and local day on which contacts were found: cases, contacts,\n"
           "contacts notified (SMS accepted by the gateway), delivered, failed; then the\n"
           "contacts by level (quarantine, test, none: each at its highest level, so the\n"
           "three add up to contacts) and invitations (contacts whose latest message is\n"
           "an invitation to a test); then the appeals filed that day about the region's\n"
           "contacts, those still pending, and those overdue (decided after their\n"
           "deadline, or pending past it; any overdue appeal is also named on stderr).\n"
           "The numbers are kept up to date by every write, so the report is quick at\n"
           "any size. Audited.\n\n"
           "CSV columns: day,region,cases,contacts,notified,delivered,failed,quarantine,\n"
           "  test,none,invitations,appeals,appeals_pending,appeals_overdue\n");
    return EXIT_OK;
}

int cmd_report(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"date", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    out_ctx o = {0, 0};
    const char *day = NULL;
    int c;
    int64_t t;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return report_help();
        if (c == 'f' && parse_format("report", optarg, &o))
            return EXIT_USAGE;
        if (c == 'd') {
            if (strlen(optarg) != 10 || ct_parse_time(optarg, 1, &t) != 0)
                return cli_usage_error("report", "--date must be YYYY-MM-DD");
            day = optarg;
        }
        if (c == '?')
            return cli_usage_error("report", "unknown option");
    }
    if (optind != argc)
        return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
    listing_args a = {.day = day};
    return run_listing(ctx, &o, REPORT_N, REPORT_COLS, query_report, &a);
}
