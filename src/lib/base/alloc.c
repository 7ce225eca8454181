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
 * (docs/ARCHITECTURE.md, "Memory policy"). A program may also ask for
 * its whole heap to be tuned the same way (ct_tune_process_memory).
 */
#include "alloc.h"

#include "celltrace.h"

#include <stdatomic.h>
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

/* The main heap, advised as huge-page memory up to here; 0 while the
 * process has not asked for it (ct_tune_process_memory). */
static _Atomic uintptr_t heap_advised_to;

/* What the heap grows by at start, free but kept (below the trim
 * threshold): virtual memory only, until used. */
#define HEAP_RESERVE ((size_t)24 << 20)

/* malloc grew the heap with brk since the last look: advise what is new.
 * sbrk(0) only reads the current break. Threads may race here; both
 * would advise the same pages, which is harmless. */
static void advise_heap_growth(void)
{
    uintptr_t done = atomic_load_explicit(&heap_advised_to, memory_order_relaxed);
    if (!done)
        return;
    uintptr_t top = (uintptr_t)sbrk(0);
    if (top <= done)
        return;
#ifdef MADV_HUGEPAGE
    (void)madvise((void *)done, top - done, MADV_HUGEPAGE);
#endif
    atomic_store_explicit(&heap_advised_to, top, memory_order_relaxed);
}

/* A fault per fresh 4 KiB page is what a short command pays most on a VM
 * (a delivery's ingest: about 1 500 of them, 15 us each here). glibc's
 * defaults map every block of 128 KiB and more on its own, unmap it at
 * free (the next such block faults again) and grow the heap 128 KiB at a
 * time, too little for a huge page. Here blocks up to 32 MiB come from
 * the heap and are reused after free, the heap grows 8 MiB at a time and
 * keeps up to 64 MiB free, and its pages are advised as huge pages (what
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 does, which a program cannot set
 * for itself). Threads' own arenas are left as they are. */
void ct_tune_process_memory(void)
{
    (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
    (void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
    (void)mallopt(M_TOP_PAD, 8 << 20);
    uintptr_t top = (uintptr_t)sbrk(0), huge = (uintptr_t)2 << 20;
    if (top == (uintptr_t)-1)
        return;
    /* Grow the heap now and advise it before malloc writes in it: a
     * 2 MiB range that already holds one small page (a chunk's header)
     * gets no huge page when it faults later. From the 2 MiB boundary
     * below the break: the heap's first pages are below it, or the gap
     * before the heap (which madvise skips). */
    atomic_store_explicit(&heap_advised_to, top & ~(huge - 1), memory_order_relaxed);
    free(malloc(HEAP_RESERVE));
    advise_heap_growth();
}

void *ct__malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size);
    advise_heap_growth();
    return advise_huge(p, size);
}

void *ct__calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    advise_heap_growth();
    return advise_huge(p, n * size);
}

void *ct__realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        out_of_memory(size);
    advise_heap_growth();
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
