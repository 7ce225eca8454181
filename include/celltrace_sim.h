/*
 * celltrace_sim.h — a simulated city with ground truth (public API).
 *
 * ct_simulate builds a synthetic city (households, offices, schools,
 * shops, a metro), lets its people live through D days, and writes what
 * the mobile operators would deliver (cell catalogues and event feeds in
 * the formats of SPEC 3.1 and 3.2), a case list (SPEC 3.3), and the truth:
 * who really was within contact_distance_m of each case for at least
 * min_exposure_s during the case's infectious window, computed from true
 * positions, never from the feeds. See docs/SIMULATOR.md for the model.
 *
 * Output directory layout (all text is UTF-8 CSV with LF line ends unless
 * an operator's style says CRLF):
 *   DIR/<operator>/cells.csv
 *   DIR/<operator>/events/<operator>_<YYYYMMDD>_<HH>.csv[.gz|.zst]
 *   DIR/<operator>/events/<operator>_<YYYYMMDD>_late.csv[.gz|.zst]
 *   DIR/cases.csv, DIR/truth.csv, DIR/manifest.json
 *   DIR/venues.csv (venue_id,type,lat,lon,radius_m,district: every office,
 *     class, shop and cafe, with a disk that holds its floor)
 *   DIR/visits.csv (venue_id,msisdn,start,end: every cafe visit, the truth
 *     an area query is scored against)
 *
 * Same parameters (seed included) give the same bytes. Memory is bounded
 * by one day of the city, whatever the number of days.
 */
#ifndef CELLTRACE_SIM_H
#define CELLTRACE_SIM_H

#include <stdint.h>

#include "celltrace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_SIM_MAX_OPERATORS 8
#define CT_SIM_MAX_SUBSCRIBERS 20000000u
#define CT_SIM_MAX_DAYS 366u

typedef enum ct_sim_compress {
    CT_SIM_COMPRESS_NONE = 0,
    CT_SIM_COMPRESS_GZ,
    CT_SIM_COMPRESS_ZST
} ct_sim_compress;

/* The kinds of bad rows SPEC 3.2 names, as injected into the feeds. */
typedef enum ct_sim_bad {
    CT_SIM_BAD_MSISDN = 0, /* a number that is not 7-15 digits not starting with 0 */
    CT_SIM_BAD_TIME,       /* a time that SPEC 2 does not accept */
    CT_SIM_BAD_CELL,       /* a well-formed cell_id absent from the catalogue */
    CT_SIM_BAD_COORD,      /* lat or lon out of range, or accuracy_m out of (0, 100000] */
    CT_SIM_BAD_MISSING,    /* msisdn, ts, or lat/lon of a point event absent */
    CT_SIM_BAD_KINDS
} ct_sim_bad;

/* Returns a static name ("bad_msisdn", ...) used in manifest.json. */
const char *ct_sim_bad_name(int kind);

typedef struct ct_sim_params {
    const char *out_dir;      /* created; must be absent or empty */
    uint64_t subscribers;     /* people with a phone: 1 .. CT_SIM_MAX_SUBSCRIBERS */
    unsigned days;            /* 1 .. CT_SIM_MAX_DAYS */
    uint64_t seed;
    int64_t start;            /* 00:00 UTC of the first day (epoch seconds) */
    double area_km2;          /* city area; 0 = subscribers / density */
    double density;           /* residents per km2 when area_km2 is 0 (default 5000) */
    unsigned operators;       /* 1 .. CT_SIM_MAX_OPERATORS (default 3) */
    unsigned cases;           /* infected subscribers (default subscribers/2000, >= 1) */
    unsigned office_cluster;  /* the first K cases work in one office (0: none; a
                               * cluster for hotspots to find, docs/AREA.md) */
    double isolated_share;    /* share of cases with an `isolated` date (0.6) */
    double precise_share;     /* share of phones that report precise positions (0.2) */
    double dirty_rate;        /* bad rows per good row, 0 disables (0.001) */
    double duplicate_rate;    /* duplicated rows per good row (0.002) */
    double late_rate;         /* rows delivered in the next day's late file (0.01) */
    double roaming_rate;      /* person-days served by another operator (0.01) */
    ct_sim_compress compress; /* of the event files */
    /* truth: SPEC 4 parameters that define a true contact */
    double contact_distance_m;    /* 2 */
    int64_t min_exposure_s;       /* 900 */
    int64_t infectious_before_s;  /* 172800 */
    int64_t infectious_after_s;   /* 864000 */
} ct_sim_params;

/* Fills the defaults (10 000 subscribers, 14 days from 2020-03-30, seed 1,
 * density 5000/km2, 3 operators, 5 cases, ...); out_dir is NULL. */
void ct_sim_params_default(ct_sim_params *p);

/* Checks ranges; CT_EINVAL with a message naming the parameter. */
ct_code ct_sim_params_check(const ct_sim_params *p, ct_err *err);

typedef struct ct_sim_op_counts {
    char id[16];           /* "250-01" */
    uint64_t cells;
    uint64_t events;       /* distinct good events (cell + point) */
    uint64_t point_events; /* of which precise positions */
    uint64_t duplicates;   /* extra copies of good rows */
    uint64_t bad[CT_SIM_BAD_KINDS];
    uint64_t rows;         /* data rows written: events + duplicates + bad */
    uint64_t files;        /* event files */
    uint64_t bytes;        /* event file bytes on disk */
} ct_sim_op_counts;

typedef struct ct_sim_result {
    unsigned operators;
    ct_sim_op_counts op[CT_SIM_MAX_OPERATORS];
    uint64_t events, point_events, duplicates, bad_total, rows, bytes;
    uint64_t bad[CT_SIM_BAD_KINDS];
    uint64_t households, venues, cases, truth_pairs;
    double seconds; /* wall time (not written to the manifest) */
} ct_sim_result;

/* Simulates and writes the city to p->out_dir. `progress` (may be NULL)
 * is called with (days done, days). Fills *res (may be NULL). Fails with
 * CT_EINVAL (parameters), CT_EEXIST (out_dir not empty) or CT_EIO; on
 * failure out_dir may hold partial output. */
ct_code ct_simulate(const ct_sim_params *p, ct_progress_fn progress, void *ud,
                    ct_sim_result *res, ct_err *err);

/* The cafe and evening ([18:00, 24:00) UTC of one day) with the most
 * visitors who stayed at least min_stay_s in it, read back from a
 * simulated city's venues.csv and visits.csv (ties: the lowest venue,
 * then the earliest day): the place of an Itaewon-style area query, and
 * the numbers truly inside to score its answer with. */
typedef struct ct_sim_venue_query {
    char venue_id[16];
    double lat, lon, radius_m;
    int64_t from, to;
    char (*present)[16]; /* normalised numbers, sorted as text */
    size_t n_present;
} ct_sim_venue_query;

ct_code ct_sim_busiest_evening(const char *sim_dir, int64_t min_stay_s, ct_sim_venue_query *out,
                               ct_err *err);
void ct_sim_venue_query_free(ct_sim_venue_query *q);

#ifdef __cplusplus
}
#endif
#endif
