/*
 * sim_sched.h — where each person is, at every second of a day (internal).
 *
 * A person-day is a list of segments that tile [day0, day0 + 86400)
 * without gaps or overlaps. Each segment has a kind and a "space": the
 * room, carriage, platform or street the person is in. Two people can be
 * in contact only when they are in the same space (walls separate
 * flats, offices and carriages); inside a space their distance is the
 * plane distance of their local positions. That rule is the definition
 * of truth, and it lets truth compare only people who share a space.
 *
 * Space ids: the top 8 bits are a sim_space type, the rest its number.
 */
#ifndef CT_SIM_SCHED_H
#define CT_SIM_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "sim_world.h"

enum sim_seg_kind {
    SIM_SEG_HOME = 0, /* at one's own flat */
    SIM_SEG_GUEST,    /* visiting another household's flat */
    SIM_SEG_VENUE,    /* office, class, shop or cafe */
    SIM_SEG_PLATFORM, /* waiting for a train (underground) */
    SIM_SEG_WALK,     /* on foot, in the street */
    SIM_SEG_RIDE,     /* in a metro carriage (underground) */
    SIM_SEG_CAR       /* alone in a car: a private space */
};

enum sim_space {
    SIM_SP_STREET = 1, SIM_SP_HOME, SIM_SP_VENUE, SIM_SP_PLATFORM, SIM_SP_TRAIN, SIM_SP_CAR
};

#define SIM_SPACE(type, id) (((uint64_t)(type) << 56) | (uint64_t)(id))
#define SIM_SPACE_TYPE(sp) ((unsigned)((sp) >> 56))
#define SIM_SEGS_MAX 64 /* per person-day; plans use far fewer */

typedef struct sim_seg {
    int64_t t0, t1;  /* [t0, t1), epoch seconds */
    uint64_t space;
    sim_xy a, b;     /* WALK/CAR: from, to; others: a = the place's anchor */
    int64_t train;   /* RIDE: train number (departure from its terminus / headway) */
    float u, v;      /* PLATFORM/RIDE: local position; WALK: v = lateral offset */
    uint32_t place;  /* household (HOME, GUEST) or venue (VENUE) index */
    uint8_t kind, line, carriage;
    int8_t dir;      /* RIDE: +1 outward along the line's angle, -1 back */
} sim_seg;

typedef struct sim_pos {
    uint64_t space;
    double lx, ly;   /* local position in the space (metres) */
    sim_xy world;    /* plane position (metres from the centre) */
    int outdoors;    /* GPS works here */
} sim_pos;

/* Writes person i's segments for day `day` (0-based) into out[SIM_SEGS_MAX];
 * returns their number (>= 1). Pure function of (world, i, day). */
size_t ct__sim_sched_day(const sim_world *w, uint32_t i, unsigned day, sim_seg *out);

/* Position of person i during segment s at time t (s->t0 <= t < s->t1). */
void ct__sim_seg_pos(const sim_world *w, uint32_t i, const sim_seg *s, int64_t t, sim_pos *out);

/* 1 when t falls on a weekend day (Saturday or Sunday, UTC). */
int ct__sim_is_weekend(int64_t day0);

#endif
