/*
 * cmd_serve.c — `celltrace serve`, the HTTP API for the regional
 * headquarters, and `celltrace users`, who may call it (docs/API.md;
 * library: src/lib/api/).
 *
 * serve runs until SIGTERM or SIGINT, then lets the requests in flight
 * finish. It prints "listening on HOST:PORT" on stderr once it accepts
 * connections (with --listen ...:0, the port it got), so scripts can wait
 * for it.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "celltrace_api.h"
#include "cli.h"

static volatile sig_atomic_t stop_serving;

static void on_signal(int sig)
{
    (void)sig;
    stop_serving = 1;
}

static void serve_help(void)
{
    printf("Usage: celltrace [--data DIR] serve [--listen HOST:PORT] [options]\n\n"
           "Serves the HTTP API of docs/API.md: cases, contacts and their evidence, the\n"
           "report and the audit log, for users made with `celltrace users add`. Every\n"
           "request but /healthz and /metrics needs `Authorization: Bearer TOKEN`.\n"
           "Stops on SIGTERM or SIGINT after the requests in flight.\n\n"
           "  --listen HOST:PORT   address (default 127.0.0.1:8080; port 0 = any free)\n"
           "  --tls-cert FILE      PEM certificate, with --tls-key: HTTPS\n"
           "  --tls-key FILE       PEM private key\n"
           "  --threads N          worker threads (default 4)\n"
           "  --body-max BYTES     largest request body (default 65536; more: 413)\n"
           "  --rate N             requests per second per user (default 50; more: 429)\n"
           "  --burst N            requests a user may make at once (default 100)\n"
           "  --per-ip N           open connections from one address (default 128, of 512 in\n"
           "                       all; more are closed at once; 512 behind a proxy)\n");
}

static void on_ready(void *ud, unsigned port)
{
    const char *listen = ud;
    const char *colon = strrchr(listen, ':');
    fprintf(stderr, "celltrace: listening on %.*s:%u\n", (int)(colon - listen), listen, port);
}

static int positive(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

int cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"tls-cert", required_argument, NULL, 'c'},
                                         {"tls-key", required_argument, NULL, 'k'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"body-max", required_argument, NULL, 'b'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"burst", required_argument, NULL, 'B'},
                                         {"per-ip", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_serve_opts o;
    memset(&o, 0, sizeof o);
    o.listen = "127.0.0.1:8080";
    double v;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 'c': o.tls_cert = optarg; break;
        case 'k': o.tls_key = optarg; break;
        case 't':
            if (positive(optarg, 1, 256, &v) || v != (unsigned)v)
                return cli_usage_error("serve", "--threads must be 1 to 256");
            o.threads = (unsigned)v;
            break;
        case 'b':
            if (positive(optarg, 1024, 64 << 20, &v))
                return cli_usage_error("serve", "--body-max must be 1024 to 67108864 bytes");
            o.body_max = (size_t)v;
            break;
        case 'r':
            if (positive(optarg, 0.01, 1e6, &v))
                return cli_usage_error("serve", "--rate must be 0.01 to 1000000");
            o.rate_per_s = v;
            break;
        case 'B':
            if (positive(optarg, 1, 1e6, &v))
                return cli_usage_error("serve", "--burst must be 1 to 1000000");
            o.rate_burst = v;
            break;
        case 'p':
            if (positive(optarg, 1, 512, &v) || v != (unsigned)v)
                return cli_usage_error("serve", "--per-ip must be 1 to 512");
            o.per_ip_max = (unsigned)v;
            break;
        case 'h': serve_help(); return EXIT_OK;
        default: return cli_usage_error("serve", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!!o.tls_cert != !!o.tls_key)
        return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    ct_keyring *keys = cli_keys(ctx);
    if (!keys)
        return EXIT_FAIL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    o.stop = &stop_serving;
    o.ready = on_ready;
    o.ud = (void *)o.listen;
    ct_err err;
    ct_code rc = ct_serve(ctx->data_dir, keys, &o, &err);
    if (rc != CT_OK) {
        cli_error("%s", err.msg);
        return rc == CT_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    if (!ctx->quiet)
        fprintf(stderr, "celltrace: stopped\n");
    return EXIT_OK;
}

/* ---- users ---------------------------------------------------------------------------- */

