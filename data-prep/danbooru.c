/* Danbooru metadata: parsing both forms, ratings, tags and character classes. */
#include "danbooru.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

/* ---------------------------------------------------------------- a growing string */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static int text_add(text *t, const char *word) {
    size_t n = strlen(word);
    if (n == 0) return 0;
    if (t->len + n + 2 > t->cap) {
        size_t cap = (t->len + n + 2) * 2;
        char *s = realloc(t->s, cap);
        if (!s) return -1;
        t->s = s;
        t->cap = cap;
    }
    if (t->len) t->s[t->len++] = ' ';
    memcpy(t->s + t->len, word, n + 1);
    t->len += n;
    return 0;
}

static char *text_take(text *t) {
    return t->s ? t->s : strdup("");
}

/* ---------------------------------------------------------------- one post */

static prep_rating parse_rating(const char *r, int new_form) {
    if (!r) return PREP_RATING_UNKNOWN;
    switch (r[0]) {
    case 'g': return PREP_RATING_GENERAL;
    case 's': return new_form ? PREP_RATING_SENSITIVE : PREP_RATING_GENERAL;
    case 'q': return PREP_RATING_QUESTIONABLE;
    case 'e': return PREP_RATING_EXPLICIT;
    default: return PREP_RATING_UNKNOWN;
    }
}

static int64_t json_id(const cJSON *v) {
    if (cJSON_IsNumber(v)) return (int64_t)v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring[0]) {
        char *end;
        long long id = strtoll(v->valuestring, &end, 10);
        if (!*end) return id;
    }
    return -1;
}

/* The older form: "tags": [{"name": ..., "category": ...}, ...] (category 4 = character). */
static int old_form_tags(const cJSON *tags, text *all, text *chars) {
    const cJSON *tag;
    cJSON_ArrayForEach(tag, tags) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(tag, "name");
        const cJSON *cat = cJSON_GetObjectItemCaseSensitive(tag, "category");
        if (!cJSON_IsString(name)) continue;
        int category = cJSON_IsNumber(cat) ? cat->valueint : cJSON_IsString(cat) ? atoi(cat->valuestring) : 0;
        if (text_add(all, name->valuestring) != 0) return -1;
        if (category == 4 && text_add(chars, name->valuestring) != 0) return -1;
    }
    return 0;
}

/* The newer form: tag_string_<category> strings. */
static int new_form_tags(const cJSON *post, text *all, text *chars) {
    static const char *keys[] = {"tag_string_general", "tag_string_character", "tag_string_copyright",
                                 "tag_string_artist", "tag_string_meta"};
    for (int k = 0; k < 5; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(post, keys[k]);
        if (!cJSON_IsString(v)) continue;
        if (text_add(all, v->valuestring) != 0 || (k == 1 && text_add(chars, v->valuestring) != 0)) return -1;
    }
    return 0;
}

static int parse_post(const cJSON *obj, prep_post *post, gan_error *err) {
    *post = (prep_post){.id = json_id(cJSON_GetObjectItemCaseSensitive(obj, "id")), .label = -1};
    if (post->id < 0) return gan_fail(err, "no post id");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(obj, "tags");
    int new_form = !cJSON_IsArray(tags);
    const cJSON *rating = cJSON_GetObjectItemCaseSensitive(obj, "rating");
    post->rating = parse_rating(cJSON_IsString(rating) ? rating->valuestring : NULL, new_form);
    text all = {0}, chars = {0};
    int rc = new_form ? new_form_tags(obj, &all, &chars) : old_form_tags(tags, &all, &chars);
    post->tags = text_take(&all);
    post->characters = text_take(&chars);
    if (rc != 0 || !post->tags || !post->characters) return gan_fail(err, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- loading */

static int add_post(prep_danbooru *db, int *cap, const cJSON *obj, gan_error *err) {
    if (db->count == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        prep_post *p = realloc(db->posts, (size_t)*cap * sizeof *p);
        if (!p) return gan_fail(err, "out of memory");
        db->posts = p;
    }
    prep_post *post = &db->posts[db->count];
    int rc = parse_post(obj, post, err);
    db->count++; /* counted even on failure, so that free releases its strings */
    return rc;
}

static int compare_posts(const void *a, const void *b) {
    int64_t x = ((const prep_post *)a)->id, y = ((const prep_post *)b)->id;
    return (x > y) - (x < y);
}

static int load_array(const char *text_buf, prep_danbooru *db, int *cap, gan_error *err) {
    cJSON *arr = cJSON_Parse(text_buf);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return gan_fail(err, "not a JSON list of posts");
    }
    int rc = 0, i = 0;
    const cJSON *obj;
    cJSON_ArrayForEach(obj, arr) {
        if (rc == 0 && add_post(db, cap, obj, err) != 0) rc = gan_fail_context(err, "post %d", i);
        i++;
    }
    cJSON_Delete(arr);
    return rc;
}

static int load_lines(FILE *f, prep_danbooru *db, int *cap, gan_error *err) {
    char *line = NULL;
    size_t n = 0;
    long line_no = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &n, f) >= 0) {
        line_no++;
        const char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) continue;
        cJSON *obj = cJSON_Parse(p);
        if (!cJSON_IsObject(obj))
            rc = gan_fail(err, "line %ld: not a JSON object", line_no);
        else if (add_post(db, cap, obj, err) != 0)
            rc = gan_fail_context(err, "line %ld", line_no);
        cJSON_Delete(obj);
    }
    free(line);
    return rc;
}

