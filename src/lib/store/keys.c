/*
 * keys.c — the keyring: reading it from its provider, sealing it, and
 * writing it back (keys.h has the formats; docs/KEYS.md the why).
 *
 * A sealed keyring is text too, so that `head` tells an operator what it
 * is without any secret:
 *   celltrace sealed keyring 1
 *   provider passphrase|credentials
 *   kdf argon2id13 <opslimit> <memlimit>      (passphrase only)
 *   salt <32 hex>                             (passphrase only)
 *   nonce <48 hex>
 *   data <hex of XChaCha20-Poly1305(keyring text)>
 * Every line before "data" is the associated data: a header edited to
 * cheaper Argon2id limits, another salt or another provider does not
 * open. The sealing key (kek) is Argon2id(passphrase, salt), or BLAKE2b
 * keyed with the 32-byte credential over a fixed label.
 */
#include "keys.h"
#include "celltrace_cluster.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "fsio.h"

#define KEYRING_FILE "keyring"
#define SEALED_FILE "keyring.sealed"
#define KEYRING_CAP (64 * 1024)
#define CRED_LABEL "celltrace keyring seal 1"

static const char *const LEGACY_FILES[] = {"pseudonym.key", "vault.key", "dlr.key"};

const char *ct_key_provider_name(ct_key_provider p)
{
    switch (p) {
    case CT_KEYS_FILE: return "file";
    case CT_KEYS_PASSPHRASE: return "passphrase";
    case CT_KEYS_CREDENTIALS: return "credentials";
    }
    return "?";
}

int ct_key_provider_parse(const char *name, ct_key_provider *p)
{
    for (int i = CT_KEYS_FILE; i <= CT_KEYS_CREDENTIALS; i++)
        if (!strcmp(name, ct_key_provider_name((ct_key_provider)i))) {
            *p = (ct_key_provider)i;
            return 0;
        }
    return -1;
}

void ct__key_new(ct_key *key, uint32_t gen)
{
    key->gen = gen;
    key->made = (int64_t)time(NULL);
    key->until = 0;
    randombytes_buf(key->k, sizeof key->k);
}

/* ---- where ----------------------------------------------------------------- */

/* Is `path` inside `dir` (both resolved)? */
static int path_inside(const char *path, const char *dir)
{
    char *rp = realpath(path, NULL), *rd = realpath(dir, NULL);
    int in = 0;
    if (rp && rd) {
        size_t n = strlen(rd);
        in = !strncmp(rp, rd, n) && (rp[n] == '/' || rp[n] == '\0');
    }
    free(rp);
    free(rd);
    return in;
}

static char *key_dir_of(const char *dir, const ct_conf *c)
{
    return c->key_dir[0] && c->key_provider == CT_KEYS_FILE ? ct__strdup(c->key_dir)
                                                            : ct__path_join(dir, "keys");
}

ct_code ct__keys_dir_of(const char *dir, char **out, ct_err *err)
{
    ct_conf c;
    ct_code rc = ct__conf_load(dir, &c, err);
    *out = rc ? NULL : key_dir_of(dir, &c);
    return rc;
}

ct_code ct_keys_where_of(const char *dir, ct_keys_where *w, ct_err *err)
{
    ct_conf c;
    ct_code rc = ct__conf_load(dir, &c, err);
    if (rc)
        return rc;
    memset(w, 0, sizeof *w);
    w->provider = c.key_provider;
    char *kd = key_dir_of(dir, &c);
    snprintf(w->path, sizeof w->path, "%s/%s", kd,
             c.key_provider == CT_KEYS_FILE ? KEYRING_FILE : SEALED_FILE);
    w->inside_data = c.key_provider == CT_KEYS_FILE && path_inside(kd, dir);
    ct__free(kd);
    snprintf(w->passphrase_env, sizeof w->passphrase_env, "%s", c.passphrase_env);
    snprintf(w->credential, sizeof w->credential, "%s", c.credential);
    return CT_OK;
}

/* ---- the keyring text ------------------------------------------------------- */

typedef struct role {
    const char *name;
    size_t off; /* of the ct_key in ct_keyset */
} role;

static const role ROLES[] = {
    {"pseudonym", offsetof(ct_keyset, pseudonym)},
    {"vault", offsetof(ct_keyset, vault)},
    {"dlr", offsetof(ct_keyset, dlr)},
    {"pseudonym-next", offsetof(ct_keyset, pseudonym_next)},
    {"vault-next", offsetof(ct_keyset, vault_next)},
};
#define N_ROLES (sizeof ROLES / sizeof *ROLES)

static ct_key *role_key(ct_keyset *set, const role *r)
{
    return (ct_key *)(void *)((char *)set + r->off);
}

