/*
 * map.c — what the regional headquarters' page needs beside the
 * registry: who is logged in, where the cases were, the cells to draw,
 * and the hotspots (docs/API.md, docs/WEB.md).
 *
 * There are no map tiles offline, so the page draws the geography the
 * data holds: the cells' coverage disks per operator, and the places the
 * cases stayed at during their infectious windows. A case's stays are
 * personal data: visible only where the case is (the same rule as the
 * case itself), and audited with the user.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases.h"
#include "catalog.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "routes.h"
#include "textparse.h"

json_t *api_place_json(const ct_place_info *p)
{
    json_t *o = json_pack("{s:s,s:f,s:f,s:f}", "kind", p->is_point ? "point" : "cell", "lat",
                          p->lat, "lon", p->lon, "radius_m", p->radius_m);
    if (p->operator_name[0])
        json_object_set_new(o, "operator", json_string(p->operator_name));
    if (!p->is_point)
        json_object_set_new(o, "cell_id", json_string(p->cell_id));
    if (p->region[0])
        json_object_set_new(o, "region", json_string(p->region));
    return o;
}

/* GET /api/v1/me: the caller's own account, and the settings the page
 * shows dates and texts in. */
json_t *api_me(api_call *call)
{
    ct_conf conf;
    ct_err err;
    if (ct__conf_load(api_dir(call->server), &conf, &err))
        return api_fail_err(call, &err);
    return json_pack("{s:s,s:s,s:s?,s:s,s:s}", "name", call->user.name, "role",
                     ct_role_name(call->user.role),
                     "region", call->user.role == CT_ROLE_REGIONAL ? call->user.region : NULL,
                     "timezone", conf.timezone, "language", conf.language);
}

/* One case's stays as JSON, when the caller may map it: NULL with *status
 * 404 (not theirs: a regional user maps the cases registered in their
 * region only; another region's case is in their list because some of its
 * contacts live there, which does not make its movements theirs to see),
 * or another status with *answer set. Audited ("case places"). */
static json_t *stays_json(api_call *call, const char *case_id, json_t **answer)
{
    ct__case_row c;
    int seen = api_case_visible_id(call, case_id, &c, answer);
    if (seen < 0)
        return NULL;
    if (!seen || (call->user.role == CT_ROLE_REGIONAL && strcmp(c.region, call->user.region))) {
        json_decref(*answer);
        *answer = api_fail(call, 404, "no such case");
        return NULL;
    }
    ct_err err;
    ct_db *db = api_db_as_caller(call, &err);
    ct_case_stays *s = NULL;
    if (!db || ct_case_stays_get(db, c.case_id, NULL, &s, &err)) {
        *answer = api_fail_err(call, &err);
        return NULL;
    }
    json_t *stays = json_array();
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(stays, json_pack("{s:o,s:o,s:I,s:o}", "start",
                                               api_time_or_null(s->items[i].start, 1), "end",
                                               api_time_or_null(s->items[i].end, 1), "seconds",
                                               (json_int_t)(s->items[i].end - s->items[i].start),
                                               "place", api_place_json(&s->items[i].place)));
    json_t *out = json_pack("{s:s,s:o,s:o,s:o}", "case_id", c.case_id, "window_from",
                            api_time_or_null(s->window_from, 1), "window_to", api_time_or_null(s->window_to, 1),
                            "stays", stays);
    ct_case_stays_free(s);
    return out;
}

/* GET /api/v1/cases/{id}/places: the case's stays in its window. */
json_t *api_case_places(api_call *call)
{
    json_t *answer = NULL;
    json_t *out = stays_json(call, call->params[0], &answer);
    return out ? out : answer;
}

#define PLACES_MANY_MAX 50

/* GET /api/v1/places?cases=ID,ID,...: the stays of up to 50 cases in one
 * request (the map of a region with a thousand cases), each as
 * /cases/{id}/places would answer; those the caller may not map are left
 * out and counted. */
json_t *api_places_many(api_call *call)
{
    const char *list = api_query(call, "cases");
    if (!list || !*list)
        return api_fail(call, 400, "cases must list case ids, separated by commas");
    json_t *cases = json_array();
    size_t asked = 0, left_out = 0;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char id[CT_ID_MAX + 1];
        if (++asked > PLACES_MANY_MAX || len == 0 || len > CT_ID_MAX) {
            json_decref(cases);
            return api_fail(call, 400, "cases must list 1 to 50 case ids, separated by commas");
        }
        memcpy(id, p, len);
        id[len] = '\0';
        json_t *answer = NULL;
        json_t *one = stays_json(call, id, &answer);
        if (one) {
            json_array_append_new(cases, one);
        } else if (call->status == 404) {
            json_decref(answer);
            call->status = 200;
            left_out++;
        } else {
            json_decref(cases);
            return answer;
        }
        p += len + (comma ? 1 : 0);
    }
    return json_pack("{s:o,s:I}", "cases", cases, "left_out", (json_int_t)left_out);
}

