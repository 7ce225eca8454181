/*
 * routes.c — what each API endpoint answers (docs/API.md).
 *
 * Regions: a `regional` user sees a case when the case is registered in
 * their region or has a contact whose home region is theirs, and sees only
 * the contacts whose home region is theirs; the case's own number only
 * for a case of their region. Anything else answers 404, exactly as a
 * case or contact that does not exist, so ids cannot be probed.
 *
 * Numbers are masked ("7999***0001") unless the query says reveal=true,
 * and every answer that carries numbers, masked or not, is audited first
 * with the user ("api:<name>"), the route, the object and the count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cases.h"
#include "celltrace_notify.h"
#include "db.h"
#include "error.h"
#include "jobs.h"
#include "report.h"
#include "routes.h"
#include "sqlvfs.h"
#include "subscribers.h"
#include "textparse.h"

#define PER_PAGE_DEFAULT 50
#define PER_PAGE_MAX 1000
#define AUDIT_LIMIT_MAX 1000

json_t *api_fail(api_call *call, int status, const char *msg)
{
    call->status = status;
    return api_error(status, "%s", msg);
}

json_t *api_fail_err(api_call *call, const ct_err *err)
{
    call->status = api_status_of(err->code);
    return api_error(call->status, "%s", err->msg);
}

/* The user's region for SQL: "" for federal (every region). */
static const char *scope(const api_call *call)
{
    return call->user.role == CT_ROLE_REGIONAL ? call->user.region : "";
}

static void actor(const api_call *call, char out[CT_USER_NAME_MAX + 8])
{
    snprintf(out, CT_USER_NAME_MAX + 8, "api:%s", call->user.name);
}

/* This thread's data handle, with the caller as the audit's actor (the
 * next api_db of the thread resets it). NULL with err set. */
ct_db *api_db_as_caller(api_call *call, ct_err *err)
{
    ct_db *db = api_db(call->server, err);
    if (db) {
        char who[CT_USER_NAME_MAX + 8];
        actor(call, who);
        ct_set_actor(db, who, call->reason);
    }
    return db;
}

json_t *api_time_or_null(int64_t t, int present)
{
    if (!present)
        return json_null();
    char buf[32];
    ct_format_time(t, buf);
    return json_string(buf);
}

/* NULL and 0 (the outbox's "not yet") are both null */
static json_t *column_time(sqlite3_stmt *st, int i)
{
    return api_time_or_null(sqlite3_column_int64(st, i), sqlite3_column_type(st, i) != SQLITE_NULL &&
                                                         sqlite3_column_int64(st, i) != 0);
}

static json_t *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s && *s ? json_string((const char *)s) : json_null();
}

static json_t *column_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                      : json_real(sqlite3_column_double(st, i));
}

/* ?reveal=true|false; -1 for anything else */
static int reveal_of(const api_call *call)
{
    const char *v = api_query(call, "reveal");
    if (!v || !strcmp(v, "false") || !strcmp(v, "0"))
        return 0;
    return !strcmp(v, "true") || !strcmp(v, "1") ? 1 : -1;
}

/* ?page=&per_page=; 0, or -1 when either is not a whole number in range */
static int paging(const api_call *call, long *page, long *per_page)
{
    const char *p = api_query(call, "page"), *pp = api_query(call, "per_page");
    char *end;
    *page = 1;
    *per_page = PER_PAGE_DEFAULT;
    if (p) {
        *page = strtol(p, &end, 10);
        if (!*p || *end || *page < 1 || *page > 1000000)
            return -1;
    }
    if (pp) {
        *per_page = strtol(pp, &end, 10);
        if (!*pp || *end || *per_page < 1 || *per_page > PER_PAGE_MAX)
            return -1;
    }
    return 0;
}

/* A number for the answer: whole, masked, or null when not to be shown. */
static json_t *number_json(const char *digits, int show, int reveal)
{
    if (!show)
        return json_null();
    if (reveal)
        return json_string(digits);
    char masked[24];
    ct__mask_msisdn(digits, strlen(digits), masked);
    return json_string(masked);
}

/* ---- health ------------------------------------------------------------------------ */

json_t *api_healthz(api_call *call)
{
    sqlite3 *sql = api_sql(call->server);
    if (!sql)
        return api_fail(call, 503, "the database cannot be opened");
    return json_pack("{s:s,s:s}", "status", "ok", "version", CT_VERSION);
}

/* ---- cases ------------------------------------------------------------------------- */

/* Turns rows into JSON with their numbers, after one audit record for all
 * of them. A number is shown for federal users and for a case of the
 * regional user's own region. */
