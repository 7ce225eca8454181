/*
 * subscribers.c — the subscriber dictionary and the number vault.
 *
 * See subscribers.h for the file format. In memory, the whole file is
 * held (68 bytes per subscriber) plus, once a lookup needs it, an
 * open-addressing index pseudonym -> id (4 bytes per slot, load <= 1/2).
 * Ingest looks numbers up millions of times; a second index keyed by the
 * number's integer value (memory only, never written) saves the BLAKE2b
 * call for numbers already seen in this process.
 */
#include "subscribers.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "error.h"
#include "fsio.h"
#include "keys.h"

#define KEY_BYTES CT_KEY_BYTES
#define PSEUDO_BYTES 16

struct ct_subdict {
    char *path;
    int fd; /* O_APPEND when writable, else -1 */
    uint8_t *keys; /* pseudonym key, then vault key: locked memory (keys.h) */
    uint8_t *records; /* n records of CT_SUB_RECORD bytes (a reader's: mapped) */
    ct_map map;       /* a reader's mapping of the file */
    uint32_t n, n_flushed;
    size_t cap;
    int replaced;    /* a reader found the file replaced (a key rotation) */
    uint32_t *index; /* pseudonym index: id + 1, 0 = empty */
    size_t index_cap;
    struct num_slot {
        uint64_t num; /* 0 = empty (numbers never are 0) */
        uint32_t id;
    } *numcache;
    size_t numcache_cap, numcache_n;
};

/* ---- records ------------------------------------------------------------- */

static uint8_t *record(const ct_subdict *d, uint32_t id)
{
    return d->records + (size_t)id * CT_SUB_RECORD;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t record_crc(const uint8_t *rec)
{
    return (uint32_t)crc32(0L, rec, CT_SUB_RECORD - 4);
}

static size_t valid_prefix(const uint8_t *data, size_t len);
static size_t valid_end(const uint8_t *data, size_t len);

static void pseudonym_under(const uint8_t key[KEY_BYTES], const char *digits,
                            uint8_t out[PSEUDO_BYTES])
{
    crypto_generichash(out, PSEUDO_BYTES, (const uint8_t *)digits, strlen(digits), key, KEY_BYTES);
}

static void pseudonym_of(const ct_subdict *d, const char *digits, uint8_t out[PSEUDO_BYTES])
{
    pseudonym_under(d->keys, digits, out);
}

static void vault_ad(const uint8_t *pseudo, uint32_t id, uint8_t ad[PSEUDO_BYTES + 4])
{
    memcpy(ad, pseudo, PSEUDO_BYTES);
    put_le32(ad + PSEUDO_BYTES, id);
}

/* Writes the record of (id, pseudonym, number) at rec under vault_key. */
static void seal_record_at(uint8_t *rec, const uint8_t vault_key[KEY_BYTES], uint32_t id,
                           const uint8_t *pseudo, uint64_t num)
{
    uint8_t plain[8], ad[PSEUDO_BYTES + 4];
    for (int i = 0; i < 8; i++)
        plain[i] = (uint8_t)(num >> (8 * i));
    memcpy(rec, pseudo, PSEUDO_BYTES);
    randombytes_buf(rec + 16, 24);
    vault_ad(pseudo, id, ad);
    crypto_aead_xchacha20poly1305_ietf_encrypt(rec + 40, NULL, plain, sizeof plain, ad,
                                               sizeof ad, NULL, rec + 16, vault_key);
    put_le32(rec + 64, record_crc(rec));
    sodium_memzero(plain, sizeof plain);
}

static void seal_record(ct_subdict *d, uint32_t id, const uint8_t *pseudo, uint64_t num)
{
    seal_record_at(record(d, id), d->keys + KEY_BYTES, id, pseudo, num);
}

/* The number in record rec of id under vault_key: 0 if it does not open. */
static int open_record(const uint8_t *rec, const uint8_t vault_key[KEY_BYTES], uint32_t id,
                       uint64_t *num)
{
    uint8_t plain[8], ad[PSEUDO_BYTES + 4];
    vault_ad(rec, id, ad);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, rec + 40, 24, ad,
                                                   sizeof ad, rec + 16, vault_key) != 0)
        return 0;
    *num = 0;
    for (int i = 7; i >= 0; i--)
        *num = *num << 8 | plain[i];
    sodium_memzero(plain, sizeof plain);
    return 1;
}

