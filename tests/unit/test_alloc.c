/*
 * test_alloc.c — the allocation wrapper (src/lib/base/alloc.c):
 * - blocks keep what was put in them: calloc zeroes, realloc keeps the
 *   old bytes when it grows;
 * - blocks of CT_ALLOC_HUGE_FROM bytes and more are advised as huge-page
 *   memory (the kernel's VmFlags for that memory say "hg"), the whole
 *   block, so that its mapping stays in one piece that mremap can grow;
 *   smaller ones are not;
 * - once a program tunes its memory (ct_tune_process_memory), blocks below
 *   that size come from the brk heap, advised as huge-page memory too,
 *   also where the heap grew after the tuning. That is process-wide and
 *   for good, so it runs in a child process.
 * Where the kernel has no transparent huge pages the advice cannot be
 * seen: the other checks still run, and the binary exits 77 (skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "celltrace.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OWN_MALLOC 1 /* a sanitizer's allocator: no brk heap, no mallopt */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define OWN_MALLOC 1
#endif
#endif


enum { MIB = 1 << 20 };

static int have_thp(void)
{
    return access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) == 0;
}

/* The VmFlags of the mapping that holds addr: 1 if it has "hg", 0 if
 * not, -1 if no mapping holds it, -2 if smaps cannot be read; *end (if
 * not NULL) is where that mapping ends. */
static int mapping_of(const void *addr, uintptr_t *end)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -2; /* no cmocka assert here: a child process calls this too */
    char line[512];
    int inside = 0, found = -1;
    uintptr_t a = (uintptr_t)addr;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = a >= lo && a < hi;
            if (inside && end)
                *end = hi;
            continue;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            found = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

static int huge_advised(const void *addr)
{
    return mapping_of(addr, NULL);
}

/* The whole block lies in the one mapping that holds its first byte. */
static void one_mapping(const void *p, size_t size)
{
    uintptr_t end = 0;
    assert_int_not_equal(mapping_of(p, &end), -1);
    assert_true(end >= (uintptr_t)p + size);
}

/* The first 2 MiB-aligned address inside p. */
static const void *aligned_inside(const void *p)
{
    return (const void *)(((uintptr_t)p + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
}

static void small_blocks_are_not_advised(void **state)
{
    (void)state;
    unsigned char *p = ct__malloc(MIB);
    memset(p, 1, MIB);
    assert_int_equal(huge_advised(p + MIB / 2), 0);
    ct__free(p);
}

static void large_blocks_are_advised(void **state)
{
    (void)state;
    size_t size = 8 * (size_t)MIB;
    unsigned char *m = ct__malloc(size);
    unsigned char *c = ct__calloc(size / 8, 8);
    for (size_t i = 0; i < size; i += 4096)
        assert_int_equal(c[i], 0);
    memset(m, 7, size);
    if (have_thp()) {
        assert_int_equal(huge_advised(aligned_inside(m)), 1);
        assert_int_equal(huge_advised(aligned_inside(c)), 1);
        /* from its first byte on, and not cut in pieces: a mapping cut in
         * three cannot grow by mremap (realloc then copies it) */
        assert_int_equal(huge_advised(m), 1);
        one_mapping(m, size);
        one_mapping(c, size);
    }
    ct__free(m);
    ct__free(c);
}

static void growing_keeps_bytes_and_is_advised(void **state)
{
    (void)state;
    size_t small = MIB / 2, big = 16 * (size_t)MIB;
    unsigned char *p = ct__malloc(small);
    for (size_t i = 0; i < small; i++)
        p[i] = (unsigned char)(i * 31);
    p = ct__reallocarray(p, big / 4, 4);
    for (size_t i = 0; i < small; i++)
        assert_int_equal(p[i], (unsigned char)(i * 31));
    memset(p + small, 3, big - small);
    if (have_thp()) {
        assert_int_equal(huge_advised(aligned_inside(p + small)), 1);
        one_mapping(p, big);
        /* and again, now that it is advised */
        p = ct__realloc(p, 2 * big);
        assert_int_equal(p[small], 3);
        assert_int_equal(p[big - 1], 3);
        one_mapping(p, 2 * big);
    }
    ct__free(p);
}

/* The tuned process, in a child of its own: tuning is process-wide and
 * for good, and the child starts from malloc's state before any test
 * here freed a large block (which would raise glibc's own threshold).
 * 48 blocks of 1 MiB, more than the reserve and a growth step: each must
 * come from the brk heap (glibc alone would map it on its own) and lie
 * in memory advised as huge pages, the blocks past the reserve too (the
 * heap's growth advised). Exit 0 when so, 77 when the process cannot be
 * tuned (a sanitizer's or valgrind's allocator), 1 + the block else. */
enum { TUNED_BLOCKS = 48 };
static int tuned_child(void)
{
    if (!ct_tune_process_memory())
        return 77;
    unsigned char *p[TUNED_BLOCKS];
    for (int i = 0; i < TUNED_BLOCKS; i++) {
        p[i] = ct__malloc(MIB);
        memset(p[i], i, MIB);
    }
    uintptr_t brk_now = (uintptr_t)sbrk(0);
    for (int i = 0; i < TUNED_BLOCKS; i++) {
        if ((uintptr_t)p[i] + MIB > brk_now || p[i][MIB - 1] != i)
            return 2 + i;
        if (have_thp() && huge_advised(p[i] + MIB / 2) != 1)
            return 2 + TUNED_BLOCKS + i;
    }
    for (int i = 0; i < TUNED_BLOCKS; i++)
        ct__free(p[i]);
    return 0;
}

/* Where ct_tune_process_memory may rightly leave malloc alone: another
 * allocator (a sanitizer's; valgrind's, preloaded) or the user's own
 * malloc settings. Anywhere else a refusal is a failure. */
static int tuning_may_be_refused(void)
{
#ifdef OWN_MALLOC
    return 1;
#else
    const char *preload = getenv("LD_PRELOAD"), *tunables = getenv("GLIBC_TUNABLES");
    return (preload && strstr(preload, "vgpreload")) || getenv("CT_MALLOC_TUNE") ||
           getenv("MALLOC_TOP_PAD_") || getenv("MALLOC_MMAP_THRESHOLD_") ||
           getenv("MALLOC_TRIM_THRESHOLD_") || getenv("MALLOC_MMAP_MAX_") ||
           (tunables && strstr(tunables, "glibc.malloc."));
#endif
}

static void tuned_heap_is_advised(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(tuned_child());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77 && tuning_may_be_refused())
        skip(); /* not glibc's malloc over a brk heap, or the user's settings */
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tuned_heap_is_advised), /* first: before any large free */
        cmocka_unit_test(small_blocks_are_not_advised),
        cmocka_unit_test(large_blocks_are_advised),
        cmocka_unit_test(growing_keeps_bytes_and_is_advised),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!failed && !have_thp()) {
        fprintf(stderr, "test_alloc: no transparent huge pages here: the advice was not checked\n");
        return 77;
    }
    return failed;
}
