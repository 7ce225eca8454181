/*
 * sim_out.c — the simulator's buffered, optionally compressed writer.
 *
 * One input buffer (IN_CAP) collects formatted text; when it fills, it is
 * written as is, or run through deflate (windowBits 15 + 16: a gzip
 * member whose header has mtime 0 and no name, hence reproducible) or
 * ZSTD_compressStream2 (single-threaded, level 3: reproducible), into an
 * output buffer that goes to the FILE. The first error is kept and all
 * later work skipped; close reports it with the file's name.
 */
#include "sim_out.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "alloc.h"
#include "error.h"

#define IN_CAP (1u << 20)
#define OUT_CAP (1u << 18)
#define RESERVE_MAX 4096u

struct sim_out {
    FILE *f;
    ct_sim_compress comp;
    char *in, *outbuf;
    size_t n;
    z_stream z;
    ZSTD_CCtx *zc;
    uint64_t bytes;
    int failed, err_no;
    const char *what;
    char path[1024];
};

const char *ct__sim_out_ext(ct_sim_compress comp)
{
    return comp == CT_SIM_COMPRESS_GZ ? ".gz" : comp == CT_SIM_COMPRESS_ZST ? ".zst" : "";
}

static void fail(sim_out *o, const char *what, int errnum)
{
    if (!o->failed) {
        o->failed = 1;
        o->what = what;
        o->err_no = errnum;
    }
}

static void put(sim_out *o, const char *p, size_t n)
{
    if (o->failed || !n)
        return;
    if (fwrite(p, 1, n, o->f) != n)
        fail(o, "cannot write", errno);
    o->bytes += n;
}

static void flush_gz(sim_out *o, int finish)
{
    o->z.next_in = (Bytef *)o->in;
    o->z.avail_in = (uInt)o->n;
    int rc;
    do {
        o->z.next_out = (Bytef *)o->outbuf;
        o->z.avail_out = OUT_CAP;
        rc = deflate(&o->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_ERROR) {
            fail(o, "gzip compression failed", 0);
            return;
        }
        put(o, o->outbuf, OUT_CAP - o->z.avail_out);
    } while (o->z.avail_out == 0 || (finish && rc != Z_STREAM_END));
}

static void flush_zst(sim_out *o, int finish)
{
    ZSTD_inBuffer in = {o->in, o->n, 0};
    size_t left;
    do {
        ZSTD_outBuffer out = {o->outbuf, OUT_CAP, 0};
        left = ZSTD_compressStream2(o->zc, &out, &in, finish ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            fail(o, "zstd compression failed", 0);
            return;
        }
        put(o, o->outbuf, out.pos);
    } while (finish ? left != 0 : in.pos < in.size);
}

static void flush(sim_out *o, int finish)
{
    if (!o->failed) {
        if (o->comp == CT_SIM_COMPRESS_GZ)
            flush_gz(o, finish);
        else if (o->comp == CT_SIM_COMPRESS_ZST)
            flush_zst(o, finish);
        else
            put(o, o->in, o->n);
    }
    o->n = 0;
}

static int start_codec(sim_out *o)
{
    if (o->comp == CT_SIM_COMPRESS_GZ)
        return deflateInit2(&o->z, 3, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    if (o->comp == CT_SIM_COMPRESS_ZST) {
        o->zc = ZSTD_createCCtx();
        return o->zc && !ZSTD_isError(ZSTD_CCtx_setParameter(o->zc, ZSTD_c_compressionLevel, 3));
    }
    return 1;
}

ct_code ct__sim_out_open(const char *path, ct_sim_compress comp, sim_out **out, ct_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "wb");
    if (!f)
        return ct__fail_errno(err, CT_EIO, errno, "cannot create %s", path);
    sim_out *o = ct__calloc(1, sizeof *o);
    o->f = f;
    o->comp = comp;
    o->in = ct__malloc(IN_CAP);
    o->outbuf = ct__malloc(OUT_CAP);
    snprintf(o->path, sizeof o->path, "%s", path);
    if (!start_codec(o)) {
        uint64_t b;
        ct__sim_out_close(o, &b, NULL);
        return ct__fail(err, CT_EIO, "cannot start compression for %s", path);
    }
    *out = o;
    return CT_OK;
}

char *ct__sim_out_reserve(sim_out *o, size_t n)
{
    if (n > RESERVE_MAX)
        n = RESERVE_MAX;
    if (o->n + n > IN_CAP)
        flush(o, 0);
    return o->in + o->n;
}

void ct__sim_out_commit(sim_out *o, size_t n)
{
    o->n += n;
}

void ct__sim_out_write(sim_out *o, const char *s, size_t n)
{
    while (n) {
        if (o->n == IN_CAP)
            flush(o, 0);
        size_t k = IN_CAP - o->n < n ? IN_CAP - o->n : n;
        memcpy(o->in + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
    }
}

void ct__sim_out_puts(sim_out *o, const char *s)
{
    ct__sim_out_write(o, s, strlen(s));
}

ct_code ct__sim_out_close(sim_out *o, uint64_t *bytes, ct_err *err)
{
    if (!o)
        return CT_OK;
    flush(o, 1);
    if (fclose(o->f) != 0)
        fail(o, "cannot close", errno);
    if (o->comp == CT_SIM_COMPRESS_GZ)
        deflateEnd(&o->z);
    ZSTD_freeCCtx(o->zc);
    ct_code rc = CT_OK;
    if (o->failed)
        rc = o->err_no ? ct__fail_errno(err, CT_EIO, o->err_no, "%s %s", o->what, o->path)
                       : ct__fail(err, CT_EIO, "%s %s", o->what, o->path);
    if (bytes)
        *bytes = o->bytes;
    ct__free(o->in);
    ct__free(o->outbuf);
    ct__free(o);
    return rc;
}