/* Does record rec of id open under (pseudonym key, vault key) = keys, and
 * is its pseudonym the number's? */
static int record_is_under(const uint8_t *rec, uint32_t id, const uint8_t *pkey,
                           const uint8_t *vkey)
{
    uint64_t num;
    if (!open_record(rec, vkey, id, &num))
        return 0;
    char digits[24];
    uint8_t check[PSEUDO_BYTES];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)num);
    pseudonym_under(pkey, digits, check);
    int ok = sodium_memcmp(check, rec, PSEUDO_BYTES) == 0;
    sodium_memzero(digits, sizeof digits);
    return ok;
}

/* ---- the pseudonym index ---------------------------------------------------- */

static size_t slot_of(const uint8_t *pseudo, size_t cap)
{
    uint64_t h;
    memcpy(&h, pseudo, sizeof h); /* keyed hash output: already uniform */
    return (size_t)(h & (cap - 1));
}

static void index_put(ct_subdict *d, uint32_t id)
{
    size_t mask = d->index_cap - 1, s = slot_of(record(d, id), d->index_cap);
    while (d->index[s])
        s = (s + 1) & mask;
    d->index[s] = id + 1;
}

static void index_grow(ct_subdict *d, size_t need)
{
    if (d->index && need * 2 <= d->index_cap)
        return;
    size_t cap = 1024;
    while (cap < need * 2)
        cap *= 2;
    ct__free(d->index);
    d->index = ct__calloc(cap, sizeof *d->index);
    d->index_cap = cap;
    for (uint32_t id = 0; id < d->n; id++)
        index_put(d, id);
}

static int index_find(ct_subdict *d, const uint8_t *pseudo, uint32_t *id)
{
    index_grow(d, d->n + 1);
    size_t mask = d->index_cap - 1, s = slot_of(pseudo, d->index_cap);
    for (; d->index[s]; s = (s + 1) & mask)
        if (memcmp(record(d, d->index[s] - 1), pseudo, PSEUDO_BYTES) == 0) {
            *id = d->index[s] - 1;
            return 1;
        }
    return 0;
}

/* ---- the number cache (memory only) ------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static void numcache_put(ct_subdict *d, uint64_t num, uint32_t id);

static void numcache_grow(ct_subdict *d)
{
    struct num_slot *old = d->numcache;
    size_t old_cap = d->numcache_cap;
    d->numcache_cap = old_cap ? old_cap * 2 : 4096;
    d->numcache = ct__calloc(d->numcache_cap, sizeof *d->numcache);
    d->numcache_n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].num)
            numcache_put(d, old[i].num, old[i].id);
    if (old)
        sodium_memzero(old, old_cap * sizeof *old);
    ct__free(old);
}

static void numcache_put(ct_subdict *d, uint64_t num, uint32_t id)
{
    if ((d->numcache_n + 1) * 2 > d->numcache_cap)
        numcache_grow(d);
    size_t mask = d->numcache_cap - 1, s = (size_t)mix64(num) & mask;
    while (d->numcache[s].num && d->numcache[s].num != num)
        s = (s + 1) & mask;
    if (!d->numcache[s].num)
        d->numcache_n++;
    d->numcache[s].num = num;
    d->numcache[s].id = id;
}

static int numcache_get(const ct_subdict *d, uint64_t num, uint32_t *id)
{
    if (!d->numcache_cap)
        return 0;
    size_t mask = d->numcache_cap - 1, s = (size_t)mix64(num) & mask;
    for (; d->numcache[s].num; s = (s + 1) & mask)
        if (d->numcache[s].num == num) {
            *id = d->numcache[s].id;
            return 1;
        }
    return 0;
}

/* ---- open / close -------------------------------------------------------------- */

/* A reader maps the file instead of reading it: a trace of ten million
 * subscribers touches the pages of its contacts only. It trusts every
 * whole record without checking crcs: an id is named elsewhere only after
 * its record is durable, and decryption authenticates what it reads. */
