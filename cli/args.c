#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>

static int parse_u32(const char *start, const char *end, uint32_t *out) {
    if (start == end || end - start > 10) return -1;
    uint64_t v = 0;
    for (const char *p = start; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int append_range(uint32_t **seeds, int *count, int *capacity, uint32_t lo, uint32_t hi, int max_count) {
    if ((uint64_t)hi - lo + 1 > (uint64_t)(max_count - *count)) return -1;
    int need = *count + (int)(hi - lo + 1);
    if (need > *capacity) {
        int capacity2 = need > 2 * *capacity ? need : 2 * *capacity;
        uint32_t *grown = realloc(*seeds, (size_t)capacity2 * sizeof *grown);
        if (!grown) return -1;
        *seeds = grown;
        *capacity = capacity2;
    }
    for (uint64_t s = lo; s <= hi; s++) (*seeds)[(*count)++] = (uint32_t)s;
    return 0;
}

int dne_parse_seeds(const char *text, uint32_t **seeds, int *count, int max_count, gan_error *err) {
    return dne_parse_list(text, "--seeds", seeds, count, max_count, err);
}

int dne_parse_list(const char *text, const char *flag, uint32_t **seeds, int *count, int max_count, gan_error *err) {
    *seeds = NULL;
    *count = 0;
    int capacity = 0;
    const char *p = text;
    while (1) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *dash = memchr(p, '-', (size_t)(end - p));
        uint32_t lo, hi;
        int bad = dash ? parse_u32(p, dash, &lo) || parse_u32(dash + 1, end, &hi) || lo > hi
                       : parse_u32(p, end, &lo);
        if (!dash) hi = lo;
        if (bad) {
            free(*seeds);
            *seeds = NULL;
            *count = 0;
            return gan_fail(err, "bad %s '%s' at '%.*s': expected a list like 0-9, 0,5,7 or 0,2-4 (each 0 to 4294967295)",
                            flag, text, (int)(end - p), p);
        }
        if (append_range(seeds, count, &capacity, lo, hi, max_count) != 0) {
            free(*seeds);
            *seeds = NULL;
            *count = 0;
            return gan_fail(err, "%s '%s' lists more than %d numbers", flag, text, max_count);
        }
        if (!comma) return 0;
        p = comma + 1;
    }
}

int dne_parse_long(const char *text, const char *flag, long min, long max, long *out, gan_error *err) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno)
        return gan_fail(err, "bad %s '%s': expected an integer", flag, text);
    if (v < min || v > max) return gan_fail(err, "bad %s %ld: expected %ld to %ld", flag, v, min, max);
    *out = v;
    return 0;
}

int dne_parse_float(const char *text, const char *flag, double min, double max, float *out, gan_error *err) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v))
        return gan_fail(err, "bad %s '%s': expected a number", flag, text);
    if (v < min || v > max) return gan_fail(err, "bad %s %g: expected %g to %g", flag, v, min, max);
    *out = (float)v;
    return 0;
}

int dne_error(const char *command, int status, const gan_error *err) {
    fprintf(stderr, "dne %s: error: %s\n", command, err->msg);
    return status;
}

/* The program's own path, for finding files installed beside it. */
static int program_dir(char *dir, size_t size) {
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n <= 0) return -1;
    dir[n] = 0;
    char *slash = strrchr(dir, '/');
    if (!slash) return -1;
    *slash = 0;
    return 0;
}

int dne_default_network(char *path, size_t size, gan_error *err) {
    const char *env = getenv("DNE_MODEL");
    if (env && *env) {
        if (access(env, R_OK) != 0) return gan_fail(err, "DNE_MODEL=%s: %s", env, strerror(errno));
        snprintf(path, size, "%s", env);
        return 0;
    }
    char dir[4096];
    /* build/dne in a source tree, then <prefix>/bin/dne installed. */
    static const char *relative[] = {"../models/default.safetensors", "../share/dne/default.safetensors"};
    if (program_dir(dir, sizeof dir) == 0)
        for (size_t i = 0; i < sizeof relative / sizeof *relative; i++) {
            snprintf(path, size, "%s/%s", dir, relative[i]);
            if (access(path, R_OK) == 0) return 0;
        }
    return gan_fail(err, "no --network given and no default model (models/default.safetensors beside the program, "
                         "or DNE_MODEL)");
}

int dne_parse_file_command(int argc, char **argv, const char *command, void (*usage)(FILE *), const char **out,
                           const char **which, gan_error *err) {
    static const struct option longopts[] = {{"out", required_argument, 0, 'o'},
                                             {"which", required_argument, 0, 'w'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': *out = optarg; break;
        case 'w': *which = optarg; break;
        case 'h': usage(stdout); return 1;
        default:
            return gan_fail(err, "unknown or incomplete option '%s' (see dne %s --help)", argv[optind - 1], command);
        }
    }
    if (optind != argc - 1) return gan_fail(err, "give exactly one input file");
    if (!*out) return gan_fail(err, "--out is required");
    return 0;
}
