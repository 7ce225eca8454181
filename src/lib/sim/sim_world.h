/*
 * sim_world.h — the simulated city: places, people, metro (internal).
 *
 * Coordinates inside the simulator are metres east (x) and north (y) of
 * the city centre on a flat plane; ct__sim_world_latlon projects them to
 * WGS84 (equirectangular about the centre; the error over a city is far
 * below the GPS noise the feeds carry, and truth is defined on the plane).
 *
 * Ownership: ct__sim_world_build returns new; ct__sim_world_free frees (NULL ok).
 * The world borrows its parameters (they must outlive it).
 */
#ifndef CT_SIM_WORLD_H
#define CT_SIM_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "celltrace_sim.h"

#define SIM_NONE UINT32_MAX
#define SIM_DISTRICT_M 1000.0 /* side of a district square */
#define SIM_STATION_M 1000    /* metro stations every km */
#define SIM_TRAIN_V 10        /* m/s, including stops */
#define SIM_HEADWAY_S 240     /* a train every 4 minutes each way */
#define SIM_CARRIAGES 8
#define SIM_CARRIAGE_M 21.0   /* carriage length plus coupling */

typedef struct sim_xy {
    double x, y;
} sim_xy;

enum sim_role { SIM_WORKER = 0, SIM_PUPIL, SIM_HOMEBODY };
enum sim_mode { SIM_BY_TRANSIT = 0, SIM_BY_CAR, SIM_BY_FOOT };
enum sim_venue_type { SIM_V_OFFICE = 0, SIM_V_CLASS, SIM_V_SHOP, SIM_V_CAFE };

typedef struct sim_person {
    uint64_t msisdn;     /* 11 digits, 79xxxxxxxxx */
    uint32_t household;
    uint32_t work;       /* office or class venue; SIM_NONE for homebodies */
    uint32_t case_idx;   /* index into world cases, SIM_NONE if not a case */
    uint16_t seat;       /* desk in the office / seat in the class */
    uint16_t leave_min;  /* weekday departure, minute of day */
    uint16_t work_min;   /* minutes at work */
    uint16_t wake_min, bed_min;
    uint8_t role, mode, op, member;
    uint8_t precise;     /* reports GPS positions */
    uint8_t lu_hours;    /* periodic location update timer: 1..3 h */
    uint8_t line_home, line_work; /* metro lines used to commute */
    int32_t st_home, st_work;     /* their stations: metres along the line */
    float activity;      /* traffic multiplier */
    float walk_v;        /* m/s */
} sim_person;

typedef struct sim_household {
    sim_xy pos;
    uint32_t first, n; /* members are people first .. first+n-1 */
    uint32_t district;
} sim_household;

typedef struct sim_venue {
    sim_xy pos;
    uint8_t type;
    uint32_t district;
} sim_venue;

typedef struct sim_district {
    uint32_t shop0, nshop, cafe0, ncafe; /* venue index ranges */
    uint32_t hh0, nhh;                   /* into world->district_hh */
} sim_district;

typedef struct sim_case {
    uint32_t person;
    int64_t onset;        /* as written to cases.csv */
    int onset_is_date;
    int64_t isolated;     /* valid when has_isolated */
    int has_isolated;
    int64_t w0, w1;       /* infectious window [w0, w1) */
    char id[24];
} sim_case;

typedef struct sim_world {
    const ct_sim_params *p;
    double r_city, r_out, r0; /* city radius, world radius, density scale */
    double lat0, lon0, m_per_deg_lat, m_per_deg_lon;
    double line_angle[4];     /* metro: 4 diameters through the centre */
    int32_t line_half;        /* each line runs [-line_half, line_half] m */
    sim_person *people;
    uint64_t n;
    sim_household *hh;
    size_t nhh;
    sim_venue *venues;
    size_t nvenues;
    sim_district *districts;
    int dgrid;                /* districts form a dgrid x dgrid square */
    uint32_t *district_hh;    /* households grouped by district */
    sim_case *cases;
    size_t ncases;
    uint32_t cluster_office;  /* the office of ct_sim_params.office_cluster, or SIM_NONE */
} sim_world;

/* Builds the city from p (checked by the caller). Returns new. */
sim_world *ct__sim_world_build(const ct_sim_params *p);
void ct__sim_world_free(sim_world *w);

/* Projects plane metres to WGS84 degrees. */
void ct__sim_world_latlon(const sim_world *w, sim_xy q, double *lat, double *lon);

/* District of a point (clamped to the grid). */
uint32_t ct__sim_world_district(const sim_world *w, sim_xy q);

/* A point of metro line l at s metres from the centre (s may be < 0). */
sim_xy ct__sim_world_line_point(const sim_world *w, int l, double s);

/* The operator id string for operator index i ("250-01", ...). */
const char *ct__sim_world_op_id(unsigned i);


#endif
