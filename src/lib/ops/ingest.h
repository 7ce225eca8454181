/*
 * ingest.h — what tests may ask a batch of ingest.c (internal).
 */
#ifndef CT_INGEST_H
#define CT_INGEST_H

#include <stddef.h>

#include "celltrace.h"

/* The bytes the batch's day buffers hold now: their capacity, summed over
 * days, counted from the buffers themselves. The memory limit
 * (ct_import_opts.memory_mb) bounds it between rows. */
size_t ct__ingest_buffered_bytes(const ct_ingest *in);

#endif
