/*
 * rejects.c — writes reject reports (see rejects.h).
 *
 * Opened lazily: a clean import leaves no empty report behind. Fields are
 * quoted per RFC 4180 when they hold a comma, quote or line end, so that
 * the report is itself valid CSV whatever the reason text says.
 */
#include "rejects.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "fsio.h"
#include "textparse.h"

struct ct_rejects {
    char *data_dir, *path, *name;
    FILE *fp;
    uint64_t count;
};

ct_rejects *ct__rejects_new(const char *data_dir, const char *path, const char *name)
{
    ct_rejects *r = ct__calloc(1, sizeof *r);
    r->data_dir = ct__strdup(data_dir);
    r->path = path ? ct__strdup(path) : NULL;
    const char *base = strrchr(name, '/');
    r->name = ct__strdup(base ? base + 1 : name);
    char *ext = strchr(r->name + (r->name[0] == '.'), '.'); /* "events.csv.gz" -> "events" */
    if (ext)
        *ext = '\0';
    for (char *p = r->name; *p; p++) /* keep the file name plain */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            *p = '_';
    return r;
}

static ct_code open_default(ct_rejects *r, ct_err *err)
{
    char *dir = ct__path_join(r->data_dir, "rejects");
    ct_code rc = ct__fs_mkdir(dir, 0700, err);
    char stamp[32], name[400];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    for (int i = 0; rc == CT_OK && i < 1000; i++) {
        if (i)
            snprintf(name, sizeof name, "%s-%.300s-%d.csv", stamp, r->name, i);
        else
            snprintf(name, sizeof name, "%s-%.300s.csv", stamp, r->name);
        char *path = ct__path_join(dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            r->fp = fdopen(fd, "w");
            r->path = path;
            break;
        }
        ct__free(path);
        if (errno != EEXIST)
            rc = ct__fail_errno(err, CT_EIO, errno, "cannot create a reject report in %s", dir);
    }
    ct__free(dir);
    if (rc == CT_OK && !r->fp)
        rc = ct__fail(err, CT_EIO, "cannot create a reject report");
    return rc;
}

static ct_code open_report(ct_rejects *r, ct_err *err)
{
    ct_code rc;
    if (r->path) {
        int fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return ct__fail_errno(err, CT_EIO, errno, "cannot create reject report %s", r->path);
        r->fp = fdopen(fd, "w");
    } else if ((rc = open_default(r, err)) != CT_OK) {
        return rc;
    }
    if (!r->fp)
        return ct__fail_errno(err, CT_EIO, errno, "cannot open reject report");
    fputs("file,line,column,reason,msisdn\n", r->fp);
    return CT_OK;
}

static void put_field(FILE *fp, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

ct_code ct__rejects_add(ct_rejects *r, const char *file, uint64_t line, const char *column,
                        const char *reason, const char *msisdn, size_t msisdn_len, ct_err *err)
{
    if (!r->fp) {
        ct_code rc = open_report(r, err);
        if (rc)
            return rc;
    }
    char masked[24] = "";
    if (msisdn && msisdn_len)
        ct__mask_msisdn(msisdn, msisdn_len, masked);
    put_field(r->fp, file);
    fprintf(r->fp, ",%llu,", (unsigned long long)line);
    put_field(r->fp, column ? column : "");
    fputc(',', r->fp);
    put_field(r->fp, reason);
    fputc(',', r->fp);
    put_field(r->fp, masked);
    fputc('\n', r->fp);
    r->count++;
    return CT_OK;
}

uint64_t ct__rejects_count(const ct_rejects *r)
{
    return r ? r->count : 0;
}

ct_code ct__rejects_close(ct_rejects *r, char *path_out, size_t path_cap, ct_err *err)
{
    ct_code rc = CT_OK;
    if (path_out && path_cap)
        path_out[0] = '\0';
    if (!r)
        return CT_OK;
    if (r->fp) {
        if (fflush(r->fp) != 0 || ct__fs_fsync_fd(fileno(r->fp), r->path, NULL) != CT_OK)
            rc = ct__fail_errno(err, CT_EIO, errno, "cannot write reject report %s", r->path);
        fclose(r->fp);
        if (path_out && path_cap)
            snprintf(path_out, path_cap, "%s", r->path);
    }
    ct__free(r->data_dir);
    ct__free(r->path);
    ct__free(r->name);
    ct__free(r);
    return rc;
}
