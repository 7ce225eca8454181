/*
 * eio_read.c — a test shim, loaded with LD_PRELOAD: read(2) fails with
 * EIO on every file whose name starts with "eio-", as on a disk that
 * cannot read a sector of it. golden.spool uses it for a delivery the
 * disk cannot read, without root or a broken device. Built only without
 * sanitizers (their runtimes must come first in the load order).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


static int name_says_eio(int fd)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    const char *slash = strrchr(path, '/');
    return strncmp(slash ? slash + 1 : path, "eio-", 4) == 0;
}

ssize_t read(int fd, void *buf, size_t count)
{
    static ssize_t (*next_read)(int, void *, size_t);
    if (!next_read) {
        void *found = dlsym(RTLD_NEXT, "read");
        memcpy(&next_read, &found, sizeof next_read);
    }
    if (name_says_eio(fd)) {
        errno = EIO;
        return -1;
    }
    return next_read(fd, buf, count);
}
