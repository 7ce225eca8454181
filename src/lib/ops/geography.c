/*
 * geography.c — the geography a data directory's map draws.
 *
 * There are no map tiles offline, so the headquarters' page draws what
 * the data directory holds: its cells, and the shapes imported here (for
 * a simulated city, its districts and metro lines; for a real one, the
 * regions' or districts' boundaries a ministry has). A GeoJSON
 * FeatureCollection, checked and kept whole as <data>/geography.geojson,
 * replaced atomically by each import. No personal data.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "error.h"
#include "fsio.h"

#define GEOGRAPHY_FILE "geography.geojson"
#define GEOGRAPHY_MAX (64u << 20)

static int known_geometry(const char *type)
{
    static const char *const TYPES[] = {"Point",      "MultiPoint",   "LineString",
                                        "MultiLineString", "Polygon", "MultiPolygon"};
    for (size_t i = 0; type && i < sizeof TYPES / sizeof *TYPES; i++)
        if (!strcmp(type, TYPES[i]))
            return 1;
    return 0;
}

/* A FeatureCollection whose features have a geometry we draw. */
static ct_code check_collection(const char *path, const char *text, size_t len,
                                size_t *features, ct_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ct__fail(err, CT_EINVAL, "%s line %d: not JSON: %s", path, je.line, je.text);
    ct_code rc = CT_OK;
    json_t *list = json_object_get(root, "features");
    const char *type = json_string_value(json_object_get(root, "type"));
    if (!type || strcmp(type, "FeatureCollection") || !json_is_array(list))
        rc = ct__fail(err, CT_EINVAL, "%s: not a GeoJSON FeatureCollection", path);
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f) {
        if (rc)
            break;
        json_t *g = json_object_get(f, "geometry");
        if (!json_is_object(g) || !known_geometry(json_string_value(json_object_get(g, "type"))) ||
            !json_is_array(json_object_get(g, "coordinates")))
            rc = ct__fail(err, CT_EINVAL,
                          "%s: feature %zu has no geometry of a kind the map draws (Point, "
                          "LineString, Polygon and their Multi forms)",
                          path, i + 1);
    }
    *features = rc ? 0 : json_array_size(list);
    json_decref(root);
    return rc;
}

ct_code ct_geography_import(ct_db *db, const char *path, size_t *features, ct_err *err)
{
    if (!db->writable)
        return ct__fail(err, CT_EINVAL, "geography import needs the data directory open for writing");
    char *text = NULL;
    size_t len = 0;
    ct_code rc = ct__fs_read_file(path, GEOGRAPHY_MAX, &text, &len, err);
    if (!rc)
        rc = check_collection(path, text, len, features, err);
    if (!rc) {
        char *to = ct__path_join(db->dir, GEOGRAPHY_FILE);
        rc = ct__fs_write_file(to, text, len, 0640, err);
        ct__free(to);
    }
    ct__free(text);
    return rc;
}

ct_code ct_geography_read(const char *data_dir, char **json, size_t *len, ct_err *err)
{
    char *path = ct__path_join(data_dir, GEOGRAPHY_FILE);
    ct_code rc = ct__fs_read_file(path, GEOGRAPHY_MAX, json, len, err);
    ct__free(path);
    return rc;
}
