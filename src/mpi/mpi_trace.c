/*
 * mpi_trace.c — `celltrace-mpi trace`: the CLI's own trace command on
 * rank 0, with every trace done by all ranks at once.
 *
 * Rank 0 runs cmd_trace (parsing, order of cases, printing: the same
 * code as celltrace) with a cli_tracer that sends each request to the
 * other ranks, which wait for requests until rank 0 says the end. For one
 * case (celltrace_cluster.h):
 *   1. every rank looks for the case; the one that holds it reads the
 *      case's presence and broadcasts it;
 *   2. every rank matches its own subscribers against it;
 *   3. scored: the crowd numbers are summed over the ranks (Allreduce);
 *   4. every rank reads its contacts' numbers from its own vault, audits
 *      the read in its own log, and sends them to rank 0, which sorts the
 *      union as one machine sorts.
 * `run` (cluster_run) gives each shard's ct_run_shard the cluster's case
 * list, the vote on which cases to trace, and steps 1-3 for each of them;
 * each shard keeps its own contacts (no number read) and commits alone.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "celltrace_notify.h"
#include "cluster.h"

enum { REQ_TRACE = 1, REQ_CASE_IDS, REQ_END };

typedef struct trace_req {
    int op;
    int scored;
    ct_params p;
    double test_threshold, quarantine_threshold;
    int min_level, without_numbers, has_timezone;
    char timezone[128];
    char case_id[CT_ID_MAX + 1];
} trace_req;

typedef struct trace_service {
    cluster *cl;
    ct_db *db;
    ct_risk_model *model; /* --model, loaded by every rank; NULL: built in */
} trace_service;

/* ---- one case, on every rank ---------------------------------------------------------- */

/* The rank whose shard holds the case, its presence broadcast to all:
 * 0, or CT_* with err set on rank 0. */
static ct_code share_presence(trace_service *sv, const char *case_id, const ct_params *p,
                              void **bytes, size_t *len, ct_err *err)
{
    ct_code rc = ct_case_presence(sv->db, case_id, p, bytes, len, err);
    int here = rc == CT_OK ? sv->cl->rank : -1, owner, bad = rc != CT_OK && rc != CT_ENOTFOUND;
    int any_bad;
    MPI_Allreduce(&here, &owner, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_bad || owner < 0) {
        free(*bytes);
        *bytes = NULL;
        if (any_bad && !bad)
            snprintf(err->msg, sizeof err->msg, "another shard failed to read case %s", case_id);
        return rc != CT_OK ? rc : CT_EIO; /* owner < 0: rank 0 has "no case with case_id" */
    }
    unsigned long long n = *len;
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, owner, MPI_COMM_WORLD);
    if (sv->cl->rank != owner) {
        *len = (size_t)n;
        *bytes = malloc(*len + 1);
    }
    MPI_Bcast(*bytes, (int)n, MPI_BYTE, owner, MPI_COMM_WORLD);
    return CT_OK;
}

/* Every rank's status after a step: CT_OK only when all are. */
static ct_code all_ok(ct_code mine, ct_err *err)
{
    int bad = mine != CT_OK, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any && !bad) {
        snprintf(err->msg, sizeof err->msg, "another shard failed (see its message)");
        return CT_EIO;
    }
    return mine;
}

static void risk_of(const trace_service *sv, const trace_req *q, ct_risk_opts *r)
{
    ct_risk_opts_default(r);
    r->model = sv->model;
    r->test_threshold = q->test_threshold;
    r->quarantine_threshold = q->quarantine_threshold;
    r->min_level = (ct_level)q->min_level;
    r->without_numbers = q->without_numbers;
    r->timezone = q->has_timezone ? q->timezone : NULL;
}

