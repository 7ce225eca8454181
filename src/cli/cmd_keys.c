/*
 * cmd_keys.c — `celltrace init` and `celltrace keys`: where a data
 * directory's keys are kept (file, passphrase, credentials), what state
 * they are in, and rotating or moving them (docs/KEYS.md).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "celltrace_notify.h"
#include "cli.h"

/* Options that say how keys are kept: init and keys rewrap share them. */
typedef struct keep_opts {
    ct_keys_setup setup;
    int provider_given;
    int new_fd; /* keys rewrap: --new-passphrase-fd */
} keep_opts;

enum { OPT_PROVIDER = 1000, OPT_KEY_DIR, OPT_PASS_ENV, OPT_CREDENTIAL, OPT_KDF, OPT_NEW_FD,
       OPT_PASS_REFUSED };

#define KEEP_OPTIONS                                                                              \
    {"key-provider", required_argument, NULL, OPT_PROVIDER},                                      \
        {"provider", required_argument, NULL, OPT_PROVIDER},                                      \
        {"key-dir", required_argument, NULL, OPT_KEY_DIR},                                        \
        {"passphrase-env", required_argument, NULL, OPT_PASS_ENV},                                \
        {"credential", required_argument, NULL, OPT_CREDENTIAL},                                  \
        {"kdf", required_argument, NULL, OPT_KDF},                                                \
        {"passphrase", required_argument, NULL, OPT_PASS_REFUSED}

static const char KEEP_HELP[] =
    "  --key-provider P     file (default), passphrase or credentials:\n"
    "                       file: a keyring in clear (0600) in the key folder; keep\n"
    "                         that folder off the data directory's disk (--key-dir)\n"
    "                       passphrase: sealed under Argon2id of a passphrase, read\n"
    "                         from --passphrase-fd N, $NAME (--passphrase-env) or\n"
    "                         asked twice at the terminal; never on the command line\n"
    "                       credentials: sealed under the systemd credential NAME in\n"
    "                         $CREDENTIALS_DIRECTORY (LoadCredential[Encrypted]=)\n"
    "  --key-dir DIR        file provider: the key folder (absolute; default DATA/keys)\n"
    "  --passphrase-env NAME  the variable that holds the passphrase (kept in the\n"
    "                       config as keys.passphrase_env)\n"
    "  --credential NAME    the credential's name (default celltrace.key)\n"
    "  --kdf COST           Argon2id cost: sensitive (default, 1 GiB, seconds),\n"
    "                       moderate (256 MiB) or interactive (64 MiB; tests only)\n";

/* 1 = taken, 0 = not a keep option, -1 = bad value (printed). */
static int keep_option(keep_opts *k, int c, const char *arg, const char *cmd)
{
    switch (c) {
    case OPT_PROVIDER:
        if (ct_key_provider_parse(arg, &k->setup.provider))
            return cli_usage_error(cmd, "--key-provider must be file, passphrase or credentials"),
                   -1;
        k->provider_given = 1;
        return 1;
    case OPT_PASS_REFUSED: /* also stops getopt taking it for --passphrase-env */
        return cli_usage_error(cmd, "a passphrase is never taken from the command line (ps and "
                                    "shell history show it): use --passphrase-fd N, "
                                    "--passphrase-env NAME or the terminal prompt"),
               -1;
    case OPT_KEY_DIR: k->setup.key_dir = arg; return 1;
    case OPT_PASS_ENV: k->setup.passphrase_env = arg; return 1;
    case OPT_CREDENTIAL: k->setup.credential = arg; return 1;
    case OPT_KDF:
        if (!strcmp(arg, "sensitive"))
            k->setup.kdf = CT_KDF_SENSITIVE;
        else if (!strcmp(arg, "moderate"))
            k->setup.kdf = CT_KDF_MODERATE;
        else if (!strcmp(arg, "interactive"))
            k->setup.kdf = CT_KDF_INTERACTIVE;
        else
            return cli_usage_error(cmd, "--kdf must be sensitive, moderate or interactive"), -1;
        return 1;
    }
    return 0;
}

