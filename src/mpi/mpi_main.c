/*
 * mpi_main.c — celltrace-mpi: the celltrace commands on a cluster of
 * shards, one MPI rank per shard (docs/CLUSTER.md).
 *
 * Every rank parses the same command line. Commands that need the same
 * result everywhere (cells import, config) run the CLI's own command on
 * every shard; the others gather, route or reduce what the shards hold:
 * cases import keeps each case in the shard of its number, ingest routes
 * each row there (mpi_ingest.c), trace asks every shard for its part and
 * prints as celltrace does, run has every shard run for its own
 * subscribers on the same traced cases (mpi_trace.c), stats sums.
 *
 * Before any command, each rank settles its shard against DIR/CLUSTER: a
 * pending manifest of a committed generation becomes live, one of a
 * generation that never committed goes (ct_store_settle). That is the
 * restart half of the two-phase ingest: MPI has no fault tolerance, so a
 * killed rank fails the whole job, and the next job finds every shard at
 * the same generation.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"

#ifndef CT_DEFAULT_DATA_DIR
#define CT_DEFAULT_DATA_DIR "./celltrace-data"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mpirun -n N celltrace-mpi [--data DIR] [--quiet] [--reason TEXT] COMMAND\n"
            "                                 [options]\n"
            "\n"
            "celltrace on a cluster: DIR holds one data directory per rank (shard-000 ...),\n"
            "each subscriber's data in exactly one of them; every answer is byte-identical\n"
            "to celltrace's on the same data (docs/CLUSTER.md).\n"
            "\n"
            "Commands (options and output as celltrace's):\n"
            "  init       a cluster of N shards, all with the same keys\n"
            "  cells      cells import --operator OP FILE: into every shard\n"
            "  config     config set|get|list: on every shard\n"
            "  cases      cases import [--rejects FILE] FILE: each case to its number's shard\n"
            "  ingest     ingest --operator OP FILE...: files read by all ranks, rows routed,\n"
            "             one commit for the whole cluster\n"
            "  trace      trace CASE_ID... | --all [--score | --level L] [--format F]\n"
            "  run        trace what changed; each shard stores and queues for its own\n"
            "             subscribers\n"
            "  stats      what the cluster holds\n"
            "\n"
            "Global options:\n"
            "  --data DIR      the cluster's folder (default: $CELLTRACE_DATA, else " CT_DEFAULT_DATA_DIR ")\n"
            "  --quiet         no progress or chatter on stderr\n"
            "  --reason TEXT   why personal data is read (each shard's audit log)\n"
            "  --output FILE   rank 0 writes the answer to FILE instead of standard output,\n"
            "                  which mpirun forwards through itself (slow for large answers)\n"
            "  --help, --version\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error, 3 success with rejected rows.\n");
}

/* ---- what every command shares ------------------------------------------------------ */

