/*
 * gen_seeds.c — writes the binary seeds of the segment and manifest
 * targets (the text seeds are written by hand):
 *
 *   fuzz_gen_seeds fuzz/corpus
 *
 * segment/: the valid (version 2) segment of the fixed day, whole
 * (control byte 1) and with checksums recomputed (7); edit scripts: none,
 * byte flips, truncation, and forgeries (checksums recomputed, control
 * byte 6) of the counts, the day, the file size, and of each section:
 * malformed varints, a sentinel cell id, block times past the day, a
 * raw-double coordinate off the globe, directories out of order, a NaN
 * level radius. Their offsets come from the written file's section table,
 * so they follow the format.
 * manifest/: a manifest written by ct__store_commit (three days), and an
 * empty store's. The outputs are committed; rerun only when the formats
 * change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "store.h"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Offset of section s, from the header's table ({u64 off, u64 len, u32
 * crc, u32 0} from byte 64). */
static uint32_t section_off(const uint8_t *seg, int s)
{
    uint64_t off;
    memcpy(&off, seg + 64 + 24 * s, 8);
    return (uint32_t)off;
}

/* Edit-script operation k: {op, offset lo, offset hi, value}. */
static void edit(uint8_t *e, int k, uint8_t op, uint32_t at, uint8_t v)
{
    e[4 * k] = op;
    e[4 * k + 1] = (uint8_t)at;
    e[4 * k + 2] = (uint8_t)(at >> 8);
    e[4 * k + 3] = v;
}

static void put(const char *dir, const char *name, uint8_t ctl, const void *body, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *b = malloc(len + 1);
    if (!b)
        abort();
    b[0] = ctl;
    memcpy(b + 1, body, len);
    fz_write(path, b, len + 1);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
        return 2;
    }
    char dir[4096];
    ct_err err;

    /* segment */
    fz_day day;
    fz_fixed_day(&day);
    char *seg = fz_path("d.seg");
    uint64_t size;
    uint32_t crc;
    if (ct__seg_write(seg, FZ_DAY, day.ev, day.n, day.pts, &size, &crc, &err) != CT_OK)
        abort();
    size_t len;
    uint8_t *bytes = slurp(seg, &len);
    snprintf(dir, sizeof dir, "%s/segment", argv[1]);
    put(dir, "whole-valid", 1, bytes, len);
    put(dir, "whole-valid-fixcrc", 7, bytes, len);
    put(dir, "edit-none", 0, "", 0);
    static const uint8_t flips[] = {1, 20, 0, 0x40, 1, 0x10, 1, 0x01, 1, 0x30, 2, 0xff};
    put(dir, "edit-flips", 0, flips, sizeof flips);
    static const uint8_t trunc[] = {2, 0x00, 1, 0}; /* truncate to 256 bytes */
    put(dir, "edit-truncate", 0, trunc, sizeof trunc);
    static const uint8_t forge[] = {3, 24, 0, 1, 3, 36, 0, 0}; /* n_events = 1, n_cells = 0 */
    put(dir, "edit-forge-counts", 6, forge, sizeof forge);
    static const uint8_t grow[] = {4, 0, 0, 8, 5, 56, 0, 128}; /* extend by 8, file size = length */
    put(dir, "edit-extend", 6, grow, sizeof grow);
    static const uint8_t day_far[] = {5, 16, 0, 1}; /* day = 2^64 - 1 */
    put(dir, "edit-forge-day", 6, day_far, sizeof day_far);

    /* forgeries inside the v2 sections (offsets from the header's table) */
    uint8_t e[4 * 16];
