/*
 * store.c — reading and atomically replacing the manifest (see store.h).
 *
 * The manifest ends with a crc32 line so that a damaged manifest is
 * detected instead of silently dropping days: a manifest that fails its
 * check is an error (CT_ECORRUPT), never "an empty store".
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "celltrace_cluster.h"
#include "error.h"
#include "fsio.h"

#define MANIFEST_MAX (64u << 20)

char *ct__store_path(const ct_store *st, const char *file)
{
    return ct__path_join(st->dir, file);
}

void ct__store_free(ct_store *st)
{
    if (!st)
        return;
    ct__free(st->dir);
    ct__free(st->days);
    memset(st, 0, sizeof *st);
}

int64_t ct__store_find(const ct_store *st, int64_t day)
{
    uint32_t lo = 0, hi = st->n_days;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (st->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < st->n_days && st->days[lo].day == day ? (int64_t)lo : -1;
}

void ct__store_set(ct_store *st, const ct_store_day *d)
{
    int64_t i = ct__store_find(st, d->day);
    if (i >= 0) {
        st->days[i] = *d;
        return;
    }
    CT_GROW(st->days, st->n_days + 1, st->cap);
    uint32_t pos = st->n_days;
    while (pos > 0 && st->days[pos - 1].day > d->day) {
        st->days[pos] = st->days[pos - 1];
        pos--;
    }
    st->days[pos] = *d;
    st->n_days++;
}

void ct__store_day_single(ct_store_day *d, int64_t day, const ct_store_run *run)
{
    memset(d, 0, sizeof *d);
    d->day = day;
    ct__store_day_add_run(d, run);
}

void ct__store_day_add_run(ct_store_day *d, const ct_store_run *run)
{
    d->run[d->n_runs++] = *run;
    d->bytes += run->bytes;
    d->events += run->events;
}

void ct__store_run_name(int64_t day, uint64_t generation, int merged, char name[64])
{
    snprintf(name, 64, "d%lld-g%llu%s.seg", (long long)day, (unsigned long long)generation,
             merged == CT_RUN_UPGRADED ? "-u" : merged ? "-m" : "");
}

uint64_t ct__store_day_generation(const ct_store_day *d)
{
    uint64_t newest = 0;
    for (uint32_t r = 0; r < d->n_runs; r++) {
        const char *g = strstr(d->run[r].file, "-g");
        uint64_t gen = g ? strtoull(g + 2, NULL, 10) : 0;
        if (gen > newest)
            newest = gen;
    }
    return newest;
}

void ct__store_drop(ct_store *st, int64_t day)
{
    int64_t i = ct__store_find(st, day);
    if (i < 0)
        return;
    memmove(st->days + i, st->days + i + 1, (st->n_days - (size_t)i - 1) * sizeof *st->days);
    st->n_days--;
}

static int valid_file_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

static ct_code parse_manifest(ct_store *st, char *text, size_t len, const char *path, ct_err *err)
{
    char *end_line = NULL;
    if (len == 0 || text[len - 1] != '\n') /* written whole or not at all */
        return ct__fail(err, CT_ECORRUPT, "%s is incomplete", path);
    for (size_t i = len; i > 0; i--) /* the last line starts after the last-but-one '\n' */
        if (i >= 2 && text[i - 2] == '\n') {
            end_line = text + i - 1;
            break;
        }
    unsigned crc = 0;
    if (!end_line || strlen(end_line) != 13 || strncmp(end_line, "end ", 4) != 0 ||
        strspn(end_line + 4, "0123456789abcdef") != 8 || sscanf(end_line + 4, "%8x", &crc) != 1 ||
        (uint32_t)crc32(0L, (const Bytef *)text, (uInt)(end_line - text)) != crc)
        return ct__fail(err, CT_ECORRUPT, "%s fails its checksum", path);
    *end_line = '\0';
    char *save = NULL;
    int line_no = 0, version = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        ct_store_run run;
        memset(&run, 0, sizeof run);
        long long day;
        unsigned long long bytes, gen;
        unsigned rcrc, events;
        if (line_no == 1) {
            if (strcmp(line, "celltrace-manifest 1") == 0 || strcmp(line, "celltrace-manifest 2") == 0)
                version = line[19] - '0';
            else
                return ct__fail(err, CT_ECORRUPT, "%s: unknown manifest version", path);
        } else if (sscanf(line, "generation %llu", &gen) == 1) {
            st->generation = gen;
        } else if (sscanf(line, "day %lld %63s %llu %x %u", &day, run.file, &bytes, &rcrc, &events) == 5 &&
                   valid_file_name(run.file) && day >= 0 && day <= CT_DAY_NUMBER_MAX) {
            run.bytes = bytes;
            run.crc = rcrc;
            run.events = events;
            int64_t i = ct__store_find(st, day);
            /* a file is its day's ("d<day>-g..."): no two days share one */
            char prefix[32];
            int w = snprintf(prefix, sizeof prefix, "d%lld-g", day);
            int twice = 0;
            for (uint32_t r = 0; i >= 0 && r < st->days[i].n_runs; r++)
                twice |= strcmp(st->days[i].run[r].file, run.file) == 0;
            if (strncmp(run.file, prefix, (size_t)w) != 0 || twice)
                return ct__fail(err, CT_ECORRUPT, "%s: line %d: %s is not a new file of day %lld",
                                path, line_no, run.file, day);
            if (i < 0) {
                ct_store_day d;
                ct__store_day_single(&d, day, &run);
                ct__store_set(st, &d);
            } else if (version < 2 || st->days[i].n_runs == CT_DAY_RUNS_MAX ||
                       st->days[i].events + run.events > UINT32_MAX) {
                return ct__fail(err, CT_ECORRUPT, "%s: line %d: day %lld is listed too often", path,
                                line_no, day);
            } else {
                ct__store_day_add_run(&st->days[i], &run);
            }
        } else {
            return ct__fail(err, CT_ECORRUPT, "%s: line %d is not understood", path, line_no);
        }
    }
    /* files are named by the commit that wrote them: none after this one */
    for (uint32_t i = 0; i < st->n_days; i++)
        if (ct__store_day_generation(&st->days[i]) > st->generation)
            return ct__fail(err, CT_ECORRUPT, "%s: day %lld names a file newer than the manifest",
                            path, (long long)st->days[i].day);
    return CT_OK;
}

