/*
 * ingest_spool.c — `celltrace ingest --spool DIR`: an operator's drop
 * folder, each file in it taken as one delivery by one process that stays.
 *
 * Why: an operator delivers every few hours, a file at a time. One process
 * per delivery pays a process start and opens the keys, the catalogue and
 * the subscribers again: about 12 ms a delivery on the 2-core VM, where a
 * whole demo city's 210 deliveries ingest their rows in 3.3 s. Here each
 * file is still its own delivery (its own commit and reject report,
 * visible to traces once committed, files in name order), but the
 * process, the unlocked keys and the open data directory stay.
 *
 * The operator may write DIR; the spool trusts nothing it finds there:
 *   - a file is claimed before it is read: renamed into DIR/.taking/, a
 *     folder of the spool's own (0700; refused when another made it), so
 *     a new NAME sent meanwhile (a retried upload, a corrected file) is a
 *     file of its own, never removed unread, and what is read cannot be
 *     swapped (a claimed entry must be a regular file). A rename needs no
 *     right on the file itself, as a link would (protected_hardlinks).
 *     Claimed files a crash left are taken first. One spool a folder: the
 *     claim folder is flock'd. A claimed file is read relative to the
 *     folder's descriptor (fchdir, the data directory's path made
 *     absolute first), so renaming .taking away (DIR has no sticky bit
 *     unless the admin sets it) changes nothing read;
 *   - a file the spool may not read is not claimed: it stays in DIR, and
 *     the spool says so once;
 *   - a file is removed only after its delivery is committed. A crash in
 *     between (or one that loses the removal, which is not fsync'd) takes
 *     it again at the next start, where every row is a duplicate (dedupe
 *     is exact, SPEC 3.2): nothing is stored twice, nor lost;
 *   - a file whose content cannot be taken (CT_EINVAL: broken .gz, no
 *     header; CT_ELIMIT: past a batch's limits; not a regular file; a
 *     read the disk still refuses, EIO/EBADMSG/EUCLEAN, 10 minutes after
 *     the first time)
 *     moves to DIR/failed/ (never over an earlier one) beside NAME.error
 *     saying why, readable by the folder's group; any other failure (the
 *     store, I/O elsewhere, a read error younger than that) stops the
 *     spool with the file still claimed, rather than divert good
 *     deliveries;
 *   - files named .*, *.part or *.tmp are being written: operators write
 *     under such a name and rename, which is atomic. A file is also left
 *     until its last change is --settle seconds old, for writers that
 *     cannot rename (this only narrows the window: renaming is the rule);
 *   - the writer lock is held while files are taken, at most about HOLD_S
 *     seconds at a time, then released for other writers (run, cases
 *     import) before the next files; it is not held while the folder is
 *     empty.
 * Delivered files hold phone numbers in clear: removing them once stored
 * is part of keeping none at rest (SPEC 6). Files set aside in failed/
 * stay for someone to deal with (README.Debian), as long as retention
 * lets events stay: then they are removed (expire_failed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define HOLD_S 5.0         /* longest hold of the writer lock before a pause */
#define LOCK_PAUSE_MS 50   /* the pause, for a writer that waits for the lock */
#define WAKE_MS 500        /* longest sleep between looks at the folder */
#define TAKING ".taking"   /* the claim folder in DIR */
#define FAILED "failed"    /* where unreadable files go, in DIR */
#define FAILED_COPIES 1000 /* NAME, NAME.1 ... in failed/ */
#define EXPIRE_EVERY_S 3600.0 /* how often retention looks at failed/ */
#define UNREADABLE_FOR_S 600 /* a read error this old is the file's (unreadable_again) */

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SIGINT and SIGTERM end the spool after the delivery under way, or at
 * once where it waits (for files, or for another writer). */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a wait ends at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
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

/* A name an operator may still be writing, or not a delivery at all
 * (TAKING and FAILED are folders, skipped anyway). */
static int name_in_progress(const char *name)
{
    return name[0] == '.' || ends_with(name, ".part") || ends_with(name, ".tmp");
}

typedef struct entry {
    char *name;
    int claimed; /* in TAKING already: a crash's leftover */
} entry;