static json_t *cases_json(api_call *call, const ct__case_row *rows, size_t n, int reveal,
                          const char *what, const char *object)
{
    ct_err err;
    api_server *s = call->server;
    ct_db *db = api_db(s, &err);
    if (!db)
        return api_fail_err(call, &err);
    char who[CT_USER_NAME_MAX + 8];
    actor(call, who);
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        shown += call->user.role == CT_ROLE_FEDERAL || !strcmp(rows[i].region, call->user.region);
    char w[64];
    snprintf(w, sizeof w, "%s%s", what, reveal ? " --reveal" : "");
    ct_code rc = shown ? ct__audit_as(db, who, call->reason, w, object, shown, &err) : CT_OK;
    json_t *arr = json_array();
    for (size_t i = 0; !rc && i < n; i++) {
        const ct__case_row *c = &rows[i];
        int show = call->user.role == CT_ROLE_FEDERAL || !strcmp(c->region, call->user.region);
        char digits[16] = "";
        if (show)
            rc = ct__subdict_number(db->subs, c->sub, digits, &err);
        if (!rc)
            json_array_append_new(
                arr, json_pack("{s:s,s:o,s:o,s:o,s:o}", "case_id", c->case_id, "msisdn",
                               number_json(digits, show, reveal), "onset",
                               api_time_or_null(c->onset, 1), "isolated",
                               api_time_or_null(c->isolated, c->has_isolated), "region",
                               c->region[0] ? json_string(c->region) : json_null()));
    }
    if (rc) {
        json_decref(arr);
        return api_fail_err(call, &err);
    }
    return arr;
}

json_t *api_cases_list(api_call *call)
{
    long page, per_page;
    int reveal = reveal_of(call);
    if (paging(call, &page, &per_page) || reveal < 0)
        return api_fail(call, 400, "page, per_page (1-1000) and reveal (true|false) must be valid");
    sqlite3 *sql = api_sql(call->server);
    if (!sql)
        return api_fail(call, 503, "the database cannot be opened");
    ct_err err;
    char *living = NULL; /* cases with contacts in the caller's region */
    if (*scope(call) && ct__report_cases_living_in(sql, scope(call), &living, &err))
        return api_fail_err(call, &err);
    ct_db *db = api_db(call->server, &err);
    ct__case_row *rows = NULL;
    size_t n = 0;
    uint64_t total = 0;
    ct_code rc = db ? ct__cases_select(db, scope(call), living, (size_t)((page - 1) * per_page),
                                       (size_t)per_page, &rows, &n, &total, &err)
                    : CT_EIO;
    free(living);
    if (rc)
        return api_fail_err(call, &err);
    json_t *cases = cases_json(call, rows, n, reveal, "api cases", "");
    ct__free(rows);
    if (call->status != 200)
        return cases;
    return json_pack("{s:I,s:I,s:I,s:o}", "page", (json_int_t)page, "per_page",
                     (json_int_t)per_page, "total", (json_int_t)total, "cases", cases);
}

/* The case of the path if the user may see it: 1, 0 (404 set), -1 (error
 * set). A regional user sees a case registered in their region or with
 * contacts living there (the cases table is cases.c's, where contacts
 * live the report's: report.c). */
static int visible_case(api_call *call, ct__case_row *c, json_t **answer)
{
    return api_case_visible_id(call, call->params[0], c, answer);
}

int api_case_visible_id(api_call *call, const char *case_id, ct__case_row *c, json_t **answer)
{
    sqlite3 *sql = api_sql(call->server);
    ct_err err;
    ct_db *db = api_db(call->server, &err);
    if (!sql || !db) {
        *answer = api_fail(call, 503, "the database cannot be opened");
        return -1;
    }
    ct_code rc = ct__case_get(db, case_id, c, &err);
    int seen = rc == CT_OK;
    if (seen && *scope(call) && strcmp(c->region, scope(call)))
        rc = ct__report_case_lives_in(sql, scope(call), c->case_id, &seen, &err);
    if (rc && rc != CT_ENOTFOUND) {
        *answer = api_fail_err(call, &err);
        return -1;
    }
    if (!seen)
        *answer = api_fail(call, 404, "no such case");
    return seen;
}


json_t *api_case_get(api_call *call)
{
    int reveal = reveal_of(call);
    if (reveal < 0)
        return api_fail(call, 400, "reveal must be true or false");
    ct__case_row c;
    json_t *answer = NULL;
    if (visible_case(call, &c, &answer) <= 0)
        return answer;
    json_t *arr = cases_json(call, &c, 1, reveal, "api case", c.case_id);
    if (call->status != 200)
        return arr;
    json_t *one = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return one;
}

json_t *api_cases_add(api_call *call)
{
    static const char *const FIELDS[] = {"case_id", "msisdn", "onset", "isolated", "region"};
    const char *v[5] = {NULL};
    if (!json_is_object(call->body))
        return api_fail(call, 400, "the body must be a JSON object");
    const char *key;
    json_t *value;
    json_object_foreach(call->body, key, value)
    {
        int k = 0;
        while (k < 5 && strcmp(key, FIELDS[k]))
            k++;
        if (k == 5) { /* mass assignment: nothing else may be set */
            call->status = 400;
            return api_error(400, "field \"%s\" cannot be set", key);
        }
        if (json_is_null(value) && k >= 3)
            continue;
        if (!json_is_string(value)) {
            call->status = 400;
            return api_error(400, "field \"%s\" must be a string", key);
        }
        v[k] = json_string_value(value);
    }
    if (!v[0] || !v[1] || !v[2])
        return api_fail(call, 400, "case_id, msisdn and onset are required");
    if (v[4] && !ct_region_code_valid(v[4]))
        return api_fail(call, 400, "region must be an ISO 3166-2 code such as RU-MOW");
    ct_err err;
    ct_db *w = NULL;
    /* a worker must not wait for an ingest to end: busy is 503 at once
     * (a writer that starts between this look and the open is waited for) */
    if (ct__writer_busy(api_dir(call->server)))
        return api_fail(call, 503, "the data directory is busy with another writer; try again later");
    if (ct_open_keyed(api_dir(call->server), 1, api_keys(call->server), &w, &err) != CT_OK) {
        call->status = 503;
        return api_error(503, "the data directory is busy: %s", err.msg);
    }
    char who[CT_USER_NAME_MAX + 8];
    actor(call, who);
    ct_code rc = ct_case_add(w, v[0], v[1], v[2], v[3], v[4], &err);
    if (!rc)
        rc = ct__audit_as(w, who, call->reason, "api cases add", v[0], 1, &err);
    ct_close(w);
    if (rc)
        return api_fail_err(call, &err);
    call->status = 201;
    char masked[24];
    ct__mask_msisdn(v[1], strlen(v[1]), masked);
    return json_pack("{s:s,s:s,s:s}", "case_id", v[0], "msisdn", masked, "status", "registered");
}