static size_t put_key(char *out, size_t cap, const char *name, const ct_key *k)
{
    char hex[2 * CT_KEY_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, k->k, CT_KEY_BYTES);
    int n = snprintf(out, cap, "%s %u %lld %s", name, k->gen, (long long)k->made, hex);
    if (k->until)
        n += snprintf(out + n, cap - (size_t)n, " %lld", (long long)k->until);
    n += snprintf(out + n, cap - (size_t)n, "\n");
    sodium_memzero(hex, sizeof hex);
    return (size_t)n;
}

/* The text of s->set into buf (locked memory); returns its length. */
static size_t keyring_text(ct_keyset *set, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "celltrace keyring 1\n");
    for (size_t i = 0; i < N_ROLES; i++)
        if (role_key(set, &ROLES[i])->gen)
            n += put_key(buf + n, cap - n, ROLES[i].name, role_key(set, &ROLES[i]));
    for (int i = 0; i < CT_DLR_PREVIOUS_MAX; i++)
        if (set->dlr_previous[i].gen)
            n += put_key(buf + n, cap - n, "dlr-previous", &set->dlr_previous[i]);
    return n;
}

static ct_code parse_keyring(const char *text, const char *path, ct_keyset *set, ct_err *err)
{
    memset(set, 0, sizeof *set);
    const char *line = text;
    int lineno = 0, previous = 0;
    if (strncmp(text, "celltrace keyring 1\n", 20) != 0)
        return ct__fail(err, CT_ECORRUPT, "%s is not a celltrace keyring", path);
    for (line = text + 20, lineno = 2; *line; lineno++) {
        const char *end = strchr(line, '\n');
        if (!end)
            return ct__fail(err, CT_ECORRUPT, "%s:%d: line not ended", path, lineno);
        char name[24], hex[2 * CT_KEY_BYTES + 9];
        unsigned gen;
        long long made, until = 0;
        int fields = sscanf(line, "%23s %u %lld %72s %lld", name, &gen, &made, hex, &until);
        const char *nl = strchr(line, '\n');
        ct_key k = {0};
        size_t bin = 0;
        if ((fields != 4 && fields != 5) || gen == 0 || strlen(hex) != 2 * CT_KEY_BYTES ||
            sodium_hex2bin(k.k, sizeof k.k, hex, strlen(hex), NULL, &bin, NULL) || bin != CT_KEY_BYTES ||
            nl != end) {
            sodium_memzero(hex, sizeof hex);
            return ct__fail(err, CT_ECORRUPT, "%s:%d: not a key line", path, lineno);
        }
        sodium_memzero(hex, sizeof hex);
        k.gen = gen;
        k.made = made;
        k.until = until;
        ct_key *slot = NULL;
        for (size_t i = 0; i < N_ROLES; i++)
            if (!strcmp(name, ROLES[i].name))
                slot = role_key(set, &ROLES[i]);
        if (!strcmp(name, "dlr-previous") && previous < CT_DLR_PREVIOUS_MAX)
            slot = &set->dlr_previous[previous++];
        if (!slot || slot->gen) {
            sodium_memzero(&k, sizeof k);
            return ct__fail(err, CT_ECORRUPT, "%s:%d: unknown or repeated key '%s'", path, lineno,
                            name);
        }
        *slot = k;
        sodium_memzero(&k, sizeof k);
        line = end + 1;
    }
    if (!set->pseudonym.gen || !set->vault.gen || !set->dlr.gen)
        return ct__fail(err, CT_ECORRUPT, "%s lacks a pseudonym, vault or dlr key", path);
    return CT_OK;
}

/* ---- sealing ----------------------------------------------------------------- */

static void kdf_limits(ct_kdf_cost cost, uint64_t *ops, uint64_t *mem)
{
    switch (cost) {
    case CT_KDF_MODERATE:
        *ops = crypto_pwhash_OPSLIMIT_MODERATE;
        *mem = crypto_pwhash_MEMLIMIT_MODERATE;
        return;
    case CT_KDF_INTERACTIVE:
        *ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        *mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        return;
    case CT_KDF_SENSITIVE: break;
    }
    *ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
    *mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
}

