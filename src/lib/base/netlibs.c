/*
 * netlibs.c — opens libcurl and libmicrohttpd the first time a command
 * needs them (see netlibs.h for why they are not linked).
 *
 * Each library is opened once per process (pthread_once), RTLD_NOW so a
 * missing symbol shows at load, not at the first call in the middle of a
 * dispatch; the handle is never closed (the tables point into it). A
 * failure is remembered and reported again to every later caller.
 */
#include "netlibs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "error.h"

#ifndef CT_LIBCURL_SONAME
#error "CMakeLists.txt defines CT_LIBCURL_SONAME (the soname of the libcurl built against)"
#endif
#ifndef CT_LIBMHD_SONAME
#error "CMakeLists.txt defines CT_LIBMHD_SONAME (the soname of the libmicrohttpd built against)"
#endif

ct__curl_api ct__curl;
ct__mhd_api ct__mhd;

ct_code ct__netlibs_open(const char *soname, const char *what, const char *const *names,
                         void **fns, size_t n, ct_err *err)
{
    dlerror();
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        return ct__fail(err, CT_EIO, "cannot load %s, which this command needs (%s): %s", soname,
                        what, why ? why : "not found");
    }
    for (size_t i = 0; i < n; i++) {
        dlerror();
        fns[i] = dlsym(lib, names[i]);
        if (!fns[i]) {
            const char *why = dlerror();
            ct_code rc = ct__fail(err, CT_EIO, "%s has no %s (%s): %s", soname, names[i], what,
                                  why ? why : "a null symbol");
            dlclose(lib);
            return rc;
        }
    }
    return CT_OK;
}

/* What a loader found, kept for every later caller. */
typedef struct load_state {
    pthread_once_t once;
    ct_err err;
} load_state;

/* POSIX guarantees a data pointer from dlsym converts to the function
 * pointer it names; memcpy says so without a cast between the two. */
#define CT__NETLIBS_NAME(member, fn) #fn,
#define CT__NETLIBS_SET(member, fn) memcpy(&api->member, &fns[i++], sizeof fns[0]);

static load_state curl_state = {PTHREAD_ONCE_INIT, {CT_OK, ""}};
static load_state mhd_state = {PTHREAD_ONCE_INIT, {CT_OK, ""}};

static void load_curl(void)
{
    static const char *const names[] = {CT__CURL_FUNCTIONS(CT__NETLIBS_NAME)};
    enum { N = sizeof names / sizeof names[0] };
    void *fns[N];
    ct__curl_api *api = &ct__curl;
    if (ct__netlibs_open(CT_LIBCURL_SONAME, "libcurl, Debian package libcurl4", names, fns, N,
                         &curl_state.err) == CT_OK) {
        size_t i = 0;
        CT__CURL_FUNCTIONS(CT__NETLIBS_SET)
    }
}

static void load_mhd(void)
{
    static const char *const names[] = {CT__MHD_FUNCTIONS(CT__NETLIBS_NAME)};
    enum { N = sizeof names / sizeof names[0] };
    void *fns[N];
    ct__mhd_api *api = &ct__mhd;
    if (ct__netlibs_open(CT_LIBMHD_SONAME, "libmicrohttpd, Debian package libmicrohttpd12", names,
                         fns, N, &mhd_state.err) == CT_OK) {
        size_t i = 0;
        CT__MHD_FUNCTIONS(CT__NETLIBS_SET)
    }
}

static ct_code loaded(load_state *st, void (*load)(void), ct_err *err)
{
    pthread_once(&st->once, load);
    if (st->err.code == CT_OK)
        return CT_OK;
    return ct__fail(err, st->err.code, "%s", st->err.msg);
}

ct_code ct__curl_load(ct_err *err)
{
    return loaded(&curl_state, load_curl, err);
}

ct_code ct__mhd_load(ct_err *err)
{
    return loaded(&mhd_state, load_mhd, err);
}
