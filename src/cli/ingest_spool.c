/*
 * ingest_spool.c — `celltrace ingest --spool DIR`: an operator's drop
 * folder, each file in it taken as one delivery by one process that stays.
 *
 * Why: an operator delivers every few hours, a file at a time. One process
 * per delivery pays a process start and opens the keys, the catalogue and
 * the subscribers again: about 12 ms a delivery on the 2-core VM, where a
 * whole demo city's 210 deliveries ingest their rows in 3.3 s. Here each
 * file is still its own delivery (its own commit, visible to traces once
 * committed, files in name order), but the process, the unlocked keys and
 * the open data directory stay.
 *
 * Safety:
 *   - a file is claimed before it is read: linked as .taking.NAME, its
 *     name NAME removed, so that a new NAME the operator sends meanwhile
 *     (a retried upload, a corrected file) is a file of its own, taken
 *     next, never removed unread. A claimed file left by a crash is taken
 *     first at the next look;
 *   - a file is removed only after its delivery is committed. A crash in
 *     between (or one that loses the removal, which is not fsync'd)
 *     ingests it again at the next start, where every row is a duplicate
 *     (dedupe is exact, SPEC 3.2): nothing is stored twice, and the
 *     file's rows are never lost;
 *   - a file that cannot be read (I/O, a broken .gz) moves to DIR/failed/
 *     with NAME.error saying why, and the spool goes on; a store that
 *     cannot commit stops the spool, the file still in place;
 *   - files named .*, *.part or *.tmp are being written: operators write
 *     under such a name and rename, which is atomic. A file is also left
 *     until its last change is --settle seconds old, for writers that
 *     cannot rename (this only narrows the window: renaming is the rule);
 *   - the writer lock is held while files are ingested, at most about
 *     HOLD_S seconds at a time, then released for other writers (run,
 *     cases import) before the next files.
 * Delivered files hold phone numbers in clear: removing them once stored
 * is part of keeping none at rest (SPEC 6).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define HOLD_S 5.0         /* longest hold of the writer lock before a pause */
#define LOCK_PAUSE_MS 50   /* the pause, for a writer that waits for the lock */
#define WAKE_MS 500        /* longest sleep between looks at the folder */
#define NAME_MAX_LEN 200
#define CLAIMED ".taking." /* a file being taken: hidden, so an operator's pattern skips it */

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A name an operator may still be writing, or not a delivery at all. */
static int name_in_progress(const char *name)
{
    return name[0] == '.' || ends_with(name, ".part") || ends_with(name, ".tmp");
}

static int is_claimed(const char *name)
{
    return strncmp(name, CLAIMED, strlen(CLAIMED)) == 0;
}

/* The delivery's own name: a claimed file's without the prefix. */
static const char *delivery_name(const char *name)
{
    return is_claimed(name) ? name + strlen(CLAIMED) : name;
}

/* Claimed files (a crash's leftovers) first, then by delivery name. */
static int by_name(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    if (is_claimed(x) != is_claimed(y))
        return is_claimed(x) ? -1 : 1;
    return strcmp(delivery_name(x), delivery_name(y));
}

typedef struct ready_list {
    char **names;
    size_t n, cap;
} ready_list;

static void ready_free(ready_list *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    memset(r, 0, sizeof *r);
}

/* The files of dir ready to be taken, in name order: regular files, not
 * in progress, last changed at least settle_s ago, and the claimed files a
 * crash left (first). -1 when the folder cannot be read (errno set). */
static int list_ready(const char *dir, double settle_s, ready_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d)) != NULL) {
        int claimed = is_claimed(e->d_name);
        if ((!claimed && name_in_progress(e->d_name)) || strlen(e->d_name) > NAME_MAX_LEN)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!claimed && settle_s > 0 && difftime(now, st.st_mtime) < settle_s)
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            char **grown = realloc(out->names, out->cap * sizeof *grown);
            if (!grown) {
                closedir(d);
                errno = ENOMEM;
                return -1;
            }
            out->names = grown;
        }
        if (!(out->names[out->n] = strdup(e->d_name))) {
            closedir(d);
            errno = ENOMEM;
            return -1;
        }
        out->n++;
    }
    closedir(d);
    qsort(out->names, out->n, sizeof *out->names, by_name);
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* A claimed file (from) that cannot be read goes to DIR/failed/NAME, with
 * NAME.error (the reason) written first, so that an operator finds both;
 * fsync'd. 0, or -1 (printed) when it could not be moved: the spool stops
 * rather than read it again and again. */
