/*
 * trace_many.c — many cases at once (`trace --all`, `trace C1 C2 ...`).
 *
 * Worker threads take cases in order, each through its own read-only
 * handle (handles share the keyring, the process's segment maps and the
 * built-in model; each has its own SQLite connection and caches), and
 * leave each case's contacts in its slot; the numbers they decrypt are
 * kept for the batch (ct__number_cache), so a subscriber who is a contact
 * of many cases is decrypted once. The calling thread hands the
 * slots to the caller's function in the order asked, so the output is
 * what one thread tracing them one after another would give. Work per
 * case that reads the store (opts->after_trace: a run's home regions)
 * runs on the worker that traced it; what it shares with the caller it
 * guards itself. Workers stay
 * at most 2 x jobs cases ahead of it: memory holds that many cases, not
 * all of them. Out of memory follows the library's one policy (alloc.c).
 *
 * After a failure, workers take no case past the failing one; the cases
 * before it are still handed over, then the failure is returned: the
 * caller sees what a sequential run would have shown before it stopped.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "db.h"
#include "error.h"
#include "subscribers.h"

typedef struct slot {
    ct_contacts *cs; /* NULL until traced */
    uint64_t ns;
} slot;

typedef struct many {
    const char *dir;
    ct_keyring *keys;
    const char *const *ids;
    size_t n;
    const ct_trace_many_opts *opts;
    void *ud; /* the caller's, for fn and opts->after_trace */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    slot *slots;
    size_t next;      /* the next case a worker takes */
    size_t handed;    /* cases handed to the caller */
    size_t ahead;     /* how far workers may run ahead of it */
    int failed;       /* a worker failed: take no case past failed_at */
    size_t failed_at; /* the failing case (n: a handle did not open) */
    int stopped;      /* the caller's function asked to stop */
    int running;      /* workers not yet finished */
    ct__number_cache *numbers; /* shared by the workers' handles, made by the first */
    ct_code rc;       /* the earliest failure */
    ct_err err;
} many;

/* No case left for a worker. Under m->lock. */
static int no_more(const many *m)
{
    return m->stopped || m->next >= m->n || (m->failed && m->next >= m->failed_at);
}

static void *worker(void *arg)
{
    many *m = arg;
    ct_err err;
    ct_db *db = NULL;
    ct_code rc = ct_open_keyed(m->dir, 0, m->keys, &db, &err);
    if (!rc)
        ct_set_actor(db, m->opts->who, m->opts->why);
    size_t failed_case = m->n; /* n: the handle, no case */
    pthread_mutex_lock(&m->lock);
    if (!rc) {
        int numbers_read = !(m->opts->risk && m->opts->risk->without_numbers);
        if (!m->numbers && numbers_read)
            m->numbers = ct__number_cache_new(ct__subdict_count(db->subs));
        db->numbers = m->numbers;
    }
    if (rc && m->next >= m->n)
        rc = CT_OK; /* nothing left for this worker: its open does not matter */
    while (!rc) {
        while (!no_more(m) && m->next >= m->handed + m->ahead)
            pthread_cond_wait(&m->changed, &m->lock);
        if (no_more(m))
            break;
        size_t i = m->next++;
        pthread_mutex_unlock(&m->lock);
        ct_contacts *cs = NULL;
        uint64_t t0 = ct__now_ns();
        rc = m->opts->risk ? ct_trace_scored(db, m->ids[i], m->opts->params, m->opts->risk, &cs, &err)
                           : ct_trace(db, m->ids[i], m->opts->params, &cs, &err);
        uint64_t ns = ct__now_ns() - t0;
        if (!rc && m->opts->after_trace && (rc = m->opts->after_trace(m->ud, db, i, cs, &err))) {
            ct_contacts_free(cs);
            cs = NULL;
        }
        if (rc)
            failed_case = i;
        pthread_mutex_lock(&m->lock);
        if (!rc) {
            m->slots[i].cs = cs;
            m->slots[i].ns = ns;
        }
        pthread_cond_broadcast(&m->changed);
    }
    if (rc && (!m->failed || failed_case < m->failed_at)) {
        m->failed = 1; /* the earliest failing case is the one reported */
        m->failed_at = failed_case;
        m->rc = rc;
        m->err = err;
    }
    m->running--;
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
    ct_close(db);
    return NULL;
}

ct_code ct_trace_many(const char *dir, ct_keyring *keys, const char *const *ids, size_t n,
                      const ct_trace_many_opts *opts, ct_trace_many_fn fn, void *ud,
                      size_t *done, ct_err *err)
{
    if (done)
        *done = 0;
    if (opts->jobs < 1 || opts->jobs > 1024)
        return ct__fail(err, CT_EINVAL, "jobs must be 1 to 1024");
    if (n == 0)
        return CT_OK;
    ct_keyring *own = NULL;
    if (!keys) {
        ct_code rc = ct_keys_unlock(dir, NULL, &own, err);
        if (rc)
            return rc;
        keys = own;
    }
    many m;
    memset(&m, 0, sizeof m);
    m.dir = dir;
    m.keys = keys;
    m.ids = ids;
    m.n = n;
    m.opts = opts;
    m.ud = ud;
    m.ahead = (size_t)opts->jobs * 2;
    m.slots = ct__calloc(n, sizeof *m.slots);
    pthread_t *threads = ct__calloc((size_t)opts->jobs, sizeof *threads);
    pthread_mutex_init(&m.lock, NULL);
    pthread_cond_init(&m.changed, NULL);
    int started = 0;
    pthread_mutex_lock(&m.lock);
    for (; started < opts->jobs; started++)
        if (pthread_create(&threads[started], NULL, worker, &m))
            break;
    m.running = started;
    if (!started) {
        m.failed = 1;
        m.failed_at = 0;
        m.rc = ct__fail(&m.err, CT_ENOMEM, "cannot start a thread");
    }
    while (m.handed < n && !m.stopped) {
        size_t i = m.handed;
        if (!m.slots[i].cs) {
            if (m.failed && (i >= m.failed_at || m.running == 0))
                break; /* this case will not come */
            pthread_cond_wait(&m.changed, &m.lock);
            continue;
        }
        slot s = m.slots[i];
        m.slots[i].cs = NULL;
        pthread_mutex_unlock(&m.lock);
        int stop = fn(ud, i, s.cs, s.ns);
        ct_contacts_free(s.cs);
        pthread_mutex_lock(&m.lock);
        m.handed++;
        m.stopped = stop != 0;
        pthread_cond_broadcast(&m.changed);
    }
    pthread_cond_broadcast(&m.changed); /* after a failure or a stop: let the workers see it */
    pthread_mutex_unlock(&m.lock);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i < n; i++)
        ct_contacts_free(m.slots[i].cs);
    ct_code rc = m.failed && !m.stopped && m.handed < n ? m.rc : CT_OK;
    if (rc && err)
        *err = m.err;
    if (done)
        *done = m.handed;
    pthread_cond_destroy(&m.changed);
    pthread_mutex_destroy(&m.lock);
    ct__free(threads);
    ct__free(m.slots);
    ct__number_cache_free(m.numbers); /* wiped: the numbers leave with the batch */
    ct_keys_close(own);
    return rc;
}