/* This rank's contacts to rank 0, joined there into *out (rank 0 only). */
static void gather_contacts(trace_service *sv, const trace_req *q, ct_contacts *mine,
                            ct_contacts **out)
{
    cluster *cl = sv->cl;
    int n = (int)mine->n, *counts = NULL, *offs = NULL, total = 0;
    uint64_t work[2] = {mine->candidates, mine->overlaps};
    MPI_Reduce(cl->rank == 0 ? MPI_IN_PLACE : work, work, 2, MPI_UINT64_T, MPI_SUM, 0,
               MPI_COMM_WORLD);
    if (cl->rank == 0) {
        counts = calloc(cluster_ranks(cl), sizeof *counts);
        offs = calloc(cluster_ranks(cl), sizeof *offs);
    }
    MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ct_contacts *all = NULL;
    if (cl->rank == 0) {
        for (int k = 0; k < cl->size; k++)
            total += counts[k];
        all = ct_contacts_alloc(q->case_id, (size_t)total, q->scored);
        all->n = (size_t)total;
        all->case_intervals = mine->case_intervals;
        all->candidates = work[0];
        all->overlaps = work[1];
    }
    /* counts and offsets in records (an MPI type per record), so that a
     * count in bytes cannot overflow an int */
    if (cl->rank == 0)
        for (int k = 0, at = 0; k < cl->size; k++) {
            offs[k] = at;
            at += counts[k];
        }
    for (int pass = 0; pass < 1 + q->scored; pass++) {
        MPI_Datatype record;
        MPI_Type_contiguous(pass ? (int)sizeof(ct_evidence) : (int)sizeof(ct_contact), MPI_BYTE,
                            &record);
        MPI_Type_commit(&record);
        void *send = pass ? (void *)mine->evidence : (void *)mine->items;
        void *recv = cl->rank == 0 ? (pass ? (void *)all->evidence : (void *)all->items) : NULL;
        MPI_Gatherv(send, n, record, recv, counts, offs, record, 0, MPI_COMM_WORLD);
        MPI_Type_free(&record);
    }
    if (cl->rank == 0)
        ct_contacts_sort(all, q->scored);
    free(counts);
    free(offs);
    *out = all;
}

/* One case on every rank: this rank's contacts in *mine (risk: NULL for
 * a plain trace). */
static ct_code trace_here(trace_service *sv, const char *case_id, const ct_params *p,
                          const ct_risk_opts *risk, ct_contacts **mine, ct_err *err)
{
    *mine = NULL;
    void *presence = NULL;
    size_t len = 0;
    ct_code rc = share_presence(sv, case_id, p, &presence, &len, err);
    if (rc)
        return rc;
    ct_trace_part *part = NULL;
    rc = all_ok(ct_trace_part_begin(sv->db, case_id, p, risk, presence, len, &part, err), err);
    free(presence);
    if (rc) {
        ct_trace_part_free(part);
        return rc;
    }
    size_t n_crowd = 0;
    const int64_t *crowd = ct_trace_part_crowd(part, &n_crowd);
    int64_t *sum = NULL;
    if (risk) {
        sum = malloc((n_crowd + 1) * sizeof *sum);
        MPI_Allreduce(crowd, sum, (int)n_crowd, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    }
    rc = all_ok(ct_trace_part_finish(part, sum, mine, err), err);
    free(sum);
    if (rc) {
        ct_contacts_free(*mine);
        *mine = NULL;
    }
    return rc;
}

/* One case on every rank; *out on rank 0. */
static ct_code trace_case(trace_service *sv, const trace_req *q, ct_contacts **out, ct_err *err)
{
    *out = NULL;
    ct_risk_opts risk;
    if (q->scored)
        risk_of(sv, q, &risk);
    ct_contacts *mine = NULL;
    ct_code rc = trace_here(sv, q->case_id, &q->p, q->scored ? &risk : NULL, &mine, err);
    if (!rc)
        gather_contacts(sv, q, mine, out);
    ct_contacts_free(mine);
    return rc;
}

/* ---- the case ids of every shard, sorted ------------------------------------------- */

static ct_code run_cases(void *ud, ct_case **out, size_t *n, ct_err *err);

/* Gathers every shard's cases; rank 0 hands their ids to fn in order. */
static ct_code case_ids(trace_service *sv, ct_case_id_fn fn, void *fn_ud, ct_err *err)
{
    ct_case *all = NULL;
    size_t n = 0;
    ct_code rc = run_cases(sv, &all, &n, err);
    for (size_t i = 0; !rc && sv->cl->rank == 0 && i < n; i++)
        if (fn(fn_ud, all[i].case_id))
            break;
    free(all);
    return rc;
}

/* ---- rank 0 asks, the others serve ----------------------------------------------------- */

static ct_code ask_trace(void *ud, const char *case_id, const ct_params *p, const ct_risk_opts *risk,
                         ct_contacts **out, ct_err *err)
{
    trace_service *sv = ud;
    trace_req q;
    memset(&q, 0, sizeof q);
    q.op = REQ_TRACE;
    q.p = *p;
    snprintf(q.case_id, sizeof q.case_id, "%s", case_id);
    if (risk) {
        q.scored = 1;
        q.test_threshold = risk->test_threshold;
        q.quarantine_threshold = risk->quarantine_threshold;
        q.min_level = (int)risk->min_level;
        q.without_numbers = risk->without_numbers;
        q.has_timezone = risk->timezone != NULL;
        if (risk->timezone)
            snprintf(q.timezone, sizeof q.timezone, "%s", risk->timezone);
    }
    MPI_Bcast(&q, (int)sizeof q, MPI_BYTE, 0, MPI_COMM_WORLD);
    return trace_case(sv, &q, out, err);
}

static ct_code ask_case_ids(void *ud, ct_case_id_fn fn, void *fn_ud, ct_err *err)
{
    trace_service *sv = ud;
    trace_req q;
    memset(&q, 0, sizeof q);
    q.op = REQ_CASE_IDS;
    MPI_Bcast(&q, (int)sizeof q, MPI_BYTE, 0, MPI_COMM_WORLD);
    return case_ids(sv, fn, fn_ud, err);
}

static void serve_requests(trace_service *sv)
{
    for (;;) {
        trace_req q;
        MPI_Bcast(&q, (int)sizeof q, MPI_BYTE, 0, MPI_COMM_WORLD);
        ct_err err;
        if (q.op == REQ_END)
            return;
        if (q.op == REQ_CASE_IDS) {
            case_ids(sv, NULL, NULL, &err);
        } else {
            ct_contacts *none = NULL;
            if (trace_case(sv, &q, &none, &err) != CT_OK && strstr(err.msg, "another shard") == NULL &&
                strstr(err.msg, "no case with") == NULL)
                cli_error("shard %d: %s", sv->cl->rank, err.msg);
        }
    }
}

/* --model FILE (or --model=FILE) of the command line, for every rank,
 * read as getopt_long reads it: any unambiguous prefix down to "--mo"
 * (--max-presence and --min-exposure also start with "--m"), up to "--". */
static const char *model_option(int argc, char **argv)
{
    const char *found = NULL;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len < 4 || strncmp(a, "--model", len) != 0)
            continue;
        if (eq)
            found = eq + 1;
        else if (i + 1 < argc)
            found = argv[++i];
    }
    return found; /* the last one, as getopt leaves it */
}