static ct_code map_records(ct_subdict *d, ct_err *err)
{
    ct_code rc = ct__fs_map(d->path, &d->map, err);
    if (rc == CT_ENOTFOUND) {
        ct__err_clear(err);
        return CT_OK;
    }
    if (rc)
        return rc;
    d->records = (uint8_t *)d->map.data;
    d->n = d->n_flushed = (uint32_t)(d->map.len / CT_SUB_RECORD);
    d->cap = d->n;
    return CT_OK;
}

static ct_code load_records(ct_subdict *d, int writable, ct_err *err)
{
    if (!writable)
        return map_records(d, err);
    char *data = NULL;
    size_t len = 0;
    ct_code rc = ct__fs_read_file(d->path, (size_t)CT_SUB_MAX * CT_SUB_RECORD, &data, &len, err);
    if (rc == CT_ENOTFOUND) {
        ct__err_clear(err);
        rc = CT_OK;
    }
    if (rc)
        return rc;
    size_t n = len / CT_SUB_RECORD, good = valid_end((const uint8_t *)data, len);
    d->records = (uint8_t *)data;
    d->cap = n;
    d->n = d->n_flushed = (uint32_t)good;
    if (writable && good * CT_SUB_RECORD != len &&
        ftruncate(d->fd, (off_t)(good * CT_SUB_RECORD)) != 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot repair %s", d->path);
    /* A reader uses the valid prefix: what follows may be a writer's append
     * in progress. Ids are named elsewhere only after their record is durable. */
    return CT_OK;
}

void ct__subdict_set_keys(ct_subdict *d, const uint8_t pseudonym_key[CT_KEY_BYTES],
                          const uint8_t vault_key[CT_KEY_BYTES])
{
    memcpy(d->keys, pseudonym_key, KEY_BYTES);
    memcpy(d->keys + KEY_BYTES, vault_key, KEY_BYTES);
}

/* Which keys the file is under while a rotation is pending: the first
 * record decides (a rewrite replaces the whole file at once). */
static void choose_keys(ct_subdict *d, const ct_keyset *set, int *under_next)
{
    const uint8_t *np = set->pseudonym_next.gen ? set->pseudonym_next.k : set->pseudonym.k;
    const uint8_t *nv = set->vault_next.gen ? set->vault_next.k : set->vault.k;
    int next = 0;
    if ((set->pseudonym_next.gen || set->vault_next.gen) &&
        (d->n == 0 || (!record_is_under(record(d, 0), 0, set->pseudonym.k, set->vault.k) &&
                       record_is_under(record(d, 0), 0, np, nv)))) {
        ct__subdict_set_keys(d, np, nv);
        next = 1;
    }
    if (under_next)
        *under_next = next;
}

int ct__subdict_keys_fit(const ct_subdict *d)
{
    return d->n == 0 || record_is_under(record(d, 0), 0, d->keys, d->keys + KEY_BYTES);
}

ct_code ct__subdict_open(const char *dir, int writable, const ct_keyset *set, int *under_next,
                         ct_subdict **out, ct_err *err)
{
    if (sodium_init() < 0)
        return ct__fail(err, CT_ECRYPTO, "libsodium cannot start");
    ct_subdict *d = ct__calloc(1, sizeof *d);
    d->fd = -1;
    d->path = ct__path_join(dir, "subscribers.dat");
    d->keys = sodium_malloc(2 * KEY_BYTES);
    ct_code rc = d->keys ? CT_OK : ct__fail(err, CT_ENOMEM, "cannot lock memory for the keys");
    if (!rc)
        ct__subdict_set_keys(d, set->pseudonym.k, set->vault.k);
    if (!rc && writable) {
        d->fd = open(d->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (d->fd < 0)
            rc = ct__fail_errno(err, CT_EIO, errno, "cannot open %s", d->path);
    }
    if (!rc)
        rc = load_records(d, writable, err);
    if (rc) {
        ct__subdict_close(d);
        return rc;
    }
    choose_keys(d, set, under_next);
    *out = d;
    return CT_OK;
}

void ct__subdict_close(ct_subdict *d)
{
    if (!d)
        return;
    if (d->fd >= 0)
        close(d->fd);
    if (d->keys)
        sodium_free(d->keys);
    if (d->numcache)
        sodium_memzero(d->numcache, d->numcache_cap * sizeof *d->numcache);
    ct__free(d->numcache);
    if (d->map.data)
        ct__fs_unmap(&d->map);
    else
        ct__free(d->records);
    ct__free(d->index);
    ct__free(d->path);
    ct__free(d);
}

/* ---- lookups ---------------------------------------------------------------------- */

ct_code ct__subdict_intern(ct_subdict *d, uint64_t num, const char *digits, uint32_t *id,
                           ct_err *err)
{
    if (numcache_get(d, num, id))
        return CT_OK;
    uint8_t pseudo[PSEUDO_BYTES];
    pseudonym_of(d, digits, pseudo);
    if (!index_find(d, pseudo, id)) {
        if (d->fd < 0)
            return ct__fail(err, CT_EINVAL, "subscriber dictionary is open read-only");
        if (d->n >= CT_SUB_MAX)
            return ct__fail(err, CT_ELIMIT, "too many subscribers (%u)", d->n);
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1024;
            d->records = ct__reallocarray(d->records, d->cap, CT_SUB_RECORD);
        }
        *id = d->n++;
        seal_record(d, *id, pseudo, num);
        index_grow(d, d->n);
        index_put(d, *id);
    }
    numcache_put(d, num, *id);
    return CT_OK;
}

ct_code ct__subdict_find(ct_subdict *d, const char *digits, uint32_t *id, ct_err *err)
{
    uint8_t pseudo[PSEUDO_BYTES];
    pseudonym_of(d, digits, pseudo);
    if (index_find(d, pseudo, id))
        return CT_OK;
    return ct__fail(err, CT_ENOTFOUND, "no such subscriber");
}

ct_code ct__subdict_flush(ct_subdict *d, ct_err *err)
{
    if (d->n == d->n_flushed)
        return CT_OK;
    ct_code rc = ct__fs_append_sync(d->fd, record(d, d->n_flushed),
                                    (size_t)(d->n - d->n_flushed) * CT_SUB_RECORD, d->path, err);
    if (rc == CT_OK)
        d->n_flushed = d->n;
    return rc;
}

/* A reader that meets an id newer than its mapping (a writer appended
 * since) maps the file again. */
static void reload_for_reader(ct_subdict *d)
{
    ct_map old = d->map;
    uint32_t n = d->n;
    ct_err ignored;
    memset(&d->map, 0, sizeof d->map);
    ct_code rc = map_records(d, &ignored);
    if (rc == CT_OK && (d->map.dev != old.dev || d->map.ino != old.ino) && old.data)
        d->replaced = 1; /* under other keys: the old mapping stays */
    if (rc != CT_OK || d->n < n || d->replaced) {
        if (d->map.data)
            ct__fs_unmap(&d->map);
        d->map = old;
        d->records = (uint8_t *)old.data;
        d->n = d->n_flushed = n;
        d->cap = n;
        return;
    }
    ct__fs_unmap(&old);
    ct__free(d->index); /* rebuilt on the next lookup */
    d->index = NULL;
    d->index_cap = 0;
}

/* The digits of a number (7 to 15 of them), without a copy left behind. */
static void format_number(uint64_t num, char digits[16])
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)num);
    size_t len = strlen(text);
    len = len < 15 ? len : 15;
    memcpy(digits, text, len);
    digits[len] = '\0';
    sodium_memzero(text, sizeof text);
}