static void users_help(void)
{
    printf("Usage: celltrace [--data DIR] users add NAME --role ROLE [--region CODE]\n"
           "                                     [--expires-days N]\n"
           "       celltrace [--data DIR] users list [--format table|json]\n"
           "       celltrace [--data DIR] users revoke NAME\n\n"
           "Who may call the HTTP API (celltrace serve, docs/API.md). Roles:\n"
           "  federal    everything: registers cases, starts runs\n"
           "  regional   one region (--region, ISO 3166-2 such as RU-MOW): its contacts,\n"
           "             their evidence and notifications, its appeals\n"
           "  hotline    files appeals, looks up one number's own status\n"
           "  auditor    the audit log and the oversight numbers, no personal data\n\n"
           "`users add` prints the token alone on the last line of stdout: it is shown\n"
           "once and stored only as a hash. --expires-days: the token stops working\n"
           "after N days (default 90; 0 = never). `users revoke` stops it at once.\n");
}

typedef struct list_ctx {
    int json;
    size_t n;
} list_ctx;

static int print_user(void *ud, const ct_user *u)
{
    list_ctx *l = ud;
    char created[32], expires[32] = "", revoked[32] = "";
    ct_format_time(u->created, created);
    if (u->expires)
        ct_format_time(u->expires, expires);
    if (u->revoked)
        ct_format_time(u->revoked, revoked);
    if (l->json) {
        printf("%s{\"name\":", l->n ? ",\n " : "");
        cli_json_text(stdout, u->name);
        printf(",\"role\":\"%s\",\"region\":", ct_role_name(u->role));
        if (*u->region)
            cli_json_text(stdout, u->region);
        else
            printf("null");
        printf(",\"created\":\"%s\",\"expires\":", created);
        printf(*expires ? "\"%s\"" : "null", expires);
        printf(",\"revoked\":");
        printf(*revoked ? "\"%s\"" : "null", revoked);
        printf("}");
    } else {
        if (l->n == 0)
            printf("%-24s %-9s %-8s %-20s %-20s %s\n", "NAME", "ROLE", "REGION", "CREATED",
                   "EXPIRES", "REVOKED");
        printf("%-24s %-9s %-8s %-20s %-20s %s\n", u->name, ct_role_name(u->role),
               *u->region ? u->region : "-", created, *expires ? expires : "never",
               *revoked ? revoked : "-");
    }
    l->n++;
    return 0;
}

int cmd_users(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"region", required_argument, NULL, 'g'},
                                         {"expires-days", required_argument, NULL, 'e'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *role_s = NULL, *region = NULL;
    double days = 90;
    cli_format format = CLI_TABLE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': role_s = optarg; break;
        case 'g': region = optarg; break;
        case 'e':
            if (positive(optarg, 0, 36500, &days) || days != (int)days)
                return cli_usage_error("users", "--expires-days must be 0 to 36500");
            break;
        case 'f': {
            int st = cli_format_table_json("users", optarg, &format);
            if (st >= 0)
                return st;
            break;
        }
        case 'h': users_help(); return EXIT_OK;
        default: return cli_usage_error("users", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("users", "give add, list or revoke");
    const char *sub = argv[optind++];
    int add = !strcmp(sub, "add"), revoke = !strcmp(sub, "revoke"), list = !strcmp(sub, "list");
    if (!add && !revoke && !list)
        return cli_usage_error("users", "unknown subcommand '%s'", sub);
    if ((add || revoke) && optind != argc - 1)
        return cli_usage_error("users", "%s takes one NAME", sub);
    if (list && optind != argc)
        return cli_usage_error("users", "list takes no arguments");
    ct_role role = CT_ROLE_AUDITOR;
    if (add && (!role_s || ct_role_parse(role_s, &role)))
        return cli_usage_error("users", "--role must be federal, regional, hotline or auditor");
    if (!add && (role_s || region))
        return cli_usage_error("users", "--role and --region go with add");
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_err err;
    ct_code rc;
    if (add) {
        char token[CT_TOKEN_MAX];
        int64_t expires = days > 0 ? (int64_t)time(NULL) + (int64_t)days * 86400 : 0;
        rc = ct_users_add(db, argv[optind], role, region, expires, token, &err);
        if (!rc) {
            if (!ctx->quiet)
                fprintf(stderr, "celltrace: user %s (%s%s%s) added; the token is shown once:\n",
                        argv[optind], role_s, region ? ", " : "", region ? region : "");
            printf("%s\n", token);
            memset(token, 0, sizeof token);
        }
    } else if (revoke) {
        rc = ct_users_revoke(db, argv[optind], &err);
        if (!rc && !ctx->quiet)
            fprintf(stderr, "celltrace: %s's token no longer works\n", argv[optind]);
    } else {
        list_ctx l = {format == CLI_JSON, 0};
        if (l.json)
            printf("[");
        rc = ct_users_list(db, print_user, &l, &err);
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
