/*
 * test_csv.c — the streaming CSV reader: RFC 4180 details, caps and
 * resynchronisation, header rules, compressed inputs and their failures.
 *
 * Files are written into a fresh directory under $CT_TEST_TMP (or /tmp),
 * removed again by the group teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "csv.h"

static char tmpdir[512];

/* ---- fixtures ---------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("CT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700); /* may exist */
    snprintf(tmpdir, sizeof tmpdir, "%s/ct-csv-XXXXXX", base);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[1024];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        if (unlink(p) < 0)
            rmdir(p);
    }
    if (d)
        closedir(d);
    return rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static const char *write_file(const char *name, const void *data, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static const char *write_gz(const char *name, const void *data, size_t len)
{
    const char *path = tmp_path(name);
    gzFile gz = gzopen(path, "wb6");
    assert_non_null(gz);
    const char *p = data;
    while (len > 0) { /* gzwrite takes an unsigned length */
        unsigned n = len > (1u << 24) ? 1u << 24 : (unsigned)len;
        assert_int_equal(gzwrite(gz, p, n), (int)n);
        p += n;
        len -= n;
    }
    assert_int_equal(gzclose(gz), Z_OK);
    return path;
}

static const char *write_zst(const char *name, const void *data, size_t len)
{
    size_t cap = ZSTD_compressBound(len);
    void *out = malloc(cap);
    assert_non_null(out);
    size_t n = ZSTD_compress(out, cap, data, len, 3);
    assert_false(ZSTD_isError(n));
    const char *path = write_file(name, out, n);
    free(out);
    return path;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static ct_csv *open_ok(const char *path, size_t line_max, size_t field_max)
{
    ct_csv_limits lim = {line_max, field_max};
    ct_csv *csv = NULL;
    ct_err err = {0};
    if (ct__csv_open(path, &lim, &csv, &err) != CT_OK)
        fail_msg("open %s: %s", path, err.msg);
    assert_non_null(csv);
    return csv;
}

static ct_code open_fails(const char *path, ct_err *err)
{
    ct_csv *csv = (ct_csv *)1;
    ct_code rc = ct__csv_open(path, NULL, &csv, err);
    assert_int_not_equal(rc, CT_OK);
    assert_null(csv);
    assert_int_equal(err->code, rc);
    assert_non_null(strstr(err->msg, path));
    return rc;
}

/* The field named `col` of the current row as a C string. */
static const char *fld(const ct_csv *csv, const char *col)
{
    size_t len = 99;
    const char *s = ct__csv_field(csv, ct__csv_column(csv, col), &len);
    assert_int_equal(strlen(s), len);
    return s;
}

static void expect_row(ct_csv *csv, uint64_t line)
{
    ct_err err = {0};
    const char *why = "unset";
    int r = ct__csv_next(csv, &why, &err);
    if (r != CT_CSV_ROW)
        fail_msg("want a row at line %llu, got %d (%s; %s)", (unsigned long long)line, r,
                 why ? why : "-", err.msg);
    assert_null(why);
    assert_int_equal(ct__csv_line(csv), line);
}

static void expect_bad(ct_csv *csv, uint64_t line, const char *reason)
{
    ct_err err = {0};
    const char *why = NULL;
    int r = ct__csv_next(csv, &why, &err);
    if (r != CT_CSV_BAD)
        fail_msg("want a bad row at line %llu, got %d", (unsigned long long)line, r);
    assert_non_null(why);
    assert_string_equal(why, reason);
    assert_int_equal(ct__csv_line(csv), line);
    size_t len = 1;
    ct__csv_field(csv, 0, &len); /* no fields on a bad row */
    assert_int_equal(len, 0);
}

static void expect_eof(ct_csv *csv)
{
    ct_err err = {0};
    const char *why = "unset";
    assert_int_equal(ct__csv_next(csv, &why, &err), CT_CSV_EOF);
    assert_null(why);
    assert_int_equal(ct__csv_next(csv, &why, &err), CT_CSV_EOF);
}

/* ---- RFC 4180 ------------------------------------------------------------------- */

static void test_columns_by_name(void **state)
{
    (void)state;
    const char *p = write_text("basic.csv", "ts,extra,msisdn,cell_id\n"
                                            "1585044000,x,79991234567,250-01-1\n"
                                            "1585044001,,79991234568,\n");
    ct_csv *csv = open_ok(p, 0, 0);
    assert_string_equal(ct__csv_name(csv), p);
    assert_int_equal(ct__csv_line(csv), 1);
    assert_int_equal(ct__csv_column(csv, "msisdn"), 2);
    assert_int_equal(ct__csv_column(csv, "ts"), 0);
    assert_int_equal(ct__csv_column(csv, "cell_id"), 3);
    assert_int_equal(ct__csv_column(csv, "lat"), -1);
    assert_int_equal(ct__csv_column(csv, "MSISDN"), -1);
    assert_int_equal(ct__csv_column(csv, ""), -1);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "msisdn"), "79991234567");
    assert_string_equal(fld(csv, "ts"), "1585044000");
    assert_string_equal(fld(csv, "cell_id"), "250-01-1");
    assert_string_equal(fld(csv, "lat"), ""); /* unknown column: absent */
    expect_row(csv, 3);
    assert_string_equal(fld(csv, "extra"), "");
    assert_string_equal(fld(csv, "cell_id"), "");
    size_t len = 7;
    assert_string_equal(ct__csv_field(csv, -1, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(ct__csv_field(csv, 4, &len), "");
    assert_int_equal(len, 0);
    expect_eof(csv);
    assert_int_equal(ct__csv_bytes_total(csv), file_size(p));
    assert_int_equal(ct__csv_bytes_done(csv), file_size(p));
    ct__csv_close(csv);
    ct__csv_close(NULL);
}

static void test_quoted_fields(void **state)
{
    (void)state;
    const char *p = write_text("quoted.csv",
                               "a,b,c\n"
                               "\"x,1\",\"he said \"\"hi\"\"\",\"line1\nline2\r\nline3\"\n"
                               "plain,\"\",\"\"\"\"\n"
                               "\"\",\"a\"\"\",\"\n\"\n"
                               "5'10\",x\"y\"z,\"q\"\n");
    ct_csv *csv = open_ok(p, 0, 0);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "a"), "x,1");
    assert_string_equal(fld(csv, "b"), "he said \"hi\"");
    assert_string_equal(fld(csv, "c"), "line1\nline2\r\nline3");
    expect_row(csv, 5);
    assert_string_equal(fld(csv, "a"), "plain");
    assert_string_equal(fld(csv, "b"), "");
    assert_string_equal(fld(csv, "c"), "\"");
    expect_row(csv, 6);
    assert_string_equal(fld(csv, "a"), "");
    assert_string_equal(fld(csv, "b"), "a\"");
    assert_string_equal(fld(csv, "c"), "\n");
    /* a quote inside an unquoted field is an ordinary character */
    expect_row(csv, 8);
    assert_string_equal(fld(csv, "a"), "5'10\"");
    assert_string_equal(fld(csv, "b"), "x\"y\"z");
    assert_string_equal(fld(csv, "c"), "q");
    expect_eof(csv);
    ct__csv_close(csv);
}

