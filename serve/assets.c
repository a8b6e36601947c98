#include "assets.h"

#include <string.h>

const serve_asset *serve_asset_find(const char *name) {
    for (const serve_asset *a = serve_assets; a->name; a++)
        if (strcmp(a->name, name) == 0) return a;
    return NULL;
}
