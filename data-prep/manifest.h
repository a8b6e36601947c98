/* manifest.jsonl: one JSON object per detected face or rejected file, appended
 * as the run goes. It is also the run's memory: a re-run skips every source
 * it already names, so a killed run resumes where it stopped. All lines of one
 * source go out in a single write(), after that source's crops are in place,
 * so a line never names a crop that is missing; a line cut by a kill is
 * dropped on resume. */
#ifndef DNE_PREP_MANIFEST_H
#define DNE_PREP_MANIFEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "gan/error.h"

typedef struct prep_kept {
    char *file; /* crop path relative to the output folder */
    int label;
    uint64_t phash;
} prep_kept;

typedef struct prep_manifest {
    pthread_mutex_t lock;
    int fd;
    char **done; /* sources already in the manifest, sorted */
    int done_count;
    prep_kept *kept; /* every "ok" entry, earlier runs included */
    int kept_count, kept_cap;
} prep_manifest;

/* Opens (creating) path for appending and loads what it already holds. */
int prep_manifest_open(prep_manifest *m, const char *path, gan_error *err);
int prep_manifest_has(const prep_manifest *m, const char *source);
/* Appends n bytes of complete lines at once; records the ok crops given. */
int prep_manifest_append(prep_manifest *m, const char *lines, size_t n, const prep_kept *kept, int kept_count,
                         gan_error *err);
void prep_manifest_close(prep_manifest *m);

#endif
