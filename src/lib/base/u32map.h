/*
 * u32map.h — the one open-addressing hash table keyed by a 32-bit id
 * (internal, header-only so the trace's inner loop inlines it).
 *
 * An entry is a struct whose FIRST member is its uint32_t key; UINT32_MAX
 * marks an empty slot, so that id is never a key (subscriber ids stop at
 * CT_SUB_MAX). Linear probing from a multiplicative hash, load at most
 * 1/2, capacity a power of two. Used for the trace's exposure per
 * subscriber and the run's memo of home regions.
 */
#ifndef CT_U32MAP_H
#define CT_U32MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"

#define CT_U32MAP_EMPTY UINT32_MAX

typedef struct ct_u32map {
    unsigned char *slots;
    size_t size; /* bytes per entry (its first 4 are the key) */
    size_t cap, n;
} ct_u32map;

/* An empty map of entries of `size` bytes (nothing allocated yet). */
static inline void ct__u32map_init(ct_u32map *m, size_t size)
{
    m->slots = NULL;
    m->size = size;
    m->cap = m->n = 0;
}

static inline void ct__u32map_free(ct_u32map *m)
{
    ct__free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* Slot i's entry, and its key (CT_U32MAP_EMPTY if the slot is free). */
static inline void *ct__u32map_at(const ct_u32map *m, size_t i)
{
    return m->slots + i * m->size;
}

static inline uint32_t ct__u32map_key_at(const ct_u32map *m, size_t i)
{
    uint32_t k;
    memcpy(&k, m->slots + i * m->size, sizeof k);
    return k;
}

/* Where key's probe starts (for a prefetch; the map must not be empty). */
static inline size_t ct__u32map_home(const ct_u32map *m, uint32_t key)
{
    return (key * 2654435761u) & (m->cap - 1);
}

/* The entry of key, or NULL. */
static inline void *ct__u32map_find(const ct_u32map *m, uint32_t key)
{
    if (!m->cap)
        return NULL;
    for (size_t s = ct__u32map_home(m, key);; s = (s + 1) & (m->cap - 1)) {
        uint32_t k = ct__u32map_key_at(m, s);
        if (k == key)
            return ct__u32map_at(m, s);
        if (k == CT_U32MAP_EMPTY)
            return NULL;
    }
}

static inline void ct__u32map_grow(ct_u32map *m)
{
    unsigned char *old = m->slots;
    size_t old_cap = m->cap;
    m->cap = old_cap ? old_cap * 2 : 1024;
    m->slots = ct__malloc(m->cap * m->size);
    for (size_t i = 0; i < m->cap; i++)
        memset(m->slots + i * m->size, 0xFF, sizeof(uint32_t));
    for (size_t i = 0; i < old_cap; i++) {
        uint32_t k;
        memcpy(&k, old + i * m->size, sizeof k);
        if (k == CT_U32MAP_EMPTY)
            continue;
        size_t s = ct__u32map_home(m, k);
        while (ct__u32map_key_at(m, s) != CT_U32MAP_EMPTY)
            s = (s + 1) & (m->cap - 1);
        memcpy(m->slots + s * m->size, old + i * m->size, m->size);
    }
    ct__free(old);
}

/* The entry of key, added (zeroed but for its key; *added = 1) when new. */
static inline void *ct__u32map_put(ct_u32map *m, uint32_t key, int *added)
{
    if ((m->n + 1) * 2 > m->cap)
        ct__u32map_grow(m);
    size_t s = ct__u32map_home(m, key);
    uint32_t k;
    while ((k = ct__u32map_key_at(m, s)) != CT_U32MAP_EMPTY && k != key)
        s = (s + 1) & (m->cap - 1);
    unsigned char *e = m->slots + s * m->size;
    *added = k == CT_U32MAP_EMPTY;
    if (*added) {
        memset(e, 0, m->size);
        memcpy(e, &key, sizeof key);
        m->n++;
    }
    return e;
}

#endif
