/*
 * alloc.c — allocation with one out-of-memory policy: report and abort.
 *
 * Why abort: every command's writes are atomic (temp file, fsync, rename of
 * the manifest), so dying mid-command loses nothing; unwinding every caller
 * for ENOMEM would add error paths that are never tested. See alloc.h.
 *
 * Large blocks (4 MiB and more) are advised to the kernel as huge-page
 * memory: the trace's and scorer's tables are filled once and probed at
 * random, and a fault per 4 KiB page is what they cost most on a VM
 * (docs/ARCHITECTURE.md, "Memory policy").
 */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

static void out_of_memory(size_t size)
{
    fprintf(stderr, "celltrace: out of memory (asked for %zu bytes)\n", size);
    abort();
}

/* Asks for transparent huge pages over every page of a large block,
 * from the page that holds its first byte through the one that holds
 * its last usable byte; a hint: where THP is off, or the kernel refuses,
 * nothing changes. The whole mapping of a block that malloc mapped on
 * its own gets the flag, not only its 2 MiB-aligned middle: a mapping
 * cut in three cannot be grown by mremap, and realloc would copy it into
 * fresh pages at every doubling. Returns p. */
static void *advise_huge(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    if (size >= CT_ALLOC_HUGE_FROM) {
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t a = (uintptr_t)p & ~(page - 1);
        uintptr_t b = ((uintptr_t)p + malloc_usable_size(p) + page - 1) & ~(page - 1);
        (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
    }
#else
    (void)size;
#endif
    return p;
}

void *ct__malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size);
    return advise_huge(p, size);
}

void *ct__calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return advise_huge(p, n * size);
}

void *ct__realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        out_of_memory(size);
    return advise_huge(q, size);
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
