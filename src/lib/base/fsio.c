/*
 * fsio.c — durable file writes, reads, maps, and the fault injector.
 *
 * Invariant: a path that celltrace names anywhere (manifest, SQLite) was
 * fsync'd and its folder fsync'd before it was named. Temporary files end
 * in ".tmp-<pid>"; whoever opens a data directory for writing removes
 * temporaries left by a crashed process (see store.c).
 */
#include "fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "error.h"

/* ---- fault injection ---------------------------------------------------- */

/* sqlread: SQLite's page reads only (sqlvfs.c), to fail a statement's
 * step in the middle of its rows. */
enum { OP_WRITE, OP_FSYNC, OP_RENAME, OP_SQLREAD, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"write", "fsync", "rename", "sqlread"};

static struct fault {
    int errnum;
    unsigned at;
    int forever;
    int count; /* mode "count": report the calls at exit (how far to sweep) */
    atomic_uint calls; /* `run` reads SQLite on several threads at once */
} faults[OP_COUNT];
static int faults_loaded;

static int errno_by_name(const char *name)
{
    if (strcmp(name, "EIO") == 0)
        return EIO;
    if (strcmp(name, "ENOSPC") == 0)
        return ENOSPC;
    if (strcmp(name, "EDQUOT") == 0)
        return EDQUOT;
    return EIO;
}

static void report_counts(void)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (faults[i].count)
            fprintf(stderr, "ct-fault: %s calls %u\n", op_names[i], atomic_load(&faults[i].calls));
}

/* The test hook (fsio.h): CT_FAULT=op:ERRNO:N[:forever|:count]. */
static void load_faults_from_env(void)
{
    const char *spec = getenv("CT_FAULT");
    if (!spec || !*spec)
        return;
    char op[16] = "", en[16] = "", mode[16] = "";
    unsigned n = 0;
    if (sscanf(spec, "%15[a-z]:%15[A-Z]:%u:%15s", op, en, &n, mode) >= 3)
        ct__fs_fault_set(op, errno_by_name(en), n, strcmp(mode, "forever") == 0);
    if (!strcmp(mode, "count"))
        for (int i = 0; i < OP_COUNT; i++)
            if (!strcmp(op, op_names[i])) {
                faults[i].count = 1;
                atexit(report_counts);
            }
}

void ct__fs_fault_set(const char *op, int errnum, unsigned n, int forever)
{
    faults_loaded = 1;
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(op, op_names[i]) == 0) {
            faults[i].errnum = errnum;
            faults[i].at = n;
            faults[i].forever = forever;
            atomic_store(&faults[i].calls, 0);
        }
}

/* Returns 0 or the errno this call must fail with. */
static int injected(int op)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!faults_loaded)
        pthread_once(&once, load_faults_from_env);
    struct fault *f = &faults[op];
    if (!f->at && !f->count)
        return 0;
    unsigned calls = atomic_fetch_add(&f->calls, 1) + 1;
    if (!f->at)
        return 0;
    if (calls == f->at || (f->forever && calls > f->at))
        return f->errnum;
    return 0;
}

int ct__fs_fault_check(const char *op)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(op, op_names[i]) == 0)
            return injected(i);
    return 0;
}