static void test_crlf_bom_no_final_newline(void **state)
{
    (void)state;
    const char *p = write_text("bom.csv", "\xEF\xBB\xBFmsisdn,ts\r\n"
                                          "79991234567,\"2020-03-24 10:00:00\"\r\n"
                                          "79991234568,1585044000");
    ct_csv *csv = open_ok(p, 0, 0);
    assert_int_equal(ct__csv_column(csv, "msisdn"), 0);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "msisdn"), "79991234567");
    assert_string_equal(fld(csv, "ts"), "2020-03-24 10:00:00");
    expect_row(csv, 3);
    assert_string_equal(fld(csv, "ts"), "1585044000");
    expect_eof(csv);
    ct__csv_close(csv);

    /* a quoted last field at end of file without newline, and a lone CR */
    p = write_text("eof.csv", "a,b\r\n1,\"x\"\"\"");
    csv = open_ok(p, 0, 0);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "b"), "x\"");
    expect_eof(csv);
    ct__csv_close(csv);
    p = write_text("cr.csv", "a,b\nx\ry,z\r\r\n");
    csv = open_ok(p, 0, 0);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "a"), "x\ry");
    assert_string_equal(fld(csv, "b"), "z\r");
    expect_eof(csv);
    ct__csv_close(csv);
}

