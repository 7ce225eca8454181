/*
 * cmd_demo_sms.c — the demo's SMS stage: the contacts' messages sent
 * through a local Kannel (bearerbox + smsbox, kannel-extras' fakesmsc as
 * the SMS centre), when Kannel is installed; skipped with a note if not.
 *
 * Everything runs on 127.0.0.1 with ports the kernel says are free, from
 * a config file in the demo folder (never /etc/kannel), and every process
 * started here is stopped before the stage returns. Uses only the public
 * API (celltrace_notify.h), as any program built on celltrace would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "celltrace_notify.h"
#include "cli.h"

#define BEARERBOX "/usr/sbin/bearerbox"
#define SMSBOX "/usr/sbin/smsbox"
#define FAKESMSC "/usr/lib/kannel/test/fakesmsc"

typedef struct kannel {
    char dir[1200];
    unsigned admin, box, smsc, sendsms, dlr;
    pid_t pids[3];
    int n;
} kannel;

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int port_open(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int wait_port(unsigned port, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (port_open(port))
            return 0;
        usleep(100000);
    }
    return -1;
}

static int write_config(kannel *k)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/kannel.conf", k->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "group = core\nadmin-port = %u\nadmin-interface = 127.0.0.1\n"
            "admin-password = demo-%ld\nadmin-allow-ip = 127.0.0.1\nsmsbox-port = %u\n"
            "smsbox-interface = 127.0.0.1\nbox-allow-ip = 127.0.0.1\nlog-file = %s/bearerbox.log\n"
            "log-level = 1\ndlr-storage = internal\n\n"
            "group = smsc\nsmsc = fake\nsmsc-id = FAKE\nport = %u\nconnect-allow-ip = 127.0.0.1\n"
            "our-host = 127.0.0.1\n\n"
            "group = smsbox\nbearerbox-host = 127.0.0.1\nbearerbox-port = %u\nsendsms-port = %u\n"
            "sendsms-interface = 127.0.0.1\nlog-file = %s/smsbox.log\nlog-level = 1\n"
            "http-request-retry = 3\nhttp-queue-delay = 1\n\n"
            "group = sendsms-user\nusername = demo\npassword = demo-secret\nmax-messages = 10\n"
            "concatenation = true\n",
            k->admin, (long)getpid(), k->box, k->dir, k->smsc, k->box, k->sendsms, k->dir);
    return fclose(f);
}

/* Starts argv with stdout and stderr to dir/log; records the pid. */
static int spawn(kannel *k, const char *log, char *const argv[])
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", k->dir, log);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    k->pids[k->n++] = pid;
    return 0;
}

static void stop_all(kannel *k)
{
    for (int i = k->n - 1; i >= 0; i--)
        kill(k->pids[i], SIGTERM);
    for (int i = k->n - 1; i >= 0; i--) {
        int done = 0;
        for (int t = 0; t < 50 && !done; t++) {
            done = waitpid(k->pids[i], NULL, WNOHANG) == k->pids[i];
            if (!done)
                usleep(100000);
        }
        if (!done) {
            kill(k->pids[i], SIGKILL);
            waitpid(k->pids[i], NULL, 0);
        }
    }
    k->n = 0;
}

static int start_kannel(kannel *k)
{
    char conf[1300], smsc[16];
    snprintf(conf, sizeof conf, "%s/kannel.conf", k->dir);
    snprintf(smsc, sizeof smsc, "%u", k->smsc);
    char *bb[] = {BEARERBOX, "-v", "4", conf, NULL};
    char *fs[] = {FAKESMSC, "-H", "127.0.0.1", "-r", smsc, "-m", "0", "1 2 text x", NULL};
    char *sb[] = {SMSBOX, "-v", "4", conf, NULL};
    if (spawn(k, "bearerbox.out", bb) || wait_port(k->smsc, 10))
        return -1;
    if (spawn(k, "fakesmsc.log", fs) || spawn(k, "smsbox.out", sb) || wait_port(k->sendsms, 10))
        return -1;
    return 0;
}

