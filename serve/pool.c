#include "pool.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gan/io/file.h"

/* A face: in age order (a doubly linked list), in the hash table by key, and
 * in `slots` (an array, for picking one at random). */
typedef struct node {
    face_info info;
    face_blob *blob; /* NULL when not held in memory */
    struct node *older, *newer;
    int slot;
    int recently_used; /* the clock bit for dropping images from memory */
} node;

struct face_pool {
    pthread_mutex_t lock;
    char *dir;
    uint32_t fingerprint;
    int capacity, count;
    size_t memory_limit, memory;
    node *oldest, *newest;
    node **slots;
    node **table; /* open addressing, linear probing, no tombstones */
    size_t table_mask;
    int clock_hand;
};

/* ------------------------------------------------------------- hash table */

static size_t key_hash(face_key k) {
    uint64_t h = ((uint64_t)k.seed << 16) ^ (uint64_t)(k.psi_milli + 4096);
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17);
}

static int same_key(face_key a, face_key b) { return a.seed == b.seed && a.psi_milli == b.psi_milli; }

/* The bucket holding key, or the empty bucket where it would go. */
static size_t table_find(const face_pool *p, face_key key) {
    size_t i = key_hash(key) & p->table_mask;
    while (p->table[i] && !same_key(p->table[i]->info.key, key)) i = (i + 1) & p->table_mask;
    return i;
}

/* Deletion by backward shift keeps every probe chain unbroken. */
static void table_remove(face_pool *p, size_t hole) {
    p->table[hole] = NULL;
    for (size_t i = (hole + 1) & p->table_mask; p->table[i]; i = (i + 1) & p->table_mask) {
        size_t home = key_hash(p->table[i]->info.key) & p->table_mask;
        /* Move the entry into the hole if the hole lies on its probe path. */
        if (((i - home) & p->table_mask) >= ((i - hole) & p->table_mask)) {
            p->table[hole] = p->table[i];
            p->table[i] = NULL;
            hole = i;
        }
    }
}

/* ------------------------------------------------------------------ nodes */

static void face_path(const face_pool *p, const char *id, char *path, size_t size) {
    snprintf(path, size, "%s/%s.webp", p->dir, id);
}

static void drop_blob(face_pool *p, node *n) {
    if (!n->blob) return;
    p->memory -= n->blob->size;
    face_blob_unref(n->blob);
    n->blob = NULL;
}

/* Keeps the images held in memory within the limit: the clock algorithm
 * drops images not served since the hand last passed. */
static void enforce_memory_limit(face_pool *p, const node *keep) {
    for (int sweeps = 0; p->memory > p->memory_limit && sweeps < 2 * p->count + 2; sweeps++) {
        node *n = p->slots[p->clock_hand % p->count];
        p->clock_hand = (p->clock_hand + 1) % p->count;
        if (n == keep || !n->blob) continue;
        if (n->recently_used) n->recently_used = 0;
        else drop_blob(p, n);
    }
}

static void set_blob(face_pool *p, node *n, face_blob *blob) {
    drop_blob(p, n);
    n->blob = face_blob_ref(blob);
    n->recently_used = 1;
    p->memory += blob->size;
    enforce_memory_limit(p, n);
}

static void unlink_node(face_pool *p, node *n) {
    if (n->older) n->older->newer = n->newer;
    else p->oldest = n->newer;
    if (n->newer) n->newer->older = n->older;
    else p->newest = n->older;
    p->slots[n->slot] = p->slots[--p->count];
    p->slots[n->slot]->slot = n->slot;
    table_remove(p, table_find(p, n->info.key));
    drop_blob(p, n);
    free(n);
}

/* Removes a face from the pool and its file from the folder. */
static void delete_node(face_pool *p, node *n) {
    char path[4096];
    face_path(p, n->info.id, path, sizeof path);
    unlink(path);
    unlink_node(p, n);
}

static node *insert_newest(face_pool *p, face_key key) {
    node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->info.key = key;
    face_id(key, p->fingerprint, n->info.id);
    n->older = p->newest;
    if (p->newest) p->newest->newer = n;
    else p->oldest = n;
    p->newest = n;
    n->slot = p->count;
    p->slots[p->count++] = n;
    p->table[table_find(p, key)] = n;
    return n;
}

/* ------------------------------------------------------------ opening */

