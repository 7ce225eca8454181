/*
 * mpi_ingest.c — `celltrace-mpi ingest`: every rank reads its share of
 * the files, each good row goes to the shard of its number, and one
 * commit makes the delivery visible in every shard at once.
 *
 * Reading: file i is rank (i mod N)'s, so a rejected row is reported by
 * the rank that read it, with its file, line and reason, in its shard's
 * reject report. Routing: rows for other shards are packed into chunks
 * and sent with MPI_Isend while reading goes on; each rank takes in the
 * chunks that reach it between rows (MPI_Iprobe), so memory holds a few
 * chunks per peer, never the delivery. A rank that has read everything
 * tells each peer "done" (MPI keeps a sender's messages in order) and
 * takes chunks until every peer has said so.
 *
 * Commit, in two phases (celltrace_cluster.h):
 *   1. every shard seals its days and writes a pending manifest of the
 *      next generation G (ct_ingest_prepare): nothing is visible yet;
 *   2. rank 0 writes G into DIR/CLUSTER: this one rename is the commit;
 *   3. every shard makes its pending manifest live (ct_store_settle).
 * A rank killed before 2 leaves generation G-1 everywhere (the next job
 * drops the pending manifests); killed after 2, the next job makes them
 * live. Rerunning the ingest is always safe: duplicates are removed.
 * Retention then runs in every shard with the newest event of all.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

enum { TAG_EVENTS = 1, TAG_DONE = 2 };
enum { CHUNK_EVENTS = 16384 }; /* 1 MiB of ct_routed_event per message */

typedef struct outbox {
    ct_routed_event *fill, *sending; /* double buffer */
    size_t n;
    MPI_Request req;
    int busy;
} outbox;

typedef struct router {
    cluster *cl;
    ct_ingest *in;
    outbox *out;     /* one per rank (its own unused) */
    ct_routed_event *rbuf;
    int done_from;   /* peers that said done */
    int failed;      /* this rank could not store a row: the job fails */
    ct_err err;
    unsigned long since_probe;
} router;

static void take(router *r, const ct_routed_event *ev, size_t n)
{
    if (!r->in) /* this rank has no batch (it failed to start one): it drops, and fails */
        return;
    for (size_t i = 0; i < n && !r->failed; i++)
        if (ct_ingest_add_routed(r->in, &ev[i], &r->err) != CT_OK)
            r->failed = 1;
}

/* Receives every message that has arrived. */
static void service(router *r)
{
    for (;;) {
        int flag = 0;
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s);
        if (!flag)
            return;
        int bytes = 0;
        MPI_Get_count(&s, MPI_BYTE, &bytes);
        MPI_Recv(r->rbuf, bytes, MPI_BYTE, s.MPI_SOURCE, s.MPI_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        if (s.MPI_TAG == TAG_DONE)
            r->done_from++;
        else
            take(r, r->rbuf, (size_t)bytes / sizeof *r->rbuf);
    }
}

/* Waits for a send to finish, taking in what arrives meanwhile (two ranks
 * sending to each other must not wait on each other). */
static void wait_sent(router *r, MPI_Request *req)
{
    for (;;) {
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        service(r);
    }
}

static void send_chunk(router *r, int dest)
{
    outbox *o = &r->out[dest];
    if (o->busy)
        wait_sent(r, &o->req);
    ct_routed_event *swap = o->sending;
    o->sending = o->fill;
    o->fill = swap;
    MPI_Isend(o->sending, (int)(o->n * sizeof *o->sending), MPI_BYTE, dest, TAG_EVENTS,
              MPI_COMM_WORLD, &o->req);
    o->busy = 1;
    o->n = 0;
}

static int route_event(void *ud, const ct_routed_event *ev)
{
    router *r = ud;
    uint32_t dest = ct_shard_of_number(ev->msisdn, (uint32_t)r->cl->size);
    if (dest == (uint32_t)r->cl->rank || dest == UINT32_MAX) {
        take(r, ev, 1);
    } else {
        outbox *o = &r->out[dest];
        o->fill[o->n++] = *ev;
        if (o->n == CHUNK_EVENTS)
            send_chunk(r, (int)dest);
    }
    if (++r->since_probe == 4096) {
        r->since_probe = 0;
        service(r);
    }
    return r->failed;
}

/* After the last file: the rest of each outbox, then "done" to every
 * peer, then everything the peers still send. */