/* The number of id, decrypted from the vault. */
static ct_code vault_number(ct_subdict *d, uint32_t id, uint64_t *num, ct_err *err)
{
    if (id >= d->n && d->fd < 0)
        reload_for_reader(d);
    if (id >= d->n)
        return ct__fail(err, CT_ECORRUPT, "subscriber %u is not in the dictionary%s", id,
                        d->replaced ? " (a key rotation rewrote it while this command ran: run it again)"
                                    : "");
    /* The pseudonym and id are the associated data: a record moved to
     * another id or pseudonym does not decrypt. ct__subdict_verify also
     * recomputes the pseudonym from the number. */
    if (!open_record(record(d, id), d->keys + KEY_BYTES, id, num))
        return ct__fail(err, CT_ECRYPTO, "vault record of subscriber %u does not decrypt", id);
    return CT_OK;
}

ct_code ct__subdict_number(ct_subdict *d, uint32_t id, char digits[16], ct_err *err)
{
    uint64_t num;
    ct_code rc = vault_number(d, id, &num, err);
    if (!rc)
        format_number(num, digits);
    return rc;
}

uint32_t ct__subdict_count(const ct_subdict *d)
{
    return d->n;
}

/* 0 in a slot: not decrypted yet (a number has 7 to 15 digits). Two
 * threads that both miss decrypt the same number and store the same value. */