int cluster_trace(cluster *cl, int argc, char **argv)
{
    trace_service sv = {cl, NULL, NULL};
    int st = EXIT_OK;
    ct_err err;
    const char *model_path = model_option(argc, argv);
    if (model_path && ct_risk_model_load(model_path, &sv.model, &err) != CT_OK) {
        if (cl->rank == 0)
            cli_error("%s", err.msg);
        st = EXIT_FAIL;
    }
    if (st == EXIT_OK) {
        sv.db = cli_open(&cl->ctx, 0);
        if (!sv.db)
            st = EXIT_FAIL;
        else
            ct_db_cache_numbers(sv.db); /* each number decrypted once per command */
    }
    st = cluster_status(cl, st);
    if (st == EXIT_OK) {
        if (cl->rank == 0) {
            cli_tracer tracer = {ask_trace, ask_case_ids, &sv};
            cl->ctx.tracer = &tracer;
            optind = 0;
            st = cmd_trace(&cl->ctx, argc, argv);
            cl->ctx.tracer = NULL;
            trace_req end;
            memset(&end, 0, sizeof end);
            end.op = REQ_END;
            MPI_Bcast(&end, (int)sizeof end, MPI_BYTE, 0, MPI_COMM_WORLD);
        } else {
            serve_requests(&sv);
        }
    }
    ct_db_forget_numbers(sv.db);
    ct_close(sv.db);
    ct_risk_model_free(sv.model);
    int root_st = st;
    MPI_Bcast(&root_st, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return root_st;
}

/* ---- run: every shard's ct_run_shard at once ---------------------------------------- */

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const ct_case *)a)->case_id, ((const ct_case *)b)->case_id);
}

/* Every shard's cases (no numbers) to every rank, sorted by case_id. */
static ct_code run_cases(void *ud, ct_case **out, size_t *n, ct_err *err)
{
    trace_service *sv = ud;
    ct_case *mine = NULL;
    size_t n_mine = 0;
    ct_code rc = all_ok(ct_cases_unnumbered(sv->db, &mine, &n_mine, err), err);
    *out = NULL;
    *n = 0;
    if (rc) {
        free(mine);
        return rc;
    }
    ct_case *all = cluster_allgather(sv->cl, mine, n_mine, sizeof *mine, n);
    qsort(all, *n, sizeof *all, cmp_case);
    *out = all;
    free(mine);
    return CT_OK;
}

