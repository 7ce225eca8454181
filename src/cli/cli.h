/*
 * cli.h — what the command modules of the celltrace tool share.
 *
 * The tool is `celltrace [--data DIR] [--quiet] COMMAND [options]`; main.c
 * parses the global options and dispatches to one cmd_<name>() per
 * command. Each command parses its own options (getopt_long), prints its
 * own --help, and returns an exit status from SPEC section 5:
 * 0 success, 1 failure, 2 usage error, 3 success with rejected rows.
 * Commands use only the public API (include/celltrace.h).
 */
#ifndef CT_CLI_H
#define CT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "celltrace.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_REJECTS = 3 };

/* Where traces run when they do not run here: celltrace-mpi (src/mpi)
 * sets one, so that `trace` parses, orders and prints exactly as
 * celltrace does while the cluster traces. */
typedef struct cli_tracer {
    ct_code (*trace)(void *ud, const char *case_id, const ct_params *p, const ct_risk_opts *risk,
                     ct_contacts **out, ct_err *err);
    ct_code (*case_ids)(void *ud, ct_case_id_fn fn, void *fn_ud, ct_err *err);
    void *ud;
} cli_tracer;

typedef struct cli_ctx {
    const char *data_dir; /* --data, $CELLTRACE_DATA, or ./celltrace-data */
    int quiet;            /* --quiet: no progress, no chatter */
    int progress;         /* stderr is a terminal and not quiet */
    const char *reason;   /* --reason: why personal data is read (audit) */
    const char *program;  /* argv[0], to show runnable commands */
    int passphrase_fd;    /* --passphrase-fd, or -1 */
    ct_keyring *keys;     /* unlocked on first need (cli_keys.c) */
    const cli_tracer *tracer; /* NULL: trace here; else celltrace-mpi's cluster */
} cli_ctx;

/* Commands: argv[0] is the command name; options follow. */
int cmd_init(cli_ctx *ctx, int argc, char **argv);
int cmd_cells(cli_ctx *ctx, int argc, char **argv);
int cmd_ingest(cli_ctx *ctx, int argc, char **argv);
int cmd_cases(cli_ctx *ctx, int argc, char **argv);
int cmd_trace(cli_ctx *ctx, int argc, char **argv);
int cmd_area(cli_ctx *ctx, int argc, char **argv);
/* run --area LABEL ...: invitations after an area query (cmd_area.c). */
int cmd_run_area(cli_ctx *ctx, int argc, char **argv);
int cmd_hotspots(cli_ctx *ctx, int argc, char **argv);
int cmd_geography(cli_ctx *ctx, int argc, char **argv);
int cmd_stats(cli_ctx *ctx, int argc, char **argv);
int cmd_check(cli_ctx *ctx, int argc, char **argv);
int cmd_purge(cli_ctx *ctx, int argc, char **argv);
int cmd_compact(cli_ctx *ctx, int argc, char **argv);
int cmd_upgrade(cli_ctx *ctx, int argc, char **argv);
int cmd_simulate(cli_ctx *ctx, int argc, char **argv);
int cmd_demo(cli_ctx *ctx, int argc, char **argv);
int cmd_risk(cli_ctx *ctx, int argc, char **argv);
int cmd_evaluate(cli_ctx *ctx, int argc, char **argv);
/* Notifications (include/celltrace_notify.h, docs/NOTIFY.md). */
int cmd_run(cli_ctx *ctx, int argc, char **argv);
int cmd_notify(cli_ctx *ctx, int argc, char **argv);
int cmd_config(cli_ctx *ctx, int argc, char **argv);
int cmd_outbox(cli_ctx *ctx, int argc, char **argv);
int cmd_export(cli_ctx *ctx, int argc, char **argv);
int cmd_report(cli_ctx *ctx, int argc, char **argv);
int cmd_keys(cli_ctx *ctx, int argc, char **argv);
int cmd_audit(cli_ctx *ctx, int argc, char **argv);
/* The HTTP API (include/celltrace_api.h, docs/API.md): cmd_serve.c. */
int cmd_serve(cli_ctx *ctx, int argc, char **argv);
int cmd_users(cli_ctx *ctx, int argc, char **argv);
int cmd_appeals(cli_ctx *ctx, int argc, char **argv);
int cmd_oversight(cli_ctx *ctx, int argc, char **argv);
/* evaluate --plot (cmd_evaluate.c): the precision-recall curves and the
 * reliability diagram as SVG; 0 on success. The demo draws it too. */
int eval_write_plot(const char *path, const ct_evaluation *e);
/* trace --explain (cmd_explain.c): prints one contact's evidence. */
int trace_explain(cli_ctx *ctx, const char *case_id, const char *msisdn, const ct_params *p,
                  const ct_risk_opts *risk, int json);
/* The demo's Itaewon-style area query, scored against the city's visits
 * (cmd_demo_area.c); 0, or -1 after printing why. */
int demo_area_stage(const char *city, const char *data, double *seconds);
/* The demo's SMS stage through a local Kannel (cmd_demo_sms.c); 0 also when skipped. */
int demo_sms_stage(cli_ctx *ctx, const char *root, const char *data, double *seconds);

/* The library's notices (ct_set_notice): "celltrace: <line>" on stderr. */
void cli_print_notice(void *ud, const char *line);

/* Prints "celltrace: <msg>" to stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Prints a usage error with a hint to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Opens the data directory of ctx; prints the error and returns NULL on
 * failure. */
