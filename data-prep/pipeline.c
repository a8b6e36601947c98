/* One input image through the whole pipeline. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "crop.h"
#include "gan/io/file.h"
#include "probe.h"

#define MAX_INPUT_FILE (512u << 20)

const char *prep_status_name(prep_status s) {
    static const char *names[PREP_STATUS_COUNT] = {
        "ok",       "empty",          "unreadable",     "too_large",    "no_metadata",
        "rating",   "excluded_tag",   "no_class",       "no_face",      "face_too_small",
        "crop_too_small", "crop_outside", "greyscale", "duplicate", "write_error"};
    return s < PREP_STATUS_COUNT ? names[s] : "?";
}

prep_status prep_check_post(const prep_options *o, const prep_post *post, const char **detail) {
    *detail = NULL;
    if (o->filter_rating && !(post->rating & o->ratings)) return PREP_RATING;
    for (int i = 0; o->filter_tags && i < o->exclude_count; i++)
        if (prep_has_tag(post->tags, o->exclude_tags[i])) {
            *detail = o->exclude_tags[i];
            return PREP_TAG;
        }
    if (o->classes_top > 0 && post->label < 0) return PREP_NO_CLASS;
    return PREP_OK;
}

/* ---------------------------------------------------------------- manifest entries */

typedef struct image_job {
    prep_run *run;
    const char *rel;
    char source[4096];
    const prep_post *post;
    char traits[64];
    cJSON *entries; /* array of this source's entries */
    prep_kept *kept; /* this source's ok crops, for the manifest's memory */
    int kept_count, kept_cap;
} image_job;

static cJSON *box_json(int x, int y, int w, int h) {
    int v[4] = {x, y, w, h};
    return cJSON_CreateIntArray(v, 4);
}

static cJSON *new_entry(image_job *job, prep_status status, const char *detail) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "source", job->source);
    cJSON_AddStringToObject(e, "status", prep_status_name(status));
    if (detail) cJSON_AddStringToObject(e, "detail", detail);
    if (job->traits[0]) cJSON_AddStringToObject(e, "converted", job->traits);
    if (job->post) {
        cJSON_AddNumberToObject(e, "danbooru_id", (double)job->post->id);
        cJSON *tags = cJSON_AddArrayToObject(e, "tags");
        char *copy = strdup(job->post->tags);
        for (char *save, *t = copy ? strtok_r(copy, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
            cJSON_AddItemToArray(tags, cJSON_CreateString(t));
        free(copy);
        if (job->post->label >= 0) cJSON_AddNumberToObject(e, "label", job->post->label);
    }
    cJSON_AddItemToArray(job->entries, e);
    atomic_fetch_add(&job->run->counts[status], 1);
    return e;
}

/* Writes the source's entries as lines, in one append. */
static int flush_entries(image_job *job, gan_error *err) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : gan_fail(err, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, job->entries) {
        char *line = rc == 0 ? cJSON_PrintUnformatted(e) : NULL;
        if (!line) {
            rc = rc ? rc : gan_fail(err, "out of memory");
            break;
        }
        size_t n = strlen(line);
        if (len + n + 1 > cap) {
            char *b = realloc(buf, cap = 2 * (len + n + 1));
            if (!b) rc = gan_fail(err, "out of memory");
            else buf = b;
        }
        if (rc == 0) {
            memcpy(buf + len, line, n);
            buf[len + n] = '\n';
            len += n + 1;
        }
        free(line);
    }
    if (rc == 0) rc = prep_manifest_append(&job->run->manifest, buf, len, job->kept, job->kept_count, err);
    free(buf);
    for (int i = 0; i < job->kept_count; i++) free(job->kept[i].file);
    free(job->kept);
    return rc;
}

/* ---------------------------------------------------------------- one face */

/* "sub/name.jpg", face 2 -> "sub/name_2.png" */
static void crop_name(const char *rel, int k, char *out, size_t n) {
    const char *slash = strrchr(rel, '/'), *dot = strrchr(rel, '.');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - rel) : strlen(rel);
    snprintf(out, n, "%.*s_%d.png", (int)stem, rel, k);
}

