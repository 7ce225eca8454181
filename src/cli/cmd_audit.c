/*
 * cmd_audit.c — `celltrace audit verify`: checks the audit log's keyed hash
 * chain (library: store/audit.c, docs/AUDIT.md) and names the first record
 * that was changed, deleted, inserted or moved. It reads no personal data
 * and needs only the audit key, so an auditor can run it on a copy.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void audit_help(void)
{
    printf("Usage: celltrace [--data DIR] audit verify [--format table|json]\n\n"
           "Checks the audit log: every record (audit.log and the rotated audit-<seq>.log)\n"
           "must carry the keyed BLAKE2b chain value of its text and of the record before,\n"
           "with no gap in its sequence number, and the last one must be the one the head\n"
           "beside the audit key names. Prints the first record that was changed, deleted,\n"
           "inserted or moved, and exits 1; exits 0 when the chain is whole.\n"
           "Needs the audit key (<keys>/audit.key), not the data keys.\n\n"
           "  --format table|json   output (default table)\n");
}

static void print_json(const ct_audit_check *a)
{
    printf("{\"ok\":%s,\"records\":%llu,\"unchained\":%llu,\"files\":%llu,\"last_seq\":%llu,"
           "\"head\":\"%s\"",
           a->ok ? "true" : "false", (unsigned long long)a->records,
           (unsigned long long)a->unchained, (unsigned long long)a->files,
           (unsigned long long)a->last_seq, a->head);
    if (!a->ok) {
        printf(",\"problem\":{\"file\":");
        cli_json_text(stdout, a->file);
        printf(",\"line\":%llu,\"seq\":%llu,\"what\":", (unsigned long long)a->line,
               (unsigned long long)a->seq);
        cli_json_text(stdout, a->problem);
        printf("}");
    }
    printf("}\n");
}

int cmd_audit(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cli_format format = CLI_TABLE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            audit_help();
            return EXIT_OK;
        }
        if (c == 'f') {
            int st = cli_format_table_json("audit", optarg, &format);
            if (st >= 0)
                return st;
            continue;
        }
        return cli_usage_error("audit", "unknown option");
    }
    if (optind != argc - 1 || strcmp(argv[optind], "verify") != 0)
        return cli_usage_error("audit", "the subcommand is verify");
    ct_audit_check a;
    ct_err err;
    if (ct_audit_verify(ctx->data_dir, &a, &err) != CT_OK) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (format == CLI_JSON) {
        print_json(&a);
    } else if (a.ok) {
        printf("audit log whole: %llu records in %llu file%s, last record %llu, chain %s\n",
               (unsigned long long)a.records, (unsigned long long)a.files, a.files == 1 ? "" : "s",
               (unsigned long long)a.last_seq, a.head);
        if (a.unchained)
            printf("%llu earlier lines were written before the chain existed and are not "
                   "protected\n",
                   (unsigned long long)a.unchained);
    } else {
        printf("AUDIT LOG DAMAGED  %s", a.file);
        if (a.line)
            printf(" line %llu", (unsigned long long)a.line);
        if (a.seq)
            printf(" (record %llu)", (unsigned long long)a.seq);
        printf(": %s\n", a.problem);
        printf("the %llu records before it chain correctly\n", (unsigned long long)a.records);
    }
    return a.ok ? EXIT_OK : EXIT_FAIL;
}
