/*
 * audit.c — the audit log of reads of personal data, as a hash chain that
 * cannot be changed quietly (docs/AUDIT.md).
 *
 * A record is one JSON line, appended and fsynced before the read it
 * records returns anything:
 *   {"time":..,"who":..,"uid":..,"what":..,"object":..,"records":..,"why":..,
 *    "seq":N,"chain":"<64 hex>"}
 * seq counts records from 1 across every file, and
 *   chain_N = BLAKE2b-256 keyed with the audit key (prev || text_N),
 * where prev is chain_{N-1} (32 zero bytes for N = 1) and text_N is the
 * line up to, not including, `,"chain"`. Without the key nobody can write
 * a record that verifies, so a changed byte, a deleted, inserted or moved
 * record, or a cut through the middle shows at the first record after it.
 *
 * Files: <data>/audit.log is written; past audit.rotate_kb it is renamed
 * audit-<its last seq, 12 digits>.log and the next record chains to that
 * file's last. Names sort in chain order.
 *
 * Beside the key, apart from the records, <keys>/audit.key (32 bytes, mode
 * 0600) and <keys>/audit.head: the last seq and chain written. Removing
 * records from the end leaves no later record to disagree, so verify
 * compares the last record with the head. A crash between the append and
 * the head's update leaves the head one record behind, which is allowed.
 *
 * Writers in several processes (and threads) take <data>/audit.lock with
 * flock, so each record chains to the one really before it. Lines written
 * before the chain existed (no "chain") may only precede the first chained
 * record; they are counted as unchained.
 */
#define _GNU_SOURCE /* O_CLOEXEC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "fsio.h"
#include "keys.h"
#include "textparse.h"

#define CHAIN_BYTES 32
#define AUDIT_FILE "audit.log"
#define LOCK_FILE "audit.lock"
#define KEY_FILE "audit.key"
#define HEAD_FILE "audit.head"
#define LINE_MAX_BYTES 4096
#define CHAIN_TAG ",\"chain\":\""
#define SEQ_TAG ",\"seq\":"

/* ---- the record ----------------------------------------------------------------- */

/* The length of the valid UTF-8 character at s (1 to 4 bytes), or 0 when
 * s does not start one (a stray or truncated byte, an overlong form, a
 * surrogate). s is NUL-terminated, so the look-ahead stops at its end. */
static size_t utf8_char(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4                              ? 4
                                                                            : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* s as a JSON string with its quotes, in at most cap bytes: control
 * characters escaped, bytes that are not UTF-8 written as '?', and cut
 * only between characters. A record must parse as JSON: readers (the
 * API's listing, the oversight numbers) skip what does not. */
static void json_string(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    out[n++] = '"';
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t k = utf8_char(p);
        if (n + (k ? k : 1) + 8 >= cap)
            break;
        if (k == 0) {
            out[n++] = '?';
            p++;
        } else if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p++;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p++);
        } else {
            memcpy(out + n, p, k);
            n += k;
            p += k;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
}

static const char *os_user(char *buf, size_t cap)
{
    /* the _r form: traces may run on several threads; its buffer grows
     * while the entry does not fit (large with LDAP or sssd) */
    struct passwd pwd, *pw = NULL;
    long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t size = hint > 0 ? (size_t)hint : 1024;
    char *scratch = NULL;
    for (int tries = 0; tries < 8; tries++, size *= 4) {
        ct__free(scratch);
        scratch = ct__malloc(size);
        int e = getpwuid_r(getuid(), &pwd, scratch, size, &pw);
        if (e != ERANGE) {
            if (e)
                pw = NULL;
            break;
        }
        pw = NULL;
    }
    snprintf(buf, cap, "%s", pw ? pw->pw_name : "unknown");
    ct__free(scratch);
    return buf;
}

static void chain_of(const uint8_t key[CT_KEY_BYTES], const uint8_t prev[CHAIN_BYTES],
                     const char *text, size_t len, uint8_t out[CHAIN_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, CT_KEY_BYTES, CHAIN_BYTES);
    crypto_generichash_update(&st, prev, CHAIN_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)text, len);
    crypto_generichash_final(&st, out, CHAIN_BYTES);
}

/* Splits a chained line (without its '\n') into seq, chain and the length
 * of the hashed text. 0 when it is one; -1 when it has no chain at all;
 * -2 when it has one that does not parse. */