static void test_blank_lines(void **state)
{
    (void)state;
    const char *p = write_text("blank.csv", "\n\r\na,b\n\n1,2\r\n\r\n\n,\n3,4\n\n");
    ct_csv *csv = open_ok(p, 0, 0);
    assert_int_equal(ct__csv_line(csv), 3);
    expect_row(csv, 5);
    assert_string_equal(fld(csv, "a"), "1");
    expect_row(csv, 8); /* "," is a row of two absent fields, not a blank line */
    assert_string_equal(fld(csv, "a"), "");
    assert_string_equal(fld(csv, "b"), "");
    expect_row(csv, 9);
    assert_string_equal(fld(csv, "b"), "4");
    expect_eof(csv);
    ct__csv_close(csv);
}

static void test_short_and_long_rows(void **state)
{
    (void)state;
    const char *p = write_text("short.csv", "a,b,c\n1\n1,2\n1,2,3,4,5\n1,2,3,\n");
    ct_csv *csv = open_ok(p, 0, 0);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "a"), "1");
    assert_string_equal(fld(csv, "b"), "");
    assert_string_equal(fld(csv, "c"), "");
    expect_row(csv, 3);
    assert_string_equal(fld(csv, "b"), "2");
    assert_string_equal(fld(csv, "c"), "");
    expect_row(csv, 4);
    assert_string_equal(fld(csv, "c"), "3");
    size_t len = 9;
    ct__csv_field(csv, 3, &len);
    assert_int_equal(len, 0);
    expect_row(csv, 5);
    assert_string_equal(fld(csv, "c"), "3");
    expect_eof(csv);
    ct__csv_close(csv);
}

/* ---- caps and resynchronisation ---------------------------------------------------- */

static void test_overlong_line(void **state)
{
    (void)state;
    char text[1024];
    char x40[41], x32[33];
    memset(x40, 'x', 40);
    x40[40] = '\0';
    memset(x32, 'y', 32);
    x32[32] = '\0';
    snprintf(text, sizeof text,
             "a,b\n"
             "%s,%s\n"            /* 2: far over the window: skipped to its end */
             "1,2\n"              /* 3 */
             "%s\r\n"             /* 4: exactly 32 bytes + CRLF: fine */
             "%s1\n"              /* 5: 33 bytes, end inside the window */
             "3,4\n"              /* 6 */
             "\"a\nb\",%s\n"       /* 7-8: quoted, over the cap */
             "5,6\n",             /* 9 */
             x40, x40, x32, x32, x40);
    const char *p = write_text("long.csv", text);
    ct_csv *csv = open_ok(p, 32, 32);
    expect_bad(csv, 2, "line longer than 32 bytes");
    expect_row(csv, 3);
    assert_string_equal(fld(csv, "a"), "1");
    expect_row(csv, 4);
    assert_string_equal(fld(csv, "a"), x32);
    expect_bad(csv, 5, "line longer than 32 bytes");
    expect_row(csv, 6);
    assert_string_equal(fld(csv, "b"), "4");
    /* the quote closes within the window, the row does not end in it: the
     * rest of the line after the window is discarded, the newline inside
     * the quoted field still counted */
    expect_bad(csv, 7, "line longer than 32 bytes");
    expect_row(csv, 9);
    assert_string_equal(fld(csv, "a"), "5");
    expect_eof(csv);
    ct__csv_close(csv);
}

static void test_overlong_line_default_cap(void **state)
{
    (void)state;
    /* 3 MiB of one line with the default cap: discarded without buffering */
    size_t n = 3u << 20;
    char *text = malloc(n + 64);
    assert_non_null(text);
    size_t k = (size_t)sprintf(text, "a,b\n1,2\n");
    memset(text + k, 'z', n);
    k += n;
    k += (size_t)sprintf(text + k, "\n3,4\n");
    const char *p = write_file("huge.csv", text, k);
    free(text);
    ct_csv *csv = open_ok(p, 0, 0);
    expect_row(csv, 2);
    expect_bad(csv, 3, "line longer than 65536 bytes");
    expect_row(csv, 4);
    assert_string_equal(fld(csv, "b"), "4");
    expect_eof(csv);
    ct__csv_close(csv);
}

