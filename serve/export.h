/* `dne serve --export DIR`: the site as static files for nginx or a CDN:
 * the page and its assets, faces/<id>.webp for every face of the pool,
 * faces.json listing them (the page falls back to it when there is no
 * api/random), and random.webp (one face, for browsers without JavaScript). */
#ifndef DNE_SERVE_EXPORT_H
#define DNE_SERVE_EXPORT_H

#include "gan/error.h"
#include "pool.h"

int serve_export(face_pool *pool, const char *web_dir, const char *out_dir, gan_error *err);

#endif