static void finish_routing(router *r)
{
    int size = r->cl->size, me = r->cl->rank;
    for (int k = 0; k < size; k++)
        if (k != me && r->out[k].n)
            send_chunk(r, k);
    for (int k = 0; k < size; k++)
        if (k != me && r->out[k].busy) {
            wait_sent(r, &r->out[k].req);
            r->out[k].busy = 0;
        }
    MPI_Request *done = calloc(cluster_ranks(r->cl), sizeof *done);
    for (int k = 0; k < size; k++)
        if (k != me)
            MPI_Isend(NULL, 0, MPI_BYTE, k, TAG_DONE, MPI_COMM_WORLD, &done[k]);
    for (int k = 0; k < size; k++)
        if (k != me)
            wait_sent(r, &done[k]);
    while (r->done_from < size - 1)
        service(r);
    free(done);
}

typedef struct ingest_args {
    const char *op, *rejects, *format;
    int retention_days;
    int first_file;
} ingest_args;

static int parse_args(cluster *cl, int argc, char **argv, ingest_args *a)
{
    static const struct option opts[] = {{"operator", required_argument, NULL, 'o'},
                                         {"rejects", required_argument, NULL, 'r'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"retention-days", required_argument, NULL, 'R'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->format = "text";
    optind = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "o:r:f:h", opts, NULL)) != -1) {
        if (c == 'o') {
            a->op = optarg;
        } else if (c == 'r') {
            a->rejects = optarg;
        } else if (c == 'f' && (!strcmp(optarg, "text") || !strcmp(optarg, "json"))) {
            a->format = optarg;
        } else if (c == 'R' && !strcmp(optarg, "never")) {
            a->retention_days = CT_RETENTION_NEVER;
        } else if (c == 'R') {
            long days = strtol(optarg, &end, 10);
            if (!*optarg || *end || days < 1 || days > 3660)
                return cl->rank ? EXIT_USAGE : cli_usage_error("ingest", "--retention-days must be 1 to 3660, or never");
            a->retention_days = (int)days;
        } else if (c == 'h') {
            if (cl->rank == 0)
                printf("Usage: mpirun -n N celltrace-mpi [--data DIR] ingest --operator OP\n"
                       "         [--rejects FILE] [--retention-days N|never] [--format text|json] FILE...\n\n"
                       "As `celltrace ingest`, on the cluster: file i is read by rank i mod N, each\n"
                       "row is stored in the shard of its number, and the delivery becomes visible\n"
                       "in every shard at once (docs/CLUSTER.md). Rejected rows are reported by the\n"
                       "rank that read them, in its shard (rank k > 0: FILE.shard-k with --rejects).\n"
                       "Exit status: 0, 1 failure (nothing applied), 2 usage, 3 some rows rejected.\n");
            return EXIT_OK;
        } else {
            return cl->rank ? EXIT_USAGE : cli_usage_error("ingest", "unknown option or value");
        }
    }
    if (!a->op)
        return cl->rank ? EXIT_USAGE : cli_usage_error("ingest", "--operator is required");
    if (optind >= argc)
        return cl->rank ? EXIT_USAGE : cli_usage_error("ingest", "expected at least one FILE");
    a->first_file = optind;
    return -1;
}

/* Reads this rank's files with every row routed; 0 or EXIT_FAIL. */
static int read_and_route(router *r, ct_db *db, const ingest_args *a, int argc, char **argv,
                          char *rejects_buf, size_t cap)
{
    cluster *cl = r->cl;
    ct_import_opts io;
    memset(&io, 0, sizeof io);
    io.retention_days = CT_RETENTION_NEVER; /* the cluster applies it after the commit */
    io.memory_mb = cli_ingest_memory_mb();
    if (a->rejects && cl->rank != 0) {
        snprintf(rejects_buf, cap, "%s.shard-%03d", a->rejects, cl->rank);
        io.rejects_path = rejects_buf;
    } else {
        io.rejects_path = a->rejects;
    }
    int st = EXIT_OK;
    if (ct_ingest_begin(db, a->op, &io, &r->in, &r->err) != CT_OK) {
        cli_error("shard %d: %s", cl->rank, r->err.msg);
        r->in = NULL;
        r->failed = 1;
        return EXIT_FAIL;
    }
    ct_ingest_set_route(r->in, route_event, r);
    for (int i = a->first_file; i < argc && st == EXIT_OK; i++) {
        if ((i - a->first_file) % cl->size != cl->rank)
            continue;
        if (ct_ingest_file(r->in, argv[i], &r->err) != CT_OK) {
            cli_error("%s", r->err.msg);
            st = EXIT_FAIL;
        }
    }
    if (r->failed && st == EXIT_OK) {
        cli_error("shard %d: %s", cl->rank, r->err.msg);
        st = EXIT_FAIL;
    }
    return st;
}

