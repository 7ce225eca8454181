/*
 * sim_out.h — buffered file writer, plain or compressed (internal).
 *
 * The simulator writes gigabytes of rows; callers format straight into
 * the writer's buffer (ct__sim_out_reserve / ct__sim_out_commit) and the writer
 * flushes through zlib (gzip framing, mtime 0) or zstd, or plain, so the
 * same input gives the same bytes. Errors are sticky: writes after a
 * failure are ignored and ct__sim_out_close reports the first one.
 *
 * Ownership: ct__sim_out_open returns new; ct__sim_out_close frees (NULL ok).
 */
#ifndef CT_SIM_OUT_H
#define CT_SIM_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "celltrace_sim.h"

typedef struct sim_out sim_out;

/* Creates (truncates) path. */
ct_code ct__sim_out_open(const char *path, ct_sim_compress comp, sim_out **out, ct_err *err);

/* Room for at least n bytes (n <= 4096); then commit what was written. */
char *ct__sim_out_reserve(sim_out *o, size_t n);
void ct__sim_out_commit(sim_out *o, size_t n);

void ct__sim_out_write(sim_out *o, const char *s, size_t n);
void ct__sim_out_puts(sim_out *o, const char *s);

/* Flushes, closes and frees. *bytes (may be NULL) gets the file's size. */
ct_code ct__sim_out_close(sim_out *o, uint64_t *bytes, ct_err *err);

/* The extension for a compression: "", ".gz" or ".zst". */
const char *ct__sim_out_ext(ct_sim_compress comp);

#endif