ct_code ct__store_load(const char *data_dir, ct_store *st, ct_err *err)
{
    memset(st, 0, sizeof *st);
    st->dir = ct__path_join(data_dir, "store");
    char *path = ct__path_join(st->dir, "MANIFEST");
    char *text = NULL;
    size_t len = 0;
    ct_code rc = ct__fs_read_file(path, MANIFEST_MAX, &text, &len, err);
    if (rc == CT_ENOTFOUND) {
        ct__err_clear(err);
        rc = CT_OK;
    } else if (rc == CT_OK) {
        rc = parse_manifest(st, text, len, path, err);
    }
    ct__free(text);
    ct__free(path);
    return rc;
}

/* Appends a formatted line to a growing buffer. */
static void append_line(char **buf, size_t *n, size_t *cap, const char *fmt, ...) CT_PRINTF(4, 5);
static void append_line(char **buf, size_t *n, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(*buf + *n, *cap - *n, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < *cap - *n) {
            *n += (size_t)w;
            return;
        }
        *cap = *cap * 2 + (w > 0 ? (size_t)w : 64);
        *buf = ct__realloc(*buf, *cap);
    }
}

static char *manifest_text(const ct_store *st, size_t *len)
{
    size_t cap = 256, n = 0;
    char *buf = ct__malloc(cap);
    int version = 1; /* a store without runs stays readable by older versions */
    for (uint32_t i = 0; i < st->n_days; i++)
        if (st->days[i].n_runs > 1)
            version = 2;
    append_line(&buf, &n, &cap, "celltrace-manifest %d\ngeneration %llu\n", version,
                (unsigned long long)st->generation);
    for (uint32_t i = 0; i < st->n_days; i++) {
        const ct_store_day *d = &st->days[i];
        for (uint32_t r = 0; r < d->n_runs; r++)
            append_line(&buf, &n, &cap, "day %lld %s %llu %08x %u\n", (long long)d->day,
                        d->run[r].file, (unsigned long long)d->run[r].bytes, d->run[r].crc,
                        d->run[r].events);
    }
    append_line(&buf, &n, &cap, "end %08x\n", (unsigned)crc32(0L, (const Bytef *)buf, (uInt)n));
    *len = n;
    return buf;
}

