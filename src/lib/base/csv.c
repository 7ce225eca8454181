/*
 * csv.c — a streaming RFC 4180 reader with hard caps.
 *
 * Layout. One buffer of cap = line_max + 2 + block + 1 bytes, allocated at
 * open and never moved. block is BLOCK, or less for a small file (its
 * size plus one, or eight times that if compressed, at least 4 KiB), so a
 * short file does not cost a megabyte; a file that holds more than that,
 * or grows while it is read, is still read whole, block bytes at a time. buf[pos..end) holds decompressed input not yet
 * returned; reads append at end. A row is returned only when it lies whole
 * in the buffer: fields point into it and are NUL-terminated in place
 * (the ',' or line end after each field becomes '\0'; quoted fields are
 * unescaped in place, which only ever shrinks them). buf[end] is spare so
 * the last row of a file without a final newline can be terminated too.
 *
 * Invariants.
 *  - A row being scanned starts at pos. The scan looks at most
 *    WINDOW = line_max + 2 bytes (a row of line_max bytes plus "\r\n"):
 *    if its end is not there the row is bad, so a row never needs more
 *    than WINDOW bytes of buffer, and after moving buf[pos..end) to the
 *    front at least block bytes are free for the next read.
 *  - No memory is allocated per row; the fields of the current row are
 *    (pointer, length) pairs in fixed arrays.
 *
 * Two phases per row. scan_row finds where the row ends without writing:
 * a '\n' outside quotes (memchr for '\n', then for '"' within the line;
 * rows without quotes cost two memchr calls). A '"' opens a quoted field
 * only at the start of a field; elsewhere it is an ordinary character
 * (lenient, as most readers are: `5'10"` survives). Then the row is split:
 * rows without quotes with memchr(','), rows with quotes by a checking
 * pass followed by an unescaping pass, so a row that turns out bad is
 * left intact for resynchronisation.
 *
 * Bad rows and where reading resumes (one broken row never hides the
 * rows after it):
 *  - "unterminated quoted field" (quote open at end of file or at the
 *    window's end) and "text after closing quote": the quote is the
 *    likely culprit, so reading resumes after the end of the row's first
 *    physical line and the following lines are read as rows again. The
 *    look-ahead spent finding this out is bounded by the window.
 *  - "line longer than N bytes": when the row's end is within the window
 *    the row is skipped; otherwise everything up to the next '\n' is
 *    discarded, however far, without buffering it (skip mode).
 *  - "field longer than N bytes": the (well-formed) row is skipped.
 * Line numbers count every '\n' consumed, including those inside quoted
 * fields and skipped text, so they are physical lines of the file.
 *
 * Decompression errors, truncated streams included, fail the read (-1)
 * before a row cut short by them could be returned as data.
 *
 * Choices where csv.h is silent:
 *  - Header names are matched exactly (bytes, case and spaces included).
 *    Unnamed columns ("a,,b", a trailing comma) are allowed, never
 *    matched and never duplicates. Blank lines before the header are
 *    skipped like any other; a header of more than CT_CSV_COLUMNS_MAX
 *    fields is an error. A field of any column, named or not, over the
 *    field cap makes the row bad (the cap is about the input, and the
 *    reader does not know which columns its caller ignores).
 *  - The decompressor is chosen by the name's suffix; "-" is plain.
 *  - Errors: CT_ENOTFOUND (no such file), CT_EIO (the operating system
 *    failed), CT_EINVAL (missing or bad header, corrupt or truncated
 *    compressed data). Messages name the file and the line reached.
 *  - bytes_done counts bytes of the file itself (compressed bytes for .gz
 *    and .zst), read ahead by at most one block.
 */
#include "csv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "alloc.h"
#include "error.h"

#define BLOCK (1u << 20)      /* bytes asked of the source per read */
#define BLOCK_MIN 4096u       /* ... and for a small plain file, at least this */
#define GZ_BUFFER (256u << 10) /* zlib's input buffer */
#define ZST_IN (256u << 10)    /* compressed bytes per read for zstd */

enum src_kind { SRC_PLAIN, SRC_GZ, SRC_ZST };

struct ct_csv {
    char *name;
    enum src_kind kind;
    int fd, own_fd;
    gzFile gz;
    ZSTD_DCtx *zd;
    char *zin;
    ZSTD_inBuffer zib;
    size_t zlast; /* last ZSTD_decompressStream hint: 0 = frame complete */
    int zeof;
    uint64_t bytes_in, bytes_total;
    ct_code fail; /* code of the last source error */

