/* `dne prep crop`: the options, the shared state of a run, and the work done
 * for one input image (decode -> detect -> crop -> filter -> save -> manifest). */
#ifndef DNE_PREP_PIPELINE_H
#define DNE_PREP_PIPELINE_H

#include <stdatomic.h>

#include "danbooru.h"
#include "detect.h"
#include "filters.h"
#include "manifest.h"

typedef struct prep_options {
    const char *in, *out, *cascade, *metadata;
    int res;
    float margin;
    int min_face;      /* faces narrower than this are rejected (0: none) */
    int upscale;       /* crops smaller than res are enlarged instead of rejected */
    int pad_skip;      /* crops leaving the picture are rejected instead of edge-padded */
    prep_detect_params detect;
    long long max_pixels;  /* pictures larger than this are refused before decoding */
    float min_colour;      /* mean chroma below this is "greyscale" (filter grey) */
    int dup_distance;      /* dHash bits within which crops are duplicates (filter dup) */
    int filter_grey, filter_dup, filter_rating, filter_tags;
    unsigned ratings;            /* mask of prep_rating accepted */
    char **exclude_tags;         /* posts with any of these are rejected */
    int exclude_count;
    int classes_top;             /* > 0: labels from the top K character tags */
    int threads;
    int quiet;
} prep_options;

/* Why a face or a file was not kept; the manifest's "status" strings. */
typedef enum prep_status {
    PREP_OK,
    PREP_EMPTY,          /* zero-byte file */
    PREP_UNREADABLE,     /* not an image, truncated or corrupt */
    PREP_TOO_LARGE,      /* over --max-pixels */
    PREP_NO_METADATA,    /* --metadata given but the post is not in it */
    PREP_RATING,         /* rating not accepted */
    PREP_TAG,            /* an excluded tag */
    PREP_NO_CLASS,       /* --classes, but none of the post's characters is a class */
    PREP_NO_FACE,
    PREP_FACE_TOO_SMALL, /* narrower than --min-face */
    PREP_CROP_TOO_SMALL, /* crop smaller than --res without --upscale */
    PREP_CROP_OUTSIDE,   /* crop leaves the picture with --pad skip */
    PREP_GREYSCALE,
    PREP_DUPLICATE,
    PREP_ERROR,          /* writing the crop failed */
    PREP_STATUS_COUNT
} prep_status;

const char *prep_status_name(prep_status s);

typedef struct prep_run {
    const prep_options *o;
    prep_manifest manifest;
    prep_dedup dedup;
    prep_danbooru db;
    int have_db;
    atomic_long counts[PREP_STATUS_COUNT]; /* this run's entries by status */
    atomic_long images_done;
} prep_run;

/* Processes one input file (path relative to o->in). Errors that concern the
 * file go to the manifest; a returned error (the manifest or output folder
 * cannot be written) stops the run. */
int prep_process_image(prep_run *run, prep_detector *det, const char *rel, gan_error *err);

/* The detector's minimum face size for a run: faces too small to be kept
 * are not searched for (they would be rejected anyway). */
int prep_search_min_size(const prep_options *o);

/* Rejection by metadata for a post (NULL when none): the status, or PREP_OK. */
prep_status prep_check_post(const prep_options *o, const prep_post *post, const char **detail);

#endif
