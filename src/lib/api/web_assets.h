/*
 * web_assets.h — the web page's files, embedded at build time from
 * web/dist by cmake/embed_web.cmake (internal; served by server.c).
 */
#ifndef CT_WEB_ASSETS_H
#define CT_WEB_ASSETS_H

#include <stddef.h>

typedef struct ct_web_asset {
    const char *name; /* file name under /assets/, or index.html */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t size;
} ct_web_asset;

extern const ct_web_asset ct__web_assets[];
extern const size_t ct__web_asset_count;

#endif