static void test_overlong_field(void **state)
{
    (void)state;
    const char *p = write_text("field.csv", "a,b\n"
                                            "12345,1\n"
                                            "1234,1\n"
                                            "1,\"12\n345\"\n"
                                            "1,\"12\"\"4\"\n"
                                            "7,8\n");
    ct_csv *csv = open_ok(p, 0, 4);
    expect_bad(csv, 2, "field longer than 4 bytes");
    expect_row(csv, 3);
    assert_string_equal(fld(csv, "a"), "1234");
    expect_bad(csv, 4, "field longer than 4 bytes"); /* decoded length 6 */
    expect_row(csv, 6);
    assert_string_equal(fld(csv, "b"), "12\"4"); /* decoded length 4 */
    expect_row(csv, 7);
    assert_string_equal(fld(csv, "a"), "7");
    expect_eof(csv);
    ct__csv_close(csv);
}

static void test_unterminated_quote(void **state)
{
    (void)state;
    /* at end of file: the lines after the stray quote are read again */
    const char *p = write_text("open.csv", "a,b\n1,\"2\n3,4\n5,6\n");
    ct_csv *csv = open_ok(p, 0, 0);
    expect_bad(csv, 2, "unterminated quoted field");
    expect_row(csv, 3);
    assert_string_equal(fld(csv, "a"), "3");
    expect_row(csv, 4);
    assert_string_equal(fld(csv, "b"), "6");
    expect_eof(csv);
    ct__csv_close(csv);

    /* the stray quote on the last line, without newline */
    p = write_text("open2.csv", "a,b\n1,2\n\"3,4");
    csv = open_ok(p, 0, 0);
    expect_row(csv, 2);
    expect_bad(csv, 3, "unterminated quoted field");
    expect_eof(csv);
    ct__csv_close(csv);

    /* at the cap: found after one window of look-ahead, then the same */
    char text[8192];
    size_t k = (size_t)sprintf(text, "a,b\nx,\"y\n");
    for (int i = 0; i < 100; i++)
        k += (size_t)sprintf(text + k, "%d,%d\n", i, i * 2);
    p = write_file("open3.csv", text, k);
    csv = open_ok(p, 64, 0);
    expect_bad(csv, 2, "unterminated quoted field");
    for (int i = 0; i < 100; i++) {
        char want[16];
        expect_row(csv, 3 + (uint64_t)i);
        snprintf(want, sizeof want, "%d", i * 2);
        assert_string_equal(fld(csv, "b"), want);
    }
    expect_eof(csv);
    ct__csv_close(csv);
}

static void test_text_after_quote(void **state)
{
    (void)state;
    const char *p = write_text("after.csv", "a,b\n"
                                            "\"x\"y,2\n"   /* 2 */
                                            "3,4\n"        /* 3 */
                                            "\"x\" ,2\n"   /* 4 */
                                            "1,\"b\n"      /* 5: closes on line 6 ... */
                                            "c,\"d\n"      /* 6: ... then "d": bad */
                                            "5,6\n");      /* 7 */
    ct_csv *csv = open_ok(p, 0, 0);
    expect_bad(csv, 2, "text after closing quote");
    expect_row(csv, 3);
    assert_string_equal(fld(csv, "a"), "3");
    expect_bad(csv, 4, "text after closing quote");
    expect_bad(csv, 5, "text after closing quote");
    /* resumes after line 5: line 6 opens a quote that never closes */
    expect_bad(csv, 6, "unterminated quoted field");
    expect_row(csv, 7);
    assert_string_equal(fld(csv, "b"), "6");
    expect_eof(csv);
    ct__csv_close(csv);
}

/* ---- the header ------------------------------------------------------------------------ */

