/*
 * rotate.c — `keys rotate`, `keys rewrap` and `keys status` on an open
 * data directory (keys.h has the keyring; docs/KEYS.md the procedures).
 *
 * The vault and pseudonym keys protect one file, subscribers.dat; every
 * other store names subscribers by dense id, which no key derives. So
 * both rotate by one rewrite of that file, in three durable steps:
 *   1. the keyring gains vault-next / pseudonym-next;
 *   2. subscribers.dat is rewritten under the next keys and renamed over;
 *   3. the keyring keeps the next keys as the current ones.
 * A crash between 1 and 3 leaves both sets in the keyring; the file's
 * first record shows which set the whole file is under, readers use that
 * one, and the next writer finishes or undoes step 3 (db.c). The dlr key
 * signs tokens of messages in flight: the old key moves to dlr-previous,
 * valid until its grace ends, and is dropped at the first rotation after.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db.h"
#include "error.h"
#include "keys.h"

/* Old dlr key to dlr-previous (expired ones dropped), a new current one. */
static void rotate_dlr(ct_keyset *set, int64_t grace_s)
{
    int64_t now = (int64_t)time(NULL);
    uint32_t gen = set->dlr.gen;
    int free_slot = -1, oldest = 0;
    for (int i = 0; i < CT_DLR_PREVIOUS_MAX; i++) {
        ct_key *p = &set->dlr_previous[i];
        if (p->gen && p->until <= now)
            sodium_memzero(p, sizeof *p);
        if (p->gen > gen)
            gen = p->gen;
        if (!p->gen && free_slot < 0)
            free_slot = i;
        if (p->until < set->dlr_previous[oldest].until)
            oldest = i;
    }
    int slot = free_slot >= 0 ? free_slot : oldest; /* full: the one ending first goes */
    set->dlr_previous[slot] = set->dlr;
    set->dlr_previous[slot].until = now + grace_s;
    ct__key_new(&set->dlr, gen + 1);
}

ct_code ct_keys_rotate(ct_db *db, unsigned what, int64_t dlr_grace_s, ct_rotate_summary *sum,
                       ct_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "rotating keys needs the data directory open for writing");
    if (!what || (what & ~(unsigned)(CT_ROTATE_VAULT | CT_ROTATE_PSEUDONYM | CT_ROTATE_DLR)))
        return ct__fail(err, CT_EINVAL, "name the keys to rotate: vault, pseudonym, dlr");
    if (dlr_grace_s < 0 || dlr_grace_s > 366LL * 86400)
        return ct__fail(err, CT_EINVAL, "the dlr grace must be 0 to 366 days");
    ct_keyring *k = db->keys;
    ct_keyset *set = &k->s->set;
    pthread_mutex_lock(&k->mu);
    ct_code rc = CT_OK;
    if (what & CT_ROTATE_DLR)
        rotate_dlr(set, dlr_grace_s);
    if (what & CT_ROTATE_PSEUDONYM)
        ct__key_new(&set->pseudonym_next, set->pseudonym.gen + 1);
    if (what & CT_ROTATE_VAULT)
        ct__key_new(&set->vault_next, set->vault.gen + 1);
    rc = ct__keyring_save(k, err); /* step 1 (and the whole of a dlr rotation) */
    if (!rc && (what & (CT_ROTATE_VAULT | CT_ROTATE_PSEUDONYM))) {
        const uint8_t *p = set->pseudonym_next.gen ? set->pseudonym_next.k : set->pseudonym.k;
        const uint8_t *v = set->vault_next.gen ? set->vault_next.k : set->vault.k;
        double t0 = ct__now_s();
        rc = ct__subdict_rekey(db->subs, p, v, &sum->bytes, err); /* step 2 */
        sum->seconds = ct__now_s() - t0;
        sum->subscribers = ct__subdict_count(db->subs);
        if (!rc) { /* step 3 */
            ct__keyset_end_rotation(set, 1);
            rc = ct__keyring_save(k, err);
        }
    }
    pthread_mutex_unlock(&k->mu);
    if (!rc) {
        char detail[64];
        snprintf(detail, sizeof detail, "%s%s%s", what & CT_ROTATE_VAULT ? "vault " : "",
                 what & CT_ROTATE_PSEUDONYM ? "pseudonym " : "", what & CT_ROTATE_DLR ? "dlr" : "");
        rc = ct__audit(db, "keys rotate", detail, sum->subscribers, err);
    }
    return rc;
}

ct_code ct_keys_rewrap(ct_db *db, const ct_keys_setup *to, ct_err *err)
{
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "moving keys needs the data directory open for writing");
    pthread_mutex_lock(&db->keys->mu);
    ct_code rc = ct__keyring_move(db->keys, to, err);
    pthread_mutex_unlock(&db->keys->mu);
    if (!rc)
        rc = ct__audit(db, "keys rewrap", ct_key_provider_name(to->provider), 0, err);
    return rc;
}

ct_code ct_keys_status_of(ct_db *db, ct_keys_status *st, ct_err *err)
{
    ct_keys_where w;
    ct_code rc = ct_keys_where_of(db->dir, &w, err);
    if (rc)
        return rc;
    memset(st, 0, sizeof *st);
    ct_keyring *k = db->keys;
    pthread_mutex_lock(&k->mu);
    const ct_keyset *set = &k->s->set;
    st->provider = k->provider;
    snprintf(st->path, sizeof st->path, "%s", k->path);
    st->inside_data = w.inside_data;
    st->legacy = k->legacy;
    st->pseudonym_gen = set->pseudonym.gen;
    st->vault_gen = set->vault.gen;
    st->dlr_gen = set->dlr.gen;
    st->pseudonym_made = set->pseudonym.made;
    st->vault_made = set->vault.made;
    st->dlr_made = set->dlr.made;
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < CT_DLR_PREVIOUS_MAX; i++)
        if (set->dlr_previous[i].gen && set->dlr_previous[i].until > now) {
            st->dlr_previous++;
            if (set->dlr_previous[i].until > st->dlr_previous_until)
                st->dlr_previous_until = set->dlr_previous[i].until;
        }
    st->rotation_pending = set->pseudonym_next.gen || set->vault_next.gen;
    pthread_mutex_unlock(&k->mu);
    return CT_OK;
}