static int do_write(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        int e = injected(OP_WRITE);
        if (e) {
            errno = e;
            return -1;
        }
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int do_fsync(int fd)
{
    int e = injected(OP_FSYNC);
    if (e) {
        errno = e;
        return -1;
    }
    return fsync(fd);
}

static int do_rename(const char *from, const char *to)
{
    int e = injected(OP_RENAME);
    if (e) {
        errno = e;
        return -1;
    }
    return rename(from, to);
}

/* ---- paths and folders --------------------------------------------------- */

char *ct__path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = ct__malloc(a + b + 2);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

int ct__fs_lock(const char *dir, const char *name, int wait)
{
    char *path = ct__path_join(dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ct__free(path);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

ct_code ct__fs_mkdir(const char *path, int mode, ct_err *err)
{
    if (mkdir(path, (mode_t)mode) == 0 || errno == EEXIST)
        return CT_OK;
    return ct__fail_errno(err, CT_EIO, errno, "cannot create folder %s", path);
}

ct_code ct__fs_fsync_fd(int fd, const char *name, ct_err *err)
{
    if (do_fsync(fd) != 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot sync %s", name);
    return CT_OK;
}

ct_code ct__fs_sync_dir(const char *dir, ct_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot open folder %s", dir);
    ct_code rc = ct__fs_fsync_fd(fd, dir, err);
    close(fd);
    return rc;
}

static ct_code sync_parent(const char *path, ct_err *err)
{
    char *copy = ct__strdup(path);
    ct_code rc = ct__fs_sync_dir(dirname(copy), err);
    ct__free(copy);
    return rc;
}

void ct__fs_empty_dir(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = ct__path_join(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (depth > 0) {
                ct__fs_empty_dir(p, depth - 1);
                rmdir(p);
            }
        } else {
            unlink(p);
        }
        ct__free(p);
    }
    closedir(d);
}

/* ---- writing new files ----------------------------------------------------- */

ct_code ct__fs_create(ct_wfile *f, const char *final_path, ct_err *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp-%ld", (long)getpid());
    size_t n = strlen(final_path);
    f->tmp_path = ct__malloc(n + strlen(suffix) + 1);
    memcpy(f->tmp_path, final_path, n);
    strcpy(f->tmp_path + n, suffix);
    f->final_path = ct__strdup(final_path);
    f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        ct_code rc = ct__fail_errno(err, CT_EIO, errno, "cannot create %s", f->tmp_path);
        ct__fs_discard(f);
        return rc;
    }
    f->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    return CT_OK;
}

ct_code ct__fs_write(ct_wfile *f, const void *data, size_t len, ct_err *err)
{
    if (do_write(f->fd, data, len) != 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot write %s", f->final_path);
    f->written += len;
    const uint8_t *p = data;
    while (len) { /* crc32 takes a uInt length */
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        f->crc = (uint32_t)crc32(f->crc, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return CT_OK;
}

ct_code ct__fs_pwrite(ct_wfile *f, const void *data, size_t len, uint64_t off, ct_err *err)
{
    int e = injected(OP_WRITE);
    ssize_t n = e ? -1 : pwrite(f->fd, data, len, (off_t)off);
    if (e)
        errno = e;
    if (n != (ssize_t)len)
        return ct__fail_errno(err, CT_EIO, n < 0 ? errno : EIO, "cannot write %s",
                              f->final_path);
    return CT_OK;
}

void ct__fs_discard(ct_wfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp_path)
        unlink(f->tmp_path);
    ct__free(f->tmp_path);
    ct__free(f->final_path);
    f->fd = -1;
    f->tmp_path = f->final_path = NULL;
}

ct_code ct__fs_commit(ct_wfile *f, ct_err *err)
{
    ct_code rc = CT_OK;
    if (do_fsync(f->fd) != 0) {
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot sync %s", f->final_path);
        goto out;
    }
    if (close(f->fd) != 0) {
        f->fd = -1;
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot close %s", f->final_path);
        goto out;
    }
    f->fd = -1;
    if (do_rename(f->tmp_path, f->final_path) != 0) {
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot rename to %s", f->final_path);
        goto out;
    }
    ct__free(f->tmp_path);
    f->tmp_path = NULL; /* nothing left to remove */
    rc = sync_parent(f->final_path, err);
out:
    ct__fs_discard(f);
    return rc;
}

ct_code ct__fs_write_file(const char *path, const void *data, size_t len, int mode,
                          ct_err *err)
{
    ct_wfile f;
    ct_code rc = ct__fs_create(&f, path, err);
    if (rc)
        return rc;
    if (fchmod(f.fd, (mode_t)mode) != 0) {
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot set mode of %s", path);
        ct__fs_discard(&f);
        return rc;
    }
    rc = ct__fs_write(&f, data, len, err);
    if (rc) {
        ct__fs_discard(&f);
        return rc;
    }
    return ct__fs_commit(&f, err);
}

ct_code ct__fs_append_sync(int fd, const void *data, size_t len, const char *name,
                           ct_err *err)
{
    if (do_write(fd, data, len) != 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot append to %s", name);
    return ct__fs_fsync_fd(fd, name, err);
}

/* ---- reading ------------------------------------------------------------------ */

ssize_t ct__fs_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

ct_code ct__fs_read_file(const char *path, size_t cap, char **data, size_t *len, ct_err *err)
{
    ct_code rc = CT_OK;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ct__fail_errno(err, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
                              "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot stat %s", path);
        goto out;
    }
    if ((uint64_t)st.st_size > cap) {
        rc = ct__fail(err, CT_ELIMIT, "%s is larger than %zu bytes", path, cap);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    buf = ct__malloc(size + 1);
    ssize_t got = ct__fs_read_full(fd, buf, size);
    if (got < 0 || (size_t)got < size) {
        rc = ct__fail_errno(err, CT_EIO, got < 0 ? errno : EIO, "cannot read %s", path);
        goto out;
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    buf = NULL;
out:
    ct__free(buf);
    close(fd);
    return rc;
}

ct_code ct__fs_map(const char *path, ct_map *m, ct_err *err)
{
    m->data = NULL;
    m->len = 0;
    m->dev = m->ino = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ct__fail_errno(err, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
                              "cannot open %s", path);
    struct stat st;
    ct_code rc = CT_OK;
    if (fstat(fd, &st) != 0) {
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot stat %s", path);
        goto out;
    }
    m->dev = (uint64_t)st.st_dev;
    m->ino = (uint64_t)st.st_ino;
    if (st.st_size == 0)
        goto out;
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot map %s", path);
        goto out;
    }
    m->data = p;
    m->len = (size_t)st.st_size;
out:
    close(fd);
    return rc;
}

void ct__fs_unmap(ct_map *m)
{
    if (m && m->data)
        munmap((void *)m->data, m->len);
    if (m) {
        m->data = NULL;
        m->len = 0;
    }
}
