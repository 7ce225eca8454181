/*
 * cmd_geography.c — `celltrace geography import FILE`: the shapes the map
 * of the headquarters' page draws besides the cells (docs/WEB.md), such
 * as the districts and metro lines `simulate` writes.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int geography_help(void)
{
    printf("Usage: celltrace [--data DIR] geography import FILE.geojson\n\n"
           "Keeps a GeoJSON FeatureCollection (districts, metro lines, region boundaries)\n"
           "for the map of the page `celltrace serve` shows: there are no map tiles offline,\n"
           "so the map draws the cells and these shapes. `simulate` writes the districts\n"
           "and metro lines of its city as geography.geojson. Each import replaces the\n"
           "previous one. Features need a Point, LineString or Polygon geometry (or a Multi\n"
           "form); properties.kind (district, metro, station, region) picks the style.\n\n"
           "Exit status: 0 imported, 1 a file that is not such a collection, 2 usage.\n");
    return EXIT_OK;
}

int cmd_geography(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return geography_help();
        return cli_usage_error("geography", "unknown option");
    }
    if (argc - optind != 2 || strcmp(argv[optind], "import"))
        return cli_usage_error("geography", "expected: geography import FILE");
    ct_db *db = cli_open(ctx, 1);
    if (!db)
        return EXIT_FAIL;
    ct_err err;
    size_t features = 0;
    ct_code rc = ct_geography_import(db, argv[optind + 1], &features, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (!ctx->quiet)
        printf("%zu features imported from %s\n", features, argv[optind + 1]);
    return EXIT_OK;
}