#define SEC(s) section_off(bytes, (s))
    /* S1: the first event's head byte becomes a varint continuation,
     * then a point flag (what follows is read as operator and coordinates),
     * then a point flag whose latitude is a raw NaN */
    edit(e, 0, 0, SEC(1), 0xFF);
    put(dir, "edit-forge-s1-varint", 6, e, 4);
    edit(e, 0, 0, SEC(1), 0x02);
    put(dir, "edit-forge-s1-point", 6, e, 4);
    static const uint8_t nan_lat[] = {0x02, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F};
    for (int i = 0; i < 11; i++)
        edit(e, i, 0, SEC(1) + (uint32_t)i, nan_lat[i]);
    put(dir, "edit-forge-s1-nan", 6, e, 44);
    /* S1: another cell, and its loc id the sentinel 0xFFFFFFFF */
    static const uint8_t loc_ff[] = {0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
    for (int i = 0; i < 6; i++)
        edit(e, i, 0, SEC(1) + (uint32_t)i, loc_ff[i]);
    put(dir, "edit-forge-s1-sentinel", 6, e, 24);
    /* S3 and S6: a block's first tod past the day; S4, S7: stream bytes */
    edit(e, 0, 3, SEC(3), 7);
    put(dir, "edit-forge-s3-tod", 6, e, 4);
    edit(e, 0, 3, SEC(6) + 8, 7);
    put(dir, "edit-forge-s6-tod", 6, e, 4);
    edit(e, 0, 1, SEC(4) + 1, 0x80);
    edit(e, 1, 0, SEC(4) + 7, 0xFF);
    put(dir, "edit-forge-s4-bytes", 6, e, 8);
    /* S7: the first point's lat becomes a raw double (flag 1), 1e300 */
    uint32_t lat = SEC(7);
    for (int v = 0; v < 3; v++) /* past tod delta, subscriber, gap code */
        while (bytes[lat++] & 0x80)
            ;
    double far = 1e300;
    uint8_t raw[8];
    memcpy(raw, &far, 8);
    edit(e, 0, 0, lat, 0x01);
    for (int i = 0; i < 8; i++)
        edit(e, 1 + i, 0, lat + 1 + (uint32_t)i, raw[i]);
    put(dir, "edit-forge-s7-raw", 6, e, 36);
    /* S2 and S5: directory entries out of order; S8: a radius of NaN */
    edit(e, 0, 3, SEC(2), 0xFE);
    put(dir, "edit-forge-s2-order", 6, e, 4);
    edit(e, 0, 3, SEC(5) + 4, 7);
    put(dir, "edit-forge-s5-key", 6, e, 4);
    edit(e, 0, 5, SEC(8) + 16, 1);
    put(dir, "edit-forge-s8-radius", 6, e, 4);
    /* the subscriber directory's second offset moved (streams overlap) */
    edit(e, 0, 3, SEC(0) + 16, 2);
    put(dir, "edit-forge-s0-offset", 6, e, 4);
#undef SEC
    free(bytes);
    free(seg);

    /* manifest */
    ct_store st;
    memset(&st, 0, sizeof st);
    st.dir = fz_path("store");
    if (ct__fs_mkdir(st.dir, 0700, &err) != CT_OK)
        abort();
    char *mpath = fz_path("store/MANIFEST");
    snprintf(dir, sizeof dir, "%s/manifest", argv[1]);
    if (ct__store_commit(&st, &err) != CT_OK)
        abort();
    bytes = slurp(mpath, &len);
    snprintf(dir, sizeof dir, "%s/manifest/empty-store", argv[1]);
    fz_write(dir, bytes, len);
    free(bytes);
    ct_store_day d;
    st.generation = 2; /* the files' newest is 3, the manifest's after the commits below */
    ct_store_run run = {.file = "d18344-g1.seg", .bytes = 4096, .crc = 0x1234abcd, .events = 40};
    ct__store_day_single(&d, 18344, &run);
    ct__store_set(&st, &d);
    run = (ct_store_run){.file = "d18345-g2.seg", .bytes = size, .crc = crc, .events = day.n};
    ct__store_day_single(&d, 18345, &run);
    ct__store_set(&st, &d);
    run = (ct_store_run){.file = "d18346-g2.seg", .bytes = 65536, .crc = 0xdeadbeef, .events = 1000};
    ct__store_day_single(&d, 18346, &run);
    ct__store_set(&st, &d);
    if (ct__store_commit(&st, &err) != CT_OK)
        abort();
    bytes = slurp(mpath, &len);
    snprintf(dir, sizeof dir, "%s/manifest/three-days", argv[1]);
    fz_write(dir, bytes, len);
    free(bytes);
    /* a day of three runs: a version 2 manifest */
    run = (ct_store_run){.file = "d18346-g3.seg", .bytes = 8192, .crc = 0x0badf00d, .events = 70};
    ct__store_day_add_run(&st.days[ct__store_find(&st, 18346)], &run);
    run = (ct_store_run){.file = "d18346-g4.seg", .bytes = 4096, .crc = 0x600dcafe, .events = 9};
    ct__store_day_add_run(&st.days[ct__store_find(&st, 18346)], &run);
    if (ct__store_commit(&st, &err) != CT_OK)
        abort();
    bytes = slurp(mpath, &len);
    snprintf(dir, sizeof dir, "%s/manifest/day-runs", argv[1]);
    fz_write(dir, bytes, len);
    free(bytes);
    free(mpath);
    ct__store_free(&st);
    return 0;
}
