/*
 * cmd_config.c — `celltrace config set KEY VALUE | get KEY | list`.
 *
 * The library checks every key and value; the file is <data>/celltrace.conf
 * (mode 0600). `list` never prints the password.
 */
#include <string.h>

#include "celltrace_notify.h"
#include "cli.h"

static void config_help(void)
{
    printf("Usage: celltrace [--data DIR] config set KEY VALUE | get KEY | list\n\n"
           "Settings in <data>/celltrace.conf (mode 0600), which `config set` writes.\n"
           "A key not set there takes its value from the site file%s%s, else\n"
           "its default. `config list` shows every key, its value and what it means.\n\n"
           "Exit status: 0 success, 1 failure, 2 usage error (unknown key, bad value).\n",
           *ct_config_site() ? " " : "", *ct_config_site() ? ct_config_site() : " (none in this build)");
}

static int print_key(void *ud, const char *key, const char *value, int is_default,
                     const char *help)
{
    (void)ud;
    printf("%-18s %-40s %s%s\n", key, *value ? value : "\"\"", is_default ? "(default) " : "",
           help);
    return 0;
}

int cmd_config(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc < 2)
            return cli_usage_error("config", "expected set, get or list");
        config_help();
        return EXIT_OK;
    }
    ct_err err;
    ct_code rc;
    char buf[1100];
    if (!strcmp(argv[1], "set") && argc == 4) {
        rc = ct_config_set(ctx->data_dir, argv[2], argv[3], &err);
        if (rc == CT_EINVAL)
            return cli_usage_error("config", "%s", err.msg);
    } else if (!strcmp(argv[1], "get") && argc == 3) {
        rc = ct_config_get(ctx->data_dir, argv[2], buf, sizeof buf, &err);
        if (rc == CT_EINVAL)
            return cli_usage_error("config", "%s", err.msg);
        if (!rc)
            printf("%s\n", buf);
    } else if (!strcmp(argv[1], "list") && argc == 2) {
        rc = ct_config_list(ctx->data_dir, print_key, NULL, &err);
    } else {
        return cli_usage_error("config", "expected set KEY VALUE, get KEY or list");
    }
    if (rc != CT_OK) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