/* ---- contacts ---------------------------------------------------------------------- */

#define CONTACT_COLUMNS                                                                     \
    "subscriber, exposure_s, first_contact, last_contact, min_radius_m, home_region, "     \
    "quarantine_end, p_contact, expected_near_s, level"

/* A contact's reference for the evidence path while its number stays
 * masked: "s" and its pseudonym (the subscriber id the outbox keys show). */
static json_t *contact_ref(int64_t subscriber)
{
    char ref[24];
    snprintf(ref, sizeof ref, "s%lld", (long long)subscriber);
    return json_string(ref);
}

static json_t *contact_json(sqlite3_stmt *st, json_t *msisdn)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:I,s:o,s:o}", "msisdn", msisdn, "ref",
                     contact_ref(sqlite3_column_int64(st, 0)), "level",
                     column_text(st, 9), "p_contact", column_real(st, 7), "expected_near_s",
                     column_real(st, 8), "exposure_s", (json_int_t)sqlite3_column_int64(st, 1),
                     "first_contact", column_time(st, 2), "last_contact", column_time(st, 3),
                     "min_radius_m", (json_int_t)sqlite3_column_int64(st, 4), "home_region",
                     column_text(st, 5), "quarantine_end", column_time(st, 6));
}

/* A statement on one case's contacts: ?1 the case, ?2 the caller's region
 * ("" for all). NULL when it does not prepare. */
static sqlite3_stmt *case_query(api_call *call, sqlite3 *sql, const char *q, const char *case_id)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sql, q, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, scope(call), -1, SQLITE_TRANSIENT);
    return st;
}

json_t *api_contacts_list(api_call *call)
{
    long page, per_page;
    int reveal = reveal_of(call);
    if (paging(call, &page, &per_page) || reveal < 0)
        return api_fail(call, 400, "page, per_page (1-1000) and reveal (true|false) must be valid");
    const char *level = api_query(call, "level");
    const char *levels = !level || !*level        ? "'quarantine','test','none'"
                         : !strcmp(level, "none") ? "'quarantine','test','none'"
                         : !strcmp(level, "test") ? "'quarantine','test'"
                         : !strcmp(level, "quarantine") ? "'quarantine'"
                                                        : NULL;
    if (!levels)
        return api_fail(call, 400, "level must be quarantine, test or none");
    ct__case_row c;
    json_t *answer = NULL;
    if (visible_case(call, &c, &answer) <= 0)
        return answer;
    sqlite3 *sql = api_sql(call->server);
    char q[1024];
    /* counted apart: a window count would read the whole net for one page */
    int64_t total = 0;
    sqlite3_stmt *st = NULL;
    snprintf(q, sizeof q,
             "SELECT count(*) FROM nt_contacts WHERE case_id = ?1 AND level IN (%s) AND "
             "(?2 = '' OR home_region = ?2)",
             levels);
    if ((st = case_query(call, sql, q, c.case_id)) == NULL)
        return api_fail(call, 500, sqlite3_errmsg(sql));
    if (sqlite3_step(st) == SQLITE_ROW)
        total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    snprintf(q, sizeof q,
             "SELECT " CONTACT_COLUMNS " FROM nt_contacts INDEXED BY nt_contacts_rank "
             "WHERE case_id = ?1 AND (?2 = '' OR home_region = ?2) AND level IN (%s) "
             "ORDER BY p_contact DESC, exposure_s DESC, subscriber LIMIT ?3 OFFSET ?4",
             levels);
    if ((st = case_query(call, sql, q, c.case_id)) == NULL)
        return api_fail(call, 500, sqlite3_errmsg(sql));
    sqlite3_bind_int64(st, 3, per_page);
    sqlite3_bind_int64(st, 4, (page - 1) * per_page);
    ct_err err;
    ct_db *db = api_db(call->server, &err);
    if (!db) {
        sqlite3_finalize(st);
        return api_fail_err(call, &err);
    }
    json_t *arr = json_array();
    ct_code rc = CT_OK;
    size_t n = 0;
    while (!rc && ct__sql_step(st, &rc, &err) == SQLITE_ROW) {
        if (n++ == 0) { /* audited before the first number is read */
            char who[CT_USER_NAME_MAX + 8], what[64];
            actor(call, who);
            snprintf(what, sizeof what, "api contacts%s", reveal ? " --reveal" : "");
            uint64_t on_page = (uint64_t)(total - (page - 1) * per_page);
            rc = ct__audit_as(db, who, call->reason, what, c.case_id,
                              on_page < (uint64_t)per_page ? on_page : (uint64_t)per_page, &err);
            if (rc)
                break;
        }
        char digits[16];
        rc = ct__subdict_number(db->subs, (uint32_t)sqlite3_column_int64(st, 0), digits, &err);
        if (!rc)
            json_array_append_new(arr, contact_json(st, number_json(digits, 1, reveal)));
    }
    sqlite3_finalize(st);
    if (rc) {
        json_decref(arr);
        return api_fail_err(call, &err);
    }
    return json_pack("{s:s,s:I,s:I,s:I,s:o}", "case_id", c.case_id, "page", (json_int_t)page,
                     "per_page", (json_int_t)per_page, "total", (json_int_t)total, "contacts",
                     arr);
}