struct ct__number_cache {
    uint32_t count;
    _Atomic uint32_t used; /* above the highest id stored: what free wipes */
    _Atomic uint64_t *numbers;
};

enum { NUMBER_CACHE_MAX = 32u << 20 };

ct__number_cache *ct__number_cache_new(uint32_t count)
{
    if (count == 0 || count > NUMBER_CACHE_MAX)
        return NULL;
    ct__number_cache *c = ct__calloc(1, sizeof *c);
    c->count = count;
    c->numbers = ct__calloc(count, sizeof *c->numbers); /* pages are touched as used */
    atomic_init(&c->used, 0);
    return c;
}

void ct__number_cache_free(ct__number_cache *c)
{
    if (!c)
        return;
    /* only what was used: the pages above were never touched */
    sodium_memzero((void *)c->numbers, (size_t)atomic_load(&c->used) * sizeof *c->numbers);
    ct__free((void *)c->numbers);
    ct__free(c);
}

ct_code ct__subdict_number_cached(ct_subdict *d, ct__number_cache *c, uint32_t id, char digits[16],
                                  ct_err *err)
{
    if (!c || id >= c->count)
        return ct__subdict_number(d, id, digits, err);
    uint64_t num = atomic_load_explicit(&c->numbers[id], memory_order_relaxed);
    if (!num) {
        ct_code rc = vault_number(d, id, &num, err);
        if (rc)
            return rc;
        atomic_store_explicit(&c->numbers[id], num, memory_order_relaxed);
        uint32_t used = atomic_load(&c->used);
        while (used <= id && !atomic_compare_exchange_weak(&c->used, &used, id + 1))
            ;
    }
    format_number(num, digits);
    return CT_OK;
}

static int record_sound(const uint8_t *data, size_t i)
{
    return get_le32(data + i * CT_SUB_RECORD + 64) == record_crc(data + i * CT_SUB_RECORD);
}

/* Where the records of a file end for opening: after the last record
 * whose crc holds. Records are only ever appended, so a torn append is
 * the bad records at the end; found from the end, it costs the tail, not
 * a pass over every subscriber at every open (68 MB at a million). A bad
 * record before a good one is damage, not a torn append: it stays, for
 * `check` to report (ct__subdict_verify) and its reads to refuse. */
static size_t valid_end(const uint8_t *data, size_t len)
{
    size_t good = len / CT_SUB_RECORD;
    while (good > 0 && !record_sound(data, good - 1))
        good--;
    return good;
}

/* Where the sound records of a file end from the start. */
static size_t valid_prefix(const uint8_t *data, size_t len)
{
    size_t n = len / CT_SUB_RECORD, good = 0;
    while (good < n && record_sound(data, good))
        good++;
    return good;
}

uint64_t ct__subdict_verify(ct_subdict *d, void (*fn)(void *ud, int serious, const char *problem),
                            void *ud)
{
    char *data = NULL, msg[160];
    size_t len = 0;
    uint64_t bad = 0;
    if (ct__fs_read_file(d->path, (size_t)CT_SUB_MAX * CT_SUB_RECORD, &data, &len, NULL) != CT_OK)
        return 0; /* no file: no subscribers */
    size_t good = valid_prefix((const uint8_t *)data, len), n = len / CT_SUB_RECORD;
    /* Records after the valid prefix are a torn append only if nothing
     * valid follows them; a good record after a bad one means damage. */
    int torn = good < n || len % CT_SUB_RECORD;
    for (size_t i = good + 1; i < n && torn; i++)
        if (get_le32((const uint8_t *)data + i * CT_SUB_RECORD + 64) == record_crc((const uint8_t *)data + i * CT_SUB_RECORD))
            torn = 0;
    for (size_t i = 0; i < good; i++) {
        char digits[16];
        uint8_t check[PSEUDO_BYTES];
        int ok = i >= d->n || ct__subdict_number(d, (uint32_t)i, digits, NULL) == CT_OK;
        if (ok && i < d->n) {
            pseudonym_of(d, digits, check);
            ok = sodium_memcmp(check, (const uint8_t *)data + i * CT_SUB_RECORD, PSEUDO_BYTES) == 0;
        }
        if (!ok) {
            snprintf(msg, sizeof msg, "record %zu does not decrypt to a number with its pseudonym", i);
            fn(ud, 1, msg);
            bad++;
        }
    }
    if (torn) {
        snprintf(msg, sizeof msg, "%zu bytes after record %zu are an interrupted append (the next writer cuts them)",
                 len - good * CT_SUB_RECORD, good);
        fn(ud, 0, msg);
    } else if (good < n) {
        snprintf(msg, sizeof msg, "record %zu fails its checksum", good);
        fn(ud, 1, msg);
        bad++;
    }
    sodium_memzero(data, len);
    ct__free(data);
    return bad;
}