static void test_header_errors(void **state)
{
    (void)state;
    ct_err err = {0};
    assert_int_equal(open_fails(write_text("empty.csv", ""), &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "header"));
    assert_int_equal(open_fails(write_text("blanks.csv", "\n\r\n\n"), &err), CT_EINVAL);
    assert_int_equal(open_fails(write_text("bomonly.csv", "\xEF\xBB\xBF"), &err), CT_EINVAL);
    assert_int_equal(open_fails(write_text("dup.csv", "msisdn,ts,msisdn\n1,2,3\n"), &err),
                     CT_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate column \"msisdn\""));
    assert_int_equal(open_fails(write_text("badhdr.csv", "a,\"b\n"), &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "unterminated quoted field"));
    char many[4096];
    size_t k = 0;
    for (unsigned i = 0; i <= CT_CSV_COLUMNS_MAX; i++)
        k += (size_t)sprintf(many + k, "c%u,", i);
    many[k - 1] = '\n';
    many[k] = '\0';
    assert_int_equal(open_fails(write_text("many.csv", many), &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "columns"));
    assert_int_equal(open_fails(tmp_path("does-not-exist.csv"), &err), CT_ENOTFOUND);
    assert_int_equal(open_fails(tmpdir, &err), CT_EIO);
}

static void test_header_shapes(void **state)
{
    (void)state;
    /* unnamed columns are allowed (a trailing comma), never matched */
    const char *p = write_text("unnamed.csv", "a,,b,\n1,2,3,4\n");
    ct_csv *csv = open_ok(p, 0, 0);
    assert_int_equal(ct__csv_column(csv, "b"), 2);
    assert_int_equal(ct__csv_column(csv, ""), -1);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "b"), "3");
    expect_eof(csv);
    ct__csv_close(csv);
    /* header only; quoted names */
    p = write_text("hdronly.csv", "\"ms,isdn\",\"t\"\"s\"\n");
    csv = open_ok(p, 0, 0);
    assert_int_equal(ct__csv_column(csv, "ms,isdn"), 0);
    assert_int_equal(ct__csv_column(csv, "t\"s"), 1);
    expect_eof(csv);
    ct__csv_close(csv);
    /* exactly the maximum number of columns */
    char many[4096];
    size_t k = 0;
    for (unsigned i = 0; i < CT_CSV_COLUMNS_MAX; i++)
        k += (size_t)sprintf(many + k, "c%u,", i);
    many[k - 1] = '\n';
    k += (size_t)sprintf(many + k, "v\n");
    p = write_text("max.csv", many);
    csv = open_ok(p, 0, 0);
    assert_int_equal(ct__csv_column(csv, "c255"), 255);
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "c0"), "v");
    assert_string_equal(fld(csv, "c255"), "");
    ct__csv_close(csv);
}

/* ---- big and compressed inputs --------------------------------------------------------- */

/* Rows "i,<msisdn>,<ts>,<quoted or not>" with a multi-line field every 97th. */
static char *make_feed(size_t rows, size_t *len)
{
    size_t cap = rows * 96 + 64, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    k += (size_t)sprintf(t, "id,msisdn,ts,note\n");
    for (size_t i = 0; i < rows; i++) {
        if (i % 97 == 0)
            k += (size_t)sprintf(t + k, "%zu,%llu,%zu,\"multi\nline, \"\"%zu\"\"\"\n", i,
                                 79990000000ULL + i, 1585044000 + i, i);
        else
            k += (size_t)sprintf(t + k, "%zu,%llu,%zu,n%zu\r\n", i, 79990000000ULL + i,
                                 1585044000 + i, i);
    }
    *len = k;
    return t;
}

static void check_feed(const char *path, size_t rows)
{
    ct_csv *csv = open_ok(path, 0, 0);
    int cid = ct__csv_column(csv, "id"), cm = ct__csv_column(csv, "msisdn");
    int cn = ct__csv_column(csv, "note");
    uint64_t line = 2;
    for (size_t i = 0; i < rows; i++) {
        char want[64];
        size_t len;
        expect_row(csv, line);
        snprintf(want, sizeof want, "%zu", i);
        assert_string_equal(ct__csv_field(csv, cid, &len), want);
        snprintf(want, sizeof want, "%llu", 79990000000ULL + i);
        assert_string_equal(ct__csv_field(csv, cm, &len), want);
        if (i % 97 == 0) {
            snprintf(want, sizeof want, "multi\nline, \"%zu\"", i);
            line += 2;
        } else {
            snprintf(want, sizeof want, "n%zu", i);
            line += 1;
        }
        assert_string_equal(ct__csv_field(csv, cn, &len), want);
        assert_int_equal(len, strlen(want));
        assert_true(ct__csv_bytes_done(csv) <= file_size(path));
    }
    expect_eof(csv);
    assert_int_equal(ct__csv_bytes_total(csv), file_size(path));
    assert_int_equal(ct__csv_bytes_done(csv), file_size(path));
    ct__csv_close(csv);
}

