/*
 * reference.h — a slow, obviously-correct model of SPEC section 4 (tests only).
 *
 * It works on values, not on files: the caller hands it the cell catalogue
 * rows in import order (the last row of an (operator, cell_id) wins: that
 * is the upsert of SPEC 3.1), every event row as parsed values (duplicates
 * included), a case and the parameters, and gets the contacts back. Nothing
 * here is fast on purpose: dedupe by sorting, presence by looking at the
 * next event, exposure by the double loop over all pairs of SPEC 4.6.
 *
 * The tests include reference.c directly (tests/CMakeLists.txt builds one
 * source file per test binary).
 */
#ifndef CT_TEST_REFERENCE_H
#define CT_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#define REF_EARTH_RADIUS_M 6371008.8
#define REF_OP_MAX 32
#define REF_ID_MAX 64
#define REF_MSISDN_MAX 15

typedef struct ref_cell {
    char op[REF_OP_MAX + 1];
    char id[REF_ID_MAX + 1];
    double lat, lon, radius_m;
} ref_cell;

typedef struct ref_event {
    char msisdn[REF_MSISDN_MAX + 1]; /* normalised digits */
    int64_t ts;
    int is_cell;
    char op[REF_OP_MAX + 1];  /* the feed's operator */
    char cell[REF_ID_MAX + 1]; /* is_cell */
    double lat, lon, acc;      /* !is_cell */
} ref_event;

typedef struct ref_case {
    char msisdn[REF_MSISDN_MAX + 1];
    int64_t onset;
    int has_isolated;
    int64_t isolated;
} ref_case;

typedef struct ref_params {
    int64_t max_presence_s;
    double distance_m;
    int64_t min_exposure_s;
    int64_t before_s;
    int64_t after_s;
} ref_params;

typedef struct ref_contact {
    char msisdn[REF_MSISDN_MAX + 1];
    int64_t exposure_s, first, last;
    double min_radius_m;
} ref_contact;

typedef struct ref_result {
    ref_contact *items; /* exposure desc, then msisdn asc (text) */
    size_t n;
    /* counted pairs (non-empty intersection) whose distance lies within
     * `ambiguity_m` of the threshold r_a + r_b + D: a faster distance
     * formula may decide them either way (SPEC 2 allows 1 mm of error). */
    size_t ambiguous;
} ref_result;

/* One resolved event: sorted (SPEC 4.1), deduplicated, with its disk and
 * presence (SPEC 4.2 and 4.3). */
typedef struct ref_item {
    ref_event ev;
    double lat, lon, r;
    int64_t p_start, p_next; /* next event's time, INT64_MAX when last */
} ref_item;

typedef struct ref_store {
    ref_item *items;
    size_t n;
} ref_store;

/* The haversine distance of SPEC 2. */
double ref_distance_m(double lat1, double lon1, double lat2, double lon2);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t ref_days_from_civil(int64_t y, int m, int d);
/* The inverse. */
void ref_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
/* Epoch seconds of a UTC date and time. */
int64_t ref_epoch(int y, int m, int d, int hh, int mm, int ss);
/* YYYY-MM-DDTHH:MM:SSZ into buf (at least 21 bytes). */
void ref_format_time(int64_t t, char *buf);
/* At most two decimals, no trailing zeros (SPEC 5). buf >= 32 bytes. */
void ref_format_radius(double r, char *buf);

/* Deduplicates (SPEC 3.2), sorts (4.1) and resolves disks (3.1, 4.3).
 * Returns 0, or -1 when an event names a cell absent from the catalogue
 * (writes its description to stderr). */
int ref_prepare(const ref_cell *cells, size_t ncells, const ref_event *ev, size_t nev,
                ref_store *out);
void ref_store_free(ref_store *s);

/* SPEC 4.2 to 4.7 for one case. Returns 0 (or -1 out of memory). */
int ref_trace(const ref_store *s, const ref_case *c, const ref_params *p, double ambiguity_m,
              ref_result *out);
void ref_result_free(ref_result *r);

/* An area query (docs/AREA.md): every subscriber whose presences P_j
 * (SPEC 4.2) have a disk that meets (lat, lon, radius): dist <= radius +
 * r_j, summed over |P_j ∩ [from, to)|; listed when the sum is > 0 and >=
 * min_stay. expected_inside_s weighs each second by the share of the
 * phone's disk inside the area. */
typedef struct ref_area_q {
    double lat, lon, radius;
    int64_t from, to, min_stay, max_presence_s;
} ref_area_q;

typedef struct ref_presence {
    char msisdn[REF_MSISDN_MAX + 1];
    int64_t present_s, first, last;
    double min_radius_m, expected_inside_s;
} ref_presence;

typedef struct ref_area_result {
    ref_presence *items; /* present_s desc, then msisdn asc (text) */
    size_t n;
    size_t ambiguous;    /* counted-or-not pairs within ambiguity_m of radius + r_j */
} ref_area_result;

int ref_area(const ref_store *s, const ref_area_q *q, double ambiguity_m, ref_area_result *out);
void ref_area_result_free(ref_area_result *r);

/* Hotspots' total (docs/AREA.md section 3): over every pair of cases with
 * different numbers, every pair of their presences that overlap inside
 * both infectious windows and [from, to) and are co-located (SPEC 4.4),
 * the overlap times near_p(d, r_a, r_b, D). Every row of `hotspots
 * --min-cases 2 --limit 0` is a share of this sum, so the rows' scores add
 * up to it. *ambiguous counts overlapping pairs within ambiguity_m of the
 * threshold. */
double ref_hotspots_total(const ref_store *s, const ref_case *cases, size_t n_cases,
                          const ref_params *p, int64_t from, int64_t to,
                          double (*near_p)(double, double, double, double), double ambiguity_m,
                          size_t *ambiguous);

/* Area common to two disks of radii r1, r2 whose centres are d apart. */
double ref_lens_area(double r1, double r2, double d);

/* Writes the `trace --format csv` text of a result (header included, LF
 * line ends) into a malloc'd string. */
char *ref_result_csv(const char *case_id, const ref_result *r);

#endif