static int save_crop(image_job *job, const gan_image *crop, const char *name, gan_error *err) {
    const prep_options *o = job->run->o;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", o->out, name);
    char *slash = strrchr(path, '/');
    *slash = 0;
    int rc = gan_mkdirs(path, err);
    *slash = '/';
    return rc == 0 ? gan_image_save(path, crop, GAN_IMAGE_PNG, 0, err) : -1;
}

/* Filters the crop of one face and saves it; the entry says what happened. */
static prep_status keep_face(image_job *job, const gan_image *img, const prep_face *f, int k, cJSON **entry,
                             gan_error *err) {
    const prep_options *o = job->run->o;
    prep_box box = prep_crop_box(f, o->margin);
    char detail[600] = "";
    prep_status st = PREP_OK;
    gan_image crop = {0};
    uint64_t hash = 0;
    if (o->min_face && f->w < o->min_face)
        st = PREP_FACE_TOO_SMALL;
    else if (!o->upscale && box.w < o->res)
        st = PREP_CROP_TOO_SMALL;
    else if (o->pad_skip && !prep_box_inside(box, img->width, img->height))
        st = PREP_CROP_OUTSIDE;
    else if (prep_crop_extract(img, box, o->res, &crop, err) != 0 || prep_dhash(&crop, &hash, err) != 0) {
        st = PREP_ERROR;
        snprintf(detail, sizeof detail, "%s", err->msg);
    } else if (o->filter_grey && prep_colourfulness(&crop) < o->min_colour)
        st = PREP_GREYSCALE;
    else if (o->filter_dup && prep_dedup_check_add(&job->run->dedup, hash) != 0)
        st = PREP_DUPLICATE;
    char name[4200];
    crop_name(job->rel, k, name, sizeof name);
    if (st == PREP_OK && save_crop(job, &crop, name, err) != 0) {
        st = PREP_ERROR;
        snprintf(detail, sizeof detail, "%s", err->msg);
    }
    gan_image_free(&crop);
    cJSON *e = *entry = new_entry(job, st, detail[0] ? detail : NULL);
    if (st == PREP_OK) {
        cJSON_AddStringToObject(e, "file", name);
        if (job->kept_count == job->kept_cap) {
            int cap = job->kept_cap ? 2 * job->kept_cap : 8;
            prep_kept *k = realloc(job->kept, (size_t)cap * sizeof *k);
            if (k) job->kept = k, job->kept_cap = cap;
        }
        char *copy = strdup(name);
        if (copy && job->kept_count < job->kept_cap)
            job->kept[job->kept_count++] = (prep_kept){copy, job->post ? job->post->label : -1, hash};
        else
            free(copy); /* out of memory: only the resume's duplicate memory loses this crop */
    }
    cJSON_AddItemToObject(e, "face", box_json(f->x, f->y, f->w, f->h));
    cJSON_AddItemToObject(e, "crop", box_json(box.x, box.y, box.w, box.h));
    cJSON_AddNumberToObject(e, "scale", (double)o->res / box.w);
    cJSON_AddNumberToObject(e, "neighbors", f->neighbors);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    if (hash) cJSON_AddStringToObject(e, "phash", hex);
    return st;
}

/* ---------------------------------------------------------------- one image */

