/*
 * export.h — regional exports and the daily report (internal; entry points
 * ct_export and ct_report in celltrace_notify.h).
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include <sqlite3.h>

#include "celltrace.h"

/* Registers ct_localdate(epoch) -> 'YYYY-MM-DD' in `zone` on a connection
 * (the zone string must outlive it). */
ct_code ct__export_register_date(sqlite3 *db, const char *zone, ct_err *err);

#endif
