/*
 * radix.h — the one LSD radix sort (internal): stable, 16 bits a pass,
 * skipping the passes whose digit is the same for every element (so a
 * 64-bit key of small values costs one or two passes).
 *
 * A C template: CT_RADIX_SORT_DEFINE(name, type, key) defines
 *   static void name(type *a, type *tmp, size_t n, unsigned bits,
 *                    uint32_t count[65536])
 * which sorts a[0..n) (n < 2^32) on key(&a[i]), an unsigned integer of at
 * most `bits` bits (a multiple of 16), with tmp (n elements) and count as
 * scratch. One definition, instantiated where the key is known, so the
 * key is inlined in the inner loops (seal.c's events, segment.c's place
 * items, trace.c's cell links). tmp and count may be NULL when
 * n < CT_RADIX_SMALL (CT_RADIX_NEEDS_SCRATCH(n) says when they are needed).
 *
 * Below CT_RADIX_SMALL elements it sorts by insertion instead (stable too,
 * so the order is the same): a pass costs clearing and summing 65536
 * counters whatever n is, which dwarfs sorting a few dozen elements.
 */
#ifndef CT_RADIX_H
#define CT_RADIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CT_RADIX_BUCKETS 65536u
#define CT_RADIX_SMALL 64u
#define CT_RADIX_NEEDS_SCRATCH(n) ((n) >= CT_RADIX_SMALL)

#define CT_RADIX_SORT_DEFINE(name, type, key)                                                      \
    static void name(type *a, type *tmp, size_t n, unsigned bits, uint32_t *count)                \
    {                                                                                              \
        if (n < 2)                                                                                 \
            return;                                                                                \
        if (n < CT_RADIX_SMALL) {                                                                  \
            for (size_t i = 1; i < n; i++) {                                                       \
                type item = a[i];                                                                  \
                size_t j = i;                                                                      \
                for (; j > 0 && (uint64_t)key(&a[j - 1]) > (uint64_t)key(&item); j--)              \
                    a[j] = a[j - 1];                                                               \
                a[j] = item;                                                                       \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        type *src = a, *dst = tmp;                                                                 \
        for (unsigned shift = 0; shift < bits; shift += 16) {                                      \
            memset(count, 0, CT_RADIX_BUCKETS * sizeof *count);                                    \
            for (size_t i = 0; i < n; i++)                                                         \
                count[((uint64_t)key(&src[i]) >> shift) & 0xFFFF]++;                               \
            if (count[((uint64_t)key(&src[0]) >> shift) & 0xFFFF] == n)                            \
                continue; /* every element has this digit: nothing to move */                      \
            uint32_t sum = 0;                                                                      \
            for (unsigned d = 0; d < CT_RADIX_BUCKETS; d++) {                                      \
                uint32_t c = count[d];                                                             \
                count[d] = sum;                                                                    \
                sum += c;                                                                          \
            }                                                                                      \
            for (size_t i = 0; i < n; i++)                                                         \
                dst[count[((uint64_t)key(&src[i]) >> shift) & 0xFFFF]++] = src[i];                 \
            type *swap = src;                                                                      \
            src = dst;                                                                             \
            dst = swap;                                                                            \
        }                                                                                          \
        if (src != a)                                                                              \
            memcpy(a, src, n * sizeof *a);                                                         \
    }

#endif
