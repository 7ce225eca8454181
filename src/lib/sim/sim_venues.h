/*
 * sim_venues.h — venues.csv, visits.csv and geography.geojson: where the
 * venues are, who was in a cafe when, and the districts and metro lines
 * (internal; sim_venues.c).
 */
#ifndef CT_SIM_VENUES_H
#define CT_SIM_VENUES_H

#include "sim_out.h"
#include "sim_sched.h"
#include "sim_world.h"

/* Writes every venue with the disk that holds its floor. */
ct_code ct__sim_venues_write(const sim_world *w, const char *path, ct_err *err);

/* geography.geojson: the districts that hold anyone, the metro lines and
 * their stations, in WGS84 (properties.kind district, metro or station),
 * for the map of the headquarters' page (`celltrace geography import`). */
ct_code ct__sim_geography_write(const sim_world *w, const char *path, ct_err *err);

/* visits.csv: its header, then one day's cafe visits (the day's segments
 * of every person, as sim_main.c builds them). */
void ct__sim_visits_header(sim_out *o);
void ct__sim_visits_day(sim_out *o, const sim_world *w, const sim_seg *segs, const size_t *off);

#endif
