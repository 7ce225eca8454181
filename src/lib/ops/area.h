/*
 * area.h — area queries for the rest of the library (internal; the public
 * entry point is ct_area_query in celltrace.h).
 */
#ifndef CT_AREA_H
#define CT_AREA_H

#include "celltrace.h"

/* ct_area_query without reading a number: items carry their subscriber
 * id and an empty msisdn, in no particular order. Audited as
 * "area (no numbers)". For run --area, which queues messages by
 * subscriber id (the dispatcher reads each number when it sends). */
ct_code ct__area_presences(ct_db *db, const ct_area *q, const ct_params *p, ct_presences **out,
                           ct_err *err);

#endif
