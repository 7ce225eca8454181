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

/* malloc may have grown the heap with brk since the last look: advise
 * what is new. sbrk(0) only reads the current break (glibc keeps it in a
 * variable). A heap that glibc trimmed (more than the trim threshold free
 * at its top) lowers the mark, so that what grows back is advised again.
 * Threads may race here; both would advise the same pages, which is
 * harmless: this is a hint, and a growth missed between two looks only
 * loses the hint. */
static void advise_heap_growth(void)
{
    uintptr_t done = atomic_load_explicit(&heap_advised_to, memory_order_relaxed);
    if (!done)
        return;
    uintptr_t top = (uintptr_t)sbrk(0);
    if (top == (uintptr_t)-1 || top == done)
        return;
#ifdef MADV_HUGEPAGE
    if (top > done)
        (void)madvise((void *)done, top - done, MADV_HUGEPAGE);
#endif
    atomic_store_explicit(&heap_advised_to, top, memory_order_relaxed);
}

/* Has the user set malloc up already, or asked us not to? Their settings
 * win: glibc read them at start, and mallopt would override them. */
static int malloc_set_by_user(void)
{
    static const char *const own[] = {"MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_",
                                      "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_"};
    const char *off = getenv("CT_MALLOC_TUNE"), *tunables = getenv("GLIBC_TUNABLES");
    if (off && strcmp(off, "0") == 0)
        return 1;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (getenv(own[i]))
            return 1;
    return tunables && strstr(tunables, "glibc.malloc.") != NULL;
}

/* A fault per fresh 4 KiB page is what a short command pays most on a VM
 * (a delivery's ingest: about 2 000 of them, 15 us each here). glibc
 * maps each block of 128 KiB and more on its own and unmaps it at free,
 * so the next one faults again (after the first such free it raises that
 * threshold to the block's size, up to 32 MiB), and grows the heap
 * 128 KiB at a time, too little for a huge page. Here, process-wide, so
 * in threads' arenas too: blocks up to 32 MiB come from a heap and are
 * reused after free, a heap grows 8 MiB at a time and keeps up to 64 MiB
 * free. And the main heap's pages are advised as huge pages (what
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 does, which a program cannot set
 * for itself); threads' arenas are not advised. Returns 1 when the main
 * heap is tuned; 0 where malloc is not glibc's own over a brk heap (a
 * sanitizer's or valgrind's allocator, another C library), or the user
 * set malloc up (malloc_set_by_user). */
int ct_tune_process_memory(void)
{
#if defined(__GLIBC__) && defined(M_TOP_PAD) && defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    if (malloc_set_by_user() || mallopt(M_MMAP_THRESHOLD, 32 << 20) == 0)
        return 0;
    (void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
    (void)mallopt(M_TOP_PAD, 8 << 20);
    uintptr_t top = (uintptr_t)sbrk(0);
    if (top == (uintptr_t)-1)
        return 0;
    /* Grow the heap now and advise it before malloc hands it out: a 2 MiB
     * range that already holds one small page gets no huge page when it
     * faults later. (malloc writes the new top's header inside the
     * reserve before the advice: that one range keeps small pages.) The
     * reserve must have come from the brk heap, or malloc is not glibc's. */
    unsigned char *reserve = malloc(HEAP_RESERVE);
    uintptr_t r = (uintptr_t)reserve, grown = (uintptr_t)sbrk(0);
    int from_heap = reserve && grown != (uintptr_t)-1 && r + HEAP_RESERVE <= grown && r < grown &&
                    r + HEAP_RESERVE > top;
    free(reserve);
    if (!from_heap)
        return 0;
    atomic_store_explicit(&heap_advised_to, top, memory_order_relaxed);
    advise_heap_growth();
    return 1;
#else
    return 0;
#endif
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
