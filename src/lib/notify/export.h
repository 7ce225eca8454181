/*
 * export.h — regional exports (internal; entry point ct_export in
 * celltrace_notify.h), and the local date function the report uses too.
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include <sqlite3.h>

#include "celltrace.h"

/* Registers ct_localdate(epoch) -> 'YYYY-MM-DD' in `zone` on a connection
 * (the zone string must outlive it). */
ct_code ct__export_register_date(sqlite3 *db, const char *zone, ct_err *err);

#endif