int cluster_status(const cluster *cl, int mine)
{
    (void)cl;
    /* rank the statuses: usage > failure > rejects > ok */
    static const int weight[] = {0, 2, 3, 1};
    int w = mine >= 0 && mine <= 3 ? weight[mine] : 2, worst;
    MPI_Allreduce(&w, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    static const int status_of[] = {EXIT_OK, EXIT_REJECTS, EXIT_FAIL, EXIT_USAGE};
    return status_of[worst];
}

void cluster_sum_u64(uint64_t *v, int n)
{
    MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
}

void cluster_max_i64(int64_t *v, int n)
{
    MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
}

void cluster_shard_path(const cluster *cl, int k, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/shard-%03d", cl->root, k);
}

static void state_path(const cluster *cl, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/CLUSTER", cl->root);
}

/* Writes dir/name's new text durably: a temporary file, fsync, rename,
 * and the folder's fsync. 0 done; -1 not replaced; 1 replaced, but the
 * folder's fsync failed (the new text is what readers see). */
static int write_durably(const char *dir, const char *name, const char *text)
{
    char path[CLUSTER_PATH_MAX], tmp[CLUSTER_PATH_MAX];
    size_t n = strlen(dir), m = strlen(name);
    if (n + m + 6 >= sizeof path)
        return -1;
    memcpy(path, dir, n);
    path[n] = '/';
    memcpy(path + n + 1, name, m + 1);
    memcpy(tmp, path, n + m + 2);
    memcpy(tmp + n + m + 1, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ok = dfd >= 0 && fsync(dfd) == 0;
    if (dfd >= 0)
        close(dfd);
    return ok ? 0 : 1; /* 1: renamed (visible), its durability unknown */
}

int cluster_write_state(const cluster *cl, uint64_t committed)
{
    char text[128];
    snprintf(text, sizeof text, "celltrace-cluster 1\nshards %d\ncommitted %llu\n", cl->size,
             (unsigned long long)committed);
    return write_durably(cl->root, "CLUSTER", text);
}

/* One job at a time changes the cluster: rank 0 holds DIR/CLUSTER.lock
 * for the whole job, exclusive for a command that writes, shared for one
 * that reads, so that no job settles a shard (below) under a running
 * ingest or run. A job waits for the lock, saying so. 0, or -1. */
static int lock_cluster(const cluster *cl, int writes)
{
    char path[CLUSTER_PATH_MAX];
    snprintf(path, sizeof path, "%s/CLUSTER.lock", cl->root);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    int how = writes ? LOCK_EX : LOCK_SH;
    if (flock(fd, how | LOCK_NB) != 0) {
        if (!cl->ctx.quiet)
            fprintf(stderr, "celltrace: waiting for another job on %s to end\n", cl->root);
        if (flock(fd, how) != 0) {
            cli_error("%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return 0; /* fd stays open, and the lock held, until the job ends */
}

/* Rank 0 reads DIR/CLUSTER and every rank learns it: 0, or an exit status. */
static int read_state(cluster *cl, int writes)
{
    long long v[3] = {0, 0, 0}; /* ok, shards, committed */
    if (cl->rank == 0 && lock_cluster(cl, writes) == 0) {
        char path[CLUSTER_PATH_MAX];
        state_path(cl, path, sizeof path);
        FILE *f = fopen(path, "r");
        int shards = 0;
        unsigned long long committed = 0;
        if (!f)
            cli_error("%s is not a cluster (%s; run `mpirun -n N celltrace-mpi --data %s init`)",
                      cl->root, strerror(errno), cl->root);
        else if (fscanf(f, "celltrace-cluster 1\nshards %d\ncommitted %llu\n", &shards,
                        &committed) != 2 || shards < 1)
            cli_error("%s: not a cluster state file", path);
        else
            v[0] = 1;
        if (f)
            fclose(f);
        v[1] = shards;
        v[2] = (long long)committed;
        if (v[0] && shards != cl->size) {
            cli_error("%s is a cluster of %d shards: run it with mpirun -n %d", cl->root, shards,
                      shards);
            v[0] = 0;
        }
    }
    MPI_Bcast(v, 3, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (!v[0])
        return EXIT_FAIL;
    cl->committed = (uint64_t)v[2];
    return 0;
}

/* Each shard to the cluster's committed generation (see the top). */
static int settle(cluster *cl)
{
    ct_err err;
    int st = EXIT_OK;
    if (ct_store_settle(cl->shard, cl->committed, &err) != CT_OK) {
        cli_error("shard %d: %s", cl->rank, err.msg);
        st = EXIT_FAIL;
    }
    return cluster_status(cl, st);
}

/* Fault injection for the kill tests (tests/golden/cluster.sh):
 * CT_CLUSTER_FAULT=WHERE:RANK kills rank RANK at point WHERE with
 * SIGKILL, as a crash or `kill -9` would. The points: routed, prepared,
 * committed (ingest), run-traced, run-committed (run). */
void cluster_fault_point(const cluster *cl, const char *where)
{
    const char *f = getenv("CT_CLUSTER_FAULT");
    size_t n = strlen(where);
    if (f && strncmp(f, where, n) == 0 && f[n] == ':' && atoi(f + n + 1) == cl->rank) {
        fflush(stdout);
        fflush(stderr);
        raise(SIGKILL);
    }
}

void *cluster_allgather(const cluster *cl, const void *mine, size_t n, size_t size, size_t *total)
{
    int records = (int)n, sum = 0;
    int *counts = calloc(cluster_ranks(cl), sizeof *counts);
    int *offs = calloc(cluster_ranks(cl), sizeof *offs);
    MPI_Allgather(&records, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    for (int k = 0; k < cl->size; k++) {
        offs[k] = sum;
        sum += counts[k];
    }
    void *all = calloc((size_t)sum + 1, size);
    MPI_Datatype record; /* counts in records, not bytes: no int overflow */
    MPI_Type_contiguous((int)size, MPI_BYTE, &record);
    MPI_Type_commit(&record);
    MPI_Allgatherv(mine, records, record, all, counts, offs, record, MPI_COMM_WORLD);
    MPI_Type_free(&record);
    free(counts);
    free(offs);
    *total = (size_t)sum;
    return all;
}

int cluster_print_summary(const cluster *cl, const char *what, const ct_import_summary *mine,
                          int read_by_all, const char *format)
{
    uint64_t counts[5] = {mine->rows_read, mine->stored, mine->duplicates, mine->rejected,
                          mine->purged_events};
    cluster_sum_u64(counts + 1, 4);
    int64_t read = (int64_t)mine->rows_read;
    if (read_by_all)
        cluster_max_i64(&read, 1);
    else
        cluster_sum_u64(counts, 1);
    if (mine->rejected && cl->rank != 0)
        fprintf(stderr, "celltrace: shard %d: rejected rows are listed in %s\n", cl->rank,
                mine->rejects_path);
    MPI_Barrier(MPI_COMM_WORLD); /* the shards' lines before the summary */
    if (cl->rank == 0) {
        ct_import_summary all = *mine;
        all.rows_read = read_by_all ? (uint64_t)read : counts[0];
        all.stored = counts[1];
        all.duplicates = counts[2];
        all.rejected = counts[3];
        all.purged_events = counts[4];
        if (!mine->rejected && all.rejected) /* only other shards' reports, named above */
            snprintf(all.rejects_path, sizeof all.rejects_path, "the shards' reports above");
        cli_print_import_summary(what, &all, format);
    }
    return counts[3] ? EXIT_REJECTS : EXIT_OK;
}

/* ---- init ---------------------------------------------------------------------------- */

static int cluster_init(cluster *cl, int argc, char **argv)
{
    static const struct option opts[] = {{"key-dir", required_argument, NULL, 'k'},
                                         {"key-provider", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *key_root = NULL;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            if (cl->rank == 0)
                printf("Usage: mpirun -n N celltrace-mpi [--data DIR] init [--key-dir KEYS]\n\n"
                       "Creates a cluster of N shards in DIR: DIR/CLUSTER and DIR/shard-000 ...,\n"
                       "each a celltrace data directory with the same keys, kept by the file\n"
                       "provider: in each shard's keys/, or with --key-dir (an absolute path, off\n"
                       "the data disks: docs/KEYS.md) in KEYS/shard-000 ... The passphrase and\n"
                       "credentials providers are not offered for a cluster yet.\n");
            return EXIT_OK;
        }
        if (c == 'k' && optarg[0] == '/') {
            key_root = optarg;
        } else if (c == 'p' && !strcmp(optarg, "file")) {
            continue;
        } else {
            if (cl->rank == 0)
                cli_usage_error("init", c == 'k' ? "--key-dir must be an absolute path"
                                        : c == 'p' ? "a cluster's keys are kept by the file provider (yet)"
                                                   : "unknown option");
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        if (cl->rank == 0)
            cli_usage_error("init", "init takes no arguments");
        return EXIT_USAGE;
    }
    /* each shard's own key folder: the keyring is the same, but the audit
     * key and head beside it are each shard's */
    char key_dir[CLUSTER_PATH_MAX];
    if (key_root && strlen(key_root) + 16 >= sizeof key_dir) {
        if (cl->rank == 0)
            cli_usage_error("init", "--key-dir: the path is too long");
        return EXIT_USAGE;
    }
    if (key_root)
        snprintf(key_dir, sizeof key_dir, "%s/shard-%03d", key_root, cl->rank);
    int made = EXIT_OK; /* on every node: each holds its ranks' key folders */
    if (key_root && mkdir(key_root, 0700) != 0 && errno != EEXIST) {
        cli_error("%s: %s", key_root, strerror(errno));
        made = EXIT_FAIL;
    }
    if (cluster_status(cl, made) != EXIT_OK)
        return EXIT_FAIL;
    ct_keys_setup setup;
    memset(&setup, 0, sizeof setup);
    setup.provider = CT_KEYS_FILE;
    setup.key_dir = key_root ? key_dir : NULL;
    int ok = 1;
    char path[CLUSTER_PATH_MAX];
    ct_err err;
    if (cl->rank == 0) {
        state_path(cl, path, sizeof path);
        if (access(path, F_OK) == 0) {
            cli_error("%s is already a cluster", cl->root);
            ok = 0;
        } else if (mkdir(cl->root, 0700) != 0 && errno != EEXIST) {
            cli_error("%s: %s", cl->root, strerror(errno));
            ok = 0;
        } else if (ct_init_with(cl->shard, &setup, &err) != CT_OK) {
            cli_error("shard 0: %s", err.msg);
            ok = 0;
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok)
        return EXIT_FAIL;
    /* the same keys in every shard: pseudonyms and vault records agree */
    char *text = NULL;
    size_t len = 0;
    unsigned long long n = 0;
    if (cl->rank == 0) {
        if (ct_keyring_text(cl->shard, &text, &len, &err) != CT_OK) {
            cli_error("shard 0: %s", err.msg);
            len = 0;
        }
        n = len;
    }
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (n == 0 || n > 65536)
        return EXIT_FAIL;
    char *buf = cl->rank == 0 ? text : calloc(1, n + 1);
    if (!buf)
        return EXIT_FAIL;
    MPI_Bcast(buf, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    int st = EXIT_OK;
    if (cl->rank != 0 && mkdir(cl->root, 0700) != 0 && errno != EEXIST) { /* another node */
        cli_error("%s: %s", cl->root, strerror(errno));
        st = EXIT_FAIL;
    }
    if (cl->rank != 0 && st == EXIT_OK) {
        setup.keyring_text = buf;
        if (ct_init_with(cl->shard, &setup, &err) != CT_OK) {
            cli_error("shard %d: %s", cl->rank, err.msg);
            st = EXIT_FAIL;
        }
    }
    if (cl->rank != 0) {
        explicit_bzero(buf, n);
        free(buf);
    } else {
        ct_keyring_text_free(text, len);
    }
    st = cluster_status(cl, st);
    if (st == EXIT_OK && cl->rank == 0 && cluster_write_state(cl, 0) != 0) {
        cli_error("%s: cannot write the cluster's state: %s", cl->root, strerror(errno));
        st = EXIT_FAIL;
    }
    st = cluster_status(cl, st);
    if (st == EXIT_OK && cl->rank == 0)
        printf("initialised cluster %s: %d shards\n", cl->root, cl->size);
    return st;
}

/* ---- commands run on every shard ------------------------------------------------------ */

/* Runs a CLI command on every shard. Rank 0 speaks; another rank's
 * stderr is shown only when its status differs from rank 0's. */
static int replicated(cluster *cl, int (*cmd)(cli_ctx *, int, char **), int argc, char **argv)
{
    int saved_out = -1, saved_err = -1;
    FILE *captured = NULL;
    fflush(stdout);
    fflush(stderr);
    if (cl->rank != 0) {
        int devnull = open("/dev/null", O_WRONLY);
        captured = tmpfile();
        saved_out = dup(STDOUT_FILENO);
        saved_err = dup(STDERR_FILENO);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            close(devnull);
        }
        if (captured)
            dup2(fileno(captured), STDERR_FILENO);
    }
    optind = 0;
    int st = cmd(&cl->ctx, argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (cl->rank != 0) {
        dup2(saved_out, STDOUT_FILENO);
        dup2(saved_err, STDERR_FILENO);
        close(saved_out);
        close(saved_err);
    }
    int root_st = st;
    MPI_Bcast(&root_st, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (captured) {
        if (st != root_st) {
            char line[1024];
            rewind(captured);
            while (fgets(line, sizeof line, captured))
                fprintf(stderr, "shard %d: %s", cl->rank, line);
        }
        fclose(captured);
    }
    return cluster_status(cl, st);
}

/* ---- cases import ---------------------------------------------------------------------- */

/* Every shard's case ids, with their shard, sorted: so that a case_id is
 * one case in the whole cluster (ct_import_opts.case_shard). */
typedef struct held_case {
    char id[CT_ID_MAX + 1];
    uint32_t shard;
} held_case;

typedef struct held_cases {
    held_case *all;
    size_t n, cap;
    uint32_t mine;
} held_cases;

static int add_held(void *ud, const char *case_id)
{
    held_cases *h = ud;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        held_case *grown = realloc(h->all, cap * sizeof *grown);
        if (!grown)
            return 1;
        h->all = grown;
        h->cap = cap;
    }
    memset(&h->all[h->n], 0, sizeof h->all[h->n]);
    snprintf(h->all[h->n].id, sizeof h->all[h->n].id, "%s", case_id);
    h->all[h->n++].shard = h->mine;
    return 0;
}

static int cmp_held(const void *a, const void *b)
{
    return strcmp(((const held_case *)a)->id, ((const held_case *)b)->id);
}

static uint32_t held_shard(void *ud, const char *case_id)
{
    const held_cases *h = ud;
    held_case key;
    memset(&key, 0, sizeof key);
    snprintf(key.id, sizeof key.id, "%s", case_id);
    const held_case *f = bsearch(&key, h->all, h->n, sizeof *h->all, cmp_held);
    return f ? f->shard : UINT32_MAX;
}

/* Gathers every shard's case ids to every rank: 0, or -1 (all ranks). */
static int gather_held(cluster *cl, ct_db *db, held_cases *out)
{
    held_cases mine = {NULL, 0, 0, (uint32_t)cl->rank};
    ct_err err;
    int bad = !db || ct_case_ids(db, add_held, &mine, &err) != CT_OK, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    memset(out, 0, sizeof *out);
    if (any) {
        free(mine.all);
        return -1;
    }
    out->all = cluster_allgather(cl, mine.all, mine.n, sizeof *mine.all, &out->n);
    qsort(out->all, out->n, sizeof *out->all, cmp_held);
    free(mine.all);
    return 0;
}

static int cluster_cases(cluster *cl, int argc, char **argv)
{
    static const struct option opts[] = {{"rejects", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *rejects = NULL;
    if (argc < 2 || strcmp(argv[1], "import") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            if (cl->rank == 0)
                printf("Usage: mpirun -n N celltrace-mpi [--data DIR] cases import [--rejects FILE] FILE\n\n"
                       "Each case goes to the shard of its number, with that subscriber's data.\n");
            return EXIT_OK;
        }
        if (cl->rank == 0)
            cli_usage_error("cases", "celltrace-mpi offers `cases import FILE`");
        return EXIT_USAGE;
    }
    optind = 0;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        if (c == 'r') {
            rejects = optarg;
        } else if (c == 'h') {
            if (cl->rank == 0)
                printf("Usage: mpirun -n N celltrace-mpi [--data DIR] cases import [--rejects FILE] FILE\n");
            return EXIT_OK;
        } else {
            if (cl->rank == 0)
                cli_usage_error("cases", "unknown option");
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc - 1) {
        if (cl->rank == 0)
            cli_usage_error("cases", "expected one FILE");
        return EXIT_USAGE;
    }
    const char *path = argv[1 + optind];
    char shard_rejects[CLUSTER_PATH_MAX + 32];
    if (rejects && cl->rank != 0) /* one report per shard: rank 0's has the given name */
        snprintf(shard_rejects, sizeof shard_rejects, "%s.shard-%03d", rejects, cl->rank);
    ct_import_opts io;
    memset(&io, 0, sizeof io);
    io.rejects_path = rejects && cl->rank ? shard_rejects : rejects;
    io.shard = (uint32_t)cl->rank;
    io.n_shards = (uint32_t)cl->size;
    ct_import_summary sum;
    memset(&sum, 0, sizeof sum);
    ct_err err;
    int st = EXIT_OK;
    ct_db *db = cli_open(&cl->ctx, 1);
    held_cases held;
    io.case_shard = held_shard;
    io.case_shard_ud = &held;
    if (gather_held(cl, db, &held) != 0) {
        st = EXIT_FAIL;
    } else if (ct_cases_import(db, path, &io, &sum, &err) != CT_OK) {
        cli_error("shard %d: %s", cl->rank, err.msg);
        st = EXIT_FAIL;
    }
    ct_close(db);
    free(held.all);
    st = cluster_status(cl, st);
    if (st != EXIT_OK)
        return st;
    return cluster_print_summary(cl, "cases", &sum, 1, "text");
}

/* ---- stats ---------------------------------------------------------------------------- */

static int cluster_stats(cluster *cl, int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc &&
            (!strcmp(argv[i + 1], "json") || !strcmp(argv[i + 1], "text"))) {
            json = !strcmp(argv[++i], "json");
        } else if (!strcmp(argv[i], "--format=json") || !strcmp(argv[i], "--format=text")) {
            json = !strcmp(argv[i], "--format=json");
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (cl->rank == 0)
                printf("Usage: mpirun -n N celltrace-mpi [--data DIR] stats [--format text|json]\n\n"
                       "What the cluster holds, summed over its shards (days: the union).\n");
            return EXIT_OK;
        } else {
            if (cl->rank == 0)
                cli_usage_error("stats", "unknown option '%s' (--format text|json)", argv[i]);
            return EXIT_USAGE;
        }
    }
    ct_stats s;
    ct_keys_where w;
    memset(&s, 0, sizeof s);
    memset(&w, 0, sizeof w);
    int64_t *days = NULL;
    size_t n_days = 0;
    ct_err err;
    int st = EXIT_OK;
    ct_db *db = cli_open(&cl->ctx, 0);
    if (!db || ct_stats_get(db, &s, &err) != CT_OK ||
        ct_stored_days(db, &days, &n_days, &err) != CT_OK ||
        ct_keys_where_of(cl->shard, &w, &err) != CT_OK) {
        if (db)
            cli_error("shard %d: %s", cl->rank, err.msg);
        st = EXIT_FAIL;
    }
    ct_close(db);
    st = cluster_status(cl, st);
    if (st != EXIT_OK) {
        free(days);
        return st;
    }
    uint64_t sums[7] = {s.subscribers, s.events, s.cell_events, s.point_events,
                        s.cases, s.store_bytes, s.total_bytes};
    cluster_sum_u64(sums, 7);
    /* the days of all shards, merged */
    size_t total = 0;
    int64_t *all = cluster_allgather(cl, days, n_days, sizeof *days, &total);
    if (cl->rank == 0) {
        ct_stats t = s; /* operators, cells: the same catalogue in every shard */
        t.subscribers = sums[0];
        t.events = sums[1];
        t.cell_events = sums[2];
        t.point_events = sums[3];
        t.cases = sums[4];
        t.store_bytes = sums[5];
        t.total_bytes = sums[6];
        t.days = 0;
        t.first_day = t.last_day = 0;
        for (size_t i = 0; i < total; i++) { /* n is small: days of retention times shards */
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = all[j] == all[i];
            if (seen)
                continue;
            if (t.days == 0 || all[i] * 86400 < t.first_day)
                t.first_day = all[i] * 86400;
            if (t.days == 0 || all[i] * 86400 > t.last_day)
                t.last_day = all[i] * 86400;
            t.days++;
        }
        cli_print_stats(&t, &w, json);
    }
    free(all);
    free(days);
    return EXIT_OK;
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    /* A rank that waits for the others yields its CPU instead of spinning:
     * on a node with fewer cores than ranks the spinning rank would slow
     * the one it waits for. The user's setting wins. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    /* No ct_tune_process_memory here: MPI_Init may install its transports'
     * memory hooks (OpenMPI's patcher, UCX's, which can intercept sbrk),
     * and the ranks' work is long traces, not short commands. */
    MPI_Init(&argc, &argv);
    static cluster cl;
    MPI_Comm_rank(MPI_COMM_WORLD, &cl.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &cl.size);
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    cl.ctx = (cli_ctx){NULL, 0, 0, NULL, argv[0], -1, NULL, NULL};
    ct_set_notice(cli_print_notice, NULL);
    const char *root = NULL, *output = NULL;
    int c, st = -1;
    opterr = cl.rank == 0;
    while (st < 0 && (c = getopt_long(argc, argv, "+d:qhV", opts, NULL)) != -1) {
        switch (c) {
        case 'd': root = optarg; break;
        case 'q': cl.ctx.quiet = 1; break;
        case 'r': cl.ctx.reason = optarg; break;
        case 'o': output = optarg; break;
        case 'h':
            if (cl.rank == 0)
                usage(stdout);
            st = EXIT_OK;
            break;
        case 'V':
            if (cl.rank == 0)
                printf("celltrace-mpi %s\n", CT_VERSION);
            st = EXIT_OK;
            break;
        default:
            if (cl.rank == 0)
                usage(stderr);
            st = EXIT_USAGE;
        }
    }
    if (st < 0 && optind >= argc) {
        if (cl.rank == 0)
            usage(stderr);
        st = EXIT_USAGE;
    }
    if (st < 0 && output && cl.rank == 0 && !freopen(output, "w", stdout)) {
        cli_error("--output %s: %s", output, strerror(errno));
        st = EXIT_FAIL;
    }
    if (output) /* every rank learns whether rank 0 could open it */
        MPI_Bcast(&st, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (st >= 0) {
        MPI_Finalize();
        return st;
    }
    if (!root)
        root = getenv("CELLTRACE_DATA");
    if (!root || !*root)
        root = CT_DEFAULT_DATA_DIR;
    if (strlen(root) >= sizeof cl.root) {
        if (cl.rank == 0)
            cli_usage_error("", "--data: the path is too long");
        MPI_Finalize();
        return EXIT_USAGE;
    }
    memcpy(cl.root, root, strlen(root) + 1);
    cluster_shard_path(&cl, cl.rank, cl.shard, sizeof cl.shard);
    cl.ctx.data_dir = cl.shard;
    cl.ctx.progress = 0; /* N ranks drawing bars on one terminal: none */
    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    opterr = cl.rank == 0;
    if (!strcmp(cmd, "init")) {
        st = cluster_init(&cl, sub_argc, sub_argv);
    } else if (strcmp(cmd, "cells") && strcmp(cmd, "config") && strcmp(cmd, "cases") &&
               strcmp(cmd, "ingest") && strcmp(cmd, "trace") && strcmp(cmd, "stats") &&
               strcmp(cmd, "run")) {
        if (cl.rank == 0)
            cli_usage_error("", "celltrace-mpi has no command '%s' (see --help)", cmd);
        st = EXIT_USAGE;
    } else if ((st = read_state(&cl, strcmp(cmd, "trace") && strcmp(cmd, "stats"))) == 0 &&
               (st = settle(&cl)) == EXIT_OK) {
        if (!strcmp(cmd, "cells"))
            st = replicated(&cl, cmd_cells, sub_argc, sub_argv);
        else if (!strcmp(cmd, "config"))
            st = replicated(&cl, cmd_config, sub_argc, sub_argv);
        else if (!strcmp(cmd, "cases"))
            st = cluster_cases(&cl, sub_argc, sub_argv);
        else if (!strcmp(cmd, "ingest"))
            st = cluster_ingest(&cl, sub_argc, sub_argv);
        else if (!strcmp(cmd, "trace"))
            st = cluster_trace(&cl, sub_argc, sub_argv);
        else if (!strcmp(cmd, "run"))
            st = cluster_run(&cl, sub_argc, sub_argv);
        else
            st = cluster_stats(&cl, sub_argc, sub_argv);
    }
    cli_keys_wipe(&cl.ctx);
    MPI_Finalize();
    return st;
}