static int parse_chained(const char *line, size_t len, uint64_t *seq, uint8_t chain[CHAIN_BYTES],
                         size_t *text_len)
{
    /* the line ends with ,"chain":"<64 hex>"} */
    size_t tag = strlen(CHAIN_TAG), tail = tag + 2 * CHAIN_BYTES + 2;
    if (len < tail || memcmp(line + len - tail, CHAIN_TAG, tag) != 0)
        return memmem(line, len, CHAIN_TAG, tag) ? -2 : -1;
    if (line[len - 2] != '"' || line[len - 1] != '}')
        return -2;
    size_t bin_len = 0;
    if (sodium_hex2bin(chain, CHAIN_BYTES, line + len - tail + tag, 2 * CHAIN_BYTES, NULL,
                       &bin_len, NULL) != 0 ||
        bin_len != CHAIN_BYTES)
        return -2;
    *text_len = len - tail;
    /* ... after ,"seq":<digits> */
    size_t d = *text_len;
    while (d > 0 && line[d - 1] >= '0' && line[d - 1] <= '9')
        d--;
    size_t st = strlen(SEQ_TAG);
    if (d == *text_len || *text_len - d > 19 || d < st || memcmp(line + d - st, SEQ_TAG, st) != 0)
        return -2;
    uint64_t v = 0;
    for (size_t i = d; i < *text_len; i++)
        v = v * 10 + (uint64_t)(line[i] - '0');
    *seq = v;
    return 0;
}

/* ---- files ------------------------------------------------------------------------ */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rotated files audit-<seq>.log in chain order, then audit.log when it
 * exists. Returns the count; *names (free with names_free). */
static size_t audit_files(const char *dir, char ***names)
{
    size_t n = 0, cap = 8;
    char **v = ct__calloc(cap, sizeof *v);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len != 22 || strncmp(e->d_name, "audit-", 6) || strcmp(e->d_name + 18, ".log"))
            continue;
        if (strspn(e->d_name + 6, "0123456789") != 12)
            continue;
        if (n + 2 > cap) {
            cap *= 2;
            v = ct__realloc(v, cap * sizeof *v);
        }
        v[n++] = ct__strdup(e->d_name);
    }
    if (d)
        closedir(d);
    qsort(v, n, sizeof *v, by_name);
    char *cur = ct__path_join(dir, AUDIT_FILE);
    if (access(cur, F_OK) == 0)
        v[n++] = ct__strdup(AUDIT_FILE);
    ct__free(cur);
    *names = v;
    return n;
}

static void names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ct__free(v[i]);
    ct__free(v);
}

/* The last complete line of a file into buf (no '\n'); 0 if none. */
static size_t last_line(const char *path, char *buf, size_t cap, off_t *size)
{
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    size_t got = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        *size = st.st_size;
        off_t from = st.st_size > (off_t)cap ? st.st_size - (off_t)cap : 0;
        ssize_t r = pread(fd, buf, (size_t)(st.st_size - from), from);
        got = r > 0 ? (size_t)r : 0;
    }
    close(fd);
    /* drop an unterminated tail (a torn append), then keep the last line */
    while (got > 0 && buf[got - 1] != '\n')
        got--;
    if (got == 0)
        return 0;
    got--; /* its '\n' */
    size_t start = got;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    memmove(buf, buf + start, got - start);
    buf[got - start] = '\0';
    return got - start;
}

/* ---- the key and the head ----------------------------------------------------------- */

static ct_code read_key(const char *key_dir, uint8_t key[CT_KEY_BYTES], ct_err *err)
{
    char *path = ct__path_join(key_dir, KEY_FILE), *data = NULL;
    size_t len = 0;
    ct_code rc = ct__fs_read_file(path, 64, &data, &len, err);
    if (rc == CT_OK && len != CT_KEY_BYTES)
        rc = ct__fail(err, CT_ECRYPTO, "%s: the audit key has %zu bytes, expected %d", path, len,
                      CT_KEY_BYTES);
    if (rc == CT_OK)
        memcpy(key, data, CT_KEY_BYTES);
    if (data)
        sodium_memzero(data, len);
    ct__free(data);
    ct__free(path);
    return rc;
}