ct_code ct__store_commit(ct_store *st, ct_err *err)
{
    st->generation++;
    size_t len;
    char *text = manifest_text(st, &len);
    char *path = ct__path_join(st->dir, "MANIFEST");
    ct_code rc = ct__fs_write_file(path, text, len, 0600, err);
    ct__free(text);
    ct__free(path);
    if (rc == CT_OK)
        ct__store_collect_garbage(st);
    return rc;
}

/* A cluster's pending manifest: "MANIFEST.c" then a generation. */
static int pending_generation(const char *name, uint64_t *gen)
{
    static const char prefix[] = "MANIFEST.c";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *digits = name + sizeof prefix - 1;
    if (*digits < '0' || *digits > '9' || strlen(digits) > 19 || (digits[0] == '0' && digits[1]))
        return 0; /* written without leading zeros (ct__store_stage) */
    char *end;
    unsigned long long g = strtoull(digits, &end, 10);
    if (*end)
        return 0;
    *gen = g;
    return 1;
}

/* A cluster's pending manifests of a store folder, by generation. */
typedef struct pending_file {
    uint64_t gen;
    char name[48];
} pending_file;

static void pending_name(uint64_t gen, char name[48])
{
    snprintf(name, 48, "MANIFEST.c%llu", (unsigned long long)gen);
}

static int cmp_pending(const void *a, const void *b)
{
    uint64_t x = ((const pending_file *)a)->gen, y = ((const pending_file *)b)->gen;
    return x < y ? -1 : x > y;
}

/* The pending manifests in dir, oldest first (*out: free with ct__free);
 * -1 when the folder cannot be read. */
static int list_pending(const char *dir, pending_file **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t cap = 0;
    struct dirent *e;
    uint64_t gen;
    while ((e = readdir(d)) != NULL)
        if (pending_generation(e->d_name, &gen)) {
            CT_GROW(*out, *n + 1, cap);
            (*out)[*n].gen = gen;
            pending_name(gen, (*out)[(*n)++].name);
        }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_pending);
    return 0;
}

/* The days of every pending manifest in dir, merged into one list (a
 * pending manifest that cannot be read keeps nothing: the collector then
 * keeps every segment, see below). */
static int load_pending(const char *dir, ct_store *all)
{
    memset(all, 0, sizeof *all);
    pending_file *files;
    size_t n;
    if (list_pending(dir, &files, &n) != 0)
        return 0;
    int unreadable = 0;
    for (size_t k = 0; k < n; k++) {
        char *path = ct__path_join(dir, files[k].name), *text = NULL;
        size_t len = 0;
        ct_store one;
        memset(&one, 0, sizeof one);
        if (ct__fs_read_file(path, MANIFEST_MAX, &text, &len, NULL) != CT_OK ||
            parse_manifest(&one, text, len, path, NULL) != CT_OK)
            unreadable = 1;
        for (uint32_t i = 0; i < one.n_days; i++) {
            CT_GROW(all->days, all->n_days + 1, all->cap);
            all->days[all->n_days++] = one.days[i];
        }
        ct__free(one.days);
        ct__free(text);
        ct__free(path);
    }
    ct__free(files);
    return unreadable;
}

int ct__store_has_pending(const ct_store *st)
{
    pending_file *files;
    size_t n;
    list_pending(st->dir, &files, &n);
    ct__free(files);
    return n > 0;
}

