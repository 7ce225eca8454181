/*
 * cli_util.c — what several commands print or parse the same way: text
 * fields in CSV and JSON, and the SPEC section 4 parameter options that
 * `trace` and `run` share (one parser, so both accept the same values).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_csv_text(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void cli_json_text(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static int parse_seconds(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_metres(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || end == s || !(v >= 0))
        return -1;
    *out = v;
    return 0;
}

const char *cli_param_rule(int c)
{
    switch (c) {
    case CLI_OPT_MAX_PRESENCE: return "--max-presence takes whole seconds, 0 or more";
    case CLI_OPT_DISTANCE: return "--distance takes metres, 0 or more";
    case CLI_OPT_MIN_EXPOSURE: return "--min-exposure takes whole seconds, 0 or more";
    case CLI_OPT_BEFORE: return "--infectious-before takes whole seconds, 0 or more";
    case CLI_OPT_AFTER: return "--infectious-after takes whole seconds, 0 or more";
    default: return "bad value for an option";
    }
}

int cli_param_option(int c, const char *arg, ct_params *p)
{
    switch (c) {
    case CLI_OPT_MAX_PRESENCE: return parse_seconds(arg, &p->max_presence_s) ? -1 : 1;
    case CLI_OPT_DISTANCE: return parse_metres(arg, &p->contact_distance_m) ? -1 : 1;
    case CLI_OPT_MIN_EXPOSURE: return parse_seconds(arg, &p->min_exposure_s) ? -1 : 1;
    case CLI_OPT_BEFORE: return parse_seconds(arg, &p->infectious_before_s) ? -1 : 1;
    case CLI_OPT_AFTER: return parse_seconds(arg, &p->infectious_after_s) ? -1 : 1;
    default: return 0;
    }
}

int cli_format_table_json(const char *cmd, const char *value, cli_format *out)
{
    if (strcmp(value, "table") == 0)
        *out = CLI_TABLE;
    else if (strcmp(value, "json") == 0)
        *out = CLI_JSON;
    else
        return cli_usage_error(cmd, "--format must be table or json");
    return -1;
}

int cli_format_option(const char *cmd, const char *value, cli_format *out)
{
    if (strcmp(value, "table") == 0)
        *out = CLI_TABLE;
    else if (strcmp(value, "csv") == 0)
        *out = CLI_CSV;
    else if (strcmp(value, "json") == 0)
        *out = CLI_JSON;
    else
        return cli_usage_error(cmd, "--format must be table, csv or json");
    return -1;
}

int cli_time_option(const char *cmd, const char *name, const char *value, int64_t *out)
{
    if (ct_parse_time(value, 1, out) == 0)
        return -1;
    return cli_usage_error(cmd, "--%s must be a time (YYYY-MM-DDTHH:MM:SSZ) or a date, not '%s'",
                           name, value);
}

int cli_query_status(const char *cmd, ct_code code, const ct_err *err)
{
    if (code == CT_OK)
        return -1;
    if (code == CT_EINVAL)
        return cli_usage_error(cmd, "%s", err->msg);
    cli_error("%s", err->msg);
    return EXIT_FAIL;
}
