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
 *
 * CT_RADIX_SORT_DEFINE_DIGITS(name, type, key, digit_bits) is the same
 * sort with digits of digit_bits bits (`bits` then a multiple of it, and
 * count 2^digit_bits counters): for arrays sorted one after another, where
 * clearing 65536 counters each time would cost more than the array, and
 * for large ones whose 65536-way scatter would miss the cache on nearly
 * every write (trace.c's subscribers of a day, in 8-bit digits).
 */
#ifndef CT_RADIX_H
#define CT_RADIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CT_RADIX_BUCKETS 65536u
#define CT_RADIX_SMALL 64u
#define CT_RADIX_NEEDS_SCRATCH(n) ((n) >= CT_RADIX_SMALL)

#define CT_RADIX_SORT_DEFINE(name, type, key) CT_RADIX_SORT_DEFINE_DIGITS(name, type, key, 16)

#define CT_RADIX_SORT_DEFINE_DIGITS(name, type, key, digit_bits)                                   \
    static void name(type *a, type *tmp, size_t n, unsigned bits, uint32_t *count)                \
    {                                                                                              \
        const uint32_t buckets = 1u << (digit_bits), mask = buckets - 1;                           \
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
        for (unsigned shift = 0; shift < bits; shift += (digit_bits)) {                            \
            memset(count, 0, buckets * sizeof *count);                                             \
            for (size_t i = 0; i < n; i++)                                                         \
                count[((uint64_t)key(&src[i]) >> shift) & mask]++;                                 \
            if (count[((uint64_t)key(&src[0]) >> shift) & mask] == n)                              \
                continue; /* every element has this digit: nothing to move */                      \
            uint32_t sum = 0;                                                                      \
            for (unsigned d = 0; d < buckets; d++) {                                               \
                uint32_t c = count[d];                                                             \
                count[d] = sum;                                                                    \
                sum += c;                                                                          \
            }                                                                                      \
            for (size_t i = 0; i < n; i++)                                                         \
                dst[count[((uint64_t)key(&src[i]) >> shift) & mask]++] = src[i];                   \
            type *swap = src;                                                                      \
            src = dst;                                                                             \
            dst = swap;                                                                            \
        }                                                                                          \
        if (src != a)                                                                              \
            memcpy(a, src, n * sizeof *a);                                                         \
    }

#endif
