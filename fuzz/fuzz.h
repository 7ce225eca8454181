/*
 * fuzz.h — what every fuzz target shares (fuzz/README.md).
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput. It is linked either
 * with libFuzzer (clang, -fsanitize=fuzzer: `make fuzz`) or with replay.c,
 * a plain main that runs it over every file of a corpus folder (any
 * compiler: the ctest tests fuzz.replay.<target>).
 *
 * A harness states the properties it checks with FZ_CHECK: a violated
 * property aborts with a message, which libFuzzer records as a crash and a
 * replay test as a failure. Never assert(): release builds define NDEBUG.
 */
#ifndef CT_FUZZ_H
#define CT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void fz_fail(const char *file, int line, const char *what);
#define FZ_CHECK(cond, what)                     \
    do {                                         \
        if (!(cond))                             \
            fz_fail(__FILE__, __LINE__, (what)); \
    } while (0)

/* This process's scratch folder: a fresh mkdtemp under $CT_FUZZ_TMP, else
 * $TMPDIR, else /tmp; removed (recursively) at exit. */
const char *fz_tmpdir(void);

/* "<scratch>/<name>"; returns new (free with free()). */
char *fz_path(const char *name);

/* Writes bytes to a file (created or truncated, 0600); aborts on failure. */
void fz_write(const char *path, const void *data, size_t len);

/* Removes a folder and everything below it (best effort). */
void fz_rmtree(const char *path);

/* The fixed day of events behind the segment target and its seeds: sorted
 * and free of duplicates, cells and points at several grid levels, and
 * one cell with more than CT_SEG_BLOCK events, many in the same second,
 * so that its block index has blocks that start inside a second. */
#define FZ_DAY_MAX 160
typedef struct fz_day {
    ct_event ev[FZ_DAY_MAX];
    ct_point pts[FZ_DAY_MAX];
    uint32_t n, n_pts;
} fz_day;
void fz_fixed_day(fz_day *d);
#define FZ_DAY 18345 /* 2020-03-24 */

/* A small operator catalogue for the import targets (operator 250-01). */
extern const char FZ_CELLS_CSV[];

#endif
