/*
 * main.c — `celltrace [--data DIR] [--quiet] [--reason TEXT] COMMAND ...`
 *
 * Parses the global options, finds the data directory (--data, then
 * $CELLTRACE_DATA, then CT_DEFAULT_DATA_DIR: ./celltrace-data, or what the
 * build set, /var/lib/celltrace in the Debian package) and hands the remaining
 * arguments to the command. The helpers every command shares are in
 * cli_common.c.
 */
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The build may name another (cmake -DCT_DEFAULT_DATA_DIR=/var/lib/celltrace). */
#ifndef CT_DEFAULT_DATA_DIR
#define CT_DEFAULT_DATA_DIR "./celltrace-data"
#endif

typedef struct command {
    const char *name;
    int (*run)(cli_ctx *ctx, int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"init", cmd_init, "create a data directory: keys, database, store"},
    {"cells", cmd_cells, "cells import --operator OP FILE: load a cell catalogue"},
    {"ingest", cmd_ingest, "ingest --operator OP FILE...: store location events"},
    {"cases", cmd_cases, "cases import FILE | add ... | list: the case registry"},
    {"trace", cmd_trace, "trace CASE_ID: the contacts of a case, best first"},
    {"area", cmd_area, "area --lat --lon --radius --from --to: who was in a place at a time"},
    {"hotspots", cmd_hotspots, "hotspots --from --to: places and hours where cases met"},
    {"geography", cmd_geography, "geography import FILE: shapes for the web page's map"},
    {"stats", cmd_stats, "what the store holds"},
    {"check", cmd_check, "verify the data directory: checksums, database, vault, audit"},
    {"audit", cmd_audit, "audit verify: the audit log's hash chain, first bad record"},
    {"purge", cmd_purge, "delete data past retention, or --all personal data"},
    {"compact", cmd_compact, "merge each day's delivery runs into one file"},
    {"upgrade", cmd_upgrade, "rewrite days stored in an older format in the current one"},
    {"keys", cmd_keys, "keys status | rotate | rewrap: where the keys are, new keys"},
    {"simulate", cmd_simulate, "generate a simulated city with ground truth"},
    {"run", cmd_run, "trace what changed, store contacts, queue their SMS"},
    {"notify", cmd_notify, "notify --once | --daemon: send SMS through Kannel"},
    {"outbox", cmd_outbox, "outbox list: every message and its state"},
    {"export", cmd_export, "export --region R: contacts for a regional headquarters"},
    {"report", cmd_report, "per region and day: cases, contacts, notified, delivered"},
    {"serve", cmd_serve, "serve --listen HOST:PORT: the HTTP API for regional headquarters"},
    {"users", cmd_users, "users add NAME --role R | list | revoke NAME: who may call the API"},
    {"appeals", cmd_appeals, "appeals file | list | decide: appeals against a contact"},
    {"oversight", cmd_oversight, "oversight [--week YYYY-Www]: weekly numbers, no personal data"},
    {"config", cmd_config, "config set KEY VALUE | get KEY | list: settings"},
    {"evaluate", cmd_evaluate, "evaluate --truth FILE: accuracy of the scored contacts"},
    {"risk", cmd_risk, "risk features | fit: calibrate the contact risk model"},
    {"demo", cmd_demo, "the whole job on a simulated city, scored against its truth"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: celltrace [--data DIR] [--quiet] [--reason TEXT] [--passphrase-fd N] COMMAND\n"
            "                 [options]\n"
            "\n"
            "Finds the contacts of confirmed cases in mobile operators' location data.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        fprintf(out, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out,
            "\n"
            "Global options:\n"
            "  --data DIR      data directory (default: $CELLTRACE_DATA, else " CT_DEFAULT_DATA_DIR ")\n"
            "  --quiet         no progress bars or chatter on stderr\n"
            "  --reason TEXT   why personal data is read (written to the audit log)\n"
            "  --passphrase-fd N  read the keys' passphrase from descriptor N (keys.provider\n"
            "                  = passphrase; else $keys.passphrase_env, else a prompt)\n"
            "  --help          this help; `celltrace COMMAND --help` for a command\n"
            "  --version       print the version\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error, 3 success with rejected rows.\n"
            "See man celltrace (docs/celltrace.1).\n");
}

/* Root must not work in a data directory another user owns (the Debian
 * package's /var/lib/celltrace is celltrace's): every file it made would
 * be root's, and that user's services could no longer read or replace it.
 * simulate and demo make their own folders; --help touches nothing. */
static int root_on_foreign_data(const command *cmd, const char *dir, int argc, char **argv)
{
    if (geteuid() != 0 || !strcmp(cmd->name, "simulate") || !strcmp(cmd->name, "demo"))
        return 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 0;
    struct stat st;
    if (stat(dir, &st) != 0 || st.st_uid == 0)
        return 0;
    const struct passwd *pw = getpwuid(st.st_uid);
    char uid[24];
    snprintf(uid, sizeof uid, "#%lu", (unsigned long)st.st_uid);
    const char *name = pw ? pw->pw_name : uid;
    fprintf(stderr,
            "celltrace: %s belongs to %s, not root: run celltrace as %s "
            "(runuser -u %s -- celltrace ...); files root made there would be root's, "
            "and %s's services could no longer use them\n",
            dir, name, name, name, name);
    return 1;
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"passphrase-fd", required_argument, NULL, 'p'},
                                         {"passphrase", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    cli_ctx ctx = {NULL, 0, 0, NULL, argv[0], -1, NULL, NULL};
    (void)ct_tune_process_memory();
    ct_set_notice(cli_print_notice, NULL);
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "+d:qhV", opts, NULL)) != -1) {
        switch (c) {
        case 'd': ctx.data_dir = optarg; break;
        case 'q': ctx.quiet = 1; break;
        case 'r': ctx.reason = optarg; break;
        case 'P':
            return cli_usage_error("", "a passphrase is never taken from the command line (ps "
                                       "and shell history show it): use --passphrase-fd N, the "
                                       "variable named by keys.passphrase_env or the prompt");
        case 'p':
            ctx.passphrase_fd = (int)strtol(optarg, &end, 10);
            if (*end || !*optarg || ctx.passphrase_fd < 0 || fcntl(ctx.passphrase_fd, F_GETFD) < 0)
                return cli_usage_error("", "--passphrase-fd needs an open file descriptor");
            break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': printf("celltrace %s\n", CT_VERSION); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const command *cmd = find_command(argv[optind]);
    if (!cmd)
        return cli_usage_error("", "unknown command '%s'", argv[optind]);
    if (!ctx.data_dir)
        ctx.data_dir = getenv("CELLTRACE_DATA");
    if (!ctx.data_dir || !*ctx.data_dir)
        ctx.data_dir = CT_DEFAULT_DATA_DIR;
    ctx.progress = !ctx.quiet && isatty(STDERR_FILENO);
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (root_on_foreign_data(cmd, ctx.data_dir, sub_argc, sub_argv))
        return EXIT_FAILURE;
    optind = 0; /* reset getopt for the command (GNU: 0 re-initialises) */
    int status = cmd->run(&ctx, sub_argc, sub_argv);
    cli_keys_wipe(&ctx);
    return status;
}
