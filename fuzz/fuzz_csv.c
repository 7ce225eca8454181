/*
 * fuzz_csv.c — the CSV reader (src/lib/base/csv.c) on any bytes.
 *
 * Input: one control byte, then the file. The control byte picks
 *   bits 0-2  the source: 0-3 plain; 4 the bytes named .gz, 5 named .zst
 *             (corrupt streams); 6 the bytes gzip-compressed, 7 the bytes
 *             zstd-compressed (the reader must then return exactly what it
 *             returns for the plain file);
 *   bits 3-5  the line cap (default, or 1, 2, 5, 16, 40, 200, 1000 bytes);
 *   bits 6-7  the field cap (default, or 1, 4, 12 bytes).
 * Small caps reach the over-long row and field paths with small inputs.
 *
 * Properties: every row is read to the end without a crash; a returned
 * field is NUL-terminated, no longer than the field cap, and the row no
 * longer than the line cap; line numbers never go back; bytes done never
 * exceed the file size; a compressed file reads exactly like its plain
 * bytes (rows, fields, bad rows with their reasons and lines).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "csv.h"
#include "fuzz.h"

static const size_t LINE_CAPS[8] = {0, 1, 2, 5, 16, 40, 200, 1000};
static const size_t FIELD_CAPS[4] = {0, 1, 4, 12};

/* FNV-1a over everything the reader returned. */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3ull;
}

typedef struct outcome {
    int opened;
    ct_code open_code;
    int failed; /* ct__csv_next returned -1 */
    uint64_t rows, bad, hash;
} outcome;

static void read_all(const char *path, const ct_csv_limits *lim, size_t file_len, int plain,
                     outcome *o)
{
    ct_csv *csv = NULL;
    ct_err err;
    memset(o, 0, sizeof *o);
    o->hash = 0xcbf29ce484222325ull;
    o->open_code = ct__csv_open(path, lim, &csv, &err);
    if (o->open_code != CT_OK) {
        FZ_CHECK(csv == NULL, "a failed open returns no reader");
        FZ_CHECK(err.msg[0] != '\0', "a failed open says why");
        ct__csv_close(NULL);
        return;
    }
    o->opened = 1;
    size_t line_max = lim->line_max ? lim->line_max : CT_CSV_LINE_MAX;
    size_t field_max = lim->field_max ? lim->field_max : CT_CSV_FIELD_MAX;
    /* the header's columns can be looked up by name */
    (void)ct__csv_column(csv, "msisdn");
    (void)ct__csv_column(csv, "");
    uint64_t last_line = ct__csv_line(csv);
    for (;;) {
        const char *reason = NULL;
        int got = ct__csv_next(csv, &reason, &err);
        FZ_CHECK(got == CT_CSV_EOF || got == CT_CSV_ROW || got == CT_CSV_BAD || got == -1,
                 "ct__csv_next returns a known value");
        if (got == CT_CSV_EOF)
            break;
        if (got < 0) {
            FZ_CHECK(err.msg[0] != '\0', "a read failure says why");
            o->failed = 1;
            mix(&o->hash, "FAIL", 4);
            break;
        }
        uint64_t line = ct__csv_line(csv);
        FZ_CHECK(line >= last_line, "line numbers never go back");
        FZ_CHECK(line >= 2, "rows start after the header");
        last_line = line;
        mix(&o->hash, &line, sizeof line);
        if (got == CT_CSV_BAD) {
            FZ_CHECK(reason && reason[0], "a bad row has a reason");
            o->bad++;
            mix(&o->hash, reason, strlen(reason) + 1);
            continue;
        }
        o->rows++;
        size_t row_bytes = 0;
        for (int i = -1; i <= (int)CT_CSV_COLUMNS_MAX; i++) {
            size_t len = 12345;
            const char *f = ct__csv_field(csv, i, &len);
            if (i < 0 || i == (int)CT_CSV_COLUMNS_MAX) {
                FZ_CHECK(len == 0, "a field beyond the header is absent");
                continue;
            }
            FZ_CHECK(len <= field_max, "no field longer than the field cap");
            FZ_CHECK(len == 0 || (f && f[len] == '\0'), "fields are NUL-terminated");
            row_bytes += len;
            mix(&o->hash, &len, sizeof len);
            if (len)
                mix(&o->hash, f, len);
        }
        FZ_CHECK(row_bytes <= line_max, "no row longer than the line cap");
    }
    if (plain)
        FZ_CHECK(ct__csv_bytes_done(csv) <= file_len, "bytes done within the file");
    FZ_CHECK(ct__csv_name(csv) != NULL, "the reader has a name");
    ct__csv_close(csv);
}

static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t **out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    *out = malloc(cap);
    if (!*out)
        abort();
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    size_t len = z.total_out;
    deflateEnd(&z);
    return len;
}

static size_t zstd_bytes(const uint8_t *in, size_t n, uint8_t **out)
{
    size_t cap = ZSTD_compressBound(n);
    *out = malloc(cap ? cap : 1);
    if (!*out)
        abort();
    static ZSTD_CCtx *cctx;
    if (!cctx && !(cctx = ZSTD_createCCtx()))
        abort();
    size_t len = ZSTD_compressCCtx(cctx, *out, cap, in, n, 1);
    if (ZSTD_isError(len))
        abort();
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *plain_path, *gz_path, *zst_path;
    if (!plain_path) {
        plain_path = fz_path("in.csv");
        gz_path = fz_path("in.csv.gz");
        zst_path = fz_path("in.csv.zst");
    }
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    ct_csv_limits lim = {LINE_CAPS[(ctl >> 3) & 7], FIELD_CAPS[(ctl >> 6) & 3]};
    unsigned mode = ctl & 7;
    outcome plain, packed;
    if (mode < 4) {
        fz_write(plain_path, body, n);
        read_all(plain_path, &lim, n, 1, &plain);
    } else if (mode == 4 || mode == 5) {
        const char *p = mode == 4 ? gz_path : zst_path;
        fz_write(p, body, n);
        read_all(p, &lim, n, 0, &packed);
    } else {
        fz_write(plain_path, body, n);
        read_all(plain_path, &lim, n, 1, &plain);
        uint8_t *z = NULL;
        size_t zn = mode == 6 ? gzip_bytes(body, n, &z) : zstd_bytes(body, n, &z);
        const char *p = mode == 6 ? gz_path : zst_path;
        fz_write(p, z, zn);
        free(z);
        read_all(p, &lim, zn, 0, &packed);
        FZ_CHECK(plain.opened == packed.opened, "compressed and plain open alike");
        if (plain.opened) {
            FZ_CHECK(!packed.failed && !plain.failed, "a good stream reads to the end");
            FZ_CHECK(plain.rows == packed.rows && plain.bad == packed.bad &&
                         plain.hash == packed.hash,
                     "a compressed file reads exactly like its plain bytes");
        } else {
            FZ_CHECK(plain.open_code == packed.open_code, "compressed and plain fail alike");
        }
    }
    return 0;
}
