/* Danbooru metadata (the JSON-lines dumps of the Danbooru2017-2021 releases
 * and the newer API form): ratings and tags of each post, to filter posts and
 * to give class labels from character tags. Posts are matched to images by
 * file name: <id>.<ext>, in the original/<bucket>/ layout or anywhere else. */
#ifndef DNE_PREP_DANBOORU_H
#define DNE_PREP_DANBOORU_H

#include <stdint.h>

#include "gan/error.h"

/* Ratings in one scale for both forms: the old "s" (safe) and the new "g"
 * (general) are GENERAL; the new "s" is SENSITIVE. */
typedef enum prep_rating {
    PREP_RATING_UNKNOWN = 0,
    PREP_RATING_GENERAL = 1,
    PREP_RATING_SENSITIVE = 2,
    PREP_RATING_QUESTIONABLE = 4,
    PREP_RATING_EXPLICIT = 8,
} prep_rating;

typedef struct prep_post {
    int64_t id;
    prep_rating rating;
    char *tags;       /* every tag, space-separated (general, character, copyright, artist, meta) */
    char *characters; /* character tags, space-separated */
    int label;        /* class from --classes, -1 if none */
} prep_post;

typedef struct prep_danbooru {
    prep_post *posts; /* sorted by id */
    int count;
    char **class_names; /* class k's character tag */
    int class_count;
} prep_danbooru;

/* Reads JSON lines (or one JSON array) of posts. Lines that are not posts are
 * an error naming the line. */
int prep_danbooru_load(const char *path, prep_danbooru *db, gan_error *err);
void prep_danbooru_free(prep_danbooru *db);
const prep_post *prep_danbooru_find(const prep_danbooru *db, int64_t id);
/* The post id of an image path: the digits of its base name ("0123/123123.jpg"), or -1. */
int64_t prep_danbooru_id_of(const char *path);

/* "safe,questionable" -> a mask of prep_rating; "safe" = "general"; "all". */
int prep_rating_parse(const char *text, unsigned *mask, gan_error *err);
/* 1 if the space-separated tag list holds tag. */
int prep_has_tag(const char *tags, const char *tag);

/* Class labels from character tags: the top_k characters by number of posts
 * among those passing filter (NULL = all). Sets each post's label to the rank
 * of its most frequent character among them, or -1. */
int prep_danbooru_classes(prep_danbooru *db, int top_k, int (*filter)(const prep_post *, const void *),
                          const void *ctx, gan_error *err);

#endif
