/*
 * cmd_appeals.c — `celltrace appeals file | list | decide`: appeals against
 * a contact from the command line, as the hotline and the regional
 * headquarters make them through the API (library: notify/appeals.c;
 * docs/API.md). The actor is the operating-system user.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "celltrace_notify.h"
#include "cli.h"

static void appeals_help(void)
{
    printf("Usage: celltrace [--data DIR] appeals file --msisdn NUMBER [--case ID] --reason TEXT\n"
           "       celltrace [--data DIR] appeals list [--region R] [--state S] [--format table|json]\n"
           "       celltrace [--data DIR] appeals decide ID (--uphold | --reject) [--note TEXT]\n\n"
           "file    an appeal against the contact of NUMBER with case ID (default: the case\n"
           "        of the latest order sent to it); due appeals.deadline_hours later\n"
           "list    appeals, oldest first, with their evidence; S: pending, upheld,\n"
           "        rejected. Shows numbers: audited\n"
           "decide  --uphold lifts the order: queued messages about that contact are\n"
           "        withdrawn, an SMS says the order is lifted if one went out, and later\n"
           "        runs do not notify that contact again up to its last contact\n");
}

static const char *os_login(char *buf, size_t cap)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, cap, "%s", pw ? pw->pw_name : "unknown");
    return buf;
}

static void when(int64_t t, char buf[32])
{
    if (t)
        ct_format_time(t, buf);
    else
        snprintf(buf, 32, "-");
}

typedef struct list_ctx {
    int json;
    size_t n;
} list_ctx;

static int print_appeal(void *ud, const ct_appeal *a)
{
    list_ctx *l = ud;
    char filed[32], deadline[32], decided[32], last[32];
    when(a->filed_at, filed);
    when(a->deadline, deadline);
    when(a->decided_at, decided);
    when(a->last_contact, last);
    if (l->json) {
        printf("%s{\"id\":%lld,\"case_id\":", l->n ? ",\n " : "", (long long)a->id);
        cli_json_text(stdout, a->case_id);
        printf(",\"msisdn\":\"%s\",\"region\":", a->msisdn);
        cli_json_text(stdout, a->region);
        printf(",\"state\":\"%s\",\"overdue\":%s,\"filed_at\":\"%s\",\"deadline\":\"%s\","
               "\"decided_at\":",
               a->state, a->overdue ? "true" : "false", filed, deadline);
        printf(a->decided_at ? "\"%s\"" : "null", decided);
        printf(",\"reason\":");
        cli_json_text(stdout, a->reason);
        printf(",\"note\":");
        cli_json_text(stdout, a->note);
        printf(",\"level\":\"%s\",\"p_contact\":%.4g,\"exposure_s\":%lld,\"last_contact\":\"%s\"}",
               a->level, a->p_contact, (long long)a->exposure_s, last);
    } else {
        if (l->n == 0)
            printf("%-5s %-10s %-15s %-8s %-8s %-20s %-8s %s\n", "ID", "CASE", "MSISDN", "REGION",
                   "STATE", "DEADLINE", "OVERDUE", "REASON");
        printf("%-5lld %-10s %-15s %-8s %-8s %-20s %-8s %s\n", (long long)a->id, a->case_id,
               a->msisdn, a->region, a->state, deadline, a->overdue ? "yes" : "no", a->reason);
    }
    l->n++;
    return 0;
}

int cmd_appeals(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"msisdn", required_argument, NULL, 'm'},
                                         {"case", required_argument, NULL, 'c'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"region", required_argument, NULL, 'g'},
                                         {"state", required_argument, NULL, 's'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"uphold", no_argument, NULL, 'U'},
                                         {"reject", no_argument, NULL, 'R'},
                                         {"note", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *msisdn = NULL, *case_id = NULL, *reason = NULL, *region = NULL, *state = NULL,
               *note = NULL;
    int uphold = 0, reject = 0;
    cli_format format = CLI_TABLE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': msisdn = optarg; break;
        case 'c': case_id = optarg; break;
        case 'r': reason = optarg; break;
        case 'g': region = optarg; break;
        case 's': state = optarg; break;
        case 'U': uphold = 1; break;
        case 'R': reject = 1; break;
        case 'n': note = optarg; break;
        case 'f': {
            int st = cli_format_table_json("appeals", optarg, &format);
            if (st >= 0)
                return st;
            break;
        }
        case 'h': appeals_help(); return EXIT_OK;
        default: return cli_usage_error("appeals", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("appeals", "give file, list or decide");
    const char *sub = argv[optind++];
    int file = !strcmp(sub, "file"), list = !strcmp(sub, "list"), decide = !strcmp(sub, "decide");
    if (!file && !list && !decide)
        return cli_usage_error("appeals", "unknown subcommand '%s'", sub);
    if (file && (!msisdn || !reason || optind != argc))
        return cli_usage_error("appeals", "file needs --msisdn and --reason");
    if (list && optind != argc)
        return cli_usage_error("appeals", "list takes no arguments");
    if (list && state && strcmp(state, "pending") && strcmp(state, "upheld") &&
        strcmp(state, "rejected"))
        return cli_usage_error("appeals", "--state must be pending, upheld or rejected");
    char *end = NULL;
    long long id = decide && optind == argc - 1 ? strtoll(argv[optind], &end, 10) : 0;
    if (decide && (id <= 0 || *end || uphold == reject))
        return cli_usage_error("appeals", "decide takes one appeal ID and --uphold or --reject");
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    char by[128];
    os_login(by, sizeof by);
    ct_appeal a;
    ct_err err;
    ct_code rc;
    if (file) {
        rc = ct_appeal_file(db, by, msisdn, case_id, reason, &a, &err);
        if (!rc)
            printf("appeal %lld filed against case %s (region %s), due %s\n", (long long)a.id,
                   a.case_id, a.region, (ct_format_time(a.deadline, by), by));
    } else if (decide) {
        rc = ct_appeal_decide(db, by, id, "", uphold, note, &a, &err);
        if (!rc)
            printf("appeal %lld %s%s\n", id, a.state, a.overdue ? " (after its deadline)" : "");
    } else {
        list_ctx l = {format == CLI_JSON, 0};
        if (l.json)
            printf("[");
        rc = ct_appeals_list(db, region, state, print_appeal, &l, &err);
        if (l.json)
            printf("]\n");
    }
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return rc == CT_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
}
