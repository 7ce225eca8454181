/*
 * csv.h — a streaming RFC 4180 reader with hard caps (internal).
 *
 * Reads plain, gzip (.gz) or zstd (.zst) files, or stdin ("-"), in UTF-8
 * with an optional BOM; CRLF or LF line ends; quoted fields with doubled
 * quotes and embedded newlines. The first row is the header: columns are
 * matched by name (any order; unknown columns ignored; a duplicated column
 * name is an error). An empty field is "absent".
 *
 * Memory is bounded: a row longer than the line cap or a field longer than
 * the field cap is not returned as data: ct__csv_next reports it as a bad
 * row (CT_CSV_BAD, with the reason and line) and resumes at the next line
 * end, so one broken row never hides the rows after it. A quote left open
 * swallows at most one line cap of input before it is reported.
 *
 * Ownership: ct__csv_open returns new, ct__csv_close frees (accepts NULL).
 * Field pointers stay valid until the next call of ct__csv_next.
 */
#ifndef CT_CSV_H
#define CT_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "celltrace.h"

#define CT_CSV_LINE_MAX (64u * 1024u) /* bytes in one row (default cap) */
#define CT_CSV_FIELD_MAX 4096u        /* bytes in one field (default cap) */
#define CT_CSV_COLUMNS_MAX 256u       /* fields in one row / header */

typedef struct ct_csv ct_csv;

typedef struct ct_csv_limits {
    size_t line_max;  /* 0 = CT_CSV_LINE_MAX */
    size_t field_max; /* 0 = CT_CSV_FIELD_MAX */
} ct_csv_limits;

enum { CT_CSV_EOF = 0, CT_CSV_ROW = 1, CT_CSV_BAD = 2 };

/* Opens `path` ("-" = stdin) and reads the header row. limits may be NULL.
 * Fails (CT_EIO, CT_ENOTFOUND, CT_EINVAL for a missing/bad header, or a
 * corrupt compressed stream) with a message naming the file. */
ct_code ct__csv_open(const char *path, const ct_csv_limits *limits, ct_csv **out,
                     ct_err *err);

void ct__csv_close(ct_csv *csv);

/* Index of the header column `name`, or -1. */
int ct__csv_column(const ct_csv *csv, const char *name);

/* The columns of an import: cols[i] = ct__csv_column(names[i]) for i <
 * n. The first `required` names must be in the header; else fails with
 * "<file>: the header has no column <name>". Cells, events and cases all
 * look their columns up here. */
ct_code ct__csv_columns(const ct_csv *csv, const char *const *names, size_t n, size_t required,
                        int *cols, ct_err *err);

/* Reads the next row. Returns CT_CSV_ROW (fields available), CT_CSV_EOF,
 * CT_CSV_BAD (the row is unusable: *reason says why, e.g. "line longer
 * than 65536 bytes", "field longer than 4096 bytes", "unterminated quoted
 * field", "text after closing quote"), or -1 on an I/O or decompression
 * error (err set; the caller stops reading this file). Blank lines are
 * skipped. A row with fewer fields than the header has its missing
 * fields absent; extra fields are ignored. */
int ct__csv_next(ct_csv *csv, const char **reason, ct_err *err);

/* Field i of the current row (i from ct__csv_column; i < 0 or beyond the
 * row gives an absent field). *len receives the length; absent = length 0.
 * The text is NUL-terminated in the buffer. */
const char *ct__csv_field(const ct_csv *csv, int i, size_t *len);

/* 1-based physical line number where the current row starts (header = 1). */
uint64_t ct__csv_line(const ct_csv *csv);

/* Bytes of the underlying file consumed so far, and its size (0 when
 * unknown, e.g. a pipe); for progress bars. */
uint64_t ct__csv_bytes_done(const ct_csv *csv);
uint64_t ct__csv_bytes_total(const ct_csv *csv);

/* The name to show for this input (path, or "<stdin>"). */
const char *ct__csv_name(const ct_csv *csv);

#endif
