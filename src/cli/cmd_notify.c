/*
 * cmd_notify.c — `celltrace notify --once | --daemon`: send queued SMS
 * through Kannel and receive delivery reports (docs/NOTIFY.md).
 *
 * SIGINT and SIGTERM stop the daemon after the message in flight; SIGKILL
 * at any moment loses nothing (the library's outbox states).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "celltrace_notify.h"
#include "cli.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void notify_help(void)
{
    printf("Usage: celltrace [--data DIR] notify (--once [--wait SECONDS] | --daemon) [options]\n\n"
           "Sends queued SMS through Kannel's sendsms interface and receives delivery\n"
           "reports on the loopback listener sms.dlr_listen (see `celltrace config list`).\n"
           "Gateway errors are retried with backoff; quiet hours and sms.rate hold.\n\n"
           "Options:\n"
           "  --once             send what is due, wait for reports, then exit\n"
           "  --wait SECONDS     with --once: how long to wait for reports and retries (30)\n"
           "  --daemon           keep sending until SIGINT or SIGTERM\n"
           "  --max-time SECONDS with --daemon: stop after this long\n"
           "  --verbose          one line per message and report on stderr\n\n"
           "Exit status: 0 success (messages still waiting are not a failure),\n"
           "1 failure (configuration, database, listener), 2 usage error.\n");
}

static int seconds(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s || v < 0 || v > 31536000)
        return -1;
    *out = v;
    return 0;
}

static void print_summary(const ct_notify_summary *s)
{
    printf("%llu sent, %llu retried later, %llu delivered, %llu failed, %llu expired, "
           "%llu reports rejected, %llu waiting\n",
           (unsigned long long)s->sent, (unsigned long long)s->retried,
           (unsigned long long)s->delivered, (unsigned long long)s->failed,
           (unsigned long long)s->expired, (unsigned long long)s->dlr_rejected,
           (unsigned long long)s->waiting);
    if (s->quiet_hours)
        printf("quiet hours: sending held back until they end\n");
    if (s->sent && s->send_seconds > 0)
        fprintf(stderr, "celltrace: %.1f messages/s through the gateway\n",
                (double)s->sent / s->send_seconds);
}

int cmd_notify(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"once", no_argument, NULL, 'o'},
                                         {"daemon", no_argument, NULL, 'D'},
                                         {"wait", required_argument, NULL, 'w'},
                                         {"max-time", required_argument, NULL, 'm'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_notify_opts o = {0, 30, 0, &stop_flag, 0};
    int c, once = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': once = 1; break;
        case 'D': o.daemon = 1; break;
        case 'w':
            if (seconds(optarg, &o.wait_s))
                return cli_usage_error("notify", "bad --wait '%s'", optarg);
            break;
        case 'm':
            if (seconds(optarg, &o.max_time_s))
                return cli_usage_error("notify", "bad --max-time '%s'", optarg);
            break;
        case 'v': o.verbose = 1; break;
        case 'h': notify_help(); return EXIT_OK;
        default: return cli_usage_error("notify", "unknown option");
        }
    }
    if (once == o.daemon)
        return cli_usage_error("notify", "give exactly one of --once and --daemon");
    if (optind != argc)
        return cli_usage_error("notify", "unexpected argument '%s'", argv[optind]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_notify_summary s;
    ct_err err;
    ct_code rc = ct_notify(db, &o, &s, &err);
    ct_close(db);
    print_summary(&s);
    if (rc != CT_OK) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