static int set_aside(const char *dir, const char *from, const char *name, const char *why)
{
    char failed[4096], to[4096], note[4096];
    if (snprintf(failed, sizeof failed, "%s/failed", dir) >= (int)sizeof failed ||
        snprintf(note, sizeof note, "%s/%s.error", failed, name) >= (int)sizeof note ||
        snprintf(to, sizeof to, "%s/%s", failed, name) >= (int)sizeof to) {
        cli_error("%s: the path of %s/failed is too long", name, dir);
        return -1;
    }
    if (mkdir(failed, 0700) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create %s: %s", name, failed, strerror(errno));
        return -1;
    }
    FILE *f = fopen(note, "w");
    int bad = !f;
    if (f) {
        fprintf(f, "%s\n", why);
        bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
        bad |= fclose(f) != 0;
    }
    if (bad)
        cli_error("%s: cannot write %s", name, note);
    if (rename(from, to) != 0) {
        cli_error("%s: cannot move it to %s: %s", name, failed, strerror(errno));
        return -1;
    }
    if (fsync_dir(failed) != 0 || fsync_dir(dir) != 0) {
        cli_error("%s: cannot make its move to %s durable: %s", name, failed, strerror(errno));
        return -1;
    }
    return 0;
}

typedef struct spool {
    cli_ctx *ctx;
    const cli_spool_args *args;
    ct_db *db;           /* open (writer lock held) while files are taken */
    double held_since;
    uint64_t deliveries, failed, rejected_rows;
    int runs_left;       /* a commit left days of several runs: merge them */
} spool;

static void print_delivery(const spool *s, const char *name, const ct_import_summary *sum)
{
    if (s->args->format && strcmp(s->args->format, "json") == 0) {
        fputs("{\"file\":", stdout);
        cli_json_text(stdout, name);
        printf(",\"rows_read\":%llu,\"stored\":%llu,\"duplicates\":%llu,\"rejected\":%llu,"
               "\"rejects\":",
               (unsigned long long)sum->rows_read, (unsigned long long)sum->stored,
               (unsigned long long)sum->duplicates, (unsigned long long)sum->rejected);
        cli_json_text(stdout, sum->rejects_path);
        fputs("}\n", stdout);
    } else {
        printf("ingest: %s: %llu rows read, %llu stored, %llu duplicates, %llu rejected\n", name,
               (unsigned long long)sum->rows_read, (unsigned long long)sum->stored,
               (unsigned long long)sum->duplicates, (unsigned long long)sum->rejected);
        if (sum->rejected)
            fprintf(stderr, "celltrace: %s: rejected rows are listed in %s\n", name,
                    sum->rejects_path);
    }
    fflush(stdout);
}

/* Claims file `entry` of the folder (above): *path is then the claimed
 * file's. 1 claimed, 0 gone or claimed already (left for the next look),
 * -1 failed (printed). */
static int claim(const spool *s, const char *entry, char *path, size_t size)
{
    char plain[4096];
    if (snprintf(plain, sizeof plain, "%s/%s", s->args->dir, entry) >= (int)sizeof plain ||
        snprintf(path, size, "%s/%s%s", s->args->dir, is_claimed(entry) ? "" : CLAIMED, entry) >=
            (int)size) {
        cli_error("%s: the path is too long", entry);
        return -1;
    }
    if (is_claimed(entry))
        return 1;
    if (link(plain, path) != 0) {
        if (errno == ENOENT || errno == EEXIST)
            return 0; /* taken away by the operator, or a claimed one to take first */
        cli_error("%s: cannot claim it: %s", entry, strerror(errno));
        return -1;
    }
    if (unlink(plain) != 0) {
        cli_error("%s: cannot claim it: %s", entry, strerror(errno));
        return -1;
    }
    return 1;
}

/* One file, one delivery. 1 taken (stored or set aside), 0 left for the
 * next look, -1 the store failed or the file could not be set aside (it
 * stays claimed; the spool stops, and takes it first when started again). */
static int deliver(spool *s, const char *entry)
{
    char path[4096];
    const char *name = delivery_name(entry);
    int claimed = claim(s, entry, path, sizeof path);
    if (claimed <= 0)
        return claimed;
    ct_import_opts io = s->args->io;
    io.memory_mb = cli_ingest_memory_mb();
    ct_ingest *in = NULL;
    ct_import_summary sum;
    ct_err err;
    ct_code rc = ct_ingest_begin(s->db, s->args->op, &io, &in, &err);
    if (rc) {
        cli_error("%s: %s", name, err.msg);
        return -1;
    }
    if (ct_ingest_file(in, path, &err) != CT_OK) {
        ct_ingest_abort(in);
        cli_error("%s: %s; moved to %s/failed/", name, err.msg, s->args->dir);
        if (set_aside(s->args->dir, path, name, err.msg) != 0)
            return -1;
        s->failed++;
        return 1;
    }
    if (ct_ingest_commit(in, &sum, &err) != CT_OK) {
        cli_error("%s: %s", name, err.msg);
        cli_error("nothing of %s was stored; it stays in %s as %s%s", name, s->args->dir, CLAIMED,
                  name);
        return -1;
    }
    s->deliveries++;
    s->rejected_rows += sum.rejected;
    s->runs_left |= sum.days_of_runs > 0;
    print_delivery(s, name, &sum);
    /* The removal is not fsync'd: one lost in a crash only brings the file
     * back, and taking it again stores nothing (every row a duplicate). */
    if (unlink(path) != 0) {
        cli_error("%s: stored, but cannot remove it: %s", name, strerror(errno));
        return -1;
    }
    return 1;
}