int cluster_ingest(cluster *cl, int argc, char **argv)
{
    ingest_args a;
    int st = parse_args(cl, argc, argv, &a);
    if (st >= 0)
        return st;
    router r;
    memset(&r, 0, sizeof r);
    r.cl = cl;
    r.out = calloc(cluster_ranks(cl), sizeof *r.out);
    r.rbuf = malloc(CHUNK_EVENTS * sizeof *r.rbuf);
    for (int k = 0; k < cl->size; k++) {
        r.out[k].fill = malloc(CHUNK_EVENTS * sizeof *r.out[k].fill);
        r.out[k].sending = malloc(CHUNK_EVENTS * sizeof *r.out[k].sending);
    }
    char rejects_buf[CLUSTER_PATH_MAX + 32];
    ct_db *db = cli_open(&cl->ctx, 1);
    /* loc ids go from shard to shard: every shard must have the same catalogue */
    uint64_t print = db ? ct_catalog_fingerprint(db) : 0;
    uint64_t lo = print, hi = print;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (db && lo != hi) {
        if (cl->rank == 0)
            cli_error("the shards' cell catalogues differ: import the same catalogues into every "
                      "shard (celltrace-mpi cells import) before an ingest");
        st = EXIT_FAIL;
    } else {
        st = db ? read_and_route(&r, db, &a, argc, argv, rejects_buf, sizeof rejects_buf) : EXIT_FAIL;
    }
    if (!r.in)
        r.failed = 1;
    /* every rank takes part in the exchange, also one that failed: the
     * others would wait for its "done" */
    finish_routing(&r);
    cluster_fault_point(cl, "routed");
    if (r.failed && st == EXIT_OK) {
        cli_error("shard %d: %s", cl->rank, r.err.msg);
        st = EXIT_FAIL;
    }
    st = cluster_status(cl, st);
    ct_import_summary sum;
    memset(&sum, 0, sizeof sum);
    uint64_t generation = cl->committed + 1;
    if (st != EXIT_OK) {
        ct_ingest_abort(r.in);
    } else if (ct_ingest_prepare(r.in, generation, &sum, &r.err) != CT_OK) { /* phase 1 */
        cli_error("shard %d: %s", cl->rank, r.err.msg);
        st = EXIT_FAIL;
    }
    ct_close(db);
    cluster_fault_point(cl, "prepared");
    st = cluster_status(cl, st);
    if (st == EXIT_OK && cl->rank == 0) { /* 2 */
        int w = cluster_write_state(cl, generation);
        if (w < 0) {
            cli_error("%s: cannot commit the cluster's new generation", cl->root);
            st = EXIT_FAIL;
        } else if (w > 0) { /* renamed: committed, whatever the folder's fsync said */
            cli_error("%s: the new generation is committed, but the folder could not be "
                      "synced: it may not survive a power cut", cl->root);
        }
    }
    if (st == EXIT_OK)
        cluster_fault_point(cl, "committed");
    st = cluster_status(cl, st);
    if (st == EXIT_OK)
        cl->committed = generation;
    ct_err err;
    if (ct_store_settle(cl->shard, cl->committed, &err) != CT_OK) { /* 3, or the roll-back */
        cli_error("shard %d: %s (the next command finishes it)", cl->rank, err.msg);
        st = EXIT_FAIL;
    }
    for (int k = 0; k < cl->size; k++) {
        free(r.out[k].fill);
        free(r.out[k].sending);
    }
    free(r.out);
    free(r.rbuf);
    st = cluster_status(cl, st);
    if (st != EXIT_OK) {
        if (cl->rank == 0)
            cli_error("nothing of this ingest was stored");
        return st;
    }
    /* days this delivery added a run to are merged again, each shard its
     * own, before the job ends (one machine does it in the background):
     * the data is the same either way, so a failure only warns */
    ct_compact_summary merged;
    if (ct_compact(cl->shard, &merged, &err) != CT_OK)
        cli_error("shard %d: the events were stored, but merging their days failed: %s", cl->rank,
                  err.msg);
    /* retention, with the newest event of every shard */
    if (a.retention_days != CT_RETENTION_NEVER) {
        int days = a.retention_days ? a.retention_days : CT_RETENTION_DAYS_DEFAULT;
        int64_t newest = -1;
        ct_purge_summary purged;
        memset(&purged, 0, sizeof purged);
        db = cli_open(&cl->ctx, 1);
        int rst = db && ct_newest_event(db, &newest, &err) == CT_OK ? EXIT_OK : EXIT_FAIL;
        cluster_max_i64(&newest, 1);
        if (rst == EXIT_OK && ct_purge_before(db, days, newest, &purged, &err) != CT_OK)
            rst = EXIT_FAIL;
        if (rst != EXIT_OK && db)
            cli_error("shard %d: the events were stored, but retention failed: %s", cl->rank,
                      err.msg);
        ct_close(db);
        sum.purged_events = purged.events_deleted;
        if (cluster_status(cl, rst) != EXIT_OK)
            return EXIT_FAIL;
    }
    return cluster_print_summary(cl, "ingest", &sum, 0, a.format);
}