static ct_code derive_from_passphrase(ct_key_secrets *s, ct_err *err)
{
    if (crypto_pwhash(s->kek, sizeof s->kek, s->passphrase, s->passphrase_len, s->salt,
                      s->opslimit, (size_t)s->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return ct__fail(err, CT_ENOMEM,
                        "Argon2id needs %llu MiB of memory to unlock the keys, and could not get it",
                        (unsigned long long)(s->memlimit >> 20));
    return CT_OK;
}

/* The credential: 32 bytes, or 64 hex digits and an optional newline. */
static ct_code derive_from_credential(ct_key_secrets *s, const char *cred_dir, const char *name,
                                      ct_err *err)
{
    char *path = ct__path_join(cred_dir, name), *data = NULL;
    size_t len = 0, bin = 0;
    uint8_t raw[CT_KEY_BYTES];
    ct_code rc = ct__fs_read_file(path, 256, &data, &len, err);
    if (rc == CT_ENOTFOUND)
        rc = ct__fail(err, CT_ECRYPTO,
                      "the credential %s is missing (keys.credential = %s): give it to the unit "
                      "with LoadCredential= or LoadCredentialEncrypted=",
                      path, name);
    if (!rc) {
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            len--;
        if (len == CT_KEY_BYTES)
            memcpy(raw, data, CT_KEY_BYTES);
        else if (len != 2 * CT_KEY_BYTES ||
                 sodium_hex2bin(raw, sizeof raw, data, len, NULL, &bin, NULL) || bin != CT_KEY_BYTES)
            rc = ct__fail(err, CT_ECRYPTO,
                          "the credential %s must hold 32 random bytes or 64 hex digits", path);
    }
    if (!rc)
        crypto_generichash(s->kek, sizeof s->kek, (const uint8_t *)CRED_LABEL, strlen(CRED_LABEL),
                           raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    if (data)
        sodium_memzero(data, len);
    ct__free(data);
    ct__free(path);
    return rc;
}

/* The header of a sealed keyring (the associated data), in hdr. */
static size_t sealed_header(const ct_keyring *k, const uint8_t nonce[24], char *hdr, size_t cap)
{
    char salt[33], nhex[49];
    sodium_bin2hex(nhex, sizeof nhex, nonce, 24);
    size_t n = (size_t)snprintf(hdr, cap, "celltrace sealed keyring 1\nprovider %s\n",
                                ct_key_provider_name(k->provider));
    if (k->provider == CT_KEYS_PASSPHRASE) {
        sodium_bin2hex(salt, sizeof salt, k->s->salt, sizeof k->s->salt);
        n += (size_t)snprintf(hdr + n, cap - n, "kdf argon2id13 %llu %llu\nsalt %s\n",
                              (unsigned long long)k->s->opslimit,
                              (unsigned long long)k->s->memlimit, salt);
    }
    n += (size_t)snprintf(hdr + n, cap - n, "nonce %s\n", nhex);
    return n;
}

static ct_code write_sealed(ct_keyring *k, const char *text, size_t len, ct_err *err)
{
    uint8_t nonce[24];
    randombytes_buf(nonce, sizeof nonce);
    char hdr[512];
    size_t hn = sealed_header(k, nonce, hdr, sizeof hdr);
    size_t clen = len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    uint8_t *ct = ct__malloc(clen);
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, (const uint8_t *)text, len,
                                               (const uint8_t *)hdr, hn, NULL, nonce, k->s->kek);
    size_t cap = hn + 2 * clen + 16;
    char *file = ct__malloc(cap);
    memcpy(file, hdr, hn);
    memcpy(file + hn, "data ", 5);
    sodium_bin2hex(file + hn + 5, 2 * clen + 1, ct, clen);
    size_t n = hn + 5 + 2 * clen;
    file[n++] = '\n';
    ct_code rc = ct__fs_write_file(k->path, file, n, 0600, err);
    ct__free(file);
    ct__free(ct);
    return rc;
}

/* Parses "<word> <value>\n" at *p; advances. */
static int header_field(const char **p, const char *word, char *val, size_t cap)
{
    size_t wn = strlen(word);
    if (strncmp(*p, word, wn) != 0 || (*p)[wn] != ' ')
        return -1;
    const char *v = *p + wn + 1, *end = strchr(v, '\n');
    if (!end || (size_t)(end - v) >= cap)
        return -1;
    memcpy(val, v, (size_t)(end - v));
    val[end - v] = '\0';
    *p = end + 1;
    return 0;
}

/* Opens a sealed keyring file's text: reads the header; derive() makes
 * the kek from it (a passphrase's salt and limits are in it). */
static ct_code open_sealed(ct_keyring *k, const char *data, const ct_key_source *src,
                           const ct_conf *conf, int derive, ct_err *err)
{
    const char *p = data;
    char provider[32], kdf[96], salt[64], nonce_hex[64];
    uint8_t nonce[24];
    size_t bin = 0;
    if (strncmp(p, "celltrace sealed keyring 1\n", 27) != 0)
        return ct__fail(err, CT_ECORRUPT, "%s is not a sealed celltrace keyring", k->path);
    p += 27;
    ct_key_provider sealed_by;
    if (header_field(&p, "provider", provider, sizeof provider) ||
        ct_key_provider_parse(provider, &sealed_by) || sealed_by == CT_KEYS_FILE)
        return ct__fail(err, CT_ECORRUPT, "%s: bad provider line", k->path);
    if (sealed_by != k->provider)
        return ct__fail(err, CT_ECRYPTO,
                        "%s is sealed by the %s provider, but keys.provider = %s", k->path,
                        provider, ct_key_provider_name(k->provider));
    if (k->provider == CT_KEYS_PASSPHRASE) {
        unsigned long long ops, mem;
        char alg[32];
        if (header_field(&p, "kdf", kdf, sizeof kdf) ||
            sscanf(kdf, "%31s %llu %llu", alg, &ops, &mem) != 3 || strcmp(alg, "argon2id13") ||
            ops < crypto_pwhash_OPSLIMIT_MIN || ops > 64 || mem < crypto_pwhash_MEMLIMIT_MIN ||
            mem > (16ULL << 30) || header_field(&p, "salt", salt, sizeof salt) ||
            sodium_hex2bin(k->s->salt, sizeof k->s->salt, salt, strlen(salt), NULL, &bin, NULL) ||
            bin != sizeof k->s->salt)
            return ct__fail(err, CT_ECORRUPT, "%s: bad kdf or salt line", k->path);
        k->s->opslimit = ops;
        k->s->memlimit = mem;
    }
    if (header_field(&p, "nonce", nonce_hex, sizeof nonce_hex) ||
        sodium_hex2bin(nonce, sizeof nonce, nonce_hex, strlen(nonce_hex), NULL, &bin, NULL) ||
        bin != sizeof nonce || strncmp(p, "data ", 5) != 0)
        return ct__fail(err, CT_ECORRUPT, "%s: bad nonce or data line", k->path);
    size_t hn = (size_t)(p - data);
    const char *hex = p + 5, *end = strchr(hex, '\n');
    size_t hexlen = end ? (size_t)(end - hex) : strlen(hex);
    if (hexlen % 2 || hexlen / 2 <= crypto_aead_xchacha20poly1305_ietf_ABYTES ||
        hexlen / 2 - crypto_aead_xchacha20poly1305_ietf_ABYTES >= KEYRING_CAP)
        return ct__fail(err, CT_ECORRUPT, "%s: bad data line", k->path);
    ct_code rc = CT_OK;
    if (derive && k->provider == CT_KEYS_PASSPHRASE)
        rc = derive_from_passphrase(k->s, err);
    else if (derive)
        rc = derive_from_credential(k->s, src->credentials_dir, conf->credential, err);
    if (rc)
        return rc;
    size_t clen = hexlen / 2, tlen = 0;
    uint8_t *ct = ct__malloc(clen);
    char *text = sodium_malloc(clen + 1);
    if (!text) {
        ct__free(ct);
        return ct__fail(err, CT_ENOMEM, "cannot lock memory for the keys");
    }
    unsigned long long got = 0;
    if (sodium_hex2bin(ct, clen, hex, hexlen, NULL, &bin, NULL) || bin != clen ||
        crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)text, &got, NULL, ct, clen,
                                                   (const uint8_t *)data, hn, nonce, k->s->kek) != 0)
        rc = k->provider == CT_KEYS_PASSPHRASE
                 ? ct__fail(err, CT_ECRYPTO, "wrong passphrase for %s (or %s was altered)",
                            k->data_dir, k->path)
                 : ct__fail(err, CT_ECRYPTO,
                            "the credential %s does not open %s (another directory's, or altered)",
                            conf->credential, k->path);
    if (!rc) {
        tlen = (size_t)got;
        text[tlen] = '\0';
        rc = parse_keyring(text, k->path, &k->s->set, err);
    }
    sodium_free(text);
    ct__free(ct);
    return rc;
}

