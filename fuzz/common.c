/*
 * common.c — scratch folders, file writing and the fixed day of events
 * shared by the fuzz targets and the seed generator.
 */
#define _GNU_SOURCE /* nftw's FTW_PHYS */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "seal.h"

void fz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "fuzz property violated at %s:%d: %s\n", file, line, what);
    abort();
}

static char *scratch;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void fz_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void)
{
    if (scratch)
        fz_rmtree(scratch);
}

const char *fz_tmpdir(void)
{
    if (scratch)
        return scratch;
    const char *base = getenv("CT_FUZZ_TMP");
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    size_t n = strlen(base) + 32;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/ct-fuzz.XXXXXX", base);
    if (!mkdtemp(p)) {
        perror(p);
        abort();
    }
    scratch = p;
    atexit(remove_scratch);
    return scratch;
}

char *fz_path(const char *name)
{
    const char *dir = fz_tmpdir();
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void fz_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

void fz_fixed_day(fz_day *d)
{
    /* 6 subscribers, cells 1..7, points whose accuracies span the levels */
    static const double acc[] = {3, 5, 12, 30, 50, 120, 400, 1500, 5000, 20000, 90000};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    memset(d, 0, sizeof *d);
    for (uint32_t i = 0; i < 48; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ct_event *e = &d->ev[d->n++];
        e->sub = (uint32_t)(x % 6) * 3 + 1;
        e->tod = (uint32_t)((x >> 8) % 96) * 900; /* ties on purpose */
        if ((x >> 20) % 3 == 0) {
            uint32_t k = d->n_pts++;
            d->pts[k] = (ct_point){55.70 + (double)((x >> 24) % 1000) / 10000.0,
                                   37.55 + (double)((x >> 34) % 1000) / 10000.0,
                                   acc[(x >> 44) % (sizeof acc / sizeof acc[0])], 1, 0};
            e->place = k;
            e->kind = 1;
        } else {
            e->place = (uint32_t)((x >> 24) % 7) + 1;
            e->kind = 0;
        }
    }
    /* cell 9: 90 subscribers, 70 of them at 01:00:00 (blocks of
     * CT_SEG_BLOCK entries then split that second), 20 a second apart */
    for (uint32_t i = 0; i < 90; i++)
        d->ev[d->n++] = (ct_event){100 + i, i < 70 ? 3600 : 3600 + i, 9, 0};
    d->n = ct__seal_sort_unique(d->ev, d->n, d->pts, NULL);
}

const char FZ_CELLS_CSV[] = "cell_id,lat,lon,radius_m,region\n"
                            "A1,55.7500,37.6200,300,RU-MOW\n"
                            "A2,55.7600,37.6200,300,RU-MOW\n"
                            "A3,55.7520,37.6200,200,RU-MOW\n";
