/*
 * alloc.c — allocation with one out-of-memory policy: report and abort.
 *
 * Why abort: every command's writes are atomic (temp file, fsync, rename of
 * the manifest), so dying mid-command loses nothing; unwinding every caller
 * for ENOMEM would add error paths that are never tested. See alloc.h.
 */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
    fprintf(stderr, "celltrace: out of memory (asked for %zu bytes)\n", size);
    abort();
}

void *ct__malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

void *ct__calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *ct__realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        out_of_memory(size);
    return q;
}

void *ct__reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    return ct__realloc(p, n * size);
}

char *ct__strdup(const char *s)
{
    return ct__strndup(s, strlen(s));
}

char *ct__strndup(const char *s, size_t n)
{
    char *p = ct__malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ct__free(void *p)
{
    free(p);
}

void ct__copy(void *dst, const void *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
}
