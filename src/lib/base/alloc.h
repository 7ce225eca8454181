/*
 * alloc.h — the one allocation wrapper (internal).
 *
 * Out-of-memory policy: celltrace is a batch tool whose every write is
 * atomic (a crash leaves the data directory as it was before the command),
 * so running out of memory prints one line and aborts the process rather
 * than threading CT_ENOMEM through every call. Sizes are checked for
 * overflow here, so callers never multiply counts by sizes themselves.
 * Blocks of CT_ALLOC_HUGE_FROM bytes and more are advised as huge-page
 * memory (alloc.c).
 */
#ifndef CT_ALLOC_H
#define CT_ALLOC_H

#include <stddef.h>

#define CT_ALLOC_HUGE_FROM ((size_t)4 << 20)

void *ct__malloc(size_t size);                    /* returns new, never NULL */
void *ct__calloc(size_t n, size_t size);          /* zeroed, overflow-checked */
void *ct__realloc(void *p, size_t size);          /* consumes p */
void *ct__reallocarray(void *p, size_t n, size_t size); /* overflow-checked */
char *ct__strdup(const char *s);
char *ct__strndup(const char *s, size_t n);
void ct__free(void *p);                           /* accepts NULL */

/* memcpy that accepts NULL pointers when n is 0 (memcpy itself does not). */
void ct__copy(void *dst, const void *src, size_t n);

/* Grows *items (count *n, capacity *cap) to hold at least need items. */
#define CT_GROW(items, n_need, cap)                                               \
    do {                                                                         \
        if ((size_t)(n_need) > (cap)) {                                          \
            size_t ct_nc_ = (cap) ? (cap) * 2 : 16;                              \
            while (ct_nc_ < (size_t)(n_need))                                    \
                ct_nc_ *= 2;                                                     \
            (items) = ct__reallocarray((items), ct_nc_, sizeof *(items));        \
            (cap) = ct_nc_;                                                      \
        }                                                                        \
    } while (0)

#endif
