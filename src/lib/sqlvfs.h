/*
 * sqlvfs.h — SQLite's file I/O through celltrace's fault layer (internal).
 *
 * A thin VFS over SQLite's default one: every xWrite and xSync first asks
 * fsio.c whether a fault is injected, so the tests that fail writes and
 * fsyncs (CT_FAULT) reach SQLite's files too. Without an injected fault
 * it only forwards, and costs one function call per write.
 */
#ifndef CT_SQLVFS_H
#define CT_SQLVFS_H

#define CT_SQLITE_VFS "celltrace"

/* Registers the VFS once per process (not the default); returns its name
 * for sqlite3_open_v2, or NULL if it could not be registered. */
const char *ct__sqlite_vfs(void);

#endif