    char *buf;
    size_t block; /* bytes asked of the source per read */
    size_t cap, pos, end;
    int eof;  /* the source is exhausted: buf[pos..end) is all there is */
    int skip; /* discarding up to the next '\n' (after an over-long line) */
    size_t line_max, field_max;
    uint64_t line_next; /* physical line of the byte at pos */
    uint64_t row_line;  /* line where the current row starts */

    int ncols; /* header columns */
    char **hname;
    char *hbuf;

    size_t nf; /* fields of the current row kept (<= ncols) */
    const char *fptr[CT_CSV_COLUMNS_MAX];
    size_t flen[CT_CSV_COLUMNS_MAX];
    char why[96];
};

/* ---- sources --------------------------------------------------------------- */

static ct_code read_plain(ct_csv *csv, char *dst, size_t room, size_t *got, ct_err *err)
{
    ssize_t n;
    do
        n = read(csv->fd, dst, room);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return ct__fail_errno(err, CT_EIO, errno, "%s: read failed near line %llu",
                              csv->name, (unsigned long long)csv->line_next);
    csv->bytes_in += (uint64_t)n;
    *got = (size_t)n;
    return CT_OK;
}

static ct_code read_gz(ct_csv *csv, char *dst, size_t room, size_t *got, ct_err *err)
{
    int errnum = Z_OK;
    int n = gzread(csv->gz, dst, (unsigned)(room < csv->block ? room : csv->block));
    const char *msg = gzerror(csv->gz, &errnum);
    /* zlib reports a truncated stream as Z_BUF_ERROR with a short or empty
     * read, not as -1: any error state with nothing read is a failure. */
    if (n < 0 || (n == 0 && errnum != Z_OK)) {
        if (errnum == Z_ERRNO)
            return ct__fail_errno(err, CT_EIO, errno, "%s: read failed near line %llu",
                                  csv->name, (unsigned long long)csv->line_next);
        if (strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": "))
            msg = strstr(msg, ": ") + 2; /* zlib names the stream "<fd:N>" */
        return ct__fail(err, CT_EINVAL, "%s: corrupt gzip data near line %llu: %s",
                        csv->name, (unsigned long long)csv->line_next, msg);
    }
    *got = (size_t)n;
    return CT_OK;
}

static ct_code zst_error(ct_csv *csv, const char *what, ct_err *err)
{
    return ct__fail(err, CT_EINVAL, "%s: corrupt zstd data near line %llu: %s", csv->name,
                    (unsigned long long)csv->line_next, what);
}

/* Fills dst as far as it can; at the end of the compressed input the last
 * frame must be complete and flushed, else the stream was truncated. */
static ct_code read_zst(ct_csv *csv, char *dst, size_t room, size_t *got, ct_err *err)
{
    ZSTD_outBuffer out = {dst, room < csv->block ? room : csv->block, 0};
    while (out.pos < out.size) {
        if (csv->zib.pos == csv->zib.size && !csv->zeof) {
            size_t n = 0;
            ct_code rc = read_plain(csv, csv->zin, ZST_IN, &n, err);
            if (rc != CT_OK)
                return rc;
            csv->zib.size = n;
            csv->zib.pos = 0;
            csv->zeof = n == 0;
        }
        int drained = csv->zib.pos == csv->zib.size;
        if (drained && csv->zlast == 0)
            break; /* every frame complete and flushed */
        size_t before = out.pos;
        size_t r = ZSTD_decompressStream(csv->zd, &out, &csv->zib);
        if (ZSTD_isError(r))
            return zst_error(csv, ZSTD_getErrorName(r), err);
        csv->zlast = r;
        if (drained && out.pos == before) {
            if (r != 0)
                return zst_error(csv, "truncated stream", err);
            break;
        }
    }
    *got = out.pos;
    return CT_OK;
}

static ct_code src_read(ct_csv *csv, char *dst, size_t room, size_t *got, ct_err *err)
{
    switch (csv->kind) {
    case SRC_GZ: return read_gz(csv, dst, room, got, err);
    case SRC_ZST: return read_zst(csv, dst, room, got, err);
    case SRC_PLAIN: break;
    }
    return read_plain(csv, dst, room < csv->block ? room : csv->block, got, err);
}