ct_db *cli_open(cli_ctx *ctx, int writable);

/* The same, quietly: the error is left in *err (check prints it its way). */
ct_db *cli_open_err(cli_ctx *ctx, int writable, ct_err *err);

/* Keys (cli_keys.c). The directory's keys, unlocked once per process with
 * the passphrase or credentials gathered here; NULL after printing why. */
ct_keyring *cli_keys(cli_ctx *ctx);

/* Fills src for the directory's provider (passphrase, credentials dir);
 * a missing source is left NULL for the library to name. 0, or -1 after
 * printing an error. */
int cli_key_source(cli_ctx *ctx, ct_key_source *src);

/* A new passphrase (init, keys rewrap) from descriptor fd (>= 0), the
 * variable env, or the terminal, asked twice; at least 12 characters.
 * 0, or -1 after printing why. */
int cli_new_passphrase(int fd, const char *env, ct_key_source *src);

/* $CT_INGEST_MEM_MB (events buffered per ingest before spilling, in MiB),
 * or 0 for the library's default. */
int cli_ingest_memory_mb(void);

/* Closes the keys and wipes every passphrase buffer (at exit). */
void cli_keys_wipe(cli_ctx *ctx);

/* ingest --spool (ingest_spool.c): an operator's drop folder, each file
 * in it one delivery, taken in name order and removed once committed. */
typedef struct cli_spool_args {
    const char *op, *dir, *format; /* format: "text" or "json" */
    const char *compact;           /* background, now or off: after the ready files */
    ct_import_opts io;             /* rejects_path must be NULL: one report a file */
    double settle_s;               /* a file is taken once unchanged this long */
    int once;                      /* take the files there, then return */
} cli_spool_args;
int cli_ingest_spool(cli_ctx *ctx, const cli_spool_args *args);

/* ct_compact_coalescing in a detached process (cmd_import.c). */
void cli_compact_in_background(const char *dir);

/* An import's summary line (text or json), and the exit status it means. */
void cli_print_import_summary(const char *what, const ct_import_summary *s, const char *format);
/* The same for one delivery of ingest --spool, named after its file. */
void cli_print_delivery_summary(const char *file, const ct_import_summary *s, const char *format);
int cli_import_exit(const ct_import_summary *s);

/* `run`'s summary line. */
struct ct_run_summary;
void cli_print_run_summary(const struct ct_run_summary *s);

/* `stats` as text or JSON. */
void cli_print_stats(const ct_stats *s, const ct_keys_where *w, int json);

/* Writes s as one CSV field (quoted when it holds , " or a line end). */
void cli_csv_text(FILE *out, const char *s);

/* Writes s as a JSON string with its quotes. */
void cli_json_text(FILE *out, const char *s);

/* The SPEC section 4 parameters as options, for getopt_long tables. */
enum { CLI_OPT_MAX_PRESENCE = 1000, CLI_OPT_DISTANCE, CLI_OPT_MIN_EXPOSURE, CLI_OPT_BEFORE, CLI_OPT_AFTER };
#define CLI_PARAM_OPTIONS                                                       \
    {"max-presence", required_argument, NULL, CLI_OPT_MAX_PRESENCE},           \
    {"distance", required_argument, NULL, CLI_OPT_DISTANCE},                   \
    {"min-exposure", required_argument, NULL, CLI_OPT_MIN_EXPOSURE},           \
    {"infectious-before", required_argument, NULL, CLI_OPT_BEFORE},            \
    {"infectious-after", required_argument, NULL, CLI_OPT_AFTER}
#define CLI_PARAM_HELP                                                          \
    "  --max-presence SECONDS    longest time an event keeps a phone at its place (3600)\n" \
    "  --distance METRES         how near two people must be (2)\n"              \
    "  --min-exposure SECONDS    cumulative time that makes a contact (900)\n"   \
    "  --infectious-before SECONDS  infectious time before onset (172800)\n"     \
    "  --infectious-after SECONDS   infectious time after onset without isolation (864000)\n"

/* Applies option c (one of CLI_OPT_*) with its argument to p: 1 done,
 * 0 not a parameter option, -1 a bad value. */
int cli_param_option(int c, const char *arg, ct_params *p);

/* What option c (one of CLI_OPT_*) takes, for a usage error. */
const char *cli_param_rule(int c);

/* Output formats of the query commands. */
typedef enum cli_format { CLI_TABLE, CLI_CSV, CLI_JSON } cli_format;

/* Parses --format's value for command cmd: -1 done, else the exit status
 * of a usage error (printed). */
int cli_format_option(const char *cmd, const char *value, cli_format *out);
/* The same for commands that print a table or JSON, not CSV. */
int cli_format_table_json(const char *cmd, const char *value, cli_format *out);

/* Parses a time option (--from, --to: a SPEC time or a date) of cmd: -1
 * done, else the exit status of a usage error naming --name. */
int cli_time_option(const char *cmd, const char *name, const char *value, int64_t *out);

/* After a library call of cmd: -1 when code is CT_OK; else prints err and
 * returns the exit status (2 for CT_EINVAL: the query itself was wrong;
 * 1 otherwise). */
int cli_query_status(const char *cmd, ct_code code, const ct_err *err);

/* A progress bar on stderr for ct_import_opts.progress (ud = a label). */
void cli_progress(void *ud, uint64_t done, uint64_t total);

#endif