/* The --explain of one contact: each episode (a visit of the case this
 * number shared: when, where each of the two was, how precise, how likely
 * they were within D). NULL with err set. Audited by ct_explain. */
static json_t *evidence_episodes(api_call *call, const char *case_id, const char *digits,
                                 ct_err *err)
{
    ct_db *db = api_db_as_caller(call, err);
    if (!db)
        return NULL;
    ct_risk_opts risk;
    ct_explanation *x = NULL;
    ct_code rc = ct_risk_opts_configured(db->dir, NULL, &risk, err);
    if (!rc)
        rc = ct_explain(db, case_id, digits, NULL, &risk, &x, err);
    if (rc == CT_ENOTFOUND) { /* data changed since the run: no overlap now */
        ct__err_clear(err);
        return json_array();
    }
    if (rc)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < x->n_episodes; i++) {
        const ct_episode_info *e = &x->episodes[i];
        json_array_append_new(
            out, json_pack("{s:o,s:o,s:I,s:f,s:f,s:I,s:o,s:o}", "start", api_time_or_null(e->start, 1),
                           "end", api_time_or_null(e->end, 1), "overlap_s", (json_int_t)e->overlap_s,
                           "expected_near_s", e->expected_near_s, "p_near", e->p_near, "others",
                           (json_int_t)e->others, "case_place", api_place_json(&e->case_place),
                           "contact_place", api_place_json(&e->contact_place)));
    }
    ct_explanation_free(x);
    return out;
}

