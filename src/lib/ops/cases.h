/*
 * cases.h — the case registry's reads for the rest of the library
 * (internal). cases.c owns the table `cases`: every query of it is there.
 */
#ifndef CT_CASES_H
#define CT_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "celltrace.h"

/* A registered case as stored: its subscriber by id, no number. */
typedef struct ct__case_row {
    char case_id[CT_ID_MAX + 1];
    uint32_t sub;
    int64_t onset, isolated;
    int has_isolated;
    char region[CT_REGION_MAX + 1];
} ct__case_row;

/* The case case_id; CT_ENOTFOUND if none. */
ct_code ct__case_get(ct_db *db, const char *case_id, ct__case_row *row, ct_err *err);

/* Every case, by case_id. Returns new (*rows; n may be 0). */
ct_code ct__cases_all(ct_db *db, ct__case_row **rows, size_t *n, ct_err *err);

/* How many cases are registered. */
ct_code ct__cases_count(ct_db *db, uint64_t *n, ct_err *err);

/* Calls fn for every case whose subscriber id is not below n_subs (the
 * dictionary's size): `check`'s reference test. */
ct_code ct__cases_dangling(ct_db *db, uint32_t n_subs,
                           void (*fn)(void *ud, const char *case_id, int64_t sub), void *ud,
                           ct_err *err);

#endif