/* GET /api/v1/cells[?operator=]: the catalogue's coverage disks (no
 * personal data), for the map. */
json_t *api_cells(api_call *call)
{
    const char *only = api_query(call, "operator");
    ct_err err;
    ct_db *db = api_db(call->server, &err);
    if (!db)
        return api_fail_err(call, &err);
    json_t *cells = json_array();
    uint32_t n = ct__catalog_cell_count(db->cat);
    for (uint32_t loc = 0; loc < n; loc++) {
        const ct_cell *c = ct__catalog_cell(db->cat, loc);
        if (!c || !c->cell_id)
            continue;
        const char *op = ct__catalog_operator_name(db->cat, c->op);
        if (only && (!op || strcmp(op, only)))
            continue;
        json_array_append_new(cells, json_pack("{s:s?,s:s,s:f,s:f,s:f,s:s?}", "operator", op,
                                               "cell_id", c->cell_id, "lat", c->lat, "lon",
                                               c->lon, "radius_m", c->radius, "region",
                                               c->region));
    }
    return json_pack("{s:o}", "cells", cells);
}

/* GET /api/v1/geography: the shapes `celltrace geography import` kept
 * (an empty collection when none). No personal data. */
json_t *api_geography(api_call *call)
{
    char *text = NULL;
    size_t len = 0;
    ct_err err;
    ct_code rc = ct_geography_read(api_dir(call->server), &text, &len, &err);
    if (rc == CT_ENOTFOUND)
        return json_pack("{s:s,s:[]}", "type", "FeatureCollection", "features");
    if (rc)
        return api_fail_err(call, &err);
    json_error_t je;
    json_t *g = json_loadb(text, len, 0, &je);
    free(text);
    return g ? g : api_fail(call, 500, "the stored geography is not JSON");
}

/* GET /api/v1/hotspots?from=&to=&min_cases=: where cases met during
 * their infectious windows (docs/AREA.md section 3). A regional user gets
 * those where the cases registered in their region met each other: their
 * movements are theirs to see, another region's cases' are not. */
json_t *api_hotspots(api_call *call)
{
    ct_hotspot_query q;
    ct_hotspot_query_default(&q);
    const char *from = api_query(call, "from"), *to = api_query(call, "to");
    const char *min = api_query(call, "min_cases");
    if (!from || !to || ct_parse_time(from, 1, &q.from) || ct_parse_time(to, 1, &q.to))
        return api_fail(call, 400, "from and to are required, as dates or times (ISO 8601)");
    if (min) {
        char *end;
        long v = strtol(min, &end, 10);
        if (!*min || *end || v < 2 || v > 1000)
            return api_fail(call, 400, "min_cases must be 2 to 1000");
        q.min_cases = (unsigned)v;
    }
    q.count_others = 0;
    ct_err err;
    ct_db *db = api_db_as_caller(call, &err);
    if (!db)
        return api_fail_err(call, &err);
    ct_hotspots *h = NULL;
    if (call->user.role == CT_ROLE_REGIONAL)
        q.region = call->user.region;
    if (ct_hotspots_find(db, &q, NULL, &h, &err))
        return api_fail_err(call, &err);
    json_t *rows = json_array();
    for (size_t i = 0; i < h->n; i++) {
        const ct_hotspot *x = &h->items[i];
        json_t *cases = json_array();
        for (size_t k = 0; k < x->n_cases; k++)
            json_array_append_new(cases, json_string(x->case_ids[k]));
        json_array_append_new(rows, json_pack("{s:s,s:b,s:f,s:f,s:f,s:o,s:o,s:f}", "place",
                                              x->place, "is_cell", x->is_cell, "lat", x->lat,
                                              "lon", x->lon, "radius_m", x->radius_m, "hour",
                                              api_time_or_null(x->hour, 1), "cases", cases, "score",
                                              x->score));
    }
    json_t *out = json_pack("{s:o,s:I}", "hotspots", rows, "places", (json_int_t)h->n_places);
    ct_hotspots_free(h);
    return out;
}