/* Moves the unread bytes to the front and reads more after them. */
static ct_code fill(ct_csv *csv, ct_err *err)
{
    size_t keep = csv->end - csv->pos, got = 0;
    if (csv->pos > 0) {
        memmove(csv->buf, csv->buf + csv->pos, keep);
        csv->pos = 0;
        csv->end = keep;
    }
    assert(csv->cap - 1 - csv->end >= csv->block);
    csv->fail = src_read(csv, csv->buf + csv->end, csv->cap - 1 - csv->end, &got, err);
    if (csv->fail != CT_OK)
        return csv->fail;
    csv->end += got;
    csv->eof = got == 0;
    return CT_OK;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static ct_code open_source(ct_csv *csv, const char *path, ct_err *err)
{
    struct stat st;
    if (strcmp(path, "-") == 0) {
        csv->fd = STDIN_FILENO;
    } else {
        csv->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (csv->fd < 0)
            return ct__fail_errno(err, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
                                  "cannot open %s", path);
        csv->own_fd = 1;
    }
    if (fstat(csv->fd, &st) < 0)
        return ct__fail_errno(err, CT_EIO, errno, "%s", csv->name);
    if (S_ISDIR(st.st_mode))
        return ct__fail(err, CT_EIO, "%s: is a directory", csv->name);
    csv->bytes_total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    if (csv->own_fd && has_suffix(path, ".gz")) {
        csv->kind = SRC_GZ;
        csv->gz = gzdopen(csv->fd, "rb");
        if (!csv->gz)
            return ct__fail(err, CT_EIO, "%s: cannot start gzip decompression", csv->name);
        csv->own_fd = 0; /* gzclose closes it */
        gzbuffer(csv->gz, GZ_BUFFER);
    } else if (csv->own_fd && has_suffix(path, ".zst")) {
        csv->kind = SRC_ZST;
        csv->zd = ZSTD_createDCtx();
        if (!csv->zd)
            return ct__fail(err, CT_EIO, "%s: cannot start zstd decompression", csv->name);
        csv->zin = ct__malloc(ZST_IN);
        csv->zib.src = csv->zin;
    }
    return CT_OK;
}

/* ---- finding a row ------------------------------------------------------------ */

enum { SCAN_ROW, SCAN_MORE, SCAN_LONG, SCAN_OPEN_QUOTE };

typedef struct span {
    char *end;  /* the row's '\n', or the end of the data at EOF */
    int quoted; /* a quoted field was seen */
} span;

/* The first '"' in [p, lim) that starts a field (row start or after ','). */
static const char *open_quote(const char *start, const char *p, const char *lim)
{
    while (p < lim) {
        const char *q = memchr(p, '"', (size_t)(lim - p));
        if (!q)
            return NULL;
        if (q == start || q[-1] == ',')
            return q;
        p = q + 1;
    }
    return NULL;
}

/* Where does the row at pos end? Reads only; restarts from pos each time,
 * which costs one re-scan of a partial row per buffer refill. */
static int scan_row(const ct_csv *csv, span *sp)
{
    char *start = csv->buf + csv->pos, *end = csv->buf + csv->end;
    size_t window = csv->line_max + 2;
    int capped = (size_t)(end - start) >= window;
    const char *hi = capped ? start + window : end;
    const char *p = start;
    int inq = 0;
    sp->quoted = 0;
    while (p < hi) {
        if (!inq) {
            const char *nl = memchr(p, '\n', (size_t)(hi - p));
            const char *q = open_quote(start, p, nl ? nl : hi);
            if (!q) {
                if (nl) {
                    sp->end = start + (nl - start); /* drops const */
                    return SCAN_ROW;
                }
                p = hi;
                break;
            }
            inq = sp->quoted = 1;
            p = q + 1;
            continue;
        }
        const char *r = memchr(p, '"', (size_t)(hi - p));
        if (!r) {
            p = hi;
            break;
        }
        if (r + 1 == end && !csv->eof)
            return SCAN_MORE; /* "" or "<end>: the next byte decides */
        if (r + 1 < end && r[1] == '"') {
            p = r + 2;
            continue;
        }
        inq = 0;
        p = r + 1;
    }
    if (capped)
        return inq ? SCAN_OPEN_QUOTE : SCAN_LONG;
    if (!csv->eof)
        return SCAN_MORE;
    if (inq)
        return SCAN_OPEN_QUOTE;
    sp->end = end;
    return SCAN_ROW;
}

/* ---- splitting a row ------------------------------------------------------------ */

static int bad(ct_csv *csv, const char *reason)
{
    snprintf(csv->why, sizeof csv->why, "%s", reason);
    return CT_CSV_BAD;
}

static int bad_length(ct_csv *csv, const char *what, size_t max)
{
    snprintf(csv->why, sizeof csv->why, "%s longer than %zu bytes", what, max);
    return CT_CSV_BAD;
}

static void keep_field(ct_csv *csv, size_t n, size_t keep, const char *p, size_t len)
{
    if (n < keep) {
        csv->fptr[n] = p;
        csv->flen[n] = len;
        csv->nf = n + 1;
    }
}

/* A row without quoted fields: split at every ','. */
static int split_plain(ct_csv *csv, char *p, char *ce, size_t keep, size_t *count)
{
    size_t n = 0;
    for (;;) {
        char *c = memchr(p, ',', (size_t)(ce - p));
        char *fe = c ? c : ce;
        if ((size_t)(fe - p) > csv->field_max)
            return bad_length(csv, "field", csv->field_max);
        *fe = '\0';
        keep_field(csv, n++, keep, p, (size_t)(fe - p));
        if (!c)
            break;
        p = c + 1;
    }
    *count = n;
    return CT_CSV_ROW;
}

enum { SPLIT_OK, SPLIT_AFTER_QUOTE, SPLIT_LONG_FIELD };

/* A row with quoted fields. With apply = 0 it only checks; with apply = 1
 * it unescapes in place (w never passes i) and records the fields. */
static int split_quoted(ct_csv *csv, char *i, char *ce, size_t keep, int apply,
                        size_t *count)
{
    char *w = i;
    size_t n = 0;
    for (;;) {
        char *f0 = w;
        if (i < ce && *i == '"') {
            for (i++;;) {
                char *q = memchr(i, '"', (size_t)(ce - i));
                assert(q); /* scan_row saw this field closed before ce */
                if (!q)
                    return SPLIT_AFTER_QUOTE;
                if (apply)
                    memmove(w, i, (size_t)(q - i));
                w += q - i;
                i = q + 1;
                if (i < ce && *i == '"') {
                    if (apply)
                        *w = '"';
                    w++;
                    i++;
                    continue;
                }
                break;
            }
            if (i < ce && *i != ',')
                return SPLIT_AFTER_QUOTE;
        } else {
            char *c = memchr(i, ',', (size_t)(ce - i));
            char *fe = c ? c : ce;
            if (apply)
                memmove(w, i, (size_t)(fe - i));
            w += fe - i;
            i = fe;
        }
        if ((size_t)(w - f0) > csv->field_max)
            return SPLIT_LONG_FIELD;
        if (apply) {
            *w = '\0';
            keep_field(csv, n, keep, f0, (size_t)(w - f0));
        }
        w++;
        n++;
        if (i >= ce)
            break;
        i++; /* the ',' */
    }
    *count = n;
    return SPLIT_OK;
}

static uint64_t count_nl(const char *p, const char *end)
{
    uint64_t n = 0;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Resumes after the first '\n' of the row at pos (a quoting error). */
static void resume_after_first_line(ct_csv *csv)
{
    char *start = csv->buf + csv->pos, *end = csv->buf + csv->end;
    size_t window = csv->line_max + 2;
    char *lim = (size_t)(end - start) > window ? start + window : end;
    char *nl = memchr(start, '\n', (size_t)(lim - start));
    if (nl) {
        csv->pos = (size_t)(nl + 1 - csv->buf);
        csv->line_next++;
    } else if (lim < end || !csv->eof) {
        csv->pos = (size_t)(lim - csv->buf); /* first line itself too long */
        csv->skip = 1;
    } else {
        csv->pos = csv->end;
    }
}

/* Consumes the row [pos, sp->end] and splits it. Returns CT_CSV_ROW,
 * CT_CSV_BAD, or -2 for a blank line. */
static int take_row(ct_csv *csv, const span *sp, size_t keep, size_t *count)
{
    char *start = csv->buf + csv->pos, *ce = sp->end;
    int has_nl = sp->end < csv->buf + csv->end;
    if (ce > start && ce[-1] == '\r')
        ce--;
    if ((size_t)(ce - start) > csv->line_max) {
        csv->line_next += count_nl(start, sp->end) + (uint64_t)has_nl;
        csv->pos = (size_t)(sp->end - csv->buf) + (size_t)has_nl;
        return bad_length(csv, "line", csv->line_max);
    }
    int check = sp->quoted ? split_quoted(csv, start, ce, keep, 0, count) : SPLIT_OK;
    if (check == SPLIT_AFTER_QUOTE) {
        resume_after_first_line(csv);
        return bad(csv, "text after closing quote");
    }
    csv->line_next += (sp->quoted ? count_nl(start, sp->end) : 0) + (uint64_t)has_nl;
    csv->pos = (size_t)(sp->end - csv->buf) + (size_t)has_nl;
    if (ce == start)
        return -2; /* blank line */
    if (check == SPLIT_LONG_FIELD)
        return bad_length(csv, "field", csv->field_max);
    if (!sp->quoted)
        return split_plain(csv, start, ce, keep, count);
    split_quoted(csv, start, ce, keep, 1, count);
    return CT_CSV_ROW;
}

/* Discards input up to and including the next '\n'. */
static ct_code skip_line(ct_csv *csv, ct_err *err)
{
    for (;;) {
        char *p = csv->buf + csv->pos;
        char *nl = memchr(p, '\n', csv->end - csv->pos);
        if (nl) {
            csv->pos = (size_t)(nl + 1 - csv->buf);
            csv->line_next++;
            break;
        }
        csv->pos = csv->end;
        if (csv->eof)
            break;
        ct_code rc = fill(csv, err);
        if (rc != CT_OK)
            return rc;
    }
    csv->skip = 0;
    return CT_OK;
}

/* The next row, keeping at most `keep` fields; *count gets all of them.
 * Returns CT_CSV_ROW, CT_CSV_BAD (csv->why), CT_CSV_EOF or -1. */
static int read_row(ct_csv *csv, size_t keep, size_t *count, ct_err *err)
{
    csv->nf = 0;
    *count = 0;
    if (csv->skip && skip_line(csv, err) != CT_OK)
        return -1;
    for (;;) {
        span sp;
        int r = csv->pos == csv->end ? SCAN_MORE : scan_row(csv, &sp);
        if (r == SCAN_MORE) {
            if (csv->pos == csv->end && csv->eof)
                return CT_CSV_EOF;
            if (fill(csv, err) != CT_OK)
                return -1;
            continue;
        }
        csv->row_line = csv->line_next;
        if (r == SCAN_OPEN_QUOTE) {
            resume_after_first_line(csv);
            return bad(csv, "unterminated quoted field");
        }
        if (r == SCAN_LONG) {
            char *start = csv->buf + csv->pos;
            csv->line_next += count_nl(start, start + csv->line_max + 2);
            csv->pos += csv->line_max + 2;
            csv->skip = 1;
            return bad_length(csv, "line", csv->line_max);
        }
        int t = take_row(csv, &sp, keep, count);
        if (t != -2)
            return t;
    }
}

/* ---- the header -------------------------------------------------------------------- */

static ct_code copy_header(ct_csv *csv, size_t n, ct_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += csv->flen[i] + 1;
    csv->hbuf = ct__malloc(total);
    csv->hname = ct__calloc(n, sizeof *csv->hname);
    char *p = csv->hbuf;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, csv->fptr[i], csv->flen[i] + 1);
        csv->hname[i] = p;
        p += csv->flen[i] + 1;
    }
    csv->ncols = (int)n;
    /* Unnamed columns ("a,,b" or a trailing comma) are allowed and unmatched. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i && csv->hname[i][0]; j++)
            if (strcmp(csv->hname[i], csv->hname[j]) == 0)
                return ct__fail(err, CT_EINVAL, "%s:%llu: duplicate column \"%s\" in header",
                                csv->name, (unsigned long long)csv->row_line, csv->hname[i]);
    return CT_OK;
}

static ct_code read_header(ct_csv *csv, ct_err *err)
{
    size_t n;
    while (csv->end - csv->pos < 3 && !csv->eof)
        if (fill(csv, err) != CT_OK)
            return csv->fail;
    if (csv->end - csv->pos >= 3 && memcmp(csv->buf + csv->pos, "\xEF\xBB\xBF", 3) == 0)
        csv->pos += 3;
    int r = read_row(csv, CT_CSV_COLUMNS_MAX, &n, err);
    if (r < 0)
        return csv->fail;
    if (r == CT_CSV_EOF)
        return ct__fail(err, CT_EINVAL, "%s: empty file: the header row is missing",
                        csv->name);
    if (r == CT_CSV_BAD)
        return ct__fail(err, CT_EINVAL, "%s:%llu: bad header row: %s", csv->name,
                        (unsigned long long)csv->row_line, csv->why);
    if (n > CT_CSV_COLUMNS_MAX)
        return ct__fail(err, CT_EINVAL, "%s:%llu: header has more than %u columns",
                        csv->name, (unsigned long long)csv->row_line, CT_CSV_COLUMNS_MAX);
    return copy_header(csv, n, err);
}

/* ---- the interface ------------------------------------------------------------------- */

ct_code ct__csv_open(const char *path, const ct_csv_limits *limits, ct_csv **out,
                     ct_err *err)
{
    ct_csv *csv = ct__calloc(1, sizeof *csv);
    ct_code rc;
    *out = NULL;
    csv->fd = -1;
    csv->name = ct__strdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
    csv->line_max = limits && limits->line_max ? limits->line_max : CT_CSV_LINE_MAX;
    csv->field_max = limits && limits->field_max ? limits->field_max : CT_CSV_FIELD_MAX;
    csv->line_next = 1;
    rc = open_source(csv, path, err);
    if (rc != CT_OK)
        goto out;
    csv->block = BLOCK;
    if (csv->bytes_total > 0) { /* a regular file: guess what it holds */
        uint64_t guess = csv->bytes_total * (csv->kind == SRC_PLAIN ? 1 : 8) + 1;
        if (guess < BLOCK)
            csv->block = guess < BLOCK_MIN ? BLOCK_MIN : (size_t)guess;
    }
    csv->cap = csv->line_max + 2 + csv->block + 1;
    csv->buf = ct__malloc(csv->cap);
    rc = read_header(csv, err);
out:
    if (rc != CT_OK) {
        ct__csv_close(csv);
        return rc;
    }
    *out = csv;
    return CT_OK;
}

void ct__csv_close(ct_csv *csv)
{
    if (!csv)
        return;
    if (csv->gz)
        gzclose(csv->gz);
    if (csv->own_fd)
        close(csv->fd);
    ZSTD_freeDCtx(csv->zd);
    ct__free(csv->zin);
    ct__free(csv->buf);
    ct__free(csv->hname);
    ct__free(csv->hbuf);
    ct__free(csv->name);
    ct__free(csv);
}

int ct__csv_column(const ct_csv *csv, const char *name)
{
    if (!name[0])
        return -1;
    for (int i = 0; i < csv->ncols; i++)
        if (strcmp(csv->hname[i], name) == 0)
            return i;
    return -1;
}

int ct__csv_next(ct_csv *csv, const char **reason, ct_err *err)
{
    size_t n;
    int r = read_row(csv, (size_t)csv->ncols, &n, err);
    if (reason)
        *reason = r == CT_CSV_BAD ? csv->why : NULL;
    if (r == CT_CSV_BAD)
        csv->nf = 0;
    return r;
}

const char *ct__csv_field(const ct_csv *csv, int i, size_t *len)
{
    if (i < 0 || (size_t)i >= csv->nf) {
        *len = 0;
        return "";
    }
    *len = csv->flen[i];
    return csv->fptr[i];
}

uint64_t ct__csv_line(const ct_csv *csv)
{
    return csv->row_line;
}

uint64_t ct__csv_bytes_done(const ct_csv *csv)
{
    if (csv->kind == SRC_GZ) {
        z_off_t off = gzoffset(csv->gz);
        return off > 0 ? (uint64_t)off : 0;
    }
    return csv->bytes_in;
}

uint64_t ct__csv_bytes_total(const ct_csv *csv)
{
    return csv->bytes_total;
}

const char *ct__csv_name(const ct_csv *csv)
{
    return csv->name;
}

ct_code ct__csv_columns(const ct_csv *csv, const char *const *names, size_t n, size_t required,
                        int *cols, ct_err *err)
{
    for (size_t i = 0; i < n; i++)
        cols[i] = ct__csv_column(csv, names[i]);
    for (size_t i = 0; i < required; i++) {
        if (cols[i] < 0)
            return ct__fail(err, CT_EINVAL, "%s: the header has no column %s", ct__csv_name(csv),
                            names[i]);
    }
    return CT_OK;
}