static int is_temporary_leftover(const char *name) {
    const char *tmp = strstr(name, ".webp.tmp-");
    return tmp && tmp - name == FACE_ID_LEN;
}

/* The file holds a complete WebP: RIFF size matching the file, WEBP tag. */
static int complete_webp(const char *path, int64_t size) {
    uint8_t head[12];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n != sizeof head || memcmp(head, "RIFF", 4) != 0 || memcmp(head + 8, "WEBP", 4) != 0) return 0;
    uint32_t riff = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16 | (uint32_t)head[7] << 24;
    return (int64_t)riff + 8 == size;
}

typedef struct found_face {
    face_key key;
    int64_t mtime;
} found_face;

static int by_age(const void *a, const void *b) {
    const found_face *x = a, *y = b;
    return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* Looks at one folder entry: a face of this network is appended to found;
 * leftovers of killed writes and faces of other networks are deleted;
 * anything else (the user's own files) is left alone. */
static void scan_entry(face_pool *p, const char *name, found_face *found, int *count, int max) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    if (is_temporary_leftover(name)) {
        unlink(path);
        return;
    }
    size_t len = strlen(name);
    if (len != FACE_ID_LEN + 5 || strcmp(name + FACE_ID_LEN, ".webp") != 0) return;
    char id[FACE_ID_LEN + 1];
    memcpy(id, name, FACE_ID_LEN);
    id[FACE_ID_LEN] = 0;
    face_key key;
    struct stat st;
    if (face_id_parse(id, p->fingerprint, &key) != 0) {
        /* Looks like a face id (of another network): stale, delete it. */
        if (id[0] == 's' && id[11] == '-' && id[18] == '-') unlink(path);
        return;
    }
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !complete_webp(path, st.st_size)) {
        unlink(path);
        return;
    }
    if (*count < max) found[(*count)++] = (found_face){key, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
}

static int scan_folder(face_pool *p, gan_error *err) {
    DIR *d = opendir(p->dir);
    if (!d) return gan_fail(err, "pool folder %s: %s", p->dir, strerror(errno));
    int max = 4096, count = 0;
    found_face *found = malloc((size_t)max * sizeof *found);
    struct dirent *e;
    while (found && (e = readdir(d)) != NULL) {
        if (count == max) {
            found_face *grown = realloc(found, (size_t)max * 2 * sizeof *found);
            if (!grown) break;
            found = grown;
            max *= 2;
        }
        scan_entry(p, e->d_name, found, &count, max);
    }
    closedir(d);
    if (!found) return gan_fail(err, "out of memory");
    qsort(found, (size_t)count, sizeof *found, by_age);
    int keep_from = count > p->capacity ? count - p->capacity : 0;
    for (int i = 0; i < count; i++) {
        if (i < keep_from) { /* over capacity: the oldest go */
            char id[FACE_ID_LEN + 1], path[4096];
            face_id(found[i].key, p->fingerprint, id);
            face_path(p, id, path, sizeof path);
            unlink(path);
        } else if (!insert_newest(p, found[i].key)) {
            free(found);
            return gan_fail(err, "out of memory");
        }
    }
    free(found);
    return 0;
}

face_pool *face_pool_open(const char *dir, uint32_t fingerprint, int capacity, size_t memory_limit,
                          gan_error *err) {
    if (capacity < 1) {
        gan_fail(err, "pool size must be at least 1");
        return NULL;
    }
    if (gan_mkdirs(dir, err) != 0) return NULL;
    face_pool *p = calloc(1, sizeof *p);
    size_t buckets = 16;
    while (buckets < (size_t)capacity * 2 + 2) buckets *= 2;
    if (p) {
        p->dir = strdup(dir);
        p->slots = calloc((size_t)capacity + 1, sizeof *p->slots);
        p->table = calloc(buckets, sizeof *p->table);
    }
    if (!p || !p->dir || !p->slots || !p->table) {
        face_pool_close(p);
        gan_fail(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->fingerprint = fingerprint;
    p->capacity = capacity;
    p->memory_limit = memory_limit;
    p->table_mask = buckets - 1;
    if (scan_folder(p, err) != 0) {
        face_pool_close(p);
        return NULL;
    }
    return p;
}

void face_pool_close(face_pool *p) {
    if (!p) return;
    while (p->oldest) unlink_node(p, p->oldest);
    if (p->table) pthread_mutex_destroy(&p->lock);
    free(p->dir);
    free(p->slots);
    free(p->table);
    free(p);
}

/* ------------------------------------------------------------ use */

int face_pool_count(face_pool *p) {
    pthread_mutex_lock(&p->lock);
    int count = p->count;
    pthread_mutex_unlock(&p->lock);
    return count;
}

int face_pool_capacity(const face_pool *p) { return p->capacity; }
uint32_t face_pool_fingerprint(const face_pool *p) { return p->fingerprint; }

size_t face_pool_memory(face_pool *p) {
    pthread_mutex_lock(&p->lock);
    size_t memory = p->memory;
    pthread_mutex_unlock(&p->lock);
    return memory;
}

int face_pool_contains(face_pool *p, face_key key) {
    pthread_mutex_lock(&p->lock);
    int found = p->table[table_find(p, key)] != NULL;
    pthread_mutex_unlock(&p->lock);
    return found;
}

int face_pool_add(face_pool *p, face_key key, face_blob *image, gan_error *err) {
    char id[FACE_ID_LEN + 1], path[4096];
    face_id(key, p->fingerprint, id);
    face_path(p, id, path, sizeof path);
    /* The slow part, writing and flushing, happens outside the lock. */
    if (gan_write_file_atomic(path, image->data, image->size, err) != 0) return -1;
    pthread_mutex_lock(&p->lock);
    node *n = p->table[table_find(p, key)];
    if (!n) {
        while (p->count >= p->capacity) delete_node(p, p->oldest);
        n = insert_newest(p, key);
    }
    if (n) set_blob(p, n, image);
    pthread_mutex_unlock(&p->lock);
    return n ? 0 : gan_fail(err, "out of memory");
}

/* Reads a face's file back into memory; NULL if it is gone or damaged. */
static face_blob *load_file(const face_pool *p, const char *id) {
    char path[4096];
    face_path(p, id, path, sizeof path);
    uint8_t *data;
    size_t size;
    gan_error err;
    if (gan_read_file(path, 64u << 20, &data, &size, &err) != 0) return NULL;
    face_blob *b = complete_webp(path, (int64_t)size) ? face_blob_new(data, size) : NULL;
    free(data);
    return b;
}

face_blob *face_pool_get(face_pool *p, face_key key) {
    pthread_mutex_lock(&p->lock);
    node *n = p->table[table_find(p, key)];
    face_blob *b = NULL;
    if (n && n->blob) {
        n->recently_used = 1;
        b = face_blob_ref(n->blob);
    } else if (n) {
        b = load_file(p, n->info.id);
        if (b) {
            set_blob(p, n, b);
        } else {
            unlink_node(p, n); /* the file was deleted or damaged behind our back */
        }
    }
    pthread_mutex_unlock(&p->lock);
    return b;
}

int face_pool_pick(face_pool *p, uint64_t random, face_info *out) {
    pthread_mutex_lock(&p->lock);
    int ok = p->count > 0;
    if (ok) *out = p->slots[random % (uint64_t)p->count]->info;
    pthread_mutex_unlock(&p->lock);
    return ok ? 0 : -1;
}

int face_pool_sync(face_pool *p) {
    pthread_mutex_lock(&p->lock);
    int removed = 0;
    for (node *n = p->oldest, *next; n; n = next) {
        next = n->newer;
        char path[4096];
        face_path(p, n->info.id, path, sizeof path);
        if (access(path, F_OK) != 0 && errno == ENOENT) {
            unlink_node(p, n);
            removed++;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return removed;
}

int face_pool_list(face_pool *p, face_info **faces, int *count) {
    pthread_mutex_lock(&p->lock);
    *count = p->count;
    *faces = malloc((size_t)(p->count + 1) * sizeof **faces);
    int i = 0;
    for (node *n = p->oldest; *faces && n; n = n->newer) (*faces)[i++] = n->info;
    pthread_mutex_unlock(&p->lock);
    return *faces ? 0 : -1;
}

int face_pool_write_index(face_pool *p, gan_error *err) {
    face_info *faces;
    int count;
    if (face_pool_list(p, &faces, &count) != 0) return gan_fail(err, "out of memory");
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; list && i < count; i++) cJSON_AddItemToArray(list, face_json(faces[i].id, faces[i].key));
    free(faces);
    char *text = list ? cJSON_PrintUnformatted(list) : NULL;
    cJSON_Delete(list);
    if (!text) return gan_fail(err, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", p->dir);
    int rc = gan_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