json_t *api_evidence(api_call *call)
{
    int reveal = reveal_of(call);
    if (reveal < 0)
        return api_fail(call, 400, "reveal must be true or false");
    uint64_t num;
    char digits[16];
    const char *m = call->params[1];
    char *end = NULL;
    /* the number, or the contact's reference ("s" and its pseudonym) */
    unsigned long long by_ref = m[0] == 's' && m[1] >= '0' && m[1] <= '9' ? strtoull(m + 1, &end, 10)
                                                                         : 0;
    int is_ref = end && !*end && by_ref <= UINT32_MAX;
    if (!is_ref && ct__parse_msisdn(m, strlen(m), &num, digits))
        return api_fail(call, 404, "no such contact");
    ct__case_row c;
    json_t *answer = NULL;
    if (visible_case(call, &c, &answer) <= 0)
        return answer;
    ct_err err;
    ct_db *db = api_db(call->server, &err);
    if (!db)
        return api_fail_err(call, &err);
    uint32_t sub = (uint32_t)by_ref;
    ct_code rc = is_ref ? sub < ct__subdict_count(db->subs)
                              ? ct__subdict_number(db->subs, sub, digits, &err)
                              : CT_ENOTFOUND
                        : ct__subdict_find(db->subs, digits, &sub, &err);
    if (rc == CT_ENOTFOUND)
        return api_fail(call, 404, "no such contact");
    if (rc)
        return api_fail_err(call, &err);
    sqlite3 *sql = api_sql(call->server);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sql,
                           "SELECT " CONTACT_COLUMNS ", found_at, updated_at FROM nt_contacts "
                           "WHERE case_id = ?1 AND subscriber = ?2 AND (?3 = '' OR home_region = ?3)",
                           -1, &st, NULL) != SQLITE_OK)
        return api_fail(call, 500, sqlite3_errmsg(sql));
    sqlite3_bind_text(st, 1, c.case_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, sub);
    sqlite3_bind_text(st, 3, scope(call), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return api_fail(call, 404, "no such contact");
    }
    db = api_db(call->server, &err);
    if (!db) {
        sqlite3_finalize(st);
        return api_fail_err(call, &err);
    }
    char who[CT_USER_NAME_MAX + 8], what[64];
    actor(call, who);
    snprintf(what, sizeof what, "api evidence%s", reveal ? " --reveal" : "");
    rc = ct__audit_as(db, who, call->reason, what, c.case_id, 1, &err);
    if (rc) {
        sqlite3_finalize(st);
        return api_fail_err(call, &err);
    }
    json_t *ev = contact_json(st, number_json(digits, 1, reveal));
    json_object_set_new(ev, "case_id", json_string(c.case_id));
    json_object_set_new(ev, "found_at", column_time(st, 10));
    json_object_set_new(ev, "updated_at", column_time(st, 11));
    sqlite3_finalize(st);
    json_t *msgs = json_array();
    if (sqlite3_prepare_v2(sql,
                           "SELECT kind, state, created, sent_at, done_at FROM nt_outbox "
                           "WHERE subscriber = ?1 AND case_id = ?2 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        json_decref(ev);
        json_decref(msgs);
        return api_fail(call, 500, sqlite3_errmsg(sql));
    } else {
        sqlite3_bind_int64(st, 1, sub);
        sqlite3_bind_text(st, 2, c.case_id, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(msgs, json_pack("{s:o,s:o,s:o,s:o,s:o}", "kind",
                                                  column_text(st, 0), "state", column_text(st, 1),
                                                  "created", column_time(st, 2), "sent_at",
                                                  column_time(st, 3), "done_at",
                                                  column_time(st, 4)));
    }
    sqlite3_finalize(st);
    json_object_set_new(ev, "messages", msgs);
    json_t *episodes = evidence_episodes(call, c.case_id, digits, &err);
    if (!episodes) {
        json_decref(ev);
        return api_fail_err(call, &err);
    }
    json_object_set_new(ev, "episodes", episodes);
    return ev;
}

/* ---- one number's own status (the hotline) ------------------------------------------- */

/* What the hotline may tell a caller about their own number: the messages
 * sent to it and its appeals. No case, no other person, no evidence. */
json_t *api_status(api_call *call)
{
    uint64_t num;
    char digits[16];
    const char *m = call->params[0];
    if (ct__parse_msisdn(m, strlen(m), &num, digits))
        return api_fail(call, 400, "not a phone number");
    ct_err err;
    ct_db *db = api_db(call->server, &err);
    if (!db)
        return api_fail_err(call, &err);
    uint32_t sub = 0;
    ct_code rc = ct__subdict_find(db->subs, digits, &sub, &err);
    sqlite3 *sql = api_sql(call->server);
    if (!sql)
        return api_fail(call, 503, "the database cannot be opened");
    json_t *msgs = json_array(), *appeals = json_array();
    sqlite3_stmt *st = NULL;
    int read_ok = 1;
    if (rc == CT_OK &&
        (read_ok = sqlite3_prepare_v2(sql,
                           "SELECT kind, state, created, sent_at, done_at, last_contact,"
                           " quarantine_end FROM nt_outbox WHERE subscriber = ?1 ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK)) {
        sqlite3_bind_int64(st, 1, sub);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(
                msgs, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "kind", column_text(st, 0),
                                "state", column_text(st, 1), "created", column_time(st, 2),
                                "sent_at", column_time(st, 3), "done_at", column_time(st, 4),
                                "last_contact", column_time(st, 5), "quarantine_end",
                                column_time(st, 6)));
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == CT_OK && read_ok &&
        (read_ok = sqlite3_prepare_v2(sql,
                           "SELECT id, state, filed_at, deadline, decided_at FROM nt_appeals"
                           " WHERE subscriber = ?1 ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK)) {
        sqlite3_bind_int64(st, 1, sub);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(
                appeals, json_pack("{s:I,s:o,s:o,s:o,s:o}", "id",
                                   (json_int_t)sqlite3_column_int64(st, 0), "state",
                                   column_text(st, 1), "filed_at", column_time(st, 2),
                                   "deadline", column_time(st, 3), "decided_at",
                                   column_time(st, 4)));
    }
    sqlite3_finalize(st);
    if (!read_ok) {
        json_decref(msgs);
        json_decref(appeals);
        return api_fail(call, 500, sqlite3_errmsg(sql));
    }
    if (rc == CT_ENOTFOUND) { /* a number we never saw has no status: the same answer */
        ct__err_clear(&err);
        rc = CT_OK;
    }
    char who[CT_USER_NAME_MAX + 8];
    actor(call, who);
    if (!rc)
        rc = ct__audit_as(db, who, call->reason, "api status", "", 1, &err);
    if (rc) {
        json_decref(msgs);
        json_decref(appeals);
        return api_fail_err(call, &err);
    }
    char masked[24];
    ct__mask_msisdn(digits, strlen(digits), masked);
    return json_pack("{s:s,s:o,s:o}", "msisdn", masked, "messages", msgs, "appeals", appeals);
}

/* ---- runs --------------------------------------------------------------------------- */

json_t *api_run_start(api_call *call)
{
    if (call->body && (!json_is_object(call->body) || json_object_size(call->body) != 0))
        return api_fail(call, 400, "a run takes no fields: its parameters are the configuration's");
    sqlite3 *sql = api_sql(call->server);
    if (!sql)
        return api_fail(call, 503, "the database cannot be opened");
    char who[CT_USER_NAME_MAX + 8];
    actor(call, who);
    int64_t id = 0;
    ct_err err;
    if (ct__jobs_start_run(sql, api_dir(call->server), api_keys(call->server), who, call->reason,
                           api_jobs(call->server), &id, &err) != CT_OK)
        return api_fail_err(call, &err);
    call->status = 202;
    return json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "running");
}

json_t *api_run_get(api_call *call)
{
    char *end;
    long long id = strtoll(call->params[0], &end, 10);
    if (*end || id <= 0)
        return api_fail(call, 404, "no such run");
    sqlite3 *sql = api_sql(call->server);
    sqlite3_stmt *st = NULL;
    if (!sql || sqlite3_prepare_v2(sql,
                                   "SELECT state, started_by, started_at, finished_at, summary,"
                                   " error FROM api_runs WHERE id = ?1",
                                   -1, &st, NULL) != SQLITE_OK)
        return api_fail(call, 503, "the database cannot be read");
    sqlite3_bind_int64(st, 1, id);
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *summary = (const char *)sqlite3_column_text(st, 4);
        json_t *sum = summary && *summary ? json_loads(summary, 0, NULL) : NULL;
        out = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)id, "state",
                        column_text(st, 0), "started_by", column_text(st, 1), "started_at",
                        column_time(st, 2), "finished_at", column_time(st, 3), "summary",
                        sum ? sum : json_null(), "error", column_text(st, 5));
    }
    sqlite3_finalize(st);
    return out ? out : api_fail(call, 404, "no such run");
}