ct_code ct__audit_key_create(const char *key_dir, ct_err *err)
{
    uint8_t key[CT_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    char *path = ct__path_join(key_dir, KEY_FILE);
    ct_code rc = ct__fs_mkdir(key_dir, 0700, err);
    if (!rc)
        rc = ct__fs_write_file(path, key, sizeof key, 0600, err);
    sodium_memzero(key, sizeof key);
    ct__free(path);
    return rc;
}

ct_code ct__audit_key_copy(const char *from_dir, const char *to_dir, ct_err *err)
{
    static const char *const files[] = {KEY_FILE, HEAD_FILE};
    ct_code rc = ct__fs_mkdir(to_dir, 0700, err);
    for (int i = 0; i < 2 && !rc; i++) {
        char *from = ct__path_join(from_dir, files[i]), *to = ct__path_join(to_dir, files[i]);
        char *data = NULL;
        size_t len = 0;
        rc = ct__fs_read_file(from, 4096, &data, &len, err);
        if (rc == CT_ENOTFOUND) { /* nothing audited yet, or a directory from before */
            ct__err_clear(err);
            rc = CT_OK;
        } else if (!rc) {
            rc = ct__fs_write_file(to, data, len, 0600, err);
        }
        if (data)
            sodium_memzero(data, len);
        ct__free(data);
        ct__free(from);
        ct__free(to);
    }
    return rc;
}

void ct__audit_key_remove(const char *key_dir)
{
    static const char *const files[] = {KEY_FILE, HEAD_FILE};
    for (int i = 0; i < 2; i++) {
        char *p = ct__path_join(key_dir, files[i]);
        unlink(p);
        ct__free(p);
    }
}

#define HEAD_LEN (20 + 1 + 2 * CHAIN_BYTES + 1)

static ct_code write_head(const char *key_dir, uint64_t seq, const uint8_t chain[CHAIN_BYTES],
                          ct_err *err)
{
    char text[HEAD_LEN + 1], hex[2 * CHAIN_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, chain, CHAIN_BYTES);
    snprintf(text, sizeof text, "%020llu %s\n", (unsigned long long)seq, hex);
    char *path = ct__path_join(key_dir, HEAD_FILE);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ct_code rc = CT_OK;
    if (fd < 0 || pwrite(fd, text, HEAD_LEN, 0) != HEAD_LEN || fdatasync(fd) != 0)
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot write the audit head %s", path);
    if (fd >= 0)
        close(fd);
    ct__free(path);
    return rc;
}

/* 1 and the head when there is one, 0 when there is none. */
static int read_head(const char *key_dir, uint64_t *seq, uint8_t chain[CHAIN_BYTES])
{
    char *path = ct__path_join(key_dir, HEAD_FILE), text[HEAD_LEN + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ct__free(path);
    if (fd < 0)
        return 0;
    ssize_t r = pread(fd, text, HEAD_LEN, 0);
    close(fd);
    size_t bin_len = 0;
    if (r != HEAD_LEN || text[20] != ' ' || text[HEAD_LEN - 1] != '\n' ||
        strspn(text, "0123456789") != 20 ||
        sodium_hex2bin(chain, CHAIN_BYTES, text + 21, 2 * CHAIN_BYTES, NULL, &bin_len, NULL) ||
        bin_len != CHAIN_BYTES)
        return -1;
    *seq = strtoull(text, NULL, 10);
    return 1;
}

/* ---- writing -------------------------------------------------------------------------- */

/* The chain's end: the last chained record of the newest file that has a
 * line. *seq 0 (and prev zero) when there is none. 1 when a chained
 * record exists. */
static int chain_end(const char *dir, uint64_t *seq, uint8_t prev[CHAIN_BYTES], off_t *cur_size)
{
    char **names;
    size_t n = audit_files(dir, &names);
    char buf[LINE_MAX_BYTES + 1];
    *seq = 0;
    *cur_size = 0;
    memset(prev, 0, CHAIN_BYTES);
    int found = 0;
    for (size_t i = n; i-- > 0 && !found;) {
        char *path = ct__path_join(dir, names[i]);
        off_t size;
        size_t len = last_line(path, buf, sizeof buf - 1, &size);
        if (i == n - 1 && !strcmp(names[i], AUDIT_FILE))
            *cur_size = size;
        size_t text_len;
        if (len > 0) {
            found = parse_chained(buf, len, seq, prev, &text_len) == 0;
            ct__free(path);
            break; /* the newest line decides: unchained lines predate the chain */
        }
        ct__free(path);
    }
    names_free(names, n);
    return found;
}

/* A record cut short by a crash (power lost mid-append: no line end) was
 * never complete, and the head never named it. It goes before the next
 * append, which would otherwise land on the same line and make verify
 * call a crash tampering. A file whose last 4 KiB hold no line end is left
 * alone: that is no torn record. */
static ct_code drop_torn_tail(const char *path, ct_err *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return CT_OK; /* no log yet */
    struct stat st;
    char buf[LINE_MAX_BYTES];
    ct_code rc = CT_OK;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        off_t from = st.st_size > (off_t)sizeof buf ? st.st_size - (off_t)sizeof buf : 0;
        ssize_t got = pread(fd, buf, (size_t)(st.st_size - from), from);
        if (got > 0 && buf[got - 1] != '\n') {
            ssize_t i = got - 1;
            while (i >= 0 && buf[i] != '\n')
                i--;
            if (i >= 0 || from == 0) {
                off_t keep = from + (off_t)(i + 1);
                if (ftruncate(fd, keep) != 0 || fsync(fd) != 0)
                    rc = ct__fail_errno(err, CT_EIO, errno, "cannot cut the torn record of %s",
                                        path);
            }
        }
    }
    close(fd);
    return rc;
}

ct_code ct__audit(ct_db *db, const char *what, const char *object, uint64_t records, ct_err *err)
{
    return ct__audit_as(db, db->who, db->why, what, object, records, err);
}

ct_code ct__audit_as(ct_db *db, const char *actor, const char *reason, const char *what,
                     const char *object, uint64_t records, ct_err *err)
{
    char user[128], when[21], who[300], why[600], obj[300], line[1700];
    ct__format_time((int64_t)time(NULL), when);
    json_string(who, sizeof who, actor ? actor : os_user(user, sizeof user));
    json_string(why, sizeof why, reason ? reason : "not given");
    json_string(obj, sizeof obj, object ? object : "");

    const char *key_dir = db->keys->key_dir;
    char *lock_path = ct__path_join(db->dir, LOCK_FILE);
    char *path = ct__path_join(db->dir, AUDIT_FILE);
    int lock_fd = ct__fs_lock(db->dir, LOCK_FILE, 1), fd = -1;
    ct_code rc = CT_OK;
    uint8_t key[CT_KEY_BYTES], prev[CHAIN_BYTES], chain[CHAIN_BYTES];
    if (lock_fd < 0) {
        rc = ct__fail_errno(err, CT_EIO, errno, "cannot lock the audit log %s", lock_path);
        goto out;
    }
    uint64_t seq, head_seq = 0;
    off_t size;
    int chained = chain_end(db->dir, &seq, prev, &size);
    uint8_t head[CHAIN_BYTES];
    /* Records removed from the end (or every file removed) leave the head
     * ahead of the log: the next record then takes the head's next seq, so
     * the gap stays visible to verify instead of being chained over. */
    if (read_head(key_dir, &head_seq, head) > 0 && head_seq > seq)
        seq = head_seq;
    rc = read_key(key_dir, key, err);
    if (rc == CT_ENOTFOUND && !chained) { /* a directory from before the chain */
        ct__err_clear(err);
        rc = ct__audit_key_create(key_dir, err);
        if (!rc)
            rc = read_key(key_dir, key, err);
    } else if (rc == CT_ENOTFOUND) {
        rc = ct__fail(err, CT_ECRYPTO,
                      "the audit key %s/%s is missing, and the audit log is chained under it",
                      key_dir, KEY_FILE);
    }
    if (rc)
        goto out;
    ct_conf conf;
    rc = ct__conf_load(db->dir, &conf, err);
    if (rc)
        goto out;
    if (size > 0 && (uint64_t)size >= (uint64_t)conf.audit_rotate_kb * 1024 && seq > 0) {
        char name[32];
        snprintf(name, sizeof name, "audit-%012llu.log", (unsigned long long)seq);
        char *to = ct__path_join(db->dir, name);
        int moved = access(to, F_OK) != 0 && rename(path, to) == 0;
        ct__free(to);
        if (!moved) {
            rc = ct__fail_errno(err, CT_EIO, errno, "cannot rotate the audit log %s", path);
            goto out;
        }
        if ((rc = ct__fs_sync_dir(db->dir, err)) != CT_OK)
            goto out;
    }
    if ((rc = drop_torn_tail(path, err)) != CT_OK)
        goto out;
    seq++;
    int n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"who\":%s,\"uid\":%ld,\"what\":\"%s\",\"object\":%s,"
                     "\"records\":%llu,\"why\":%s" SEQ_TAG "%llu",
                     when, who, (long)getuid(), what, obj, (unsigned long long)records, why,
                     (unsigned long long)seq);
    chain_of(key, prev, line, (size_t)n, chain);
    char hex[2 * CHAIN_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, chain, CHAIN_BYTES);
    n += snprintf(line + n, sizeof line - (size_t)n, CHAIN_TAG "%s\"}\n", hex);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    rc = fd < 0 ? ct__fail_errno(err, CT_EIO, errno, "cannot open the audit log %s", path)
                : ct__fs_append_sync(fd, line, (size_t)n, path, err);
    if (!rc)
        rc = write_head(key_dir, seq, chain, err);
out:
    sodium_memzero(key, sizeof key);
    if (fd >= 0)
        close(fd);
    if (lock_fd >= 0)
        close(lock_fd); /* and the lock with it */
    ct__free(lock_path);
    ct__free(path);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------- */

/* The time of a record line (its first field, as written), or NULL. */
static const char *record_time(const char *line, size_t len)
{
    static const char TAG[] = "{\"time\":\"";
    return len >= sizeof TAG - 1 + 20 && !memcmp(line, TAG, sizeof TAG - 1) ? line + sizeof TAG - 1
                                                                             : NULL;
}

ct_code ct__audit_each(const char *dir, int64_t since, uint64_t after_seq, ct_audit_line_fn fn,
                       void *ud, ct_err *err)
{
    char **names;
    size_t n = audit_files(dir, &names);
    ct_code rc = CT_OK;
    int stop = 0;
    char from[21] = "";
    if (since > 0)
        ct__format_time(since, from);
    for (size_t i = 0; i < n && !rc && !stop; i++) {
        /* a rotated file is named by its last record: all at or below after_seq */
        if (after_seq && i + 1 < n && strtoull(names[i] + 6, NULL, 10) <= after_seq)
            continue;
        char *path = ct__path_join(dir, names[i]);
        if (*from && i + 1 < n) { /* a rotated file that ends before `since` is skipped whole */
            char last[LINE_MAX_BYTES + 1];
            off_t size;
            size_t len = last_line(path, last, sizeof last - 1, &size);
            const char *t = record_time(last, len);
            if (t && memcmp(t, from, 20) < 0) {
                ct__free(path);
                continue;
            }
        }
        FILE *f = fopen(path, "re");
        if (!f) {
            rc = ct__fail_errno(err, CT_EIO, errno, "cannot open %s", path);
        } else {
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            while (!stop && (len = getline(&line, &cap, f)) > 0) {
                if (line[len - 1] == '\n')
                    line[--len] = '\0';
                const char *t = *from ? record_time(line, (size_t)len) : NULL;
                if (t && memcmp(t, from, 20) < 0)
                    continue; /* written before `since`: times only grow along the log */
                uint64_t seq;
                uint8_t chain[CHAIN_BYTES];
                size_t text_len;
                if (after_seq && parse_chained(line, (size_t)len, &seq, chain, &text_len) == 0 &&
                    seq <= after_seq)
                    continue; /* at or before after_seq, found without parsing the JSON */
                stop = fn(ud, line, (size_t)len);
            }
            free(line);
            if (ferror(f))
                rc = ct__fail(err, CT_EIO, "cannot read %s", path);
            fclose(f);
        }
        ct__free(path);
    }
    names_free(names, n);
    return rc;
}

/* ---- verifying ---------------------------------------------------------------------- */

static void problem(ct_audit_check *out, const char *file, uint64_t line, uint64_t seq,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem(ct_audit_check *out, const char *file, uint64_t line, uint64_t seq,
                    const char *fmt, ...)
{
    if (!out->ok)
        return; /* the first one only */
    out->ok = 0;
    snprintf(out->file, sizeof out->file, "%s", file);
    out->line = line;
    out->seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->problem, sizeof out->problem, fmt, ap);
    va_end(ap);
}

/* One file's lines against the chain so far. */
static ct_code verify_file(const char *dir, const char *name, const uint8_t key[CT_KEY_BYTES],
                           uint8_t prev[CHAIN_BYTES], ct_audit_check *out, ct_err *err)
{
    char *path = ct__path_join(dir, name);
    FILE *f = fopen(path, "re");
    if (!f) {
        ct_code rc = ct__fail_errno(err, CT_EIO, errno, "cannot open %s", path);
        ct__free(path);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t at = 0;
    while (out->ok && (len = getline(&line, &cap, f)) >= 0) {
        at++;
        if (len == 0 || line[len - 1] != '\n') {
            problem(out, name, at, 0, "the last line is cut short (no line end): a torn write, "
                                      "or the file was truncated");
            break;
        }
        line[--len] = '\0';
        uint64_t seq = 0;
        uint8_t chain[CHAIN_BYTES], want[CHAIN_BYTES];
        size_t text_len = 0;
        int p = parse_chained(line, (size_t)len, &seq, chain, &text_len);
        if (p == -1 && out->records == 0) {
            out->unchained++; /* written before the chain existed */
            continue;
        }
        if (p != 0) {
            problem(out, name, at, 0,
                    p == -1 ? "a record without a chain value after the chain began: inserted"
                            : "the record's seq or chain value is damaged");
            break;
        }
        uint64_t expect = out->last_seq + 1;
        if (seq != expect) {
            if (seq > expect)
                problem(out, name, at, seq,
                        "record %llu comes where %llu should: records %llu to %llu were deleted, "
                        "or this one was moved",
                        (unsigned long long)seq, (unsigned long long)expect,
                        (unsigned long long)expect, (unsigned long long)(seq - 1));
            else
                problem(out, name, at, seq,
                        "record %llu comes where %llu should: it was moved or copied here",
                        (unsigned long long)seq, (unsigned long long)expect);
            break;
        }
        chain_of(key, prev, line, text_len, want);
        if (sodium_memcmp(want, chain, CHAIN_BYTES) != 0) {
            problem(out, name, at, seq,
                    "record %llu does not match its chain value: it was changed, or a record "
                    "before it was replaced",
                    (unsigned long long)seq);
            break;
        }
        memcpy(prev, chain, CHAIN_BYTES);
        out->last_seq = seq;
        out->records++;
    }
    free(line);
    int bad_read = ferror(f);
    fclose(f);
    ct_code rc = bad_read ? ct__fail(err, CT_EIO, "cannot read %s", path) : CT_OK;
    ct__free(path);
    return rc;
}

ct_code ct_audit_verify(const char *dir, ct_audit_check *out, ct_err *err)
{
    memset(out, 0, sizeof *out);
    out->ok = 1;
    char *key_dir = NULL;
    ct_code rc = ct__keys_dir_of(dir, &key_dir, err);
    if (rc)
        return rc;
    uint8_t key[CT_KEY_BYTES], prev[CHAIN_BYTES];
    memset(prev, 0, sizeof prev);
    char **names;
    size_t n = audit_files(dir, &names);
    rc = read_key(key_dir, key, err);
    if (rc == CT_ENOTFOUND && n == 0) { /* nothing written yet, nothing to check */
        ct__err_clear(err);
        rc = CT_OK;
        goto out;
    }
    if (rc)
        goto out;
    /* the head first: a writer that appends while the files are read can
     * then only leave the head behind the log, which is allowed */
    uint64_t head_seq = 0;
    uint8_t head[CHAIN_BYTES];
    int h = read_head(key_dir, &head_seq, head);
    for (size_t i = 0; i < n && out->ok && !rc; i++) {
        rc = verify_file(dir, names[i], key, prev, out, err);
        out->files++;
    }
    if (!rc && out->ok) {
        const char *last = n ? names[n - 1] : AUDIT_FILE;
        if (h < 0)
            problem(out, HEAD_FILE, 1, 0, "the audit head beside the key is damaged");
        else if (h > 0 && head_seq > out->last_seq)
            problem(out, last, 0, out->last_seq + 1,
                    "records %llu to %llu were removed from the end (the head beside the key "
                    "says %llu were written)",
                    (unsigned long long)(out->last_seq + 1), (unsigned long long)head_seq,
                    (unsigned long long)head_seq);
        else if (h > 0 && head_seq == out->last_seq && sodium_memcmp(head, prev, CHAIN_BYTES))
            problem(out, last, 0, head_seq,
                    "record %llu is not the one the head beside the key names",
                    (unsigned long long)head_seq);
    }
    sodium_bin2hex(out->head, sizeof out->head, prev, CHAIN_BYTES);
out:
    sodium_memzero(key, sizeof key);
    names_free(names, n);
    ct__free(key_dir);
    return rc;
}
