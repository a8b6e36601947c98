/* dne prep: from illustrations to a training dataset.
 *   dne prep crop  faces found by the anime-face cascade, cropped square, filtered
 *   dne prep pack  crops (or a dataset zip) into a .dset file or a dataset zip */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "data-prep/pack.h"
#include "data-prep/run.h"

#define MAX_TAGS 256

static void crop_usage(FILE *out) {
    fprintf(out,
            "usage: dne prep crop --in DIR --out DIR --cascade lbpcascade_animeface.xml [options]\n"
            "  --in DIR             illustrations (searched recursively; JPEG, PNG, WebP, GIF by content)\n"
            "  --out DIR            crops (PNG, the input's subfolders kept) + manifest.jsonl\n"
            "  --cascade FILE       OpenCV cascade (nagadomi's lbpcascade_animeface.xml)\n"
            "  --res N              crop size in pixels (default 512)\n"
            "  --margin M           crop side = face width x (1 + 2M), centred on the face (default 0.5)\n"
            "  --min-face PX        reject faces narrower than PX (default 0: none)\n"
            "  --upscale            enlarge crops smaller than --res (Lanczos) instead of rejecting them\n"
            "  --pad MODE           crops leaving the picture: edge (replicate edge pixels, default) or skip\n"
            "  --scale-factor F     detector pyramid step (default 1.1)\n"
            "  --min-neighbors N    detector hits needed per face (default 5)\n"
            "  --min-size PX        smallest face searched for (default 24)\n"
            "  --max-pixels N       refuse pictures larger than N pixels before decoding (default 100000000)\n"
            "  --filter LIST        filters on: grey,dup,rating,tags, or none (default: all)\n"
            "  --min-colour C       mean chroma (0-1) below which a crop is greyscale (default 0.04)\n"
            "  --dup-distance B     dHash bits within which crops are near-duplicates (default 4)\n"
            "  --metadata FILE      Danbooru metadata, JSON lines (or a JSON list) of posts\n"
            "  --rating LIST        accepted ratings: safe (= general), sensitive, questionable, explicit, all\n"
            "                       (default safe)\n"
            "  --exclude-tags LIST  reject posts with any of these tags (default comic,monochrome,greyscale)\n"
            "  --classes character  class labels from character tags (writes dataset.json)\n"
            "  --top K              the K most frequent characters become classes (default 100)\n"
            "  --threads N          worker threads (default: all cores)\n"
            "  --quiet              no progress line or summary\n");
}

static void pack_usage(FILE *out) {
    fprintf(out,
            "usage: dne prep pack --in CROPS --out faces.dset [options]\n"
            "  --in PATH   a folder of same-size square images (e.g. dne prep crop's output), a\n"
            "              stylegan2-ada-pytorch dataset zip or a .dset\n"
            "  --out FILE  the packed dataset (.dset, memory-mapped by dne train)\n"
            "  --res N     resize to N x N (area when shrinking, Lanczos when enlarging)\n"
            "  --labels    keep class labels (from dataset.json; an error if there are none)\n"
            "  --class NAME[,NAME...]  only these classes' images (e.g. one character of dne prep crop\n"
            "              --classes character); with --labels they become classes 0, 1, ... in this order\n"
            "  --zip       write a stylegan2-ada-pytorch dataset zip instead\n"
            "  --quiet     no summary line\n");
}

static int parse_filters(const char *text, prep_options *o, gan_error *err) {
    o->filter_grey = o->filter_dup = o->filter_rating = o->filter_tags = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, "grey")) o->filter_grey = 1;
        else if (!strcmp(w, "dup")) o->filter_dup = 1;
        else if (!strcmp(w, "rating")) o->filter_rating = 1;
        else if (!strcmp(w, "tags")) o->filter_tags = 1;
        else if (strcmp(w, "none") != 0)
            return gan_fail(err, "bad --filter '%s': expected grey, dup, rating, tags or none", w);
    }
    return 0;
}