static int named(const ct_store *st, const char *name)
{
    uint64_t gen;
    if (strcmp(name, "MANIFEST") == 0 || pending_generation(name, &gen))
        return 1;
    return ct__store_names(st, name);
}

int ct__store_names(const ct_store *st, const char *name)
{
    for (uint32_t i = 0; i < st->n_days; i++)
        for (uint32_t r = 0; r < st->days[i].n_runs; r++)
            if (strcmp(st->days[i].run[r].file, name) == 0)
                return 1;
    return 0;
}

void ct__store_clean_merging(const char *data_dir)
{
    int lock = ct__fs_lock(data_dir, "compact.lock", 0);
    if (lock >= 0) {
        char *work = ct__path_join(data_dir, "store/merging");
        ct__fs_empty_dir(work, 0);
        ct__free(work);
        close(lock);
    }
}

void ct__store_collect_garbage(const ct_store *st)
{
    ct_store pending;
    if (load_pending(st->dir, &pending)) {
        ct__free(pending.days);
        return; /* remove nothing a pending manifest we cannot read may name */
    }
    DIR *d = opendir(st->dir);
    if (!d) {
        ct__free(pending.days);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || named(st, e->d_name) || named(&pending, e->d_name))
            continue;
        char *p = ct__path_join(st->dir, e->d_name);
        unlink(p);
        ct__free(p);
    }
    closedir(d);
    ct__free(pending.days);
}

ct_code ct__store_stage(ct_store *st, uint64_t cluster_generation, ct_err *err)
{
    st->generation++;
    size_t len;
    char *text = manifest_text(st, &len);
    char name[48];
    pending_name(cluster_generation, name);
    char *path = ct__path_join(st->dir, name);
    ct_code rc = ct__fs_write_file(path, text, len, 0600, err);
    ct__free(text);
    ct__free(path);
    return rc;
}

/* Removes the pending manifests a killed writer left half written. */
static void remove_half_written(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "MANIFEST.c", 10) == 0 && strstr(e->d_name, ".tmp-")) {
            char *tmp = ct__path_join(dir, e->d_name);
            unlink(tmp);
            ct__free(tmp);
        }
    closedir(d);
}

ct_code ct_store_settle(const char *data_dir, uint64_t committed, ct_err *err)
{
    char *dir = ct__path_join(data_dir, "store");
    pending_file *files;
    size_t n;
    if (list_pending(dir, &files, &n) != 0) {
        ct_code rc = ct__fail(err, CT_EIO, "%s: cannot read the folder", dir);
        ct__free(dir);
        return rc;
    }
    remove_half_written(dir);
    ct_code rc = CT_OK;
    char *live = ct__path_join(dir, "MANIFEST");
    for (size_t i = 0; i < n && !rc; i++) {
        char *path = ct__path_join(dir, files[i].name);
        /* ENOENT: another reader of the cluster settled it first */
        if (files[i].gen <= committed) { /* the cluster committed it: roll forward */
            if (rename(path, live) != 0 && errno != ENOENT)
                rc = ct__fail(err, CT_EIO, "%s: %s", path, strerror(errno));
        } else if (unlink(path) != 0 && errno != ENOENT) { /* never committed: roll back */
            rc = ct__fail(err, CT_EIO, "%s: %s", path, strerror(errno));
        }
        ct__free(path);
    }
    if (!rc && n)
        rc = ct__fs_sync_dir(dir, err);
    ct_store st;
    if (!rc && n && ct__store_load(data_dir, &st, err) == CT_OK) {
        /* the files of dropped or replaced days, unless a writer works
         * (a compaction between its rename and its commit): the next
         * writer collects them */
        int lock = ct__fs_lock(data_dir, "lock", 0);
        if (lock >= 0) {
            ct__store_collect_garbage(&st);
            close(lock);
        }
        ct__store_free(&st);
    } else if (!rc && n) {
        rc = err ? err->code : CT_ECORRUPT;
    }
    ct__free(live);
    ct__free(files);
    ct__free(dir);
    return rc;
}
