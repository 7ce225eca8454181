/*
 * cluster.c — where a number's data lives in a cluster, and the check that
 * every shard has the same cell catalogue (celltrace_cluster.h).
 *
 * Why an unkeyed hash of the number: the shard must not change when keys
 * rotate (that would mean moving every subscriber), and it says nothing
 * about a person but which of N folders holds their rows. The pseudonyms
 * inside each shard stay keyed as everywhere else. The hash is mapped to
 * a shard by a jump consistent hash, so a cluster that grows from N to
 * N + 1 shards moves only the subscribers that the new shard takes.
 *
 * Why a fingerprint: shards name cells by loc id, the catalogue's rowid,
 * and send case intervals to each other by loc id. The ids agree when
 * every shard imported the same catalogues in the same order, which
 * celltrace-mpi does; the fingerprint proves it before a trace trusts it.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "celltrace_cluster.h"
#include "db.h"
#include "error.h"
#include "subscribers.h"
#include "textparse.h"

/* Lamping and Veach's jump consistent hash: key to one of n buckets, so
 * that going from n to n + 1 shards moves only 1/(n + 1) of the keys (a
 * modulo would move nearly all). */
static uint32_t jump_hash(uint64_t key, uint32_t n)
{
    int64_t b = -1, j = 0;
    while (j < (int64_t)n) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
    }
    return (uint32_t)b;
}

uint32_t ct_shard_of_number(const char *msisdn, uint32_t n_shards)
{
    uint64_t num;
    char digits[16];
    if (n_shards == 0 || ct__parse_msisdn(msisdn, strlen(msisdn), &num, digits))
        return UINT32_MAX;
    static const char domain[] = "celltrace shard of a number 1:";
    unsigned char h[8];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)domain, sizeof domain - 1);
    crypto_generichash_update(&st, (const unsigned char *)digits, strlen(digits));
    crypto_generichash_final(&st, h, sizeof h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return jump_hash(v, n_shards);
}

static void hash_bytes(crypto_generichash_state *st, const void *p, size_t n)
{
    crypto_generichash_update(st, p, n);
}

uint64_t ct_catalog_fingerprint(ct_db *db)
{
    crypto_generichash_state st;
    unsigned char h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    uint32_t n_cells = ct__catalog_cell_count(db->cat), n_ops = ct__catalog_operator_count(db->cat);
    hash_bytes(&st, &n_cells, sizeof n_cells);
    hash_bytes(&st, &n_ops, sizeof n_ops);
    for (uint32_t op = 0; op < n_ops; op++) {
        const char *name = ct__catalog_operator_name(db->cat, op);
        if (name)
            hash_bytes(&st, name, strlen(name) + 1);
    }
    for (uint32_t loc = 0; loc < n_cells; loc++) {
        const ct_cell *c = ct__catalog_cell(db->cat, loc);
        if (!c)
            continue;
        hash_bytes(&st, &loc, sizeof loc);
        hash_bytes(&st, &c->lat, sizeof c->lat);
        hash_bytes(&st, &c->lon, sizeof c->lon);
        hash_bytes(&st, &c->radius, sizeof c->radius);
        hash_bytes(&st, &c->op, sizeof c->op);
        if (c->cell_id)
            hash_bytes(&st, c->cell_id, strlen(c->cell_id) + 1);
    }
    crypto_generichash_final(&st, h, sizeof h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return v;
}

ct_code ct_stored_days(ct_db *db, int64_t **days, size_t *n, ct_err *err)
{
    (void)err;
    *n = db->store.n_days;
    *days = malloc((*n + 1) * sizeof **days);
    if (!*days)
        return ct__fail(err, CT_ENOMEM, "out of memory");
    for (size_t i = 0; i < *n; i++)
        (*days)[i] = db->store.days[i].day;
    return CT_OK;
}

void ct_db_cache_numbers(ct_db *db)
{
    if (!db->numbers)
        db->numbers = ct__number_cache_new(ct__subdict_count(db->subs));
}

void ct_db_forget_numbers(ct_db *db)
{
    if (db && db->numbers) {
        ct__number_cache_free(db->numbers); /* wiped */
        db->numbers = NULL;
    }
}