static void test_plain_gz_zst(void **state)
{
    (void)state;
    size_t rows = 150000, len;
    char *text = make_feed(rows, &len); /* about 6 MiB: many buffer refills */
    check_feed(write_file("feed.csv", text, len), rows);
    check_feed(write_gz("feed.csv.gz", text, len), rows);
    check_feed(write_zst("feed.csv.zst", text, len), rows);
    /* several zstd frames and gzip members one after the other */
    size_t half = len / 2;
    const char *a = write_zst("part1.zst", text, half);
    const char *b = write_zst("part2.zst", text + half, len - half);
    FILE *f = fopen(tmp_path("joined.csv.zst"), "wb");
    assert_non_null(f);
    for (int i = 0; i < 2; i++) {
        FILE *g = fopen(i ? b : a, "rb");
        char chunk[65536];
        size_t n;
        assert_non_null(g);
        while ((n = fread(chunk, 1, sizeof chunk, g)) > 0)
            assert_int_equal(fwrite(chunk, 1, n, f), n);
        fclose(g);
    }
    assert_int_equal(fclose(f), 0);
    check_feed(tmp_path("joined.csv.zst"), rows);
    free(text);
}

/* A quoted row placed so that each of its bytes in turn is the last one of
 * the first read (1 MiB): doubled quotes, closing quotes and CRLF split. */
static void test_block_boundary(void **state)
{
    (void)state;
    const char *special = "\"p\"\"q\",\"r\"\r\n"; /* "p""q","r" CRLF */
    size_t block = 1u << 20, slen = strlen(special);
    char *text = malloc(block + 64);
    assert_non_null(text);
    for (size_t shift = 0; shift <= slen; shift++) {
        size_t at = block - slen + shift, k = 0, rows = 0;
        k += (size_t)sprintf(text, "a,b\n");
        while (at - k > 40) {
            k += (size_t)sprintf(text + k, "x,y\n");
            rows++;
        }
        memset(text + k, 'z', at - k - 3); /* pad row "zz..z,y\n" */
        memcpy(text + at - 3, ",y\n", 3);
        memcpy(text + at, special, slen);
        k = at + slen;
        k += (size_t)sprintf(text + k, "1,2\n");
        const char *p = write_file("boundary.csv", text, k);
        ct_csv *csv = open_ok(p, 0, 0);
        for (size_t i = 0; i <= rows; i++)
            expect_row(csv, 2 + i);
        expect_row(csv, rows + 3);
        assert_string_equal(fld(csv, "a"), "p\"q");
        assert_string_equal(fld(csv, "b"), "r");
        expect_row(csv, rows + 4);
        assert_string_equal(fld(csv, "b"), "2");
        expect_eof(csv);
        ct__csv_close(csv);
    }
    free(text);
}

/* A small file gets a small buffer (its size, at least 4 KiB, not the
 * 1 MiB block), yet rows appended after the open are still read, whole,
 * including a row longer than that buffer's block, over several reads. */
static void test_small_file_that_grows(void **state)
{
    (void)state;
    const char *p = write_text("grows.csv", "a,b\n1,2\n");
    ct_csv *csv = open_ok(p, 0, 20000);
    expect_row(csv, 2);
    FILE *f = fopen(p, "ab");
    assert_non_null(f);
    for (int i = 0; i < 2000; i++)
        fprintf(f, "%d,x\n", i);
    char *wide = malloc(12001);
    assert_non_null(wide);
    memset(wide, 'w', 12000);
    wide[12000] = '\0';
    fprintf(f, "%s,end\n", wide);
    assert_int_equal(fclose(f), 0);
    for (int i = 0; i < 2000; i++) {
        expect_row(csv, 3 + (uint64_t)i);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(fld(csv, "a"), want);
    }
    expect_row(csv, 2003);
    assert_string_equal(fld(csv, "a"), wide);
    assert_string_equal(fld(csv, "b"), "end");
    expect_eof(csv);
    ct__csv_close(csv);
    free(wide);
}

