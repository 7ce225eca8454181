/*
 * subscribers.h — pseudonyms, dense ids and the encrypted number vault
 * (internal).
 *
 * A phone number never reaches the disk in clear. It becomes:
 *   pseudonym = BLAKE2b-128 keyed with the pseudonym key (digits; keys.h)
 *   id        = its position in subscribers.dat (dense, 32-bit)
 *   vault     = XChaCha20-Poly1305 of the number, keyed with the vault key,
 *               bound to (pseudonym, id) as associated data.
 * Everything downstream (segments, cases) knows subscribers by id only.
 *
 * subscribers.dat, append-only, fixed 68-byte records; record i is id i:
 *   off len
 *     0  16  pseudonym
 *    16  24  nonce
 *    40  24  ciphertext of the number as u64 little-endian + 16-byte tag
 *    64   4  crc32 of bytes 0..63, little-endian
 * A torn tail (a crash mid-append) fails its crc and is cut off when the
 * file is next opened for writing. New records are fsync'd by
 * ct__subdict_flush before any id in them is stored elsewhere, so every
 * stored id names a durable record.
 */
#ifndef CT_SUBSCRIBERS_H
#define CT_SUBSCRIBERS_H

#include <stdint.h>

#include "celltrace.h"

#define CT_SUB_RECORD 68
#define CT_SUB_MAX 0xFFFFFFF0u /* ids above are reserved as markers */

typedef struct ct_subdict ct_subdict;

struct ct_keyset;

/* Opens the dictionary of data directory `dir` with the keys of `set`.
 * While a rotation is pending (set has next keys), the file's first
 * record tells which keys it is under: *under_next says which were taken.
 * Returns new (*out). */
ct_code ct__subdict_open(const char *dir, int writable, const struct ct_keyset *set,
                         int *under_next, ct_subdict **out, ct_err *err);

/* Does the file open under the keys in use (its first record decrypts
 * to a number with its pseudonym)? Not when a rotation replaced it
 * between reading the keyring and opening the file. */
int ct__subdict_keys_fit(const ct_subdict *d);

/* Uses these keys from now on (a directory emptied by purge --all). */
void ct__subdict_set_keys(ct_subdict *d, const uint8_t pseudonym_key[32],
                          const uint8_t vault_key[32]);

/* Rewrites the whole file under new keys (temp, fsync, rename): each
 * number's pseudonym is recomputed and sealed again with a new nonce; ids
 * do not change. The handle then appends to the new file. *bytes = size. */
ct_code ct__subdict_rekey(ct_subdict *d, const uint8_t pseudonym_key[32],
                          const uint8_t vault_key[32], uint64_t *bytes, ct_err *err);

/* Flushes nothing: call ct__subdict_flush first. Accepts NULL. */
void ct__subdict_close(ct_subdict *d);

/* The id of a normalised number (num = its integer value, digits = text),
 * adding it (buffered) when new. */
ct_code ct__subdict_intern(ct_subdict *d, uint64_t num, const char *digits, uint32_t *id,
                           ct_err *err);

/* The id of a number already known: CT_ENOTFOUND if none. */
ct_code ct__subdict_find(ct_subdict *d, const char *digits, uint32_t *id, ct_err *err);

/* Appends and fsyncs the records added since the last flush. */
ct_code ct__subdict_flush(ct_subdict *d, ct_err *err);

/* Decrypts the number of id into digits[16]. */
ct_code ct__subdict_number(ct_subdict *d, uint32_t id, char digits[16], ct_err *err);

/* Number of subscribers (flushed or not). */
uint32_t ct__subdict_count(const ct_subdict *d);

/* Numbers already decrypted, shared by the handles of one batch
 * (ct_trace_many): a subscriber who is a contact of many cases is
 * decrypted once, not once per case. Ids below the count given at
 * creation are kept; others are decrypted each time. Any thread may use
 * it. Freed (wiped) when the batch ends; NULL when count is 0 or too
 * large to keep (over 32 M ids). */
typedef struct ct__number_cache ct__number_cache;
ct__number_cache *ct__number_cache_new(uint32_t count);
void ct__number_cache_free(ct__number_cache *c);

/* ct__subdict_number through cache c (may be NULL). */
ct_code ct__subdict_number_cached(ct_subdict *d, ct__number_cache *c, uint32_t id, char digits[16],
                                  ct_err *err);

/* Checks every record on disk: checksum, decryption, pseudonym. Calls fn
 * for each bad record (serious) and for a torn tail after the last good
 * record (not serious: an interrupted append, cut by the next writer);
 * returns the number of serious findings. */
uint64_t ct__subdict_verify(ct_subdict *d, void (*fn)(void *ud, int serious, const char *problem),
                            void *ud);

/* Empties the dictionary and the vault on disk (purge --all). */
ct_code ct__subdict_erase(ct_subdict *d, ct_err *err);


#endif