int prep_danbooru_load(const char *path, prep_danbooru *db, gan_error *err) {
    *db = (prep_danbooru){0};
    FILE *f = fopen(path, "rb");
    if (!f) return gan_fail(err, "%s: cannot open", path);
    int c, cap = 0, rc;
    while ((c = fgetc(f)) != EOF && isspace(c)) {}
    if (c == '[') {
        /* A whole JSON list: small exports; read it at once. */
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        rewind(f);
        char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
        if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
            rc = gan_fail(err, "cannot read");
        else {
            buf[size] = 0;
            rc = load_array(buf, db, &cap, err);
        }
        free(buf);
    } else {
        rewind(f);
        rc = load_lines(f, db, &cap, err);
    }
    fclose(f);
    if (rc != 0) {
        prep_danbooru_free(db);
        return gan_fail_context(err, "%s", path);
    }
    qsort(db->posts, (size_t)db->count, sizeof *db->posts, compare_posts);
    return 0;
}

void prep_danbooru_free(prep_danbooru *db) {
    for (int i = 0; i < db->count; i++) {
        free(db->posts[i].tags);
        free(db->posts[i].characters);
    }
    free(db->posts);
    for (int k = 0; k < db->class_count; k++) free(db->class_names[k]);
    free(db->class_names);
    *db = (prep_danbooru){0};
}

const prep_post *prep_danbooru_find(const prep_danbooru *db, int64_t id) {
    prep_post key = {.id = id};
    return db->count ? bsearch(&key, db->posts, (size_t)db->count, sizeof *db->posts, compare_posts) : NULL;
}

int64_t prep_danbooru_id_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!isdigit((unsigned char)*base)) return -1;
    char *end;
    long long id = strtoll(base, &end, 10);
    return (*end == '.' || *end == 0) ? id : -1;
}

/* ---------------------------------------------------------------- filters */

int prep_rating_parse(const char *list, unsigned *mask, gan_error *err) {
    *mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, "safe") || !strcmp(w, "general") || !strcmp(w, "g"))
            *mask |= PREP_RATING_GENERAL;
        else if (!strcmp(w, "sensitive"))
            *mask |= PREP_RATING_SENSITIVE;
        else if (!strcmp(w, "questionable") || !strcmp(w, "q"))
            *mask |= PREP_RATING_QUESTIONABLE;
        else if (!strcmp(w, "explicit") || !strcmp(w, "e"))
            *mask |= PREP_RATING_EXPLICIT;
        else if (!strcmp(w, "all"))
            *mask |= PREP_RATING_GENERAL | PREP_RATING_SENSITIVE | PREP_RATING_QUESTIONABLE | PREP_RATING_EXPLICIT;
        else
            return gan_fail(err, "bad --rating '%s': expected safe, general, sensitive, questionable, explicit or all",
                            w);
    }
    if (!*mask) return gan_fail(err, "--rating: empty list");
    return 0;
}

int prep_has_tag(const char *tags, const char *tag) {
    size_t n = strlen(tag);
    for (const char *p = tags; n && (p = strstr(p, tag)); p += n)
        if ((p == tags || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

/* ---------------------------------------------------------------- classes */

typedef struct tag_count {
    const char *name;
    size_t len;
    int count;
} tag_count;

static int compare_tag_names(const void *a, const void *b) {
    const tag_count *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int compare_tag_counts(const void *a, const void *b) {
    const tag_count *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return compare_tag_names(a, b);
}

/* Every character tag of the posts that pass, with how many posts carry it. */
static tag_count *count_characters(const prep_danbooru *db, int (*filter)(const prep_post *, const void *),
                                   const void *ctx, int *n) {
    size_t cap = 1024, len = 0;
    tag_count *all = malloc(cap * sizeof *all);
    for (int i = 0; all && i < db->count; i++) {
        if (filter && !filter(&db->posts[i], ctx)) continue;
        for (const char *p = db->posts[i].characters; *p;) {
            size_t k = strcspn(p, " ");
            if (len == cap) {
                tag_count *t = realloc(all, (cap *= 2) * sizeof *t);
                if (!t) {
                    free(all);
                    return NULL;
                }
                all = t;
            }
            if (k) all[len++] = (tag_count){p, k, 1};
            p += k + (p[k] == ' ');
        }
    }
    if (!all) return NULL;
    qsort(all, len, sizeof *all, compare_tag_names);
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (out && compare_tag_names(&all[out - 1], &all[i]) == 0)
            all[out - 1].count++;
        else
            all[out++] = all[i];
    }
    qsort(all, out, sizeof *all, compare_tag_counts);
    *n = (int)out;
    return all;
}

int prep_danbooru_classes(prep_danbooru *db, int top_k, int (*filter)(const prep_post *, const void *),
                          const void *ctx, gan_error *err) {
    int n = 0;
    tag_count *counts = count_characters(db, filter, ctx, &n);
    if (!counts) return gan_fail(err, "out of memory");
    db->class_count = n < top_k ? n : top_k;
    db->class_names = calloc((size_t)db->class_count + 1, sizeof *db->class_names);
    for (int k = 0; db->class_names && k < db->class_count; k++)
        db->class_names[k] = strndup(counts[k].name, counts[k].len);
    free(counts);
    if (!db->class_names) return gan_fail(err, "out of memory");
    /* A post's label: the best-ranked (most frequent) of its characters. */
    for (int i = 0; i < db->count; i++) {
        db->posts[i].label = -1;
        for (int k = 0; k < db->class_count && db->posts[i].label < 0; k++)
            if (prep_has_tag(db->posts[i].characters, db->class_names[k])) db->posts[i].label = k;
    }
    return 0;
}