/* Splits a comma-separated list into o->exclude_tags (pointing into a copy). */
static int parse_tags(const char *text, prep_options *o, char **storage, gan_error *err) {
    free(*storage);
    if (!(*storage = strdup(text))) return gan_fail(err, "out of memory");
    o->exclude_count = 0;
    for (char *save, *w = strtok_r(*storage, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (o->exclude_count == MAX_TAGS) return gan_fail(err, "--exclude-tags: more than %d tags", MAX_TAGS);
        o->exclude_tags[o->exclude_count++] = w;
    }
    return 0;
}

typedef struct crop_args {
    prep_options o;
    char *tags[MAX_TAGS];
    char *tag_storage;
    int classes;
    long top;
} crop_args;

static int parse_crop_option(int c, crop_args *a, gan_error *err) {
    prep_options *o = &a->o;
    long v;
    float f;
    int rc = 0;
    switch (c) {
    case 'i': o->in = optarg; break;
    case 'o': o->out = optarg; break;
    case 'c': o->cascade = optarg; break;
    case 'r': rc = dne_parse_long(optarg, "--res", 8, 8192, &v, err), o->res = (int)v; break;
    case 'm': rc = dne_parse_float(optarg, "--margin", 0, 5, &o->margin, err); break;
    case 'f': rc = dne_parse_long(optarg, "--min-face", 0, 1 << 20, &v, err), o->min_face = (int)v; break;
    case 'u': o->upscale = 1; break;
    case 'p':
        if (strcmp(optarg, "edge") && strcmp(optarg, "skip"))
            return gan_fail(err, "bad --pad '%s': expected edge or skip", optarg);
        o->pad_skip = !strcmp(optarg, "skip");
        break;
    case 'S': rc = dne_parse_float(optarg, "--scale-factor", 1.01, 3, &f, err), o->detect.scale_factor = f; break;
    case 'N': rc = dne_parse_long(optarg, "--min-neighbors", 0, 100, &v, err), o->detect.min_neighbors = (int)v; break;
    case 'Z': rc = dne_parse_long(optarg, "--min-size", 1, 1 << 20, &v, err), o->detect.min_size = (int)v; break;
    case 'X': rc = dne_parse_long(optarg, "--max-pixels", 1, 1L << 40, &v, err), o->max_pixels = v; break;
    case 'F': rc = parse_filters(optarg, o, err); break;
    case 'C': rc = dne_parse_float(optarg, "--min-colour", 0, 1, &o->min_colour, err); break;
    case 'D': rc = dne_parse_long(optarg, "--dup-distance", 0, 64, &v, err), o->dup_distance = (int)v; break;
    case 'M': o->metadata = optarg; break;
    case 'R': rc = prep_rating_parse(optarg, &o->ratings, err); break;
    case 'T': rc = parse_tags(optarg, o, &a->tag_storage, err); break;
    case 'K':
        if (strcmp(optarg, "character") != 0) return gan_fail(err, "bad --classes '%s': expected character", optarg);
        a->classes = 1;
        break;
    case 'k': rc = dne_parse_long(optarg, "--top", 1, 1 << 20, &a->top, err); break;
    case 'j': rc = dne_parse_long(optarg, "--threads", 0, 1024, &v, err), o->threads = (int)v; break;
    case 'q': o->quiet = 1; break;
    case 'h': crop_usage(stdout); exit(0);
    default: return 1;
    }
    return rc;
}

static int parse_crop(int argc, char **argv, crop_args *a, gan_error *err) {
    static const struct option longopts[] = {
        {"in", required_argument, 0, 'i'},           {"out", required_argument, 0, 'o'},
        {"cascade", required_argument, 0, 'c'},      {"res", required_argument, 0, 'r'},
        {"margin", required_argument, 0, 'm'},       {"min-face", required_argument, 0, 'f'},
        {"upscale", no_argument, 0, 'u'},            {"pad", required_argument, 0, 'p'},
        {"scale-factor", required_argument, 0, 'S'}, {"min-neighbors", required_argument, 0, 'N'},
        {"min-size", required_argument, 0, 'Z'},     {"max-pixels", required_argument, 0, 'X'},
        {"filter", required_argument, 0, 'F'},       {"min-colour", required_argument, 0, 'C'},
        {"dup-distance", required_argument, 0, 'D'}, {"metadata", required_argument, 0, 'M'},
        {"rating", required_argument, 0, 'R'},       {"exclude-tags", required_argument, 0, 'T'},
        {"classes", required_argument, 0, 'K'},      {"top", required_argument, 0, 'k'},
        {"threads", required_argument, 0, 'j'},      {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    prep_options *o = &a->o;
    *o = (prep_options){.res = 512, .margin = 0.5f, .detect = {1.1, 5, 24}, .max_pixels = 100000000,
                        .min_colour = 0.04f, .dup_distance = 4, .filter_grey = 1, .filter_dup = 1,
                        .filter_rating = 1, .filter_tags = 1, .ratings = PREP_RATING_GENERAL,
                        .exclude_tags = a->tags};
    a->top = 100;
    int rc = parse_tags("comic,monochrome,greyscale", o, &a->tag_storage, err);
    opterr = 0;
    optind = 1;
    int c;
    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        rc = parse_crop_option(c, a, err);
        if (rc > 0) return gan_fail(err, "unknown or incomplete option '%s' (see dne prep crop --help)", argv[optind - 1]);
    }
    if (rc != 0) return rc;
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    if (!o->in) return gan_fail(err, "--in is required");
    if (!o->out) return gan_fail(err, "--out is required");
    if (!o->cascade) return gan_fail(err, "--cascade is required (nagadomi's lbpcascade_animeface.xml)");
    o->classes_top = a->classes ? (int)a->top : 0;
    /* "dir/" and "dir" must name the same sources, or a resume would redo everything. */
    for (size_t n = strlen(o->in); n > 1 && o->in[n - 1] == '/'; n--) ((char *)o->in)[n - 1] = 0;
    if (o->classes_top && !o->metadata) return gan_fail(err, "--classes needs --metadata");
    return 0;
}

static int prep_crop(int argc, char **argv) {
    crop_args a = {0};
    gan_error err = {{0}};
    int status = 0;
    if (parse_crop(argc, argv, &a, &err) != 0)
        status = dne_error("prep crop", DNE_EXIT_USAGE, &err);
    else if (prep_crop_run(&a.o, &err) != 0)
        status = dne_error("prep crop", DNE_EXIT_FAILURE, &err);
    free(a.tag_storage);
    return status;
}

static int parse_pack(int argc, char **argv, prep_pack_options *o, gan_error *err) {
    static const struct option longopts[] = {
        {"in", required_argument, 0, 'i'}, {"out", required_argument, 0, 'o'}, {"res", required_argument, 0, 'r'},
        {"labels", no_argument, 0, 'l'},   {"zip", no_argument, 0, 'z'},       {"quiet", no_argument, 0, 'q'},
        {"class", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    *o = (prep_pack_options){0};
    opterr = 0;
    optind = 1;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': o->in = optarg; break;
        case 'o': o->out = optarg; break;
        case 'r':
            if (dne_parse_long(optarg, "--res", 4, 8192, &v, err) != 0) return -1;
            o->res = (int)v;
            break;
        case 'l': o->labels = 1; break;
        case 'z': o->zip = 1; break;
        case 'q': o->quiet = 1; break;
        case 'c': o->classes = optarg; break;
        case 'h': pack_usage(stdout); exit(0);
        default: return gan_fail(err, "unknown or incomplete option '%s' (see dne prep pack --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    if (!o->in) return gan_fail(err, "--in is required");
    if (!o->out) return gan_fail(err, "--out is required");
    return 0;
}

static int prep_pack_command(int argc, char **argv) {
    prep_pack_options o;
    gan_error err = {{0}};
    if (parse_pack(argc, argv, &o, &err) != 0) return dne_error("prep pack", DNE_EXIT_USAGE, &err);
    if (prep_pack(&o, &err) != 0) return dne_error("prep pack", DNE_EXIT_FAILURE, &err);
    return 0;
}

int dne_prep(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "crop") == 0) return prep_crop(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "pack") == 0) return prep_pack_command(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        printf("usage: dne prep crop|pack [options]   (dne prep crop --help, dne prep pack --help)\n");
        return 0;
    }
    fprintf(stderr, "dne prep: error: expected a subcommand: crop or pack (dne prep --help)\n");
    return DNE_EXIT_USAGE;
}