/* The secret to seal with: a new passphrase, or the credentials dir. */
static int keep_source(keep_opts *k, int fd)
{
    if (k->setup.provider == CT_KEYS_PASSPHRASE)
        return cli_new_passphrase(fd, k->setup.passphrase_env, &k->setup.source);
    if (k->setup.provider == CT_KEYS_CREDENTIALS) {
        k->setup.source.credentials_dir = getenv("CREDENTIALS_DIRECTORY");
        if (!k->setup.source.credentials_dir) {
            cli_error("keys.provider = credentials needs $CREDENTIALS_DIRECTORY (run from the "
                      "unit, or set it to the folder that holds the credential)");
            return -1;
        }
    }
    return 0;
}

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {KEEP_OPTIONS, {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    keep_opts k;
    memset(&k, 0, sizeof k);
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage: celltrace [--data DIR] [--passphrase-fd N] init [--key-provider P]\n"
                   "       [--key-dir DIR] [--passphrase-env NAME] [--credential NAME] [--kdf COST]\n\n"
                   "Creates the data directory (mode 0700) with fresh keys, the catalogue\n"
                   "database and an empty store. Fails if DIR already holds one.\n\n%s"
                   "\nExample: celltrace --data /srv/ct --passphrase-fd 3 init --key-provider "
                   "passphrase 3<pass.txt\n",
                   KEEP_HELP);
            return EXIT_OK;
        }
        int took = keep_option(&k, c, optarg, "init");
        if (took < 0)
            return EXIT_USAGE;
        if (!took)
            return cli_usage_error("init", "unknown option");
    }
    if (optind != argc)
        return cli_usage_error("init", "init takes no arguments");
    if (keep_source(&k, ctx->passphrase_fd))
        return EXIT_FAIL;
    ct_err err;
    if (ct_init_with(ctx->data_dir, &k.setup, &err) != CT_OK) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (!ctx->quiet) {
        fprintf(stderr, "celltrace: created data directory %s (keys: %s)\n", ctx->data_dir,
                ct_key_provider_name(k.setup.provider));
        if (k.setup.provider == CT_KEYS_FILE && !k.setup.key_dir)
            fprintf(stderr, "celltrace: the keys are in %s/keys: a copy of the directory carries "
                            "them; see `celltrace keys --help`\n",
                    ctx->data_dir);
    }
    return EXIT_OK;
}

/* ---- keys ---------------------------------------------------------------------- */

static void keys_help(void)
{
    printf("Usage: celltrace [--data DIR] keys status [--format text|json]\n"
           "       celltrace [--data DIR] keys rotate [--vault] [--pseudonym] [--dlr]\n"
           "                                    [--grace SECONDS] [--format text|json]\n"
           "       celltrace [--data DIR] keys rewrap --provider P [options]\n\n"
           "status   where the keys are, their generations and dates; a warning when a\n"
           "         copy of the data directory would carry them\n"
           "rotate   new keys. --vault and --pseudonym rewrite subscribers.dat under the\n"
           "         new keys and replace it at once (a kill leaves the old keys and file\n"
           "         or the new ones); ids, traces and stored contacts do not change.\n"
           "         --dlr: new delivery-report token key; the old one is accepted for\n"
           "         --grace seconds more (default sms.expire_s, after which an\n"
           "         unreported message expires anyway)\n"
           "rewrap   keep the same keys elsewhere: another provider, passphrase or cost.\n"
           "         A new passphrase comes from --new-passphrase-fd N, $NAME\n"
           "         (--passphrase-env) or the terminal; the current one as for any\n"
           "         command (--passphrase-fd, keys.passphrase_env, the terminal).\n\n"
           "%s  --new-passphrase-fd N  rewrap: read the new passphrase from descriptor N\n\n"
           "Exit status: 0 done, 1 failure (nothing changed, or the keys are whole under\n"
           "the old or the new set), 2 usage error. See docs/KEYS.md.\n",
           KEEP_HELP);
}