typedef struct entry_list {
    entry *e;
    size_t n, cap;
} entry_list;

static void entries_free(entry_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].name);
    free(l->e);
    memset(l, 0, sizeof *l);
}

/* Claimed files first, then by name. */
static int by_claim_then_name(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->claimed != y->claimed)
        return x->claimed ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int entries_add(entry_list *l, const char *name, int claimed)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        entry *grown = realloc(l->e, cap * sizeof *grown);
        if (!grown)
            return -1;
        l->e = grown;
        l->cap = cap;
    }
    if (!(l->e[l->n].name = strdup(name)))
        return -1;
    l->e[l->n++].claimed = claimed;
    return 0;
}

/* Adds the entries of folder fd (not closed) that are ready: every one
 * when claimed (the claim folder), else the regular files not in progress
 * whose last change is at least settle_s old. -1 (errno set) on failure. */
static int add_ready(int fd, int claimed, double settle_s, entry_list *out)
{
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return -1;
    }
    rewinddir(d);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (claimed) { /* all of them (deliver sets aside what is not a file), but
                        * the spool's own notes: a claimed name never starts with . */
            if (e->d_name[0] != '.')
                rc = entries_add(out, e->d_name, 1);
            continue;
        }
        struct stat st;
        if (name_in_progress(e->d_name) ||
            fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        double age = (double)(now.tv_sec - st.st_mtim.tv_sec) +
                     (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
        if (settle_s > 0 && age < settle_s)
            continue;
        rc = entries_add(out, e->d_name, 0);
    }
    closedir(d);
    if (rc)
        errno = ENOMEM;
    return rc;
}

typedef struct spool {
    cli_ctx *ctx;
    const cli_spool_args *args;
    int dir_fd;          /* DIR */
    int cwd_fd;          /* the working folder, to come back to after a read */
    int taking_fd;       /* DIR/.taking, flock'd: one spool a folder */
    ct_db *db;           /* open (writer lock held) while files are taken */
    double held_since;
    uint64_t deliveries, failed, rejected_rows;
    int runs_left;       /* a commit left days of several runs: merge them */
    entry_list unreadable; /* names said once to be unreadable */
    double expired_at;   /* when retention last looked at failed/ (now_s) */
} spool;

/* The claim folder: made 0700 if missing, refused unless it is a folder
 * of this user's (the operator could have made it, or a link), locked. */
