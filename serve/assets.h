/* The page's files (web/), compiled into the program by
 * cmake/embed_assets.cmake. Only these names are ever served as assets. */
#ifndef DNE_SERVE_ASSETS_H
#define DNE_SERVE_ASSETS_H

#include <stddef.h>

typedef struct serve_asset {
    const char *name; /* "index.html", "app.js", ... */
    const char *mime;
    const unsigned char *data;
    size_t size;
} serve_asset;

/* Ends with an entry whose name is NULL. */
extern const serve_asset serve_assets[];

/* The embedded asset of that name, or NULL. */
const serve_asset *serve_asset_find(const char *name);

#endif