static int keys_status(cli_ctx *ctx, int json)
{
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_keys_status st;
    ct_err err;
    ct_code rc = ct_keys_status_of(db, &st, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    char made[3][32], until[32] = "";
    ct_format_time(st.pseudonym_made, made[0]);
    ct_format_time(st.vault_made, made[1]);
    ct_format_time(st.dlr_made, made[2]);
    if (st.dlr_previous)
        ct_format_time(st.dlr_previous_until, until);
    if (json) {
        printf("{\"provider\":\"%s\",\"keyring\":", ct_key_provider_name(st.provider));
        cli_json_text(stdout, st.path);
        printf(",\"inside_data\":%s,\"legacy\":%s,\"rotation_pending\":%s,"
               "\"pseudonym\":{\"generation\":%u,\"made\":\"%s\"},"
               "\"vault\":{\"generation\":%u,\"made\":\"%s\"},"
               "\"dlr\":{\"generation\":%u,\"made\":\"%s\",\"previous\":%d,\"previous_until\":%s%s%s}}\n",
               st.inside_data ? "true" : "false", st.legacy ? "true" : "false",
               st.rotation_pending ? "true" : "false", st.pseudonym_gen, made[0], st.vault_gen,
               made[1], st.dlr_gen, made[2], st.dlr_previous, *until ? "\"" : "",
               *until ? until : "null", *until ? "\"" : "");
        return EXIT_OK;
    }
    printf("provider   %s\nkeyring    %s\n", ct_key_provider_name(st.provider), st.path);
    printf("pseudonym  generation %u, made %s\n", st.pseudonym_gen, made[0]);
    printf("vault      generation %u, made %s\n", st.vault_gen, made[1]);
    printf("dlr        generation %u, made %s", st.dlr_gen, made[2]);
    if (st.dlr_previous)
        printf("; %d older key%s accepted until %s", st.dlr_previous,
               st.dlr_previous == 1 ? "" : "s", until);
    printf("\n");
    if (st.rotation_pending)
        printf("note: a rotation was interrupted; the next writing command ends it\n");
    if (st.legacy)
        printf("note: keys in the old format (one file each); the next writing command "
               "converts them\n");
    if (st.inside_data)
        printf("warning: the keys are kept in clear inside the data directory: a copy of it\n"
               "         opens without them. Move them: `celltrace keys rewrap --provider\n"
               "         passphrase` (or credentials, or file --key-dir /elsewhere)\n");
    return EXIT_OK;
}

static int keys_rotate(cli_ctx *ctx, unsigned what, int64_t grace, int json)
{
    if (!what) {
        cli_usage_error("keys", "rotate needs --vault, --pseudonym and/or --dlr");
        return EXIT_USAGE;
    }
    if (grace < 0) {
        char buf[32];
        ct_err err;
        if (ct_config_get(ctx->data_dir, "sms.expire_s", buf, sizeof buf, &err) != CT_OK) {
            cli_error("%s", err.msg);
            return EXIT_FAIL;
        }
        grace = strtoll(buf, NULL, 10);
    }
    ct_db *db = cli_open(ctx, 1);
    if (!db)
        return EXIT_FAIL;
    ct_rotate_summary sum;
    ct_err err;
    ct_code rc = ct_keys_rotate(db, what, grace, &sum, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    char until[32];
    ct_format_time((int64_t)time(NULL) + grace, until);
    if (json) {
        printf("{\"vault\":%s,\"pseudonym\":%s,\"dlr\":%s,\"subscribers\":%u,\"bytes\":%llu,"
               "\"seconds\":%.3f,\"dlr_previous_until\":%s%s%s}\n",
               what & CT_ROTATE_VAULT ? "true" : "false",
               what & CT_ROTATE_PSEUDONYM ? "true" : "false", what & CT_ROTATE_DLR ? "true" : "false",
               sum.subscribers, (unsigned long long)sum.bytes, sum.seconds,
               what & CT_ROTATE_DLR ? "\"" : "", what & CT_ROTATE_DLR ? until : "null",
               what & CT_ROTATE_DLR ? "\"" : "");
        return EXIT_OK;
    }
    if (what & (CT_ROTATE_VAULT | CT_ROTATE_PSEUDONYM))
        printf("rotated %s%s%s: subscribers.dat rewritten, %u subscribers, %.1f MB in %.2f s\n",
               what & CT_ROTATE_VAULT ? "vault" : "",
               (what & CT_ROTATE_VAULT) && (what & CT_ROTATE_PSEUDONYM) ? " and " : "",
               what & CT_ROTATE_PSEUDONYM ? "pseudonym key" : " key", sum.subscribers,
               (double)sum.bytes / 1e6, sum.seconds);
    if (what & CT_ROTATE_DLR)
        printf("rotated the dlr key: reports for messages sent before are accepted until %s\n",
               until);
    return EXIT_OK;
}

static int keys_rewrap(cli_ctx *ctx, keep_opts *k)
{
    if (!k->provider_given) {
        cli_usage_error("keys", "rewrap needs --provider file|passphrase|credentials");
        return EXIT_USAGE;
    }
    ct_db *db = cli_open(ctx, 1); /* unlocks with the current source first */
    if (!db)
        return EXIT_FAIL;
    if (keep_source(k, k->new_fd)) {
        ct_close(db);
        return EXIT_FAIL;
    }
    ct_err err;
    ct_code rc = ct_keys_rewrap(db, &k->setup, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    ct_keys_where w;
    if (ct_keys_where_of(ctx->data_dir, &w, &err) == CT_OK && !ctx->quiet)
        fprintf(stderr, "celltrace: the keys are now kept by the %s provider in %s\n",
                ct_key_provider_name(w.provider), w.path);
    return EXIT_OK;
}

int cmd_keys(cli_ctx *ctx, int argc, char **argv)
{
    enum { OPT_VAULT = 2000, OPT_PSEUDO, OPT_DLR, OPT_GRACE, OPT_FORMAT };
    static const struct option opts[] = {KEEP_OPTIONS,
                                         {"new-passphrase-fd", required_argument, NULL, OPT_NEW_FD},
                                         {"vault", no_argument, NULL, OPT_VAULT},
                                         {"pseudonym", no_argument, NULL, OPT_PSEUDO},
                                         {"dlr", no_argument, NULL, OPT_DLR},
                                         {"grace", required_argument, NULL, OPT_GRACE},
                                         {"format", required_argument, NULL, OPT_FORMAT},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    keep_opts k;
    memset(&k, 0, sizeof k);
    k.new_fd = -1;
    unsigned what = 0;
    int64_t grace = -1;
    int json = 0, c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int took = keep_option(&k, c, optarg, "keys");
        if (took < 0)
            return EXIT_USAGE;
        if (took)
            continue;
        switch (c) {
        case 'h': keys_help(); return EXIT_OK;
        case OPT_VAULT: what |= CT_ROTATE_VAULT; break;
        case OPT_PSEUDO: what |= CT_ROTATE_PSEUDONYM; break;
        case OPT_DLR: what |= CT_ROTATE_DLR; break;
        case OPT_GRACE:
            grace = strtoll(optarg, &end, 10);
            if (*end || !*optarg || grace < 0)
                return cli_usage_error("keys", "--grace must be a number of seconds");
            break;
        case OPT_NEW_FD:
            k.new_fd = (int)strtol(optarg, &end, 10);
            if (*end || !*optarg || k.new_fd < 0)
                return cli_usage_error("keys", "--new-passphrase-fd needs a descriptor number");
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") && strcmp(optarg, "json"))
                return cli_usage_error("keys", "--format must be text or json");
            json = !strcmp(optarg, "json");
            break;
        default: return cli_usage_error("keys", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("keys", "name one action: status, rotate or rewrap");
    const char *action = argv[optind];
    if (!strcmp(action, "status"))
        return keys_status(ctx, json);
    if (!strcmp(action, "rotate"))
        return keys_rotate(ctx, what, grace, json);
    if (!strcmp(action, "rewrap"))
        return keys_rewrap(ctx, &k);
    return cli_usage_error("keys", "unknown action '%s'", action);
}
