/*
 * jobs.h — runs started through the API, on threads of their own (jobs.c).
 */
#ifndef CT_JOBS_H
#define CT_JOBS_H

#include <sqlite3.h>
#include <stdint.h>

#include "api.h"

/* Creates api_runs when missing and marks the runs a killed server left
 * "running" as "interrupted". Call once before serving. */
ct_code ct__jobs_recover(sqlite3 *sql, ct_err *err);

/* Records a new run (CT_EEXIST when one is running) and starts it on a
 * detached thread with its own read-only handle of `dir`; *active counts
 * it until it ends. The run is audited as `who` (ct_run's "run"). */
ct_code ct__jobs_start_run(sqlite3 *sql, const char *dir, ct_keyring *keys, const char *who,
                           const char *why, long *active, int64_t *id, ct_err *err);

#endif
