/*
 * report.h — the tables that keep the report's numbers (internal; see
 * report.c).
 */
#ifndef CT_REPORT_H
#define CT_REPORT_H

#include <sqlite3.h>

#include "celltrace.h"

/* Creates the report's tables and triggers when missing, and fills them
 * from the stored rows the first time (under a write lock). Called by
 * ct__ndb_open on every connection; `dir` gives the time zone for
 * contacts stored before found_day existed. */
ct_code ct__report_tables(sqlite3 *sql, const char *dir, ct_err *err);

/* The cases with contacts living in `region`, as a JSON array of case ids
 * (new: free()), from the report's tables; and whether one case has. */
ct_code ct__report_cases_living_in(sqlite3 *sql, const char *region, char **ids, ct_err *err);
ct_code ct__report_case_lives_in(sqlite3 *sql, const char *region, const char *case_id,
                                 int *yes, ct_err *err);

#endif
