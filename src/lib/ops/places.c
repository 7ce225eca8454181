/*
 * places.c — where a case was during its infectious window.
 *
 * The regional headquarters' page draws the cases on a map: where each
 * one stayed while it could infect others. These are the same presences
 * a trace takes of its case (ct__presences_of: SPEC 4.2, cut to the
 * window, consecutive ones at one place joined), with each place as the
 * evidence shows it (a cell's coverage disk, or a fix and its accuracy).
 * A case's movements are personal data, so the read is audited.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cases.h"
#include "db.h"
#include "error.h"
#include "scan.h"

ct_code ct_case_stays_get(ct_db *db, const char *case_id, const ct_params *p,
                          ct_case_stays **out, ct_err *err)
{
    ct_params params;
    if (p)
        params = *p;
    else
        ct_params_default(&params);
    *out = NULL;
    ct__case_row c;
    ct_code rc = ct_params_check(&params, err);
    if (!rc)
        rc = ct__case_get(db, case_id, &c, err);
    if (rc)
        return rc;
    int64_t from = c.onset - params.infectious_before_s;
    int64_t to = c.has_isolated ? c.isolated : c.onset + params.infectious_after_s;
    ct__case_interval *ivs = NULL;
    size_t n = 0;
    for (int attempt = 0;; attempt++) { /* a writer may replace a segment under us */
        int vanished = 0;
        ct__free(ivs);
        ivs = NULL;
        n = 0;
        rc = to > from ? ct__presences_of(db, c.sub, from, to, params.max_presence_s, &ivs, &n,
                                          &vanished, err)
                       : CT_OK;
        if (rc || !vanished || attempt == 3 || db->writable)
            break;
        if ((rc = ct__db_reload(db, err)) != CT_OK)
            break;
    }
    if (!rc)
        rc = ct__audit(db, "case places", c.case_id, n, err);
    if (rc) {
        ct__free(ivs);
        return rc;
    }
    ct_case_stays *s = ct__calloc(1, sizeof *s);
    s->window_from = from;
    s->window_to = to;
    s->items = ct__calloc(n + 1, sizeof *s->items);
    for (size_t i = 0; i < n; i++) {
        ct_case_stay *st = &s->items[s->n++];
        st->start = ivs[i].start;
        st->end = ivs[i].end;
        if (ivs[i].loc != CT_LOC_NONE)
            ct__place_of_cell(db, ivs[i].loc, &st->place);
        else
            ct__place_of_point(db, ivs[i].lat, ivs[i].lon, ivs[i].radius, ivs[i].op,
                               &st->place);
    }
    ct__free(ivs);
    *out = s;
    return CT_OK;
}

void ct_case_stays_free(ct_case_stays *s)
{
    if (!s)
        return;
    ct__free(s->items);
    ct__free(s);
}