static void run_need(void *ud, unsigned char *flags, size_t n)
{
    (void)ud;
    MPI_Allreduce(MPI_IN_PLACE, flags, (int)n, MPI_UNSIGNED_CHAR, MPI_BOR, MPI_COMM_WORLD);
}

static ct_code run_trace(void *ud, ct_code mine, const char *const *ids, size_t n,
                         const ct_params *p, const ct_risk_opts *risk, ct_trace_many_fn fn,
                         void *fn_ud, ct_err *err)
{
    trace_service *sv = ud;
    ct_code rc = all_ok(mine, err);
    for (size_t i = 0; i < n && !rc; i++) {
        ct_contacts *cs = NULL;
        rc = trace_here(sv, ids[i], p, risk, &cs, err);
        if (rc)
            break;
        int bad = fn(fn_ud, i, cs, 0) != 0, any;
        ct_contacts_free(cs);
        cluster_fault_point(sv->cl, "run-traced");
        MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (bad)
            rc = CT_EIO; /* fn's message is the caller's */
        else if (any) {
            snprintf(err->msg, sizeof err->msg, "another shard failed (see its message)");
            rc = CT_EIO;
        }
    }
    return rc;
}

int cluster_run(cluster *cl, int argc, char **argv)
{
    static const struct option opts[] = {CLI_PARAM_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ct_params p;
    ct_params_default(&p);
    optind = 0;
    int c, got;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            if (cl->rank == 0)
                printf("Usage: mpirun -n N celltrace-mpi [--data DIR] [--reason TEXT] run [options]\n\n"
                       "As `celltrace run`, on the cluster: every case that is new or whose window\n"
                       "received data in any shard is traced by all ranks; each shard stores its own\n"
                       "subscribers' contacts and queues their notifications in its own tables, in\n"
                       "its own transaction (docs/CLUSTER.md). Options: the SPEC 4 parameters.\n"
                       CLI_PARAM_HELP);
            return EXIT_OK;
        }
        if ((got = cli_param_option(c, optarg, &p)) <= 0) {
            if (cl->rank == 0)
                cli_usage_error("run", got < 0 ? "a parameter is out of range" : "unknown option");
            return EXIT_USAGE;
        }
    }
    ct_err err;
    if (optind != argc || ct_params_check(&p, &err) != CT_OK) {
        if (cl->rank == 0)
            cli_usage_error("run", "%s", optind != argc ? "run takes no arguments" : err.msg);
        return EXIT_USAGE;
    }
    trace_service sv = {cl, NULL, NULL};
    sv.db = cli_open(&cl->ctx, 0);
    int st = cluster_status(cl, sv.db ? EXIT_OK : EXIT_FAIL);
    if (st != EXIT_OK) {
        ct_close(sv.db);
        return st;
    }
    ct_run_cluster hooks = {run_cases, run_need, run_trace, &sv};
    ct_run_summary s;
    ct_code rc = ct_run_shard(sv.db, &p, &hooks, &s, &err);
    ct_close(sv.db);
    if (!rc)
        cluster_fault_point(cl, "run-committed");
    if (rc && strstr(err.msg, "another shard") == NULL)
        cli_error("shard %d: %s", cl->rank, err.msg);
    st = cluster_status(cl, rc ? EXIT_FAIL : EXIT_OK);
    if (st != EXIT_OK) {
        if (cl->rank == 0)
            cli_error("the run failed: a shard whose transaction had committed keeps its results; "
                      "the next run traces its cases again");
        return st;
    }
    /* the same on every shard: cases; the shards' own: contacts, messages */
    uint64_t v[7] = {s.contacts, s.queued, s.extensions, s.invitations, s.level_quarantine,
                     s.level_test, s.level_none};
    cluster_sum_u64(v, 7);
    if (cl->rank == 0) {
        s.contacts = v[0];
        s.queued = v[1];
        s.extensions = v[2];
        s.invitations = v[3];
        s.level_quarantine = v[4];
        s.level_test = v[5];
        s.level_none = v[6];
        cli_print_run_summary(&s);
    }
    return EXIT_OK;
}