/* ---- reading --------------------------------------------------------------------- */

static void note_identity(ct_keyring *k)
{
    struct stat st;
    if (stat(k->path, &st) == 0) {
        k->dev = (uint64_t)st.st_dev;
        k->ino = (uint64_t)st.st_ino;
        k->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
}

static int file_exists(const char *dir, const char *name)
{
    char *p = ct__path_join(dir, name);
    int e = access(p, F_OK) == 0;
    ct__free(p);
    return e;
}

/* A directory made before the keyring: 32-byte key files. */
static ct_code read_legacy(ct_keyring *k, ct_err *err)
{
    ct_key *slots[] = {&k->s->set.pseudonym, &k->s->set.vault, &k->s->set.dlr};
    for (int i = 0; i < 3; i++) {
        char *path = ct__path_join(k->key_dir, LEGACY_FILES[i]), *data = NULL;
        size_t len = 0;
        ct_code rc = ct__fs_read_file(path, 64, &data, &len, err);
        if (rc == CT_ENOTFOUND && i == 2) { /* made by the first `notify`, if ever */
            ct__err_clear(err);
            ct__key_new(slots[i], 1);
            rc = CT_OK;
        } else if (rc == CT_OK && len != CT_KEY_BYTES) {
            rc = ct__fail(err, CT_ECRYPTO, "%s: key has %zu bytes, expected %d", path, len,
                          CT_KEY_BYTES);
        } else if (rc == CT_OK) {
            memcpy(slots[i]->k, data, CT_KEY_BYTES);
            slots[i]->gen = 1;
        }
        if (data)
            sodium_memzero(data, len);
        ct__free(data);
        ct__free(path);
        if (rc)
            return rc;
    }
    k->legacy = 1;
    return CT_OK;
}

static ct_code read_plain(ct_keyring *k, ct_err *err)
{
    char *data = NULL;
    size_t len = 0;
    ct_code rc = ct__fs_read_file(k->path, KEYRING_CAP, &data, &len, err);
    if (rc == CT_ENOTFOUND) {
        ct__err_clear(err);
        if (file_exists(k->key_dir, LEGACY_FILES[0]))
            return read_legacy(k, err);
        char *sealed = ct__path_join(k->data_dir, "keys/" SEALED_FILE);
        int is_sealed = access(sealed, F_OK) == 0;
        ct__free(sealed);
        if (is_sealed)
            return ct__fail(err, CT_ECRYPTO,
                            "no keys for %s: keys.provider = file, but its keys are sealed in "
                            "keys/%s (set keys.provider back, or restore celltrace.conf)",
                            k->data_dir, SEALED_FILE);
        return ct__fail(err, CT_ECRYPTO,
                        "no keys for %s: %s does not exist (keys.provider = file%s%s); "
                        "is the key folder mounted?",
                        k->data_dir, k->path, path_inside(k->key_dir, k->data_dir) ? "" : ", keys.dir = ",
                        path_inside(k->key_dir, k->data_dir) ? "" : k->key_dir);
    }
    if (!rc) {
        char *text = sodium_malloc(len + 1);
        if (!text) {
            rc = ct__fail(err, CT_ENOMEM, "cannot lock memory for the keys");
        } else {
            memcpy(text, data, len);
            text[len] = '\0';
            rc = parse_keyring(text, k->path, &k->s->set, err);
            sodium_free(text);
        }
        sodium_memzero(data, len);
    }
    ct__free(data);
    return rc;
}

static ct_code read_keyring(ct_keyring *k, const ct_key_source *src, const ct_conf *conf,
                            int derive, ct_err *err)
{
    if (k->provider == CT_KEYS_FILE)
        return read_plain(k, err);
    char *data = NULL;
    size_t len = 0;
    ct_code rc = ct__fs_read_file(k->path, 4 * KEYRING_CAP, &data, &len, err);
    if (rc == CT_ENOTFOUND) {
        ct__err_clear(err);
        rc = ct__fail(err, CT_ECRYPTO, "no keys for %s: %s does not exist (keys.provider = %s)",
                      k->data_dir, k->path, ct_key_provider_name(k->provider));
    }
    if (!rc)
        rc = open_sealed(k, data, src, conf, derive, err);
    ct__free(data);
    return rc;
}

static ct_keyring *keyring_new(const char *dir, const ct_conf *c, ct_err *err)
{
    ct_keyring *k = ct__calloc(1, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
    k->data_dir = ct__strdup(dir);
    k->provider = c->key_provider;
    k->key_dir = key_dir_of(dir, c);
    k->path = ct__path_join(k->key_dir, c->key_provider == CT_KEYS_FILE ? KEYRING_FILE : SEALED_FILE);
    k->s = sodium_malloc(sizeof *k->s);
    if (!k->s) {
        ct_keys_close(k);
        ct__fail(err, CT_ENOMEM, "cannot lock memory for the keys");
        return NULL;
    }
    memset(k->s, 0, sizeof *k->s);
    return k;
}

/* Copies the source's secret into locked memory, or says what is missing. */
static ct_code take_source(ct_keyring *k, const ct_key_source *src, const ct_conf *c, ct_err *err)
{
    if (k->provider == CT_KEYS_PASSPHRASE) {
        if (!src || !src->passphrase)
            return ct__fail(err, CT_ECRYPTO,
                            "the keys of %s are sealed with a passphrase (keys.provider = "
                            "passphrase) and none was given: pass it on --passphrase-fd N%s%s%s, "
                            "or run at a terminal to be asked",
                            k->data_dir, c->passphrase_env[0] ? ", in $" : "",
                            c->passphrase_env, c->passphrase_env[0] ? " (keys.passphrase_env)" : "");
        if (src->passphrase_len == 0 || src->passphrase_len >= sizeof k->s->passphrase)
            return ct__fail(err, CT_EINVAL, "the passphrase must be 1 to %zu bytes",
                            sizeof k->s->passphrase - 1);
        memcpy(k->s->passphrase, src->passphrase, src->passphrase_len);
        k->s->passphrase_len = src->passphrase_len;
    } else if (k->provider == CT_KEYS_CREDENTIALS && (!src || !src->credentials_dir)) {
        return ct__fail(err, CT_ECRYPTO,
                        "the keys of %s are sealed under the systemd credential '%s' "
                        "(keys.provider = credentials), and $CREDENTIALS_DIRECTORY is not set: "
                        "start celltrace from its unit (LoadCredential= or LoadCredentialEncrypted=)",
                        k->data_dir, c->credential);
    }
    return CT_OK;
}

ct_code ct_keys_unlock(const char *dir, const ct_key_source *src, ct_keyring **out, ct_err *err)
{
    if (sodium_init() < 0)
        return ct__fail(err, CT_ECRYPTO, "libsodium cannot start");
    if (!file_exists(dir, "catalog.db"))
        return ct__fail(err, CT_ENOTFOUND,
                        "%s is not a celltrace data directory (run `celltrace init` first)", dir);
    ct_conf c;
    ct_code rc = ct__conf_load(dir, &c, err);
    if (rc)
        return rc;
    ct_keyring *k = keyring_new(dir, &c, err);
    if (!k)
        return CT_ENOMEM;
    rc = take_source(k, src, &c, err);
    if (!rc)
        rc = read_keyring(k, src, &c, 1, err);
    if (rc) {
        ct_keys_close(k);
        return rc;
    }
    note_identity(k);
    *out = k;
    return CT_OK;
}

void ct_keys_close(ct_keyring *k)
{
    if (!k)
        return;
    if (k->s)
        sodium_free(k->s); /* wipes */
    pthread_mutex_destroy(&k->mu);
    ct__free(k->data_dir);
    ct__free(k->key_dir);
    ct__free(k->path);
    ct__free(k);
}

ct_code ct__keyring_refresh(ct_keyring *k, ct_err *err)
{
    struct stat st;
    if (k->legacy || stat(k->path, &st) != 0)
        return CT_OK; /* nothing newer to read */
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((uint64_t)st.st_dev == k->dev && (uint64_t)st.st_ino == k->ino && mt == k->mtime_ns)
        return CT_OK;
    ct_conf c;
    ct_code rc = ct__conf_load(k->data_dir, &c, err);
    if (rc)
        return rc;
    uint8_t old_salt[16];
    memcpy(old_salt, k->s->salt, sizeof old_salt);
    ct_key_source src = {NULL, 0, NULL};
    /* A passphrase's salt changes with purge --all and rewrap: derive again. */
    rc = read_keyring(k, &src, &c, 0, err);
    if (rc == CT_ECRYPTO && k->provider == CT_KEYS_PASSPHRASE &&
        memcmp(old_salt, k->s->salt, sizeof old_salt)) {
        ct__err_clear(err);
        char *data = NULL;
        size_t len = 0;
        rc = ct__fs_read_file(k->path, 4 * KEYRING_CAP, &data, &len, err);
        if (!rc)
            rc = open_sealed(k, data, &src, &c, 1, err);
        ct__free(data);
    }
    if (!rc)
        note_identity(k);
    return rc;
}

ct_code ct_keyring_text(const char *dir, char **text, size_t *len, ct_err *err)
{
    *text = NULL;
    *len = 0;
    ct_keyring *k = NULL;
    ct_key_source none = {NULL, 0, NULL};
    ct_code rc = ct_keys_unlock(dir, &none, &k, err);
    if (rc)
        return rc;
    if (k->provider != CT_KEYS_FILE) {
        ct_keys_close(k);
        return ct__fail(err, CT_EINVAL, "a cluster's keys can only be kept by the file provider");
    }
    char *buf = sodium_malloc(8192);
    if (!buf) {
        ct_keys_close(k);
        return ct__fail(err, CT_ENOMEM, "cannot lock memory for the keys");
    }
    *len = keyring_text(&k->s->set, buf, 8192);
    *text = buf;
    ct_keys_close(k);
    return CT_OK;
}

void ct_keyring_text_free(char *text, size_t len)
{
    (void)len;
    if (text)
        sodium_free(text); /* wipes */
}

/* ---- writing ------------------------------------------------------------------------ */

ct_code ct__keyring_save(ct_keyring *k, ct_err *err)
{
    char *text = sodium_malloc(8192);
    if (!text)
        return ct__fail(err, CT_ENOMEM, "cannot lock memory for the keys");
    size_t len = keyring_text(&k->s->set, text, 8192);
    ct_code rc = ct__fs_mkdir(k->key_dir, 0700, err);
    if (!rc && k->provider == CT_KEYS_FILE)
        rc = ct__fs_write_file(k->path, text, len, 0600, err);
    else if (!rc)
        rc = write_sealed(k, text, len, err);
    sodium_free(text);
    if (!rc) {
        k->legacy = 0;
        note_identity(k);
    }
    return rc;
}

static void remove_in(const char *dir, const char *name)
{
    char *p = ct__path_join(dir, name);
    if (unlink(p) == 0) {
        ct_err ignored;
        ct__fs_sync_dir(dir, &ignored);
    }
    ct__free(p);
}

ct_code ct__keyring_tidy(ct_keyring *k, ct_err *err)
{
    ct_code rc = CT_OK;
    if (k->legacy)
        rc = ct__keyring_save(k, err);
    if (rc)
        return rc;
    /* The keyring file now holds every key: the older files go (also when
     * a crash came between writing it and removing them). */
    if (k->provider == CT_KEYS_FILE)
        for (int i = 0; i < 3; i++)
            remove_in(k->key_dir, LEGACY_FILES[i]);
    char *inner = ct__path_join(k->data_dir, "keys");
    if (k->provider != CT_KEYS_FILE) { /* a rewrap from file that a crash cut short */
        remove_in(inner, KEYRING_FILE);
        for (int i = 0; i < 3; i++)
            remove_in(inner, LEGACY_FILES[i]);
    } else {
        remove_in(inner, SEALED_FILE);
    }
    /* a move to keys.dir that a crash cut short after the switch: the
     * audit key is in its new place, so the old copy goes */
    if (strcmp(inner, k->key_dir) != 0 && file_exists(k->key_dir, "audit.key"))
        ct__audit_key_remove(inner);
    ct__free(inner);
    return CT_OK;
}

static uint32_t next_gen(const ct_key *a, const ct_key *b)
{
    return (a->gen > b->gen ? a->gen : b->gen) + 1;
}

ct_code ct__keyring_renew(ct_keyring *k, ct_err *err)
{
    ct_keyset *set = &k->s->set;
    uint32_t pg = next_gen(&set->pseudonym, &set->pseudonym_next),
             vg = next_gen(&set->vault, &set->vault_next), dg = set->dlr.gen + 1;
    for (int i = 0; i < CT_DLR_PREVIOUS_MAX; i++)
        if (set->dlr_previous[i].gen >= dg)
            dg = set->dlr_previous[i].gen + 1;
    sodium_memzero(set, sizeof *set);
    ct__key_new(&set->pseudonym, pg);
    ct__key_new(&set->vault, vg);
    ct__key_new(&set->dlr, dg);
    if (k->provider == CT_KEYS_PASSPHRASE) {
        randombytes_buf(k->s->salt, sizeof k->s->salt);
        ct_code rc = derive_from_passphrase(k->s, err);
        if (rc)
            return rc;
    }
    return ct__keyring_save(k, err);
}

int ct__keyring_dlr_keys(ct_keyring *k, int64_t now, uint8_t (*keys)[CT_KEY_BYTES], int cap,
                         int *n)
{
    *n = 0;
    if (cap < 1)
        return 0;
    memcpy(keys[(*n)++], k->s->set.dlr.k, CT_KEY_BYTES);
    for (int i = 0; i < CT_DLR_PREVIOUS_MAX && *n < cap; i++)
        if (k->s->set.dlr_previous[i].gen && k->s->set.dlr_previous[i].until > now)
            memcpy(keys[(*n)++], k->s->set.dlr_previous[i].k, CT_KEY_BYTES);
    return 1;
}

/* The key that will seal k where `setup` says: a passphrase's Argon2id
 * with a new salt at the chosen cost, or the credential's. */
static ct_code new_sealing_key(ct_keyring *k, const ct_keys_setup *setup, const ct_conf *c,
                               ct_err *err)
{
    ct_code rc = take_source(k, &setup->source, c, err);
    if (!rc && k->provider == CT_KEYS_PASSPHRASE) {
        kdf_limits(setup->kdf, &k->s->opslimit, &k->s->memlimit);
        randombytes_buf(k->s->salt, sizeof k->s->salt);
        rc = derive_from_passphrase(k->s, err);
    } else if (!rc && k->provider == CT_KEYS_CREDENTIALS) {
        rc = derive_from_credential(k->s, setup->source.credentials_dir, c->credential, err);
    }
    return rc;
}

void ct__keyset_end_rotation(ct_keyset *set, int forward)
{
    if (forward && set->pseudonym_next.gen)
        set->pseudonym = set->pseudonym_next;
    if (forward && set->vault_next.gen)
        set->vault = set->vault_next;
    sodium_memzero(&set->pseudonym_next, sizeof set->pseudonym_next);
    sodium_memzero(&set->vault_next, sizeof set->vault_next);
}

/* ---- a new directory's keys ------------------------------------------------------- */

/* Makes fresh keys as `setup` says and writes them; k is returned for the
 * caller's config writes. */
ct_code ct__keys_create_with(const char *dir, const ct_keys_setup *setup, ct_err *err)
{
    ct_keys_setup dflt = {CT_KEYS_FILE, NULL, NULL, NULL, CT_KDF_SENSITIVE, {NULL, 0, NULL}, NULL};
    if (!setup)
        setup = &dflt;
    ct_conf c;
    memset(&c, 0, sizeof c);
    c.key_provider = setup->provider;
    snprintf(c.key_dir, sizeof c.key_dir, "%s", setup->key_dir ? setup->key_dir : "");
    snprintf(c.credential, sizeof c.credential, "%s",
             setup->credential ? setup->credential : "celltrace.key");
    snprintf(c.passphrase_env, sizeof c.passphrase_env, "%s",
             setup->passphrase_env ? setup->passphrase_env : "");
    if (setup->key_dir && setup->key_dir[0] != '/')
        return ct__fail(err, CT_EINVAL, "the key folder must be an absolute path");
    ct_keyring *k = keyring_new(dir, &c, err);
    if (!k)
        return CT_ENOMEM;
    ct_code rc = access(k->path, F_OK) == 0
                     ? ct__fail(err, CT_EEXIST, "%s already exists: another data directory's keys?",
                                k->path)
                     : new_sealing_key(k, setup, &c, err);
    if (!rc && setup->keyring_text && setup->provider != CT_KEYS_FILE)
        rc = ct__fail(err, CT_EINVAL, "a shard's keys can only be kept by the file provider");
    else if (!rc && setup->keyring_text)
        rc = parse_keyring(setup->keyring_text, "the cluster's keyring", &k->s->set, err);
    if (!rc && !setup->keyring_text) {
        ct__key_new(&k->s->set.pseudonym, 1);
        ct__key_new(&k->s->set.vault, 1);
        ct__key_new(&k->s->set.dlr, 1);
    }
    if (!rc)
        rc = ct__keyring_save(k, err);
    /* The configuration names where the keys are; defaults stay unwritten. */
    if (!rc && setup->provider != CT_KEYS_FILE)
        rc = ct__conf_set(dir, "keys.provider", ct_key_provider_name(setup->provider), err);
    if (!rc && setup->key_dir)
        rc = ct__conf_set(dir, "keys.dir", setup->key_dir, err);
    if (!rc && setup->passphrase_env)
        rc = ct__conf_set(dir, "keys.passphrase_env", setup->passphrase_env, err);
    if (!rc && setup->credential)
        rc = ct__conf_set(dir, "keys.credential", setup->credential, err);
    ct_keys_close(k);
    return rc;
}

/* Moves k to the provider of `to` (keys.h; ct_keys_rewrap in rotate.c). */
ct_code ct__keyring_move(ct_keyring *k, const ct_keys_setup *to, ct_err *err)
{
    ct_conf c;
    ct_code rc = ct__conf_load(k->data_dir, &c, err);
    if (rc)
        return rc;
    c.key_provider = to->provider;
    snprintf(c.key_dir, sizeof c.key_dir, "%s", to->key_dir ? to->key_dir : "");
    if (to->credential)
        snprintf(c.credential, sizeof c.credential, "%s", to->credential);
    if (to->passphrase_env)
        snprintf(c.passphrase_env, sizeof c.passphrase_env, "%s", to->passphrase_env);
    if (to->key_dir && to->key_dir[0] != '/')
        return ct__fail(err, CT_EINVAL, "the key folder must be an absolute path");
    ct_keyring *n = keyring_new(k->data_dir, &c, err);
    if (!n)
        return CT_ENOMEM;
    rc = new_sealing_key(n, to, &c, err);
    int same_file = !rc && !strcmp(n->path, k->path);
    int same_dir = !rc && !strcmp(n->key_dir, k->key_dir);
    if (!rc) {
        n->s->set = k->s->set;
        rc = ct__keyring_save(n, err); /* 1: the keys at their new place */
    }
    if (!rc && !same_dir) /* the audit key and head go along (audit.c) */
        rc = ct__audit_key_copy(k->key_dir, n->key_dir, err);
    /* 2: the configuration names it. A crash before this keeps the old
     * place in use; the new file is ignored and overwritten next time. */
    if (!rc)
        rc = ct__conf_set(k->data_dir, "keys.provider", ct_key_provider_name(to->provider), err);
    if (!rc)
        rc = ct__conf_set(k->data_dir, "keys.dir", to->key_dir ? to->key_dir : "", err);
    if (!rc && to->credential)
        rc = ct__conf_set(k->data_dir, "keys.credential", to->credential, err);
    if (!rc && to->passphrase_env)
        rc = ct__conf_set(k->data_dir, "keys.passphrase_env", to->passphrase_env, err);
    /* 3: the old place is emptied (ct__keyring_tidy does it after a crash). */
    if (!rc && !same_dir)
        ct__audit_key_remove(k->key_dir);
    if (!rc && !same_file && unlink(k->path) == 0) {
        char *slash = strrchr(k->path, '/');
        *slash = '\0';
        ct_err ignored;
        ct__fs_sync_dir(k->path, &ignored);
        *slash = '/';
    }
    if (!rc) { /* k takes n's place */
        ct_key_secrets *tmp = k->s;
        k->s = n->s;
        n->s = tmp;
        char *p = k->path, *d = k->key_dir;
        k->path = n->path;
        k->key_dir = n->key_dir;
        n->path = p;
        n->key_dir = d;
        k->provider = n->provider;
        k->legacy = 0;
        note_identity(k);
    }
    ct_keys_close(n);
    return rc;
}
