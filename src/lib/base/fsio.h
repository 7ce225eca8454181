/*
 * fsio.h — the one layer through which celltrace writes files (internal).
 *
 * Durability rules every writer follows (docs/ARCHITECTURE.md):
 *   1. a new file is written under a temporary name in its final folder,
 *   2. fsync'd, 3. renamed over its final name, 4. the folder fsync'd.
 * Nothing refers to a file before step 4 is done. A failed fsync is a
 * failed write: the file is removed, never retried as if it had worked.
 *
 * All writes, fsyncs and renames go through here so that tests can inject
 * faults (EIO, ENOSPC) at any of them: see ct__fs_fault_*.
 */
#ifndef CT_FSIO_H
#define CT_FSIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "celltrace.h"

/* A file being written to a temporary name; committed by ct__fs_commit. */
typedef struct ct_wfile {
    int fd;
    char *tmp_path;
    char *final_path;
    uint64_t written;
    uint32_t crc;   /* crc32 of everything written */
} ct_wfile;

/* Creates `final_path`.tmp-<pid> for writing. */
ct_code ct__fs_create(ct_wfile *f, const char *final_path, ct_err *err);

/* Appends bytes (all of them, or fails). */
ct_code ct__fs_write(ct_wfile *f, const void *data, size_t len, ct_err *err);

/* Writes bytes at an offset already written (headers filled in last). */
ct_code ct__fs_pwrite(ct_wfile *f, const void *data, size_t len, uint64_t off,
                      ct_err *err);

/* fsync, close, rename to the final name, fsync the folder. On failure the
 * temporary file is removed. Frees the names either way. */
ct_code ct__fs_commit(ct_wfile *f, ct_err *err);

/* Abandons the file (removes the temporary). Accepts a zeroed struct. */
void ct__fs_discard(ct_wfile *f);

/* Writes a whole small file atomically (steps 1-4) with `mode`. */
ct_code ct__fs_write_file(const char *path, const void *data, size_t len, int mode,
                          ct_err *err);

/* Reads from fd, at its offset, until buf holds len bytes or the file
 * ends, retrying interrupted reads (a read may return less than asked).
 * Returns the bytes read, or -1 with errno set. */
ssize_t ct__fs_read_full(int fd, void *buf, size_t len);

/* Reads a whole file of at most `cap` bytes. Returns new (*data, NUL
 * terminated for convenience). CT_ENOTFOUND if it does not exist. */
ct_code ct__fs_read_file(const char *path, size_t cap, char **data, size_t *len,
                         ct_err *err);

/* Appends one record to an append-only file opened with O_APPEND and
 * fsyncs it (the audit log, the subscriber dictionary). */
ct_code ct__fs_append_sync(int fd, const void *data, size_t len, const char *name,
                           ct_err *err);

/* fsync a folder so that renames and creations in it are durable. */
ct_code ct__fs_sync_dir(const char *dir, ct_err *err);

/* fsync an open file descriptor through the fault layer. */
ct_code ct__fs_fsync_fd(int fd, const char *name, ct_err *err);

/* mkdir with mode; an existing folder is fine. */
ct_code ct__fs_mkdir(const char *path, int mode, ct_err *err);

/* Opens dir/name (created 0600 if absent) and takes an exclusive flock
 * on it, waiting for it or not: the descriptor (closing it lets go), or
 * -1 with errno (EWOULDBLOCK: another holds it). */
int ct__fs_lock(const char *dir, const char *name, int wait);

/* A read-only memory map of a whole file. */
typedef struct ct_map {
    const uint8_t *data;
    size_t len;
    uint64_t dev, ino; /* the file mapped (fstat of the descriptor mapped) */
} ct_map;

ct_code ct__fs_map(const char *path, ct_map *m, ct_err *err);
void ct__fs_unmap(ct_map *m);

/* Removes everything inside `dir` (files, and folders with what is in
 * them, `depth` levels down), keeping `dir` itself. Best effort: used for
 * scratch space and leftovers, never for data that is live. */
void ct__fs_empty_dir(const char *dir, int depth);

/* Joins a folder and a name into a new string. */
char *ct__path_join(const char *dir, const char *name);

/* Fault injection for tests: the n-th (1-based) call of `op` ("write",
 * "fsync", "rename", or "sqlread": SQLite's page reads) fails with errno
 * `errnum`; forever = every call from the n-th on. Also read from
 * $CT_FAULT at first use, the one documented test hook:
 * "op:ERRNO:n[:forever|:count]", e.g. "fsync:EIO:3"; n = 0 disables;
 * "count" prints "ct-fault: <op> calls <k>" to stderr at exit, so a test
 * knows how many calls a command makes and sweeps each one. */
void ct__fs_fault_set(const char *op, int errnum, unsigned n, int forever);

/* For callers that cannot call write/fsync/read here (SQLite's VFS shim,
 * sqlvfs.c): counts one call of `op` and returns the errno it must fail
 * with, or 0. */
int ct__fs_fault_check(const char *op);

#endif
