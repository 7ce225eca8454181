/*
 * netlibs.h — libcurl and libmicrohttpd, loaded when first needed
 * (internal).
 *
 * Only `notify` (the SMS gateway, delivery reports) and `serve` speak
 * HTTP, but linking libcurl and libmicrohttpd made every command load
 * them and the ~27 libraries they pull in (TLS, Kerberos, LDAP, SSH...):
 * 13 ms of a 18 ms process start on the 2-core machine, paid by each
 * delivery's ingest and each trace. So they are opened with dlopen by the
 * code that needs them, by soname (CT_LIBCURL_SONAME and
 * CT_LIBMHD_SONAME, found by CMake at build time), and called through
 * these tables, whose member types are the headers' own prototypes.
 *
 * ct__curl_load / ct__mhd_load are idempotent and thread-safe; after one
 * returned CT_OK, ct__curl / ct__mhd may be called. A missing library or
 * symbol is an error that names the library and the Debian package.
 */
#ifndef CT_NETLIBS_H
#define CT_NETLIBS_H

#include <stddef.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "celltrace.h"

/* X(member, library function): one list gives each table's members (of
 * the header's own type) and the names the loader resolves. */
#define CT__CURL_FUNCTIONS(X)                                                                    \
    X(global_init, curl_global_init)                                                             \
    X(global_cleanup, curl_global_cleanup)                                                       \
    X(easy_init, curl_easy_init)                                                                 \
    X(easy_setopt, curl_easy_setopt)                                                             \
    X(easy_perform, curl_easy_perform)                                                           \
    X(easy_getinfo, curl_easy_getinfo)                                                           \
    X(easy_strerror, curl_easy_strerror)                                                         \
    X(easy_escape, curl_easy_escape)                                                             \
    X(easy_cleanup, curl_easy_cleanup)                                                           \
    X(free, curl_free)

#define CT__MHD_FUNCTIONS(X)                                                                     \
    X(start_daemon, MHD_start_daemon)                                                            \
    X(stop_daemon, MHD_stop_daemon)                                                              \
    X(quiesce_daemon, MHD_quiesce_daemon)                                                        \
    X(get_daemon_info, MHD_get_daemon_info)                                                      \
    X(is_feature_supported, MHD_is_feature_supported)                                            \
    X(lookup_connection_value, MHD_lookup_connection_value)                                      \
    X(create_response_from_buffer, MHD_create_response_from_buffer)                              \
    X(add_response_header, MHD_add_response_header)                                              \
    X(queue_response, MHD_queue_response)                                                        \
    X(destroy_response, MHD_destroy_response)

#define CT__NETLIBS_MEMBER(member, fn) __typeof__(fn) *member;
typedef struct ct__curl_api {
    CT__CURL_FUNCTIONS(CT__NETLIBS_MEMBER)
} ct__curl_api;

typedef struct ct__mhd_api {
    CT__MHD_FUNCTIONS(CT__NETLIBS_MEMBER)
} ct__mhd_api;

/* Filled by the loaders; read-only afterwards. */
extern ct__curl_api ct__curl;
extern ct__mhd_api ct__mhd;

ct_code ct__curl_load(ct_err *err);
ct_code ct__mhd_load(ct_err *err);

/* The loader under both: opens `soname` and resolves names[0..n) into
 * fns[0..n). On failure nothing is kept open and the message names
 * `what` (the library and its Debian package) and dlerror's reason. */
ct_code ct__netlibs_open(const char *soname, const char *what, const char *const *names,
                         void **fns, size_t n, ct_err *err);

#endif
