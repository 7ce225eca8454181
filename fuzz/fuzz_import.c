/*
 * fuzz_import.c — the library's import paths on any bytes: cell
 * catalogues (ct_cells_import), location feeds (ct_ingest_begin/_file/
 * _commit, which also seals the touched days into segments and rewrites
 * the manifest) and cases (ct_cases_import). Built three times, as the
 * targets cells, events and cases (FZ_IMPORT = 1, 2, 3).
 *
 * The process owns one data directory in its scratch folder, created with
 * ct_init and a small catalogue for operator 250-01 (cells A1-A3), opened
 * writable once. Every input is written to a file and imported into it,
 * so state carries from input to input as it does in real use (cells
 * upserted, subscribers interned, days re-sealed with the events already
 * stored). The directory is re-created every RESET_EVERY inputs to stay
 * small and fast.
 *
 * Properties: the import returns a known code with a message on failure;
 * the summary adds up (stored + duplicates + rejected <= rows read); the
 * data directory opens again afterwards with its manifest and catalogue
 * intact (checked every few inputs, and after every input that failed
 * unless the directory's files are exactly as they were at the last check:
 * same names, sizes and modification times), so no input leaves the
 * directory unreadable.
 */
#define _GNU_SOURCE /* nftw's FTW_PHYS */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "celltrace.h"
#include "fuzz.h"

#ifndef FZ_IMPORT
#define FZ_IMPORT 1
#endif

#define RESET_EVERY 256
#define REOPEN_EVERY 64

static ct_db *db;
static char *data_dir, *input_path, *rejects_path, *cells_path;
static unsigned long runs;
static uint64_t checked_print; /* the directory's fingerprint at the last reopen check */

/* FNV-1a over every file's path, size and modification time below the data
 * directory: equal fingerprints mean nothing was written since. */
static uint64_t print_acc;
static void mix(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        print_acc = (print_acc ^ b[i]) * 0x100000001B3ull;
}
static int mix_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    mix(path, strlen(path) + 1);
    mix(&st->st_size, sizeof st->st_size);
    mix(&st->st_mtim, sizeof st->st_mtim);
    mix(&st->st_ino, sizeof st->st_ino);
    return 0;
}
static uint64_t directory_print(void)
{
    print_acc = 0xCBF29CE484222325ull;
    nftw(data_dir, mix_one, 16, FTW_PHYS);
    return print_acc;
}

static void fresh_data_dir(void)
{
    ct_err err;
    if (db) {
        ct_close(db);
        db = NULL;
        fz_rmtree(data_dir);
    }
    checked_print = 0;
    if (ct_init(data_dir, &err) != CT_OK || ct_open(data_dir, 1, &db, &err) != CT_OK) {
        fprintf(stderr, "fuzz: cannot set up %s: %s\n", data_dir, err.msg);
        abort();
    }
    fz_write(cells_path, FZ_CELLS_CSV, strlen(FZ_CELLS_CSV));
    ct_import_summary sum;
    ct_import_opts opts = {.rejects_path = rejects_path};
    if (ct_cells_import(db, "250-01", cells_path, &opts, &sum, &err) != CT_OK || sum.stored != 3) {
        fprintf(stderr, "fuzz: cannot import the base catalogue: %s\n", err.msg);
        abort();
    }
}

static void check_summary(ct_code rc, const ct_err *err, const ct_import_summary *sum)
{
    FZ_CHECK(rc <= CT_ECRYPTO, "imports return a known code");
    if (rc != CT_OK) {
        FZ_CHECK(err->code == rc && err->msg[0] != '\0', "a failed import says why");
        return;
    }
    FZ_CHECK(sum->stored + sum->duplicates + sum->rejected <= sum->rows_read,
             "the summary adds up");
    FZ_CHECK(sum->rejected <= sum->rows_read, "no more rejects than rows");
}

/* The directory must open again (as a fresh reader would) after any input. */
static void check_reopens(void)
{
    uint64_t print = directory_print();
    if (print == checked_print)
        return; /* not a byte written since the directory last opened */
    ct_db *again = NULL;
    ct_err err;
    ct_code rc = ct_open(data_dir, 0, &again, &err);
    if (rc != CT_OK)
        fprintf(stderr, "fuzz: the data directory no longer opens: %s\n", err.msg);
    FZ_CHECK(rc == CT_OK, "the data directory opens after any input");
    ct_stats st;
    rc = ct_stats_get(again, &st, &err);
    if (rc != CT_OK)
        fprintf(stderr, "fuzz: stats fail: %s\n", err.msg);
    FZ_CHECK(rc == CT_OK, "stats work after any input");
    FZ_CHECK(st.operators >= 1 && st.cells >= 3, "the base catalogue is still there");
    ct_close(again);
    /* kept only if opening wrote nothing itself (else the next check runs) */
    checked_print = directory_print() == print ? print : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!data_dir) {
        data_dir = fz_path("data");
        input_path = fz_path("input.csv");
        rejects_path = fz_path("rejects.csv");
        cells_path = fz_path("base-cells.csv");
    }
    if (!db || runs % RESET_EVERY == 0)
        fresh_data_dir();
    runs++;
    fz_write(input_path, data, size);
    ct_import_opts opts = {.rejects_path = rejects_path};
    ct_import_summary sum;
    memset(&sum, 0, sizeof sum);
    ct_err err;
    memset(&err, 0, sizeof err);
    ct_code rc;
#if FZ_IMPORT == 1
    rc = ct_cells_import(db, "250-01", input_path, &opts, &sum, &err);
#elif FZ_IMPORT == 2
    ct_ingest *in = NULL;
    rc = ct_ingest_begin(db, "250-01", &opts, &in, &err);
    FZ_CHECK(rc == CT_OK, "an ingest starts for a known operator");
    rc = ct_ingest_file(in, input_path, &err);
    if (rc == CT_OK) {
        rc = ct_ingest_commit(in, &sum, &err);
    } else {
        ct_ingest_abort(in);
    }
#else
    rc = ct_cases_import(db, input_path, &opts, &sum, &err);
#endif
    check_summary(rc, &err, &sum);
    if (rc != CT_OK || runs % REOPEN_EVERY == 0)
        check_reopens();
    return 0;
}
