/*
 * sim_cells.h — one operator's radio network (internal).
 *
 * Towers with three sectors each; a sector is a cell. The serving cell
 * of a point is the sector facing it on the nearest tower (or, as radio
 * conditions fluctuate, on the second nearest). Each operator's towers
 * are its own: different rings, rotations and jitter.
 *
 * Ownership: ct__sim_net_build returns new; ct__sim_net_free frees (NULL ok).
 */
#ifndef CT_SIM_CELLS_H
#define CT_SIM_CELLS_H

#include <stddef.h>
#include <stdint.h>

#include "sim_world.h"

typedef struct sim_tower {
    sim_xy p;
    double az0;   /* azimuth of sector 0 (radians, math convention) */
    double reach; /* how far its sectors serve (metres) */
} sim_tower;

typedef struct sim_net {
    unsigned op;
    sim_tower *towers;
    size_t ntowers;
    /* grid of towers: buckets of GRID_M, gw x gw, origin at -half */
    double half;
    int gw;
    uint32_t *gstart, *gitems;
} sim_net;

sim_net *ct__sim_net_build(const sim_world *w, unsigned op);
void ct__sim_net_free(sim_net *n);

/* Cell index (tower * 3 + sector) serving point q; second: the second
 * nearest tower serves instead (when there is one). */
uint32_t ct__sim_net_serving(const sim_net *n, sim_xy q, int second);

/* Writes the cell's id (catalogue style of this operator) into buf[48];
 * returns its length. */
size_t ct__sim_net_cell_id(const sim_net *n, uint32_t cell, char *buf);

/* A well-formed id of this operator's style that no cell has. */
size_t ct__sim_net_unknown_id(const sim_net *n, uint64_t k, char *buf);

/* Writes DIR/<op>/cells.csv. */
ct_code ct__sim_net_write_catalogue(const sim_world *w, const sim_net *n, const char *path,
                                ct_err *err);

#endif