static void truncate_file(const char *path, uint64_t size)
{
    assert_int_equal(truncate(path, (off_t)size), 0);
}

/* Reads until -1, which must come with a message naming the file. */
static void expect_stream_error(const char *path, const char *what)
{
    ct_csv *csv = open_ok(path, 0, 0);
    ct_err err = {0};
    const char *why;
    int r;
    size_t rows = 0;
    while ((r = ct__csv_next(csv, &why, &err)) == CT_CSV_ROW)
        rows++;
    assert_int_equal(r, -1);
    assert_true(rows > 0);
    assert_int_equal(err.code, CT_EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, what));
    ct__csv_close(csv);
}

static void test_corrupt_compressed(void **state)
{
    (void)state;
    size_t rows = 150000, len;
    char *text = make_feed(rows, &len);
    const char *gz = write_gz("trunc.csv.gz", text, len);
    truncate_file(gz, file_size(gz) * 2 / 3);
    expect_stream_error(gz, "gzip");
    const char *gz2 = write_gz("flip.csv.gz", text, len);
    FILE *f = fopen(gz2, "r+b");
    assert_non_null(f);
    fseek(f, (long)(file_size(gz2) / 2), SEEK_SET);
    for (int i = 0; i < 64; i++)
        fputc(0x55 ^ i, f);
    fclose(f);
    expect_stream_error(gz2, "gzip");
    const char *zs = write_zst("trunc.csv.zst", text, len);
    truncate_file(zs, file_size(zs) * 2 / 3);
    expect_stream_error(zs, "zstd");
    /* a stream cut inside the header fails the open */
    ct_err err = {0};
    const char *small = write_gz("tiny.csv.gz", "msisdn,ts\n1,2\n", 14);
    truncate_file(small, 12);
    assert_int_equal(open_fails(small, &err), CT_EINVAL);
    const char *junk = write_text("junk.csv.zst", "this is not zstd data\n");
    assert_int_equal(open_fails(junk, &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "zstd"));
    free(text);
}

/* ---- random round trip ---------------------------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void random_field(char *out, size_t *len)
{
    static const char alpha[] = "ab,\"\n\r x;'";
    size_t n = rnd(4) == 0 ? 0 : rnd(40);
    for (size_t i = 0; i < n; i++)
        out[i] = rnd(3) ? (char)('a' + rnd(26)) : alpha[rnd(sizeof alpha - 1)];
    *len = n;
}

static size_t encode_field(char *t, const char *f, size_t n)
{
    int must = memchr(f, ',', n) || memchr(f, '"', n) || memchr(f, '\n', n) ||
               memchr(f, '\r', n);
    size_t k = 0;
    if (!must && rnd(5) != 0) { /* quote a fifth of the others too */
        memcpy(t, f, n);
        return n;
    }
    t[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (f[i] == '"')
            t[k++] = '"';
        t[k++] = f[i];
    }
    t[k++] = '"';
    return k;
}

static void test_random_round_trip(void **state)
{
    (void)state;
    enum { ROWS = 40000, COLS = 5 };
    size_t cap = (size_t)ROWS * COLS * 90 + 64, k = 0;
    char *text = malloc(cap);
    char(*fields)[COLS][48] = malloc(sizeof *fields * ROWS);
    size_t(*lens)[COLS] = malloc(sizeof *lens * ROWS);
    uint64_t *lines = malloc(sizeof *lines * ROWS);
    assert_non_null(text);
    assert_non_null(fields);
    assert_non_null(lens);
    assert_non_null(lines);
    k += (size_t)sprintf(text, "c0,c1,c2,c3,c4\n");
    uint64_t line = 2;
    for (size_t r = 0; r < ROWS; r++) {
        lines[r] = line;
        for (size_t c = 0; c < COLS; c++) {
            random_field(fields[r][c], &lens[r][c]);
            size_t at = k;
            k += encode_field(text + k, fields[r][c], lens[r][c]);
            for (size_t i = at; i < k; i++)
                line += text[i] == '\n';
            text[k++] = c + 1 < COLS ? ',' : '\n';
        }
        line++;
        if (rnd(10) == 0) { /* CRLF instead of LF */
            text[k - 1] = '\r';
            text[k++] = '\n';
        }
        if (rnd(50) == 0) { /* a blank line */
            text[k++] = '\n';
            line++;
        }
    }
    const char *p = write_file("random.csv", text, k);
    ct_csv *csv = open_ok(p, 0, 0);
    for (size_t r = 0; r < ROWS; r++) {
        expect_row(csv, lines[r]);
        for (size_t c = 0; c < COLS; c++) {
            size_t len;
            const char *s = ct__csv_field(csv, (int)c, &len);
            assert_int_equal(len, lens[r][c]);
            assert_memory_equal(s, fields[r][c], len);
            assert_int_equal(s[len], '\0');
        }
    }
    expect_eof(csv);
    ct__csv_close(csv);
    free(text);
    free(fields);
    free(lens);
    free(lines);
}

