/*
 * cli_common.c — the helpers every command shares, in celltrace and in
 * celltrace-mpi: error and usage messages, opening the data directory
 * with its keys, the library's notices and the progress bar.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#if defined(__GNUC__)
__attribute__((format(printf, 1, 0)))
#endif
static void error_line(const char *fmt, va_list ap)
{
    fputs("celltrace: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_line(fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    /* getopt has already said which option is unknown or lacks its value
     * ("option '--x' requires an argument"): only the hint follows. */
    if (strcmp(fmt, "unknown option") != 0) {
        va_list ap;
        va_start(ap, fmt);
        error_line(fmt, ap);
        va_end(ap);
    }
    if (cmd && *cmd)
        fprintf(stderr, "Try `celltrace %s --help`.\n", cmd);
    else
        fprintf(stderr, "Try `celltrace --help`.\n");
    return EXIT_USAGE;
}

ct_db *cli_open_err(cli_ctx *ctx, int writable, ct_err *err)
{
    ct_db *db = NULL;
    ct_keyring *keys = NULL;
    ct_key_source src;
    if (!ctx->keys) {
        if (cli_key_source(ctx, &src)) {
            snprintf(err->msg, sizeof err->msg, "the keys' source could not be read");
            return NULL;
        }
        if (ct_keys_unlock(ctx->data_dir, &src, &keys, err) != CT_OK)
            return NULL;
        ctx->keys = keys;
    }
    if (ct_open_keyed(ctx->data_dir, writable, ctx->keys, &db, err) != CT_OK)
        return NULL;
    ct_set_actor(db, NULL, ctx->reason);
    return db;
}

ct_db *cli_open(cli_ctx *ctx, int writable)
{
    ct_err err;
    ct_db *db = cli_open_err(ctx, writable, &err);
    if (!db)
        cli_error("%s", err.msg);
    return db;
}

int cli_ingest_memory_mb(void)
{
    const char *env = getenv("CT_INGEST_MEM_MB");
    int mb = env ? atoi(env) : 0;
    return mb > 0 ? mb : 0;
}

/* The library's notices (ct_set_notice) go to stderr, as errors do. */
void cli_print_notice(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "celltrace: %s\n", line);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress(void *ud, uint64_t done, uint64_t total)
{
    static double last;
    const char *label = ud ? ud : "";
    double t = now_s();
    if (t - last < 0.2 && done < total)
        return;
    last = t;
    if (total) {
        int width = 30, fill = (int)((double)width * (double)done / (double)total);
        if (fill > width)
            fill = width;
        fprintf(stderr, "\r%-20.20s [%.*s%*s] %5.1f%% ", label, fill, "##############################",
                width - fill, "", 100.0 * (double)done / (double)total);
    } else {
        fprintf(stderr, "\r%-20.20s %llu MB read ", label, (unsigned long long)(done >> 20));
    }
    fflush(stderr);
}