static void release(spool *s)
{
    if (s->db)
        ct_close(s->db);
    s->db = NULL;
}

static int acquire(spool *s)
{
    if (s->db)
        return 0;
    s->db = cli_open(s->ctx, 1);
    s->held_since = now_s();
    return s->db ? 0 : -1;
}

/* The days left in several runs are merged as --compact says, with the
 * directory closed (a merge takes its own locks). */
static void merge_runs(spool *s)
{
    if (!s->runs_left)
        return;
    s->runs_left = 0;
    ct_compact_summary merged;
    ct_err err;
    if (!strcmp(s->args->compact, "now")) {
        if (ct_compact(s->ctx->data_dir, &merged, &err) != CT_OK)
            cli_error("the events were stored, but merging their days failed: %s", err.msg);
    } else if (!strcmp(s->args->compact, "background")) {
        fflush(NULL);
        cli_compact_in_background(s->ctx->data_dir);
    }
}

/* Takes every ready file, in name order, until a look finds none it can
 * take. 0, or -1 when the store failed or the folder cannot be read. */
static int drain(spool *s)
{
    for (;;) {
        ready_list ready = {NULL, 0, 0};
        if (list_ready(s->args->dir, s->args->settle_s, &ready) != 0) {
            cli_error("cannot read %s: %s", s->args->dir, strerror(errno));
            return -1;
        }
        if (ready.n == 0) {
            ready_free(&ready);
            release(s);
            return 0;
        }
        size_t taken = 0;
        for (size_t i = 0; i < ready.n && !stop_requested; i++) {
            if (s->db && now_s() - s->held_since > HOLD_S) {
                release(s); /* a writer waiting for the lock gets its turn */
                struct timespec pause = {0, LOCK_PAUSE_MS * 1000000L};
                nanosleep(&pause, NULL);
            }
            int got = acquire(s) != 0 ? -1 : deliver(s, ready.names[i]);
            if (got < 0) {
                ready_free(&ready);
                release(s);
                return -1;
            }
            taken += (size_t)got;
        }
        ready_free(&ready);
        if (stop_requested || !taken) { /* nothing could be taken: wait for a change */
            release(s);
            return 0;
        }
    }
}

/* Waits until the folder changes, WAKE_MS passes (a file may have settled
 * meanwhile) or a signal comes. inotify_fd < 0: just sleeps. */
static void wait_for_files(int inotify_fd)
{
    if (inotify_fd < 0) {
        struct timespec pause = {0, WAKE_MS * 1000000L};
        nanosleep(&pause, NULL);
        return;
    }
    struct pollfd p = {inotify_fd, POLLIN, 0};
    if (poll(&p, 1, WAKE_MS) > 0) {
        char events[4096];
        while (read(inotify_fd, events, sizeof events) > 0) {
        }
    }
}

int cli_ingest_spool(cli_ctx *ctx, const cli_spool_args *args)
{
    struct stat st;
    if (stat(args->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("--spool %s is not a folder", args->dir);
        return EXIT_FAIL;
    }
    spool s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.args = args;
    /* the operator is checked before any file is taken */
    if (acquire(&s) != 0)
        return EXIT_FAIL;
    ct_ingest *probe = NULL;
    ct_err err;
    if (ct_ingest_begin(s.db, args->op, &args->io, &probe, &err) != CT_OK) {
        cli_error("%s", err.msg);
        release(&s);
        return EXIT_FAIL;
    }
    ct_ingest_abort(probe);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a wait ends at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int inotify_fd = -1;
    if (!args->once) {
        inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (inotify_fd >= 0 &&
            inotify_add_watch(inotify_fd, args->dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB) < 0) {
            close(inotify_fd);
            inotify_fd = -1;
        }
        if (ctx->progress)
            fprintf(stderr, "celltrace: taking %s's deliveries from %s (Ctrl-C stops)\n", args->op,
                    args->dir);
    }
    int failed = 0;
    while (!stop_requested) {
        if (drain(&s) != 0) {
            failed = 1;
            break;
        }
        merge_runs(&s);
        if (args->once)
            break;
        wait_for_files(inotify_fd);
    }
    release(&s);
    merge_runs(&s);
    if (inotify_fd >= 0)
        close(inotify_fd);
    if (args->format && strcmp(args->format, "json") == 0)
        printf("{\"deliveries\":%llu,\"failed_files\":%llu,\"rejected\":%llu}\n",
               (unsigned long long)s.deliveries, (unsigned long long)s.failed,
               (unsigned long long)s.rejected_rows);
    else if (!ctx->quiet)
        fprintf(stderr, "celltrace: %s: files stored %llu, set aside in failed/ %llu\n",
                args->dir, (unsigned long long)s.deliveries, (unsigned long long)s.failed);
    if (failed || s.failed)
        return EXIT_FAIL;
    return s.rejected_rows ? EXIT_REJECTS : EXIT_OK;
}