/* ---- the regional export ------------------------------------------------------------ */

/* What a listing's callback builds: the rows, numbers masked or not. */
typedef struct rows_ctx {
    json_t *rows;
    int reveal;
} rows_ctx;

static int export_row(void *ud, const ct_export_row *r)
{
    rows_ctx *x = ud;
    json_array_append_new(
        x->rows,
        json_pack("{s:o,s:s,s:s,s:I,s:o,s:o,s:o,s:s,s:o,s:f,s:f,s:s}", "msisdn",
                  number_json(r->msisdn, 1, x->reveal), "case_id", r->case_id, "region",
                  r->region, "exposure_s", (json_int_t)r->exposure_s, "first_contact",
                  api_time_or_null(r->first_contact, 1), "last_contact",
                  api_time_or_null(r->last_contact, 1), "quarantine_end",
                  api_time_or_null(r->quarantine_end, 1), "notification", r->state, "updated_at",
                  api_time_or_null(r->updated, r->updated != 0), "p_contact", r->p_contact,
                  "expected_near_s", r->expected_near_s, "level", ct_level_name(r->level)));
    return 0;
}

/* GET /api/v1/export?region=&since=&level=&reveal=: a regional user gets
 * their own region (another one is 404); federal names one. */
json_t *api_export(api_call *call)
{
    int reveal = reveal_of(call);
    const char *region = api_query(call, "region"), *since_s = api_query(call, "since");
    const char *level_s = api_query(call, "level");
    if (reveal < 0)
        return api_fail(call, 400, "reveal must be true or false");
    if (call->user.role == CT_ROLE_REGIONAL) {
        if (region && strcmp(region, call->user.region))
            return api_fail(call, 404, "no such region");
        region = call->user.region;
    }
    if (!region || !*region)
        return api_fail(call, 400, "region is required");
    if (!ct_region_code_valid(region)) /* it is echoed in the answer: text only (fuzzer) */
        return api_fail(call, 400, "region must be an ISO 3166-2 code such as RU-MOW");
    int64_t since = 0;
    if (since_s && ct_parse_time(since_s, 1, &since))
        return api_fail(call, 400, "since must be a time or a date");
    ct_level level = CT_LEVEL_NONE;
    if (level_s && ct_level_parse(level_s, &level))
        return api_fail(call, 400, "level must be quarantine, test or none");
    ct_err err;
    ct_db *db = api_db_as_caller(call, &err);
    if (!db)
        return api_fail_err(call, &err);
    rows_ctx x = {json_array(), reveal};
    ct_code rc = ct_export(db, region, since, level, export_row, &x, &err);
    if (rc) {
        json_decref(x.rows);
        return api_fail_err(call, &err);
    }
    return json_pack("{s:s,s:o}", "region", region, "contacts", x.rows);
}

/* ---- appeals ------------------------------------------------------------------------ */

/* Refuses any field of body but the `n` allowed; 0, or -1 with the answer set. */
static int only_fields(api_call *call, const char *const *allowed, size_t n, json_t **answer)
{
    if (!json_is_object(call->body)) {
        *answer = api_fail(call, 400, "the body must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach(call->body, key, value)
    {
        size_t k = 0;
        while (k < n && strcmp(key, allowed[k]))
            k++;
        if (k == n) {
            call->status = 400;
            *answer = api_error(400, "field \"%s\" cannot be set", key);
            return -1;
        }
        if (!json_is_string(value) && !json_is_null(value)) {
            call->status = 400;
            *answer = api_error(400, "field \"%s\" must be a string", key);
            return -1;
        }
    }
    return 0;
}

static const char *field(const api_call *call, const char *name)
{
    return json_string_value(json_object_get(call->body, name));
}

static json_t *appeal_json(const ct_appeal *a, int reveal)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:b,s:o,s:o,s:o,s:s,s:s,s:s,s:s}", "id",
                          (json_int_t)a->id, "case_id", a->case_id, "region", a->region, "state",
                          a->state, "overdue", a->overdue, "filed_at",
                          api_time_or_null(a->filed_at, 1), "deadline", api_time_or_null(a->deadline, 1),
                          "decided_at", api_time_or_null(a->decided_at, a->decided_at != 0), "reason",
                          a->reason, "note", a->note, "filed_by", a->filed_by, "decided_by",
                          a->decided_by);
    if (a->msisdn[0])
        json_object_set_new(o, "msisdn", number_json(a->msisdn, 1, reveal));
    json_object_set_new(o, "evidence",
                        json_pack("{s:s,s:f,s:I,s:o,s:o,s:f}", "level", a->level, "p_contact",
                                  a->p_contact, "exposure_s", (json_int_t)a->exposure_s,
                                  "first_contact", api_time_or_null(a->first_contact, a->first_contact != 0),
                                  "last_contact", api_time_or_null(a->last_contact, 1),
                                  "min_radius_m", a->min_radius_m));
    return o;
}

