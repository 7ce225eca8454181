/*
 * keys.h — the data keys, where they are kept, and their rotation
 * (internal; docs/KEYS.md).
 *
 * A data directory has three kinds of key, 32 random bytes each:
 *   pseudonym  BLAKE2b key of the pseudonyms in subscribers.dat
 *   vault      XChaCha20-Poly1305 key of the numbers in subscribers.dat
 *   dlr        BLAKE2b key of the tokens in delivery-report URLs
 * Together they form the keyring: a short text, one key a line,
 *   celltrace keyring 1
 *   <role> <generation> <made, unix s> <64 hex> [<valid until, unix s>]
 * with the roles pseudonym, vault, dlr (one each), pseudonym-next and
 * vault-next (only while a rotation of subscribers.dat is under way) and
 * dlr-previous (old token keys still accepted until their date).
 *
 * Where the keyring lives is the key provider's business (keys.provider in
 * celltrace.conf):
 *   file         <keys.dir>/keyring in clear, mode 0600 (default keys.dir:
 *                <data>/keys, which a copy of the directory carries along)
 *   passphrase   <data>/keys/keyring.sealed: the keyring sealed with
 *                XChaCha20-Poly1305 under Argon2id(passphrase, salt)
 *   credentials  <data>/keys/keyring.sealed, sealed under a key derived
 *                from the systemd credential keys.credential, read from
 *                $CREDENTIALS_DIRECTORY
 * A data directory made before the keyring holds keys/pseudonym.key,
 * keys/vault.key and perhaps keys/dlr.key: they are read as generation 1
 * and turned into keys/keyring by the first writer.
 *
 * Unlocked keys, the passphrase and the key that seals the keyring live in
 * sodium_malloc'd memory (locked, not dumped, wiped when freed).
 */
#ifndef CT_KEYS_H
#define CT_KEYS_H

#include <pthread.h>
#include <stdint.h>

#include "celltrace.h"

#define CT_KEY_BYTES 32
#define CT_DLR_PREVIOUS_MAX 8

typedef struct ct_key {
    uint32_t gen; /* 0 = absent */
    int64_t made, until;
    uint8_t k[CT_KEY_BYTES];
} ct_key;

typedef struct ct_keyset {
    ct_key pseudonym, vault, dlr;
    ct_key pseudonym_next, vault_next;
    ct_key dlr_previous[CT_DLR_PREVIOUS_MAX];
} ct_keyset;

/* What the unlocked handle keeps in locked memory. */
typedef struct ct_key_secrets {
    char passphrase[1024];
    size_t passphrase_len;
    uint8_t kek[CT_KEY_BYTES]; /* seals the keyring (passphrase, credentials) */
    uint8_t salt[16];
    uint64_t opslimit, memlimit;
    ct_keyset set;
} ct_key_secrets;

struct ct_keyring {
    char *data_dir;
    ct_key_provider provider;
    char *path;       /* the keyring file */
    char *key_dir;    /* the folder it is in */
    int legacy;       /* read from pseudonym.key / vault.key / dlr.key */
    ct_key_secrets *s;
    uint64_t dev, ino; /* the keyring file as read */
    int64_t mtime_ns;
    pthread_mutex_t mu;
};

/* The key folder of data directory `dir`, from its configuration: keys.dir
 * for the file provider, else <dir>/keys. *out is new (ct__free). */
ct_code ct__keys_dir_of(const char *dir, char **out, ct_err *err);

/* The audit key and head (audit.c) copied to another key folder, and
 * removed from the old one once the configuration names the new. */
ct_code ct__audit_key_copy(const char *from_dir, const char *to_dir, ct_err *err);
void ct__audit_key_remove(const char *key_dir);

/* Writes the keyring k->s->set where the provider keeps it (atomically:
 * temp, fsync, rename, fsync folder), sealing it when the provider does. */
ct_code ct__keyring_save(ct_keyring *k, ct_err *err);

/* Re-reads the keyring when its file changed since it was read (another
 * process rotated a key). */
ct_code ct__keyring_refresh(ct_keyring *k, ct_err *err);

/* A writer's first open of a directory made before the keyring: writes
 * keys/keyring and removes the old key files. Also removes a plaintext
 * keyring left in keys/ by an interrupted change of provider. */
ct_code ct__keyring_tidy(ct_keyring *k, ct_err *err);

/* Fresh random keys, generation after the current ones (purge --all):
 * a passphrase provider also gets a new salt. Saved. */
ct_code ct__keyring_renew(ct_keyring *k, ct_err *err);

/* Ends a rotation of subscribers.dat's keys: forward keeps the next keys
 * as the current ones, back drops them. */
void ct__keyset_end_rotation(ct_keyset *set, int forward);

/* A new random key of generation gen, made now. */
void ct__key_new(ct_key *key, uint32_t gen);

/* The dlr token keys accepted at `now` into keys[0..*n): the current one
 * first, then previous ones whose grace has not ended. */
int ct__keyring_dlr_keys(ct_keyring *k, int64_t now, uint8_t (*keys)[CT_KEY_BYTES], int cap,
                         int *n);

/* Fresh keys for a new data directory, kept as `setup` says (NULL = file
 * in <dir>/keys); writes the keys.* settings that differ from defaults. */
ct_code ct__keys_create_with(const char *dir, const ct_keys_setup *setup, ct_err *err);

/* Writes k's keys where `to` says, names the place in celltrace.conf,
 * then removes the old file; k then follows the new place. */
ct_code ct__keyring_move(ct_keyring *k, const ct_keys_setup *to, ct_err *err);

#endif