ct_code ct__subdict_erase(ct_subdict *d, ct_err *err)
{
    if (d->fd < 0)
        return ct__fail(err, CT_EINVAL, "subscriber dictionary is open read-only");
    if (ftruncate(d->fd, 0) != 0)
        return ct__fail_errno(err, CT_EIO, errno, "cannot empty %s", d->path);
    ct_code rc = ct__fs_fsync_fd(d->fd, d->path, err);
    if (d->records)
        sodium_memzero(d->records, (size_t)d->n * CT_SUB_RECORD);
    if (d->numcache)
        sodium_memzero(d->numcache, d->numcache_cap * sizeof *d->numcache);
    d->n = d->n_flushed = 0;
    d->numcache_n = 0;
    ct__free(d->index);
    d->index = NULL;
    d->index_cap = 0;
    return rc;
}

ct_code ct__subdict_rekey(ct_subdict *d, const uint8_t pseudonym_key[CT_KEY_BYTES],
                          const uint8_t vault_key[CT_KEY_BYTES], uint64_t *bytes, ct_err *err)
{
    if (d->fd < 0)
        return ct__fail(err, CT_EINVAL, "subscriber dictionary is open read-only");
    ct_code rc = ct__subdict_flush(d, err);
    if (rc)
        return rc;
    uint8_t *fresh = d->n ? ct__reallocarray(NULL, d->n, CT_SUB_RECORD) : NULL;
    for (uint32_t id = 0; id < d->n && !rc; id++) {
        uint64_t num;
        if (!open_record(record(d, id), d->keys + KEY_BYTES, id, &num)) {
            rc = ct__fail(err, CT_ECRYPTO,
                          "vault record of subscriber %u does not decrypt: nothing was rotated", id);
            break;
        }
        char digits[24];
        uint8_t pseudo[PSEUDO_BYTES];
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)num);
        pseudonym_under(pseudonym_key, digits, pseudo);
        seal_record_at(fresh + (size_t)id * CT_SUB_RECORD, vault_key, id, pseudo, num);
        sodium_memzero(digits, sizeof digits);
    }
    ct_wfile f = {-1, NULL, NULL, 0, 0};
    if (!rc)
        rc = ct__fs_create(&f, d->path, err);
    if (!rc && d->n)
        rc = ct__fs_write(&f, fresh, (size_t)d->n * CT_SUB_RECORD, err);
    if (!rc)
        rc = ct__fs_commit(&f, err);
    else {
        ct__fs_discard(&f);
    }
    if (rc) {
        if (fresh)
            sodium_memzero(fresh, (size_t)d->n * CT_SUB_RECORD);
        ct__free(fresh);
        return rc;
    }
    /* The new file is in place: append to it from now on. */
    int fd = open(d->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        ct__free(fresh);
        return ct__fail_errno(err, CT_EIO, errno, "cannot reopen %s", d->path);
    }
    close(d->fd);
    d->fd = fd;
    if (d->records)
        sodium_memzero(d->records, (size_t)d->n * CT_SUB_RECORD);
    ct__free(d->records);
    d->records = fresh;
    d->cap = d->n;
    ct__free(d->index); /* pseudonyms changed: rebuilt on the next lookup */
    d->index = NULL;
    d->index_cap = 0;
    ct__subdict_set_keys(d, pseudonym_key, vault_key);
    if (bytes)
        *bytes = (uint64_t)d->n * CT_SUB_RECORD;
    return CT_OK;
}
