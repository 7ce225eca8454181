/*
 * fuzz_manifest.c — the manifest parser (ct__store_load, src/lib/store/store.c)
 * on any text.
 *
 * Every input is tried twice as <scratch>/store/MANIFEST: as it is (its
 * end line's crc32 must match, so nearly every input is refused), and
 * "sealed": the input up to its last "end " line (or all of it) with a
 * newline and a correct end line appended, which gets the parser past the
 * checksum to the records.
 *
 * Each accepted manifest is also read the way commands read it: the data
 * directory (made once with ct_init) is opened read-only and its
 * statistics computed from the manifest's days.
 *
 * Properties: a refused manifest is CT_ECORRUPT (or CT_ELIMIT) with a
 * message, never an empty store; an accepted one has its days strictly
 * increasing, in 1970..9999 (day * 86400 cannot overflow), with valid
 * file names; and it round-trips: ct__store_commit
 * writes it back and ct__store_load reads the same days, with the
 * generation one higher.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "alloc.h"
#include "celltrace.h"
#include "fuzz.h"
#include "store.h"

static char *data_dir, *manifest_path;

static void check_loaded(const ct_store *st)
{
    for (uint32_t i = 0; i < st->n_days; i++) {
        const ct_store_day *d = &st->days[i];
        FZ_CHECK(i == 0 || st->days[i - 1].day < d->day, "days are strictly increasing");
        FZ_CHECK(d->day >= 0 && d->day <= CT_DAY_NUMBER_MAX, "days lie in 1970..9999");
        FZ_CHECK(d->n_runs >= 1 && d->n_runs <= CT_DAY_RUNS_MAX, "a day has 1-8 runs");
        uint64_t events = 0;
        for (uint32_t r = 0; r < d->n_runs; r++) {
            const char *file = d->run[r].file;
            size_t n = strnlen(file, sizeof d->run[r].file);
            FZ_CHECK(n > 0 && n < sizeof d->run[r].file, "file names are 1-63 characters");
            for (size_t k = 0; k < n; k++) {
                char c = file[k];
                FZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.',
                         "file names are plain");
            }
            events += d->run[r].events;
        }
        FZ_CHECK(events == d->events && events <= UINT32_MAX, "a day's events are its runs'");
        FZ_CHECK(ct__store_find(st, d->day) == (int64_t)i, "every day is found");
    }
}

static void try_manifest(const uint8_t *text, size_t len, int round_trip)
{
    fz_write(manifest_path, text, len);
    ct_store st;
    ct_err err;
    ct_code rc = ct__store_load(data_dir, &st, &err);
    if (rc != CT_OK) {
        FZ_CHECK((rc == CT_ECORRUPT || rc == CT_ELIMIT) && err.msg[0], "a bad manifest is an error with a message");
        ct__store_free(&st);
        return;
    }
    check_loaded(&st);
    if (round_trip) {
        ct_store copy = st;
        copy.days = ct__calloc((size_t)st.n_days + 1, sizeof *copy.days);
        if (st.n_days)
            memcpy(copy.days, st.days, (size_t)st.n_days * sizeof *st.days);
        uint64_t gen = st.generation;
        rc = ct__store_commit(&st, &err);
        FZ_CHECK(rc == CT_OK, "an accepted manifest can be written back");
        ct_store back;
        rc = ct__store_load(data_dir, &back, &err);
        FZ_CHECK(rc == CT_OK, "a written manifest loads");
        FZ_CHECK(back.generation == gen + 1, "commit bumps the generation");
        FZ_CHECK(back.n_days == copy.n_days, "the days round-trip");
        for (uint32_t i = 0; i < back.n_days; i++)
            FZ_CHECK(memcmp(&back.days[i], &copy.days[i], sizeof back.days[i]) == 0, "each day round-trips");
        ct__store_free(&back);
        ct__free(copy.days);
    }
    ct_db *db = NULL;
    rc = ct_open(data_dir, 0, &db, &err);
    FZ_CHECK(rc == CT_OK, "a data directory with an accepted manifest opens");
    ct_stats stats;
    rc = ct_stats_get(db, &stats, &err);
    FZ_CHECK(rc == CT_OK && stats.days == st.n_days, "its statistics count the days");
    ct_close(db);
    ct__store_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!data_dir) {
        data_dir = fz_path("data");
        ct_err err;
        if (ct_init(data_dir, &err) != CT_OK) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            abort();
        }
        manifest_path = fz_path("data/store/MANIFEST");
    }
    try_manifest(data, size, 0);
    /* sealed: keep what precedes the last "end " line, then a good end line */
    size_t body = size;
    for (size_t i = size; i-- > 0;)
        if ((i == 0 || data[i - 1] == '\n') && i + 4 <= size && memcmp(data + i, "end ", 4) == 0) {
            body = i;
            break;
        }
    uint8_t *text = malloc(body + 16);
    if (!text)
        abort();
    memcpy(text, data, body);
    if (body && text[body - 1] != '\n')
        text[body++] = '\n';
    uint32_t crc = (uint32_t)crc32(0L, text, (uInt)body);
    char end[16];
    snprintf(end, sizeof end, "end %08x\n", (unsigned)crc);
    memcpy(text + body, end, 13);
    try_manifest(text, body + 13, 1);
    free(text);
    return 0;
}
