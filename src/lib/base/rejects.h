/*
 * rejects.h — the reject report of an import (internal).
 *
 * Every row an import cannot use is written here with its file, line,
 * column and reason (SPEC 3.2). The row itself is not copied; the phone
 * number, when the row has one, appears masked ("7999***0001") so the
 * sender can find the row without the report becoming personal data.
 *
 * The report is created on the first rejected row, mode 0600:
 *   file,line,column,reason,msisdn
 * at the path given by the user or <data>/rejects/<UTC time>-<name>.csv.
 */
#ifndef CT_REJECTS_H
#define CT_REJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "celltrace.h"

typedef struct ct_rejects ct_rejects;

/* Returns new. `path` NULL = default location under data_dir; `name` is the
 * input the report is named after (a path: its base name is used). */
ct_rejects *ct__rejects_new(const char *data_dir, const char *path, const char *name);

/* Reports one row. msisdn (raw text of the row's number, may be NULL/empty)
 * is masked before it is written. */
ct_code ct__rejects_add(ct_rejects *r, const char *file, uint64_t line, const char *column,
                        const char *reason, const char *msisdn, size_t msisdn_len,
                        ct_err *err);

uint64_t ct__rejects_count(const ct_rejects *r);

/* Flushes, fsyncs and frees; copies the report path (or "") to path_out.
 * Accepts NULL. */
ct_code ct__rejects_close(ct_rejects *r, char *path_out, size_t path_cap, ct_err *err);

#endif