/* Random bytes rich in separators, quotes and line ends: the reader must
 * terminate, keep its caps and count lines monotonically. */
static void read_garbage(const char *text, size_t n, size_t line_max, size_t field_max)
{
    uint64_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    const char *p = write_file("garbage.csv", text, n);
    ct_csv_limits lim = {line_max, field_max};
    ct_csv *csv = NULL;
    ct_err err = {0};
    if (ct__csv_open(p, &lim, &csv, &err) != CT_OK) {
        assert_int_equal(err.code, CT_EINVAL); /* a bad or missing header */
        return;
    }
    uint64_t last = ct__csv_line(csv);
    const char *why;
    int r;
    while ((r = ct__csv_next(csv, &why, &err)) != CT_CSV_EOF) {
        assert_true(r == CT_CSV_ROW || r == CT_CSV_BAD);
        assert_true(ct__csv_line(csv) > last);
        assert_true(ct__csv_line(csv) <= lines);
        last = ct__csv_line(csv);
        for (int c = 0; c < (int)CT_CSV_COLUMNS_MAX; c++) {
            size_t len;
            const char *f = ct__csv_field(csv, c, &len);
            assert_true(len <= (field_max ? field_max : CT_CSV_FIELD_MAX));
            assert_int_equal(f[len], '\0');
        }
    }
    ct__csv_close(csv);
}

static void test_garbage(void **state)
{
    (void)state;
    static const char alpha[] = "a,,\"\"\"\n\n\r \0x";
    char *text = malloc(3u << 20);
    assert_non_null(text);
    for (int round = 0; round < 400; round++) {
        size_t n = rnd(3000);
        for (size_t i = 0; i < n; i++)
            text[i] = alpha[rnd(sizeof alpha - 1)];
        read_garbage(text, n, 4 + rnd(60), 1 + rnd(40));
    }
    /* big enough for many refills, with a header that opens */
    size_t n = 3u << 20;
    memcpy(text, "a,b,c\n", 6);
    for (size_t i = 6; i < n; i++)
        text[i] = alpha[rnd(sizeof alpha - 1)];
    read_garbage(text, n, 40, 8);
    read_garbage(text, n, 0, 0);
    free(text);
}

/* ---- stdin ------------------------------------------------------------------------------ */

static void test_stdin(void **state)
{
    (void)state;
    const char *p = write_text("stdin.csv", "a,b\n1,2\n");
    int saved = dup(STDIN_FILENO), fd = open(p, O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    ct_csv *csv = open_ok("-", 0, 0);
    assert_string_equal(ct__csv_name(csv), "<stdin>");
    expect_row(csv, 2);
    assert_string_equal(fld(csv, "b"), "2");
    expect_eof(csv);
    ct__csv_close(csv);
    /* stdin itself stays open for its owner */
    assert_int_not_equal(fcntl(STDIN_FILENO, F_GETFD), -1);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_by_name),
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_crlf_bom_no_final_newline),
        cmocka_unit_test(test_blank_lines),
        cmocka_unit_test(test_short_and_long_rows),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_overlong_line_default_cap),
        cmocka_unit_test(test_overlong_field),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_text_after_quote),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_header_shapes),
        cmocka_unit_test(test_plain_gz_zst),
        cmocka_unit_test(test_block_boundary),
        cmocka_unit_test(test_small_file_that_grows),
        cmocka_unit_test(test_corrupt_compressed),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_stdin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
