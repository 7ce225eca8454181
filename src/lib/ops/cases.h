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

/* The cases whose region is `region` or whose id is in `also_ids` (a JSON
 * array of case ids, or NULL); region "" selects every case. By case_id,
 * `limit` rows (0 = all) from `offset`; *total counts every match.
 * Returns new (*rows; n may be 0). */
ct_code ct__cases_select(ct_db *db, const char *region, const char *also_ids, size_t offset,
                         size_t limit, ct__case_row **rows, size_t *n, uint64_t *total,
                         ct_err *err);

/* Calls fn with each region's number of cases whose onset is in [from, to)
 * (cases without a region under ""). */
ct_code ct__cases_by_region(ct_db *db, int64_t from, int64_t to,
                            void (*fn)(void *ud, const char *region, uint64_t n), void *ud,
                            ct_err *err);

/* How many cases are registered. */
ct_code ct__cases_count(ct_db *db, uint64_t *n, ct_err *err);

/* Calls fn for every case whose subscriber id is not below n_subs (the
 * dictionary's size): `check`'s reference test. */
ct_code ct__cases_dangling(ct_db *db, uint32_t n_subs,
                           void (*fn)(void *ud, const char *case_id, int64_t sub), void *ud,
                           ct_err *err);

#endif
