/*
 * sqlvfs.c — a pass-through SQLite VFS with fault injection (sqlvfs.h).
 *
 * Each file SQLite opens is the default VFS's file followed by a pointer
 * back to it; our io_methods forward every call, except that xWrite,
 * xSync and xRead consult ct__fs_fault_check first and return the SQLite
 * error a real EIO or ENOSPC would give (SQLITE_IOERR_WRITE, SQLITE_FULL,
 * SQLITE_IOERR_FSYNC, SQLITE_IOERR_READ). SQLite then rolls the
 * transaction back, or fails the statement's step, which is what the
 * fault tests check.
 */
#include "sqlvfs.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "error.h"
#include "fsio.h"

typedef struct shim_file {
    sqlite3_file base;   /* our methods */
    sqlite3_file *real;  /* the default VFS's file, allocated right after */
} shim_file;

static sqlite3_vfs shim_vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods shim_methods[3]; /* by the real file's iVersion 1..3 */

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((shim_file *)f)->real;
}

static int shim_close(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
}

static int shim_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    if (ct__fs_fault_check("sqlread"))
        return SQLITE_IOERR_READ;
    return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}

static int shim_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int e = ct__fs_fault_check("write");
    if (e)
        return e == ENOSPC ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int shim_sync(sqlite3_file *f, int flags)
{
    if (ct__fs_fault_check("fsync"))
        return SQLITE_IOERR_FSYNC;
    return real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int shim_lock(sqlite3_file *f, int level)
{
    return real_of(f)->pMethods->xLock(real_of(f), level);
}

static int shim_unlock(sqlite3_file *f, int level)
{
    return real_of(f)->pMethods->xUnlock(real_of(f), level);
}

static int shim_check_lock(sqlite3_file *f, int *out)
{
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int shim_control(sqlite3_file *f, int op, void *arg)
{
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int shim_sector(sqlite3_file *f)
{
    return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int shim_device(sqlite3_file *f)
{
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int shim_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **p)
{
    return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, p);
}

static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}

static void shim_shm_barrier(sqlite3_file *f)
{
    real_of(f)->pMethods->xShmBarrier(real_of(f));
}

static int shim_shm_unmap(sqlite3_file *f, int del)
{
    return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}

static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
    return real_of(f)->pMethods->xFetch(real_of(f), off, n, p);
}

static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    shim_file *s = (shim_file *)f;
    s->real = (sqlite3_file *)(s + 1);
    memset(s->real, 0, (size_t)real_vfs->szOsFile);
    int rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out_flags);
    /* SQLite calls xClose only when pMethods is set: set it when the real
     * file was opened, even if that open later failed half-way. */
    const sqlite3_io_methods *m = s->real->pMethods;
    int v = m ? m->iVersion : 0;
    f->pMethods = m ? &shim_methods[(v < 1 ? 1 : v > 3 ? 3 : v) - 1] : NULL;
    return rc;
}

static int shim_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int shim_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int shim_full_path(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

/* SQLite only calls the methods of a file's iVersion: a shim of the same
 * version never forwards to a method the real file lacks. */
static void set_methods(void)
{
    for (int v = 1; v <= 3; v++) {
        shim_methods[v - 1] = (sqlite3_io_methods){
            v, shim_close, shim_read, shim_write, shim_truncate, shim_sync, shim_size, shim_lock,
            shim_unlock, shim_check_lock, shim_control, shim_sector, shim_device,
            v >= 2 ? shim_shm_map : NULL, v >= 2 ? shim_shm_lock : NULL,
            v >= 2 ? shim_shm_barrier : NULL, v >= 2 ? shim_shm_unmap : NULL,
            v >= 3 ? shim_fetch : NULL, v >= 3 ? shim_unfetch : NULL};
    }
}

/* Registers the shim over the default VFS, once per process. */
static void register_shim(void)
{
    sqlite3_vfs *def = sqlite3_vfs_find(NULL);
    if (!def)
        return;
    set_methods();
    shim_vfs = *def; /* inherit randomness, sleep, time, dlopen... */
    shim_vfs.szOsFile = (int)sizeof(shim_file) + def->szOsFile;
    shim_vfs.zName = CT_SQLITE_VFS;
    shim_vfs.pNext = NULL;
    shim_vfs.pAppData = NULL;
    shim_vfs.xOpen = shim_open;
    shim_vfs.xDelete = shim_delete;
    shim_vfs.xAccess = shim_access;
    shim_vfs.xFullPathname = shim_full_path;
    real_vfs = def;
    if (sqlite3_vfs_register(&shim_vfs, 0) != SQLITE_OK)
        real_vfs = NULL;
}

/* pthread_once: handles may be opened by several threads at once. */
const char *ct__sqlite_vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_shim);
    return real_vfs ? CT_SQLITE_VFS : NULL;
}

int ct__sql_step(sqlite3_stmt *st, ct_code *rc, ct_err *err)
{
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW || s == SQLITE_DONE)
        return s;
    if (*rc == CT_OK) {
        sqlite3 *db = sqlite3_db_handle(st);
        const char *sql = sqlite3_sql(st);
        *rc = ct__fail(err, s == SQLITE_CORRUPT || s == SQLITE_NOTADB ? CT_ECORRUPT : CT_EIO,
                       "SQLite: %s (in: %.60s%s)", sqlite3_errmsg(db), sql ? sql : "?",
                       sql && strlen(sql) > 60 ? "..." : "");
    }
    return SQLITE_DONE;
}
