/*
 * routes.h — the API's handlers and what server.c gives them (internal).
 *
 * A handler gets the call (user, path parameters, parsed JSON body for
 * POST) and returns the answer's JSON, setting call->status when it is
 * not 200. It never sees a request its role may not make: server.c checks
 * the route table first. Object-level checks (another region's case or
 * contact) are the handler's, and answer 404.
 */
#ifndef CT_ROUTES_H
#define CT_ROUTES_H

#include <jansson.h>
#include <sqlite3.h>

#include "api.h"

#define API_PARAMS 2
#define API_PARAM_MAX 128

typedef struct api_server api_server;
struct MHD_Connection;

typedef struct api_call {
    api_server *server;
    struct MHD_Connection *conn;
    ct_user user;
    char params[API_PARAMS][API_PARAM_MAX]; /* the {} segments of the path */
    json_t *body;                           /* POST: the object sent */
    const char *reason;                     /* X-Reason, else "api" */
    int status;
} api_call;

typedef json_t *(*api_handler)(api_call *call);

json_t *api_healthz(api_call *call);
json_t *api_cases_list(api_call *call);
json_t *api_cases_add(api_call *call);
json_t *api_case_get(api_call *call);
json_t *api_contacts_list(api_call *call);
json_t *api_evidence(api_call *call);
json_t *api_report(api_call *call);
json_t *api_export(api_call *call);
json_t *api_appeals_list(api_call *call);
json_t *api_appeals_file(api_call *call);
json_t *api_appeal_decide(api_call *call);
json_t *api_oversight(api_call *call);
json_t *api_status(api_call *call);
json_t *api_run_start(api_call *call);
json_t *api_run_get(api_call *call);
json_t *api_audit_list(api_call *call);
json_t *api_audit_verify(api_call *call);
json_t *api_me(api_call *call);             /* map.c */
json_t *api_case_places(api_call *call);
json_t *api_cells(api_call *call);
json_t *api_hotspots(api_call *call);
json_t *api_geography(api_call *call);
json_t *api_places_many(api_call *call);

/* routes.c's services to map.c */
json_t *api_fail(api_call *call, int status, const char *msg); /* sets call->status */
json_t *api_fail_err(api_call *call, const ct_err *err);       /* status from err->code */
struct ct__case_row;
/* Whether the caller may see case_id: 1 (*c filled); 0 (404 in *answer);
 * -1 (an error in *answer). */
int api_case_visible_id(api_call *call, const char *case_id, struct ct__case_row *c,
                        json_t **answer);
ct_db *api_db_as_caller(api_call *call, ct_err *err);  /* audits name the caller */
json_t *api_place_json(const ct_place_info *p);        /* map.c */
json_t *api_time_or_null(int64_t t, int present);      /* ISO 8601 UTC, or null */

/* server.c's services to the handlers */
sqlite3 *api_sql(api_server *s);             /* this thread's connection */
ct_db *api_db(api_server *s, ct_err *err);    /* this thread's data handle */
const char *api_dir(const api_server *s);
long *api_jobs(api_server *s); /* the count of runs going (jobs.c) */
ct_keyring *api_keys(const api_server *s);
const char *api_query(const api_call *call, const char *name); /* ?name=, or NULL */
json_t *api_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int api_status_of(ct_code rc);

#endif