json_t *api_appeals_file(api_call *call)
{
    static const char *const ALLOWED[] = {"msisdn", "case_id", "reason"};
    json_t *answer = NULL;
    if (only_fields(call, ALLOWED, 3, &answer))
        return answer;
    if (!field(call, "msisdn") || !field(call, "reason"))
        return api_fail(call, 400, "msisdn and reason are required");
    ct_err err;
    ct_db *db = api_db_as_caller(call, &err);
    if (!db)
        return api_fail_err(call, &err);
    char who[CT_USER_NAME_MAX + 8];
    actor(call, who);
    ct_appeal a;
    ct_code rc = ct_appeal_file(db, who, field(call, "msisdn"), field(call, "case_id"),
                                field(call, "reason"), &a, &err);
    if (rc)
        return api_fail_err(call, &err);
    call->status = 201;
    if (call->user.role == CT_ROLE_HOTLINE) /* no case, no evidence: only what it filed */
        return json_pack("{s:I,s:s,s:o,s:o}", "id", (json_int_t)a.id, "state", a.state,
                         "filed_at", api_time_or_null(a.filed_at, 1), "deadline",
                         api_time_or_null(a.deadline, 1));
    return appeal_json(&a, 0);
}

static int appeal_row(void *ud, const ct_appeal *a)
{
    rows_ctx *x = ud;
    json_array_append_new(x->rows, appeal_json(a, x->reveal));
    return 0;
}

json_t *api_appeals_list(api_call *call)
{
    int reveal = reveal_of(call);
    const char *state = api_query(call, "state");
    if (reveal < 0 || (state && strcmp(state, "pending") && strcmp(state, "upheld") &&
                       strcmp(state, "rejected")))
        return api_fail(call, 400, "state must be pending, upheld or rejected; reveal true or false");
    ct_err err;
    ct_db *db = api_db_as_caller(call, &err);
    if (!db)
        return api_fail_err(call, &err);
    rows_ctx x = {json_array(), reveal};
    ct_code rc = ct_appeals_list(db, scope(call), state, appeal_row, &x, &err);
    if (rc) {
        json_decref(x.rows);
        return api_fail_err(call, &err);
    }
    return json_pack("{s:o}", "appeals", x.rows);
}

json_t *api_appeal_decide(api_call *call)
{
    static const char *const ALLOWED[] = {"decision", "note"};
    json_t *answer = NULL;
    if (only_fields(call, ALLOWED, 2, &answer))
        return answer;
    const char *decision = field(call, "decision");
    if (!decision || (strcmp(decision, "upheld") && strcmp(decision, "rejected")))
        return api_fail(call, 400, "decision must be upheld or rejected");
    char *end;
    long long id = strtoll(call->params[0], &end, 10);
    if (*end || id <= 0)
        return api_fail(call, 404, "no such appeal");
    ct_err err;
    ct_db *db = api_db_as_caller(call, &err);
    if (!db)
        return api_fail_err(call, &err);
    char who[CT_USER_NAME_MAX + 8];
    actor(call, who);
    ct_appeal a;
    ct_code rc = ct_appeal_decide(db, who, id, scope(call), !strcmp(decision, "upheld"),
                                  field(call, "note"), &a, &err);
    if (rc)
        return api_fail_err(call, &err);
    return appeal_json(&a, 0);
}

/* ---- report and audit -------------------------------------------------------------- */

typedef struct report_ctx {
    json_t *rows;
    const char *region; /* "" = all */
} report_ctx;

static int report_row(void *ud, const ct_report_row *r)
{
    report_ctx *x = ud;
    if (*x->region && strcmp(r->region ? r->region : "", x->region))
        return 0;
    json_array_append_new(
        x->rows,
        json_pack("{s:s?,s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "region",
                  r->region, "day", r->day, "cases", (json_int_t)r->cases, "contacts",
                  (json_int_t)r->contacts, "notified", (json_int_t)r->notified, "delivered",
                  (json_int_t)r->delivered, "failed", (json_int_t)r->failed, "quarantine",
                  (json_int_t)r->quarantine, "test", (json_int_t)r->test, "none",
                  (json_int_t)r->none, "invitations", (json_int_t)r->invitations, "appeals",
                  (json_int_t)r->appeals, "appeals_pending", (json_int_t)r->appeals_pending,
                  "appeals_overdue", (json_int_t)r->appeals_overdue));
    return 0;
}

