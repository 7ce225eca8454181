/*
 * db.h — the open data directory (internal).
 *
 * <data>/                      mode 0700
 *   keys/pseudonym.key         32 random bytes, 0600 (pseudonyms)
 *   keys/vault.key             32 random bytes, 0600 (number vault)
 *   catalog.db                 SQLite (WAL): operators, cells, cases
 *   subscribers.dat            pseudonyms + encrypted numbers (subscribers.h)
 *   store/MANIFEST             live day segments (store.h)
 *   store/d<day>-g<gen>.seg    day segments (segment.h)
 *   staging/                   a running ingest's spill files (removed after)
 *   rejects/                   reject reports
 *   audit.log                  append-only log of reads of personal data
 *   lock                       held (flock) by the one writer at a time
 */
#ifndef CT_DB_H
#define CT_DB_H

#include "catalog.h"
#include "celltrace.h"
#include "store.h"
#include "subscribers.h"

struct ct_db {
    char *dir;
    int writable;
    int lock_fd;
    ct_catalog *cat;
    ct_subdict *subs;
    ct_store store;
    char *who, *why;
};

/* Appends one line to the audit log: who, what, object, how many records,
 * why, when. Fails the command if the log cannot be written: a read of
 * personal data that cannot be audited must not happen. */
ct_code ct__audit(ct_db *db, const char *what, const char *object, uint64_t records,
                  ct_err *err);

#endif
