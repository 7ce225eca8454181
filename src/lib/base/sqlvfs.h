/*
 * sqlvfs.h — SQLite's file I/O through celltrace's fault layer (internal).
 *
 * A thin VFS over SQLite's default one: every xWrite, xSync and xRead asks
 * fsio.c whether a fault is injected, so the tests that fail writes,
 * fsyncs and page reads (CT_FAULT) reach SQLite's files too. Without an injected fault
 * it only forwards, and costs one function call per write.
 */
#ifndef CT_SQLVFS_H
#define CT_SQLVFS_H

#include <sqlite3.h>

#include "celltrace.h"

#define CT_SQLITE_VFS "celltrace"

/* Registers the VFS once per process (not the default); returns its name
 * for sqlite3_open_v2, or NULL if it could not be registered. */
const char *ct__sqlite_vfs(void);

/* One step of st that never takes an error for the end of the rows:
 * returns SQLITE_ROW or SQLITE_DONE; on any other result it sets *rc (if
 * still CT_OK) and err from SQLite's message and returns SQLITE_DONE, so
 *   while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) ...
 * ends with rc telling a finished loop from a failed one. */
int ct__sql_step(sqlite3_stmt *st, ct_code *rc, ct_err *err);

#endif