static int configure(const char *data, const kannel *k, ct_err *err)
{
    char url[128], listen[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/cgi-bin/sendsms", k->sendsms);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", k->dlr);
    const char *kv[][2] = {{"sms.gateway_url", url}, {"sms.username", "demo"},
                           {"sms.password", "demo-secret"}, {"sms.dlr_listen", listen},
                           {"sms.quiet_hours", "off"}, {"sms.rate", "200"},
                           {"sms.retry_base_s", "1"}, {"sms.retry_max_s", "4"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        if (ct_config_set(data, kv[i][0], kv[i][1], err))
            return -1;
    return 0;
}

typedef struct shown {
    int n;
    uint64_t delivered, total;
} shown;

static int show_message(void *ud, const ct_outbox_row *r)
{
    shown *s = ud;
    s->total++;
    s->delivered += strcmp(r->state, "delivered") == 0;
    if (s->n++ < 3)
        printf("   -> %.4s***%s  [%s, %s] %s\n", r->msisdn,
               r->msisdn + (strlen(r->msisdn) > 4 ? strlen(r->msisdn) - 4 : 0), r->state,
               r->region, r->text);
    return 0;
}

static int sms_work(cli_ctx *ctx, const char *data, kannel *k, ct_err *err)
{
    if (configure(data, k, err))
        return -1;
    ct_db *db = NULL;
    if (ct_open(data, 0, &db, err))
        return -1;
    ct_set_actor(db, NULL, ctx->reason ? ctx->reason : "demo");
    ct_run_summary rs;
    ct_notify_summary ns;
    ct_notify_opts o = {0, 20, 0, NULL, 0};
    shown s = {0, 0, 0};
    int rc = -1;
    if (ct_run(db, NULL, &rs, err))
        goto out;
    printf("   run: %llu cases traced, %llu contacts of the net (%llu quarantine, %llu test,\n"
           "   %llu none); %llu SMS queued: %llu orders to self-isolate, %llu invitations to a test\n",
           (unsigned long long)rs.cases_traced, (unsigned long long)rs.contacts,
           (unsigned long long)rs.level_quarantine, (unsigned long long)rs.level_test,
           (unsigned long long)rs.level_none,
           (unsigned long long)(rs.queued + rs.extensions + rs.invitations),
           (unsigned long long)(rs.queued + rs.extensions), (unsigned long long)rs.invitations);
    fflush(stdout);
    if (ct_notify(db, &o, &ns, err))
        goto out;
    printf("   notify (20 s): %llu sent (%.0f messages/s), %llu delivered, %llu still waiting\n"
           "   (the demo's Kannel stops with the demo; against a running gateway,\n"
           "   `celltrace notify --daemon` sends the rest)\n",
           (unsigned long long)ns.sent, ns.send_seconds > 0 ? (double)ns.sent / ns.send_seconds : 0,
           (unsigned long long)ns.delivered, (unsigned long long)ns.waiting);
    if (ct_outbox_list(db, NULL, show_message, &s, err))
        goto out;
    printf("   ... %llu messages, %llu delivered; the SMS centre's log: %s/fakesmsc.log\n",
           (unsigned long long)s.total, (unsigned long long)s.delivered, k->dir);
    rc = 0;
out:
    ct_close(db);
    return rc;
}

int demo_sms_stage(cli_ctx *ctx, const char *root, const char *data, double *seconds)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("\n5. Sending the SMS through a local Kannel:\n");
    if (access(BEARERBOX, X_OK) || access(SMSBOX, X_OK) || access(FAKESMSC, X_OK)) {
        printf("   skipped: Kannel is not installed (scripts/setup.sh installs kannel and\n"
               "   kannel-extras). The messages are queued: `celltrace run`, `celltrace outbox list`.\n");
        return 0;
    }
    fflush(stdout);
    kannel k;
    memset(&k, 0, sizeof k);
    snprintf(k.dir, sizeof k.dir, "%s/kannel", root);
    mkdir(k.dir, 0700);
    k.admin = free_port();
    k.box = free_port();
    k.smsc = free_port();
    k.sendsms = free_port();
    k.dlr = free_port();
    ct_err err;
    int rc = -1;
    if (!k.admin || !k.box || !k.smsc || !k.sendsms || !k.dlr || write_config(&k)) {
        cli_error("demo: cannot prepare Kannel in %s", k.dir);
    } else if (start_kannel(&k)) {
        cli_error("demo: Kannel did not start (see %s)", k.dir);
    } else if (sms_work(ctx, data, &k, &err)) {
        cli_error("demo: %s", err.msg);
    } else {
        rc = 0;
    }
    stop_all(&k);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