json_t *api_report(api_call *call)
{
    const char *day = api_query(call, "day");
    int64_t t;
    if (day && (strlen(day) != 10 || ct_parse_time(day, 1, &t)))
        return api_fail(call, 400, "day must be YYYY-MM-DD");
    ct_err err;
    ct_db *db = api_db_as_caller(call, &err);
    if (!db)
        return api_fail_err(call, &err);
    report_ctx x = {json_array(), scope(call)};
    ct_code rc = ct_report(db, day, report_row, &x, &err);
    if (rc) {
        json_decref(x.rows);
        return api_fail_err(call, &err);
    }
    return json_pack("{s:o}", "rows", x.rows);
}

json_t *api_oversight(api_call *call)
{
    ct_err err;
    ct_db *db = api_db(call->server, &err);
    if (!db)
        return api_fail_err(call, &err);
    ct_oversight o;
    ct_code rc = ct_oversight_get(db, api_query(call, "week"), &o, &err);
    if (rc)
        return api_fail_err(call, &err);
    json_t *regions = json_array(), *reads = json_array();
    for (size_t i = 0; i < o.n_regions; i++) {
        const ct_oversight_region *g = &o.regions[i];
        json_array_append_new(
            regions,
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I}", "region",
                      g->region, "cases", (json_int_t)g->cases, "contacts",
                      (json_int_t)g->contacts, "quarantine", (json_int_t)g->quarantine, "test",
                      (json_int_t)g->test, "none", (json_int_t)g->none, "sms_sent",
                      (json_int_t)g->sms_sent, "sms_delivered", (json_int_t)g->sms_delivered,
                      "appeals_filed", (json_int_t)g->appeals_filed, "appeals_decided",
                      (json_int_t)g->appeals_decided, "appeals_decided_in_time",
                      (json_int_t)g->appeals_decided_in_time, "appeals_upheld",
                      (json_int_t)g->appeals_upheld, "upheld_share",
                      g->appeals_decided
                          ? json_real((double)g->appeals_upheld / (double)g->appeals_decided)
                          : json_null(),
                      "appeals_overdue", (json_int_t)g->appeals_overdue));
    }
    for (size_t i = 0; i < o.n_readers; i++)
        json_array_append_new(reads, json_pack("{s:s,s:I,s:I}", "who", o.readers[i].who, "reads",
                                               (json_int_t)o.readers[i].reads, "records",
                                               (json_int_t)o.readers[i].records));
    json_t *out = json_pack("{s:s,s:o,s:o,s:o,s:o,s:{s:I,s:I}}", "week", o.week, "from",
                            api_time_or_null(o.from, 1), "to", api_time_or_null(o.to, 1), "regions",
                            regions, "reads", reads, "retention", "purges",
                            (json_int_t)o.retention_purges, "events_deleted",
                            (json_int_t)o.retention_events_deleted);
    ct_oversight_free(&o);
    return out;
}

typedef struct audit_ctx {
    json_t *records;
    long long since;
    size_t limit;
} audit_ctx;

static int audit_line(void *ud, const char *line, size_t len)
{
    audit_ctx *x = ud;
    json_t *rec = json_loadb(line, len, 0, NULL);
    json_t *seq = json_object_get(rec, "seq");
    if (rec && json_is_integer(seq) && json_integer_value(seq) > x->since)
        json_array_append(x->records, rec);
    else if (!rec || !json_is_integer(seq)) /* shown, never skipped: verify names it */
        json_array_append_new(x->records, json_pack("{s:n,s:b}", "seq", "unreadable", 1));
    json_decref(rec);
    return json_array_size(x->records) >= x->limit;
}

json_t *api_audit_list(api_call *call)
{
    const char *since_s = api_query(call, "since"), *limit_s = api_query(call, "limit");
    char *end;
    long long since = since_s ? strtoll(since_s, &end, 10) : 0;
    if (since_s && (!*since_s || *end || since < 0))
        return api_fail(call, 400, "since must be a record number");
    long limit = limit_s ? strtol(limit_s, &end, 10) : 100;
    if (limit_s && (!*limit_s || *end || limit < 1 || limit > AUDIT_LIMIT_MAX))
        return api_fail(call, 400, "limit must be 1 to 1000");
    audit_ctx x = {json_array(), since, (size_t)limit};
    ct_err err;
    if (ct__audit_each(api_dir(call->server), 0, (uint64_t)since, audit_line, &x, &err) != CT_OK) {
        json_decref(x.records);
        return api_fail_err(call, &err);
    }
    return json_pack("{s:o}", "records", x.records);
}

json_t *api_audit_verify(api_call *call)
{
    ct_audit_check a;
    ct_err err;
    if (ct_audit_verify(api_dir(call->server), &a, &err) != CT_OK)
        return api_fail_err(call, &err);
    json_t *out = json_pack("{s:b,s:I,s:I,s:I,s:I,s:s}", "ok", a.ok, "records",
                            (json_int_t)a.records, "unchained", (json_int_t)a.unchained, "files",
                            (json_int_t)a.files, "last_seq", (json_int_t)a.last_seq, "head",
                            a.head);
    if (!a.ok)
        json_object_set_new(out, "problem",
                            json_pack("{s:s,s:I,s:I,s:s}", "file", a.file, "line",
                                      (json_int_t)a.line, "seq", (json_int_t)a.seq, "what",
                                      a.problem));
    return out;
}