static int open_claim_folder(spool *s)
{
    if (mkdirat(s->dir_fd, TAKING, 0700) != 0 && errno != EEXIST) {
        cli_error("cannot create %s/%s: %s", s->args->dir, TAKING, strerror(errno));
        return -1;
    }
    s->taking_fd = openat(s->dir_fd, TAKING, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (s->taking_fd < 0 || fstat(s->taking_fd, &st) != 0) {
        cli_error("cannot open %s/%s: %s", s->args->dir, TAKING, strerror(errno));
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        cli_error("%s/%s is not this user's own folder (mode 0700): remove it", s->args->dir,
                  TAKING);
        return -1;
    }
    if (flock(s->taking_fd, LOCK_EX | LOCK_NB) != 0) {
        cli_error(errno == EWOULDBLOCK ? "another spool takes %s's files" : "cannot lock %s: %s",
                  s->args->dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes `why` and a newline into file `name` of folder dir_fd, made with
 * `mode` whatever the umask, fsync'd. 0, or -1 (errno set). */
static int write_note(int dir_fd, const char *name, const char *why, mode_t mode)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(why);
    errno = EIO; /* a short write sets none */
    int bad = fchmod(fd, mode) != 0 || write(fd, why, len) != (ssize_t)len ||
              write(fd, "\n", 1) != 1 || fsync(fd) != 0;
    bad |= close(fd) != 0;
    return bad ? -1 : 0;
}

/* Writes the reason beside a file set aside: NAME.error, readable by the
 * folder's group (the operator's). */
static int write_reason(int failed_fd, const char *target, const char *why)
{
    char note[NAME_MAX + 16];
    if (snprintf(note, sizeof note, "%s.error", target) > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return write_note(failed_fd, note, why, 0640);
}

/* failed/, opened without following a link, only when it is the spool's
 * own: the operator may write DIR and could have made it, or renamed the
 * spool's away and made another. -1 otherwise, said (`what` it was for)
 * unless it is missing and may be. */
static int open_failed_folder(spool *s, const char *what, int missing_ok)
{
    int fd = openat(s->dir_fd, FAILED, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        if (errno != ENOENT || !missing_ok)
            cli_error("cannot open %s/%s %s: %s", s->args->dir, FAILED, what, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
        cli_error("%s/%s is not this user's folder: not used %s; remove it", s->args->dir, FAILED,
                  what);
        close(fd);
        return -1;
    }
    fchmod(fd, 0750); /* the operator's group reads what failed, not the umask */
    return fd;
}

/* Whether `target` may take a file set aside: neither it nor its note is
 * in failed/, and it is no note's name (X.error: X's note would overwrite
 * it). */
static int name_free_in_failed(int failed_fd, const char *target)
{
    struct stat st;
    char note[NAME_MAX + 16];
    snprintf(note, sizeof note, "%s.error", target);
    return !ends_with(target, ".error") &&
           fstatat(failed_fd, target, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
           fstatat(failed_fd, note, &st, AT_SYMLINK_NOFOLLOW) != 0;
}

/* A claimed file whose content cannot be read goes to DIR/failed/NAME (or
 * NAME.1 ..., never over an earlier one), after NAME.error saying why;
 * fsync'd, and counted. failed/ is opened without following links (the
 * operator could plant one). 0, or -1 (printed): the spool then stops
 * rather than read the file again and again. */
static int set_aside(spool *s, const char *name, const char *why)
{
    if (mkdirat(s->dir_fd, FAILED, 0750) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create %s/%s: %s", name, s->args->dir, FAILED, strerror(errno));
        return -1;
    }
    int failed_fd = open_failed_folder(s, "to set a file aside", 0);
    if (failed_fd < 0)
        return -1;
    /* NAME, NAME.1 ...: cut so that NAME.999.error fits a file name; a
     * name is free when neither it nor its note is there, and it is not
     * itself a note's (X.error: X's note would overwrite it) */
    char target[NAME_MAX + 1];
    const int base = NAME_MAX - (int)strlen(".999.error");
    int n = 0;
    snprintf(target, sizeof target, "%.*s", base, name);
    while (!name_free_in_failed(failed_fd, target) && ++n < FAILED_COPIES)
        snprintf(target, sizeof target, "%.*s.%d", base, name, n);
    int rc = -1;
    if (n >= FAILED_COPIES)
        cli_error("%s: %s/%s holds %d copies of it already", name, s->args->dir, FAILED, n);
    else if (write_reason(failed_fd, target, why) != 0)
        cli_error("%s: cannot write the reason beside it in %s/%s: %s", name, s->args->dir, FAILED,
                  strerror(errno));
    else if (renameat(s->taking_fd, name, failed_fd, target) != 0)
        cli_error("%s: cannot move it to %s/%s: %s", name, s->args->dir, FAILED, strerror(errno));
    else if (fsync(failed_fd) != 0 || fsync(s->taking_fd) != 0)
        cli_error("%s: cannot make its move to %s/%s durable: %s", name, s->args->dir, FAILED,
                  strerror(errno));
    else
        rc = 0;
    close(failed_fd);
    s->failed += rc == 0;
    return rc;
}

/* The age in seconds of entry `name` of failed/ by the time it was set
 * aside: its note's last change (NAME.error, written then, in a folder of
 * the spool's own), else its own inode change (the rename into failed/
 * made one); a note whose file is gone by its own last change. -1 when it
 * is gone, is a note that goes with its file, or its age cannot be told.
 * The note is looked for first: a delivery named X.error is set aside
 * under another name (set_aside), but an older one may be there. */
static double set_aside_age(int failed_fd, const char *name, time_t now)
{
    struct stat st;
    char other[NAME_MAX + 16];
    if (snprintf(other, sizeof other, "%s.error", name) <= NAME_MAX &&
        fstatat(failed_fd, other, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return difftime(now, st.st_mtim.tv_sec);
    if (ends_with(name, ".error")) {
        snprintf(other, sizeof other, "%.*s", (int)(strlen(name) - strlen(".error")), name);
        if (fstatat(failed_fd, other, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return -1; /* it goes with its file */
        return fstatat(failed_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
                   ? difftime(now, st.st_mtim.tv_sec)
                   : -1;
    }
    return fstatat(failed_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
               ? difftime(now, st.st_ctim.tv_sec)
               : -1;
}

/* Retention reaches the files set aside, which hold numbers in clear as
 * the events did: each goes (with its note) once it was set aside longer
 * ago than the retention period (--retention-days, default 21 days), at
 * the spool's start and then hourly. `never` keeps them. What cannot be
 * removed (a folder set aside with files in it) is said, and stays. */
static void expire_failed(spool *s)
{
    int days = s->args->io.retention_days;
    if (days == CT_RETENTION_NEVER)
        return;
    if (s->expired_at > 0 && now_s() - s->expired_at < EXPIRE_EVERY_S)
        return;
    s->expired_at = now_s();
    if (!days)
        days = CT_RETENTION_DAYS_DEFAULT;
    int failed_fd = open_failed_folder(s, "to apply retention", 1);
    DIR *d = failed_fd >= 0 ? fdopendir(failed_fd) : NULL;
    if (!d) {
        if (failed_fd >= 0)
            close(failed_fd);
        return;
    }
    time_t now = time(NULL);
    entry_list expired = {NULL, 0, 0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            set_aside_age(failed_fd, e->d_name, now) > (double)days * 86400.0)
            entries_add(&expired, e->d_name, 0);
    for (size_t i = 0; i < expired.n; i++) {
        const char *name = expired.e[i].name;
        struct stat st;
        int is_dir = fstatat(failed_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        if (unlinkat(failed_fd, name, is_dir ? AT_REMOVEDIR : 0) != 0) {
            cli_error("%s/%s/%s: set aside more than %d days ago, but cannot remove it: %s",
                      s->args->dir, FAILED, name, days, strerror(errno));
            continue;
        }
        char note[NAME_MAX + 16]; /* none when it was a note */
        if (snprintf(note, sizeof note, "%s.error", name) <= NAME_MAX)
            unlinkat(failed_fd, note, 0);
        if (!s->ctx->quiet)
            fprintf(stderr, "celltrace: %s/%s/%s: removed, set aside more than %d days ago "
                            "(retention)\n", s->args->dir, FAILED, name, days);
    }
    if (expired.n)
        fsync(failed_fd);
    entries_free(&expired);
    closedir(d);
}

/* The note in the claim folder that the disk could not read the claimed
 * file `st`: .unreadable.DEV-INO, of a fixed length whatever the file's
 * name (a claimed name never starts with a dot). Keyed by the file, not
 * its name: a new file sent under the same name is not that file. */
static void unreadable_note(const struct stat *st, char *note, size_t size)
{
    snprintf(note, size, ".unreadable.%llx-%llx", (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino);
}

/* A read error can pass (a network mount's timeout, a link that drops, a
 * disk that recovers): the first time the disk cannot read a claimed file,
 * it stays claimed with a note, and the spool stops as for any I/O error
 * (the service restarts it); only when the disk still cannot read it
 * UNREADABLE_FOR_S after the first time is the file the problem: 1, it
 * goes to failed/ rather than stop the spool at every start, holding back
 * every later delivery. 1 also when no note can be written (then nothing
 * would ever end the stops). 0: stop and wait. */
static int unreadable_again(spool *s, const char *name, const struct stat *file, const char *why)
{
    char note[64];
    unreadable_note(file, note, sizeof note);
    struct stat st;
    if (fstatat(s->taking_fd, note, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return difftime(time(NULL), st.st_mtim.tv_sec) >= UNREADABLE_FOR_S;
    if (write_note(s->taking_fd, note, why, 0600) != 0) {
        cli_error("%s: cannot note the read error in %s/%s: %s", name, s->args->dir, TAKING,
                  strerror(errno));
        return 1;
    }
    return 0;
}

/* Removes unreadable_again's note of file `st`: once it is stored or set
 * aside, and once a file is claimed (a note of its inode is a removed
 * file's, whose number the filesystem gave again; a rename keeps it). */
static void forget_unreadable(spool *s, const struct stat *st)
{
    char note[64];
    unreadable_note(st, note, sizeof note);
    unlinkat(s->taking_fd, note, 0);
}

/* Claims file `name` of DIR: renamed into the claim folder, never over a
 * claimed one. 1 claimed, 0 gone (the operator took it back) or claimed
 * under that name already (taken first at the next look), -1 failed. */
static int claim(spool *s, const char *name)
{
    struct stat st;
    if (fstatat(s->taking_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (faccessat(s->dir_fd, name, R_OK, AT_EACCESS) != 0) {
        /* a claimed file it could not open would stop the spool at every
         * start: it stays where its sender can still change its mode */
        int said = 0;
        for (size_t i = 0; i < s->unreadable.n && !said; i++)
            said = strcmp(s->unreadable.e[i].name, name) == 0;
        if (!said) {
            cli_error("%s: this user may not read it (%s): left in %s until it may", name,
                      strerror(errno), s->args->dir);
            entries_add(&s->unreadable, name, 0);
        }
        return 0;
    }
    if (renameat(s->dir_fd, name, s->taking_fd, name) != 0) {
        if (errno == ENOENT)
            return 0;
        cli_error("%s: cannot claim it (into %s/%s): %s", name, s->args->dir, TAKING,
                  strerror(errno));
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

/* The data directory, open for writing: the writer lock taken (waiting for
 * another writer first), or given up after HOLD_S for a while. The wait
 * for another writer (a run may hold the lock for minutes) is a look
 * every LOCK_PAUSE_MS, so a stop signal ends it; the library's own wait
 * would only end with the lock, and is left only to a writer that takes
 * the lock in the instant between the last look and the open (the keys
 * are unlocked before, cli_ingest_spool). 0, 1 stopped while waiting,
 * -1 failed. */
static int acquire(spool *s)
{
    if (s->db && now_s() - s->held_since > HOLD_S) {
        release(s); /* a writer waiting for the lock gets its turn */
        struct timespec pause = {0, LOCK_PAUSE_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (s->db)
        return 0;
    int said = 0;
    while (!stop_requested && ct_writer_busy(s->ctx->data_dir)) {
        if (!said++ && !s->ctx->quiet)
            fprintf(stderr, "celltrace: waiting for another writer of %s\n", s->ctx->data_dir);
        struct timespec pause = {0, LOCK_PAUSE_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (stop_requested)
        return 1;
    s->db = cli_open(s->ctx, 1); /* a writer that came since the look is waited for */
    s->held_since = now_s();
    return s->db ? 0 : -1;
}

/* Reads claimed file `name` into the batch, relative to the claim folder's
 * descriptor: whatever is renamed in DIR meanwhile, this is the file that
 * was claimed, and messages and the reject report name it as ./NAME (the
 * ./ also keeps a file named "-" from meaning stdin). Every other path in
 * use is absolute (cli_ingest_spool). */
static ct_code read_claimed(spool *s, ct_ingest *in, const char *name, ct_err *err)
{
    char relative[NAME_MAX + 3];
    snprintf(relative, sizeof relative, "./%s", name);
    if (fchdir(s->taking_fd) != 0) {
        snprintf(err->msg, sizeof err->msg, "cannot enter %s/%s: %s", s->args->dir, TAKING,
                 strerror(errno));
        return CT_EIO;
    }
    ct_code rc = ct_ingest_file(in, relative, err);
    if (fchdir(s->cwd_fd) != 0) {
        snprintf(err->msg, sizeof err->msg, "cannot return to the working folder: %s",
                 strerror(errno));
        return CT_EIO;
    }
    return rc;
}

/* After an I/O error while the claimed file was read: whether the disk
 * cannot read that file (1, err says so), rather than the store failing
 * beside it (a spill to staging/ is a write of the store's, and an
 * ingest's read errors and store errors are both CT_EIO). The file is
 * read once more to its end; EIO, EBADMSG or EUCLEAN (a checksum the
 * filesystem refutes) there is the file's. */
static int disk_cannot_read(spool *s, const char *name, ct_err *err)
{
    int fd = openat(s->taking_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    static char chunk[1 << 16];
    ssize_t got = 0;
    while (!stop_requested &&
           ((got = read(fd, chunk, sizeof chunk)) > 0 || (got < 0 && errno == EINTR))) {
    }
    int bad = !stop_requested && got < 0 &&
              (errno == EIO || errno == EBADMSG || errno == EUCLEAN);
    if (bad)
        snprintf(err->msg, sizeof err->msg, "%s: the disk cannot read it: %s", name, strerror(errno));
    close(fd);
    return bad;
}

/* One entry, one delivery. 1 taken (stored or set aside), 0 left for the
 * next look, -1 the store or the file failed otherwise (the file stays
 * claimed; the spool stops, and takes it first when started again). */
static int deliver(spool *s, const entry *e)
{
    const char *name = e->name;
    if (!e->claimed) {
        int got = claim(s, name);
        if (got <= 0)
            return got;
    }
    struct stat st; /* what was claimed: the folder is ours, nobody swaps it now */
    if (fstatat(s->taking_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        cli_error("%s: not a regular file; moved to %s/%s/", name, s->args->dir, FAILED);
        return set_aside(s, name, "not a regular file (a link, a folder...)") == 0 ? 1 : -1;
    }
    if (!e->claimed) /* just claimed: it has not failed a read yet */
        forget_unreadable(s, &st);
    int locked = acquire(s);
    if (locked != 0) /* stopped: the claimed file is taken first next time */
        return locked > 0 ? 0 : -1;
    ct_import_opts io = s->args->io;
    io.memory_mb = cli_ingest_memory_mb();
    ct_ingest *in = NULL;
    ct_import_summary sum;
    ct_err err;
    if (ct_ingest_begin(s->db, s->args->op, &io, &in, &err) != CT_OK) {
        cli_error("%s: %s", name, err.msg);
        return -1;
    }
    ct_code rc = read_claimed(s, in, name, &err);
    if (rc == CT_EIO && disk_cannot_read(s, name, &err)) { /* the file's fault, not the store's */
        if (!unreadable_again(s, name, &st, err.msg)) {
            ct_ingest_abort(in);
            cli_error("%s", err.msg);
            cli_error("%s waits in %s/%s/; if the disk still cannot read it %d minutes after the "
                      "first error, it goes to %s/%s/", name, s->args->dir, TAKING,
                      UNREADABLE_FOR_S / 60, s->args->dir, FAILED);
            return -1;
        }
        rc = CT_EINVAL;
    }
    if (rc == CT_EINVAL || rc == CT_ELIMIT) { /* its content: reading it again will not help */
        ct_ingest_abort(in);
        cli_error("%s; moved to %s/%s/", err.msg, s->args->dir, FAILED);
        if (set_aside(s, name, err.msg) != 0)
            return -1;
        forget_unreadable(s, &st);
        return 1;
    }
    if (rc == CT_OK)
        rc = ct_ingest_commit(in, &sum, &err);
    else
        ct_ingest_abort(in);
    if (rc) {
        cli_error("%s", err.msg);
        cli_error("nothing of %s was stored; it waits in %s/%s/", name, s->args->dir, TAKING);
        return -1;
    }
    s->deliveries++;
    s->rejected_rows += sum.rejected;
    s->runs_left |= sum.days_of_runs > 0;
    cli_print_delivery_summary(name, &sum, s->args->format);
    /* The removal is not fsync'd: one lost in a crash only brings the file
     * back, and taking it again stores nothing (every row a duplicate). */
    if (unlinkat(s->taking_fd, name, 0) != 0) {
        cli_error("%s: stored, but cannot remove it: %s", name, strerror(errno));
        return -1;
    }
    forget_unreadable(s, &st);
    return 1;
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

/* Takes every ready file, claimed ones first, until a look finds none it
 * can take. 0, or -1 when a file or the store failed or the folder cannot
 * be read. */
static int drain(spool *s)
{
    for (;;) {
        entry_list ready = {NULL, 0, 0};
        if (add_ready(s->taking_fd, 1, 0, &ready) != 0 ||
            add_ready(s->dir_fd, 0, s->args->settle_s, &ready) != 0) {
            cli_error("cannot read %s: %s", s->args->dir, strerror(errno));
            entries_free(&ready);
            release(s);
            return -1;
        }
        if (ready.n) /* qsort may not be given NULL, even for none */
            qsort(ready.e, ready.n, sizeof *ready.e, by_claim_then_name);
        size_t taken = 0;
        int got = 0;
        for (size_t i = 0; i < ready.n && !stop_requested && got >= 0; i++) {
            got = deliver(s, &ready.e[i]);
            taken += got > 0;
        }
        entries_free(&ready);
        if (got < 0 || stop_requested || !taken) { /* nothing taken: wait for a change */
            release(s);
            return got < 0 ? -1 : 0;
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

/* Checks that the operator has a cell catalogue before any file is taken. */
static int operator_known(spool *s)
{
    int locked = acquire(s);
    if (locked != 0) /* stopped (0: the loop ends at once), or failed */
        return locked > 0 ? 0 : -1;
    ct_ingest *probe = NULL;
    ct_err err;
    ct_code rc = ct_ingest_begin(s->db, s->args->op, &s->args->io, &probe, &err);
    release(s);
    if (rc != CT_OK) {
        cli_error("%s", err.msg);
        return -1;
    }
    ct_ingest_abort(probe);
    return 0;
}

/* The spool's loop, once the folders are open and the operator known:
 * until a signal, or once with --once. The exit status. */
static int take_deliveries(spool *s)
{
    cli_ctx *ctx = s->ctx;
    const cli_spool_args *args = s->args;

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
        expire_failed(s);
        if (drain(s) != 0) {
            failed = 1;
            break;
        }
        merge_runs(s);
        if (args->once)
            break;
        wait_for_files(inotify_fd);
    }
    release(s);
    merge_runs(s);
    if (inotify_fd >= 0)
        close(inotify_fd);
    if (args->format && strcmp(args->format, "json") == 0)
        printf("{\"deliveries\":%llu,\"failed_files\":%llu,\"rejected\":%llu}\n",
               (unsigned long long)s->deliveries, (unsigned long long)s->failed,
               (unsigned long long)s->rejected_rows);
    else if (!ctx->quiet)
        fprintf(stderr, "celltrace: %s: files stored %llu, set aside in %s/ %llu\n", args->dir,
                (unsigned long long)s->deliveries, FAILED, (unsigned long long)s->failed);
    if (failed)
        return EXIT_FAIL;
    if (!args->once) /* a service stopped: what it met per file was logged as it came */
        return EXIT_OK;
    if (s->failed)
        return EXIT_FAIL;
    return s->rejected_rows ? EXIT_REJECTS : EXIT_OK;
}

int cli_ingest_spool(cli_ctx *ctx, const cli_spool_args *args)
{
    spool s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.args = args;
    s.taking_fd = -1;
    /* files are read from inside the claim folder (read_claimed): the data
     * directory's path must not depend on the working folder */
    char *data_dir = realpath(ctx->data_dir, NULL);
    if (!data_dir) {
        cli_error("%s: %s", ctx->data_dir, strerror(errno));
        return EXIT_FAIL;
    }
    const char *given_data_dir = ctx->data_dir;
    ctx->data_dir = data_dir;
    int rc = EXIT_FAIL;
    /* The keys first (a passphrase prompt takes Ctrl-C as usual), then the
     * stop signals: every later open is only the lock and the catalogue,
     * so acquire's look for another writer is right up to its open. */
    if (!cli_keys(ctx)) {
        ctx->data_dir = given_data_dir;
        free(data_dir);
        return rc;
    }
    catch_stop_signals();
    s.cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    s.dir_fd = open(args->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s.cwd_fd < 0)
        cli_error("cannot open the working folder: %s", strerror(errno));
    else if (s.dir_fd < 0)
        cli_error("--spool %s: %s", args->dir, strerror(errno));
    else if (open_claim_folder(&s) == 0 && operator_known(&s) == 0)
        rc = take_deliveries(&s);
    if (s.taking_fd >= 0)
        close(s.taking_fd);
    if (s.dir_fd >= 0)
        close(s.dir_fd);
    if (s.cwd_fd >= 0)
        close(s.cwd_fd);
    entries_free(&s.unreadable);
    ctx->data_dir = given_data_dir;
    free(data_dir);
    return rc;
}
