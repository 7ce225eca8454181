/*
 * jobs.c — runs started through the API (POST /api/v1/runs; docs/API.md).
 *
 * A run traces every case that needs it and queues its messages (ct_run):
 * seconds to minutes, longer than a request may wait. So the request
 * records the run in api_runs (state running) and starts a thread that
 * opens its own read-only data handle, runs, and records done or failed
 * with the summary or the error. One run at a time: a second request while
 * one is running gets 409. The server waits for a running run before it
 * stops; a run cut short by a kill stays "running" in the table, and the
 * next server marks it "interrupted" when it starts (ct_run itself stores
 * everything in one transaction, so nothing of it is half there).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "celltrace_notify.h"
#include "error.h"
#include "jobs.h"
#include "notifydb.h"
#include "sqlvfs.h"

typedef struct run_job {
    char *dir;
    ct_keyring *keys;
    int64_t id;
    char who[CT_USER_NAME_MAX + 8];
    char why[256];
    long *active; /* the server's count of running jobs (__atomic) */
} run_job;

static const char RUNS_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS api_runs(id INTEGER PRIMARY KEY, started_by TEXT NOT NULL,"
    " started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL DEFAULT 'running', summary TEXT NOT NULL DEFAULT '',"
    " error TEXT NOT NULL DEFAULT '');";

ct_code ct__jobs_recover(sqlite3 *sql, ct_err *err)
{
    ct_code rc = ct__ndb_exec(sql, RUNS_SCHEMA, err);
    if (!rc)
        rc = ct__ndb_exec(sql,
                          "UPDATE api_runs SET state = 'interrupted', finished_at = strftime('%s')"
                          " WHERE state = 'running'",
                          err);
    return rc;
}

static void finish(const run_job *j, ct_code rc, const ct_run_summary *s, const ct_err *err)
{
    char summary[512] = "";
    if (!rc)
        snprintf(summary, sizeof summary,
                 "{\"cases_total\":%llu,\"cases_traced\":%llu,\"contacts\":%llu,\"queued\":%llu,"
                 "\"extensions\":%llu,\"invitations\":%llu,\"levels\":{\"quarantine\":%llu,"
                 "\"test\":%llu,\"none\":%llu}}",
                 (unsigned long long)s->cases_total, (unsigned long long)s->cases_traced,
                 (unsigned long long)s->contacts, (unsigned long long)s->queued,
                 (unsigned long long)s->extensions, (unsigned long long)s->invitations,
                 (unsigned long long)s->level_quarantine, (unsigned long long)s->level_test,
                 (unsigned long long)s->level_none);
    /* the row must leave "running", or every later start gets 409: a
     * database busy past its 30 s timeout is tried again, for 10 minutes */
    for (int tries = 0; tries < 20; tries++) {
        sqlite3 *sql = NULL;
        sqlite3_stmt *st = NULL;
        ct_err e2;
        int done = 0;
        if (ct__ndb_open(j->dir, &sql, &e2) == CT_OK &&
            ct__ndb_prepare(sql,
                            "UPDATE api_runs SET state = ?2, finished_at = ?3, summary = ?4,"
                            " error = ?5 WHERE id = ?1",
                            &st, &e2) == CT_OK) {
            sqlite3_bind_int64(st, 1, j->id);
            sqlite3_bind_text(st, 2, rc ? "failed" : "done", -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
            sqlite3_bind_text(st, 4, summary, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 5, rc ? err->msg : "", -1, SQLITE_TRANSIENT);
            done = sqlite3_step(st) == SQLITE_DONE;
        }
        sqlite3_finalize(st);
        sqlite3_close(sql);
        if (done)
            return;
        sleep(1);
    }
}

static void *run_thread(void *arg)
{
    run_job *j = arg;
    ct_db *db = NULL;
    ct_err err;
    ct_run_summary sum;
    memset(&sum, 0, sizeof sum);
    ct_code rc = ct_open_keyed(j->dir, 0, j->keys, &db, &err);
    if (!rc) {
        ct_set_actor(db, j->who, j->why);
        rc = ct_run(db, NULL, &sum, &err);
        ct_close(db);
    }
    finish(j, rc, &sum, &err);
    __atomic_sub_fetch(j->active, 1, __ATOMIC_ACQ_REL);
    ct__free(j->dir);
    ct__free(j);
    return NULL;
}

ct_code ct__jobs_start_run(sqlite3 *sql, const char *dir, ct_keyring *keys, const char *who,
                           const char *why, long *active, int64_t *id, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_exec(sql, "BEGIN IMMEDIATE", err);
    if (!rc)
        rc = ct__ndb_prepare(sql, "SELECT id FROM api_runs WHERE state = 'running'", &st, err);
    if (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        rc = ct__fail(err, CT_EEXIST, "run %lld is still running",
                      (long long)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    st = NULL;
    if (!rc)
        rc = ct__ndb_prepare(sql, "INSERT INTO api_runs(started_by, started_at) VALUES(?1, ?2)",
                             &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, who, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = ct__ndb_fail(sql, err);
        *id = sqlite3_last_insert_rowid(sql);
    }
    sqlite3_finalize(st);
    rc = ct__ndb_end(sql, rc, err);
    if (rc)
        return rc;
    run_job *j = ct__calloc(1, sizeof *j);
    j->dir = ct__strdup(dir);
    j->keys = keys;
    j->id = *id;
    j->active = active;
    snprintf(j->who, sizeof j->who, "%s", who);
    snprintf(j->why, sizeof j->why, "%s", why);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    __atomic_add_fetch(active, 1, __ATOMIC_ACQ_REL);
    if (pthread_create(&t, &attr, run_thread, j) != 0) {
        __atomic_sub_fetch(active, 1, __ATOMIC_ACQ_REL);
        ct_err e;
        e.code = CT_EIO;
        snprintf(e.msg, sizeof e.msg, "cannot start a thread for the run");
        finish(j, CT_EIO, NULL, &e);
        ct__free(j->dir);
        ct__free(j);
        rc = ct__fail(err, CT_EIO, "cannot start a thread for the run");
    }
    pthread_attr_destroy(&attr);
    return rc;
}
