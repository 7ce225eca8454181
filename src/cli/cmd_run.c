/*
 * cmd_run.c — `celltrace run`: trace what changed, store the contacts and
 * queue their notifications (one transaction; see docs/NOTIFY.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "celltrace_notify.h"
#include "cli.h"

static void run_help(void)
{
    printf("Usage: celltrace [--data DIR] [--reason TEXT] run [options]\n"
           "       celltrace [--data DIR] [--reason TEXT] run --area LABEL ... (below)\n\n"
           "Traces every case that is new or whose infectious window received data\n"
           "since its last run, scores every contact (docs/RISK.md: p_contact and a\n"
           "level from risk.test and risk.quarantine, see `celltrace config list`),\n"
           "stores the contacts (with home region, quarantine end, p_contact and\n"
           "level) and queues their SMS in the same transaction: an order to\n"
           "self-isolate for level quarantine, an invitation to a test for level test,\n"
           "nothing for level none (`export --region R` lists them all). Running it\n"
           "again queues nothing new; a change of a threshold or of the model\n"
           "re-traces and re-levels every case, and messages already queued stay.\n"
           "`celltrace notify` sends what was queued.\n\n"
           "       celltrace [--data DIR] [--reason TEXT] run --area LABEL (--lat LAT --lon LON\n"
           "                 --radius M | --cell OP:CELL_ID) --from TIME --to TIME [--min-stay S]\n"
           "Queues an invitation to a test, with its own text, to everyone `celltrace area`\n"
           "finds present there (docs/AREA.md), unless a message of any kind already covers\n"
           "the last second they were seen: contacts already notified get nothing new.\n"
           "LABEL names the area in the outbox (case_id area:LABEL); running it again\n"
           "queues nothing. --force as for `area`.\n\n"
           "Options (SPEC section 4; a change re-traces every case):\n" CLI_PARAM_HELP "\n"
           "Prints: N of M cases traced, contacts, notifications (quarantine orders),\n"
           "extensions and test invitations queued, and the contacts by level.\n\n"
           "Exit status: 0 success, 1 failure (nothing stored or queued), 2 usage error.\n");
}

void cli_print_run_summary(const ct_run_summary *s)
{
    printf("%llu of %llu cases traced, %llu contacts, %llu notifications queued, "
           "%llu extensions queued, %llu test invitations queued; "
           "levels: %llu quarantine, %llu test, %llu none\n",
           (unsigned long long)s->cases_traced, (unsigned long long)s->cases_total,
           (unsigned long long)s->contacts, (unsigned long long)s->queued,
           (unsigned long long)s->extensions, (unsigned long long)s->invitations,
           (unsigned long long)s->level_quarantine, (unsigned long long)s->level_test,
           (unsigned long long)s->level_none);
}

int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
    int help = 0, area = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        area |= strcmp(argv[i], "--area") == 0 || strncmp(argv[i], "--area=", 7) == 0;
    }
    if (help) {
        run_help();
        return EXIT_OK;
    }
    if (area)
        return cmd_run_area(ctx, argc, argv); /* cmd_area.c */
    static const struct option opts[] = {CLI_PARAM_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_params p;
    ct_params_default(&p);
    int c, got;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            run_help();
            return EXIT_OK;
        }
        if ((got = cli_param_option(c, optarg, &p)) < 0)
            return cli_usage_error("run", "%s, not \'%s\'", cli_param_rule(c), optarg);
        if (got == 0)
            return cli_usage_error("run", "unknown option");
    }
    if (optind != argc)
        return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    ct_err err;
    if (ct_params_check(&p, &err) != CT_OK)
        return cli_usage_error("run", "%s", err.msg);
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_run_summary s;
    ct_code rc = ct_run(db, &p, &s, &err);
    ct_close(db);
    if (rc != CT_OK) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cli_print_run_summary(&s);
    return EXIT_OK;
}