/* Reads, probes and decodes; returns the status when the file is refused. */
static prep_status load_picture(image_job *job, gan_image *img, char *detail, size_t n) {
    const prep_options *o = job->run->o;
    uint8_t *data;
    size_t size;
    gan_error e = {{0}};
    if (gan_read_file(job->source, MAX_INPUT_FILE, &data, &size, &e) != 0) {
        snprintf(detail, n, "%s", e.msg);
        return PREP_UNREADABLE;
    }
    prep_probe_info info;
    prep_status st = PREP_OK;
    if (size == 0)
        st = PREP_EMPTY;
    else if (prep_probe(data, size, &info, &e) != 0)
        st = PREP_UNREADABLE;
    else if (info.width * info.height > o->max_pixels) {
        st = PREP_TOO_LARGE;
        snprintf(e.msg, sizeof e.msg, "%lldx%lld is over the %lld pixel limit", info.width, info.height,
                 o->max_pixels);
    } else if (gan_image_decode(data, size, img, &e) != 0)
        st = PREP_UNREADABLE;
    if (st == PREP_OK) prep_traits_text(info.traits & ~(unsigned)PREP_TRAIT_GREY, job->traits, sizeof job->traits);
    if (st == PREP_OK && (gan_image_flatten_alpha(img, 255, &e) != 0 || gan_image_convert(img, 3, &e) != 0))
        st = PREP_UNREADABLE;
    if (st != PREP_OK) snprintf(detail, n, "%s", e.msg);
    free(data);
    return st;
}

/* Metadata checks before any pixel work: rejected posts cost nothing. */
static prep_status check_metadata(image_job *job, const char **detail) {
    prep_run *run = job->run;
    *detail = NULL;
    if (!run->have_db) return PREP_OK;
    job->post = prep_danbooru_find(&run->db, prep_danbooru_id_of(job->rel));
    if (!job->post) return PREP_NO_METADATA;
    return prep_check_post(run->o, job->post, detail);
}

/* The smallest face that can be kept: narrower faces fail --min-face, or give
 * a crop smaller than --res without --upscale. The detector need not look
 * for them; most of its time goes to the small scales (the number of windows
 * grows with 1/size^2), so this is where the speed comes from. The search
 * starts well below (1/1.5: OpenCV merges boxes within 20% of each
 * other's size, and merges chain) so that kept faces are grouped as in a full
 * search (tests/test_prep_detect.c checks this on the test illustrations). */
int prep_search_min_size(const prep_options *o) {
    double keep = o->min_face;
    if (!o->upscale && o->res / (1.0 + 2.0 * o->margin) > keep) keep = o->res / (1.0 + 2.0 * o->margin);
    int search = (int)(keep / 1.5);
    return search > o->detect.min_size ? search : o->detect.min_size;
}

static int detect_and_crop(image_job *job, prep_detector *det, const gan_image *img, gan_error *err) {
    prep_face *faces = NULL;
    int count = 0;
    prep_detect_params params = job->run->o->detect;
    params.min_size = prep_search_min_size(job->run->o);
    if (prep_detect(det, img->pixels, img->width, img->height, img->channels, &params, &faces, &count, err) != 0) {
        new_entry(job, PREP_UNREADABLE, err->msg);
        return 0;
    }
    if (count == 0) new_entry(job, PREP_NO_FACE, NULL);
    for (int k = 0; k < count; k++) {
        cJSON *entry;
        gan_error face_err = {{0}};
        keep_face(job, img, &faces[k], k, &entry, &face_err);
    }
    free(faces);
    return 0;
}

int prep_process_image(prep_run *run, prep_detector *det, const char *rel, gan_error *err) {
    image_job *job = calloc(1, sizeof *job);
    if (!job) return gan_fail(err, "out of memory");
    job->run = run;
    job->rel = rel;
    snprintf(job->source, sizeof job->source, "%s/%s", run->o->in, rel);
    job->entries = cJSON_CreateArray();
    const char *why = NULL;
    char detail[GAN_ERROR_LEN] = "";
    prep_status st = check_metadata(job, &why);
    gan_image img = {0};
    if (st == PREP_OK) st = load_picture(job, &img, detail, sizeof detail);
    if (st != PREP_OK)
        new_entry(job, st, why ? why : detail[0] ? detail : NULL);
    else
        detect_and_crop(job, det, &img, err);
    gan_image_free(&img);
    int rc = flush_entries(job, err);
    cJSON_Delete(job->entries);
    free(job);
    atomic_fetch_add(&run->images_done, 1);
    return rc;
}
