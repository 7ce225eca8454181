/*
 * cluster.h — what the parts of celltrace-mpi share (docs/CLUSTER.md).
 *
 * `mpirun -n N celltrace-mpi --data DIR COMMAND ...` runs one process (a
 * rank) per shard: rank k owns DIR/shard-<k>, a complete celltrace data
 * directory holding the subscribers that ct_shard_of_number puts there.
 * DIR/CLUSTER (rank 0's) names N and the last committed generation of
 * the cluster's two-phase ingest. MPI starts the ranks and carries every
 * byte between them; there is no messaging layer of our own.
 *
 * Like the CLI, this front end uses only the public headers.
 */
#ifndef CT_MPI_CLUSTER_H
#define CT_MPI_CLUSTER_H

#include <mpi.h>
#include <stdint.h>

#include "celltrace.h"
#include "celltrace_cluster.h"
#include "cli.h"

#define CLUSTER_PATH_MAX 4096
#define CLUSTER_ROOT_MAX 3072 /* room for /shard-NNN and file names below it */

typedef struct cluster {
    int rank, size;
    char root[CLUSTER_ROOT_MAX];  /* --data: the cluster's folder */
    char shard[CLUSTER_PATH_MAX]; /* this rank's data directory */
    uint64_t committed;           /* the last committed generation (DIR/CLUSTER) */
    cli_ctx ctx;                  /* the CLI's context, on this rank's shard */
    const char *model_path;       /* trace --model, read by every rank */
} cluster;

/* The number of ranks as a size (at least 1), for arrays per rank. */
static inline size_t cluster_ranks(const cluster *cl)
{
    return cl->size > 0 ? (size_t)cl->size : 1;
}

/* The worst exit status of all ranks (EXIT_USAGE over EXIT_FAIL over
 * EXIT_REJECTS over EXIT_OK), known to every rank. */
int cluster_status(const cluster *cl, int mine);

/* Sums (or takes the largest of) n 64-bit counters over all ranks. */
void cluster_sum_u64(uint64_t *v, int n);
void cluster_max_i64(int64_t *v, int n);

/* Writes DIR/CLUSTER atomically (rank 0): shards and committed generation.
 * 0 done; -1 not written; 1 written (a reader sees it) but the folder's
 * fsync failed. */
int cluster_write_state(const cluster *cl, uint64_t committed);

/* CT_CLUSTER_FAULT=WHERE:RANK kills rank RANK here (the kill tests). */
void cluster_fault_point(const cluster *cl, const char *where);

/* Every rank's n records of `size` bytes, to every rank, in rank order
 * (*total records; free() the result). */
void *cluster_allgather(const cluster *cl, const void *mine, size_t n, size_t size, size_t *total);

/* An import's summary summed over the ranks (rows read: summed, or the
 * largest when every rank read every row) and printed by rank 0 as
 * celltrace prints it, each other shard naming its reject report. The
 * exit status: EXIT_REJECTS when any row was rejected. */
int cluster_print_summary(const cluster *cl, const char *what, const ct_import_summary *mine,
                          int read_by_all, const char *format);

/* Commands that run on every rank at once. */
int cluster_ingest(cluster *cl, int argc, char **argv);
int cluster_trace(cluster *cl, int argc, char **argv);
int cluster_run(cluster *cl, int argc, char **argv);

/* The shard's path of rank k into buf. */
void cluster_shard_path(const cluster *cl, int k, char *buf, size_t cap);

#endif
