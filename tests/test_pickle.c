/* The restricted pickle reader and `dne import`'s conversion:
 *   - tiny snapshots in the reference's layout at protocols 2 and 3
 *     (tools/reference/make_pickle_fixtures.py) import with --which all to
 *     exactly the tensors, configs and augmentation p PyTorch wrote;
 *   - hostile and broken pickles (os.system, builtins.eval, unknown globals,
 *     truncation, stack and memo abuse, text-protocol opcodes) are refused
 *     with a message naming the global or opcode, and nothing is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gan/io/file.h"
#include "gan/io/torch_pickle.h"
#include "gan/models/stylegan2_import.h"
#include "tests/fixture_util.h"
#include "tests/test.h"
#include "tests/test_context.h"

#define FIXTURES "tests/fixtures/pickle"

static void compare_configs(gan_st_file *got, gan_st_file *want) {
    sg2_config a, b;
    sg2d_config c, d;
    gan_error err;
    const char *ga = gan_st_meta(got, "config"), *gb = gan_st_meta(want, "config");
    const char *da = gan_st_meta(got, "D_config"), *db = gan_st_meta(want, "D_config");
    CHECK(ga && gb && da && db);
    if (!ga || !gb || !da || !db) return;
    CHECK_OK(sg2_config_parse(ga, &a, &err), &err);
    CHECK_OK(sg2_config_parse(gb, &b, &err), &err);
    CHECK_OK(sg2d_config_parse(da, &c, &err), &err);
    CHECK_OK(sg2d_config_parse(db, &d, &err), &err);
    CHECKF(memcmp(&a, &b, sizeof a) == 0, "G config %s, expected %s", ga, gb);
    CHECKF(memcmp(&c, &d, sizeof c) == 0, "D config %s, expected %s", da, db);
}

static void check_fixture(gan_ctx *ctx, int protocol) {
    char pkl[256], out[] = "/tmp/dne-test-pickle-XXXXXX";
    gan_error err = {{0}};
    snprintf(pkl, sizeof pkl, FIXTURES "/tiny-proto%d.pkl", protocol);
    int fd = mkstemp(out);
    if (fd < 0) return;
    close(fd);
    CHECK_OK(sg2_import_pickle(ctx, pkl, SG2_IMPORT_ALL, out, &err), &err);
    gan_st_file *got = NULL, *want = NULL;
    if (gan_st_open(out, &got, &err) != 0 || gan_st_open(FIXTURES "/tiny-expected.safetensors", &want, &err) != 0) {
        CHECKF(0, "%s", err.msg);
        gan_st_close(got);
        unlink(out);
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "protocol %d", protocol);
    int same = fixture_same_tensors(got, want, what);
    const char *p = gan_st_meta(got, "augment_p");
    compare_configs(got, want);
    printf("protocol %d: %d tensors identical, augment_p %s\n", protocol, same, p ? p : "-");
    gan_st_close(got);
    gan_st_close(want);
    unlink(out);

    sg2_generator *g = sg2_load_pickle(ctx, pkl, SG2_IMPORT_G_EMA, &err);
    CHECKF(g != NULL, "sg2_load_pickle: %s", err.msg);
    sg2_free(ctx, g);
}

typedef struct hostile {
    const char *what;
    const char *bytes;
    size_t size;
    const char *message; /* a part of the expected error */
} hostile;

#define BYTES(s) s, sizeof s - 1

static const hostile hostile_cases[] = {
    {"os.system (protocol 3 GLOBAL)", BYTES("\x80\x03" "cos\nsystem\nX\x02\x00\x00\x00ls\x85R."), "os.system"},
    {"builtins.eval (protocol 4 STACK_GLOBAL)",
     BYTES("\x80\x04\x8c\x08" "builtins\x94\x8c\x04" "eval\x94\x93\x8c\x01" "1\x85R."), "builtins.eval"},
    {"an unknown global of an allowed module",
     BYTES("\x80\x03" "ctorch_utils.persistence\npersistent_class\n)R."), "torch_utils.persistence.persistent_class"},
    {"copyreg._reconstructor", BYTES("\x80\x02" "ccopyreg\n_reconstructor\n)R."), "copyreg._reconstructor"},
    {"a NUL inside a global name", BYTES("\x80\x04\x8c\x02o\0\x8c\x06system\x93."), "refusing global"},
    {"not a pickle", BYTES("hello"), "not a pickle"},
    {"protocol 1 header", BYTES("\x80\x01N."), "protocol outside 2 to 5"},
    {"stack underflow", BYTES("\x80\x03R."), "stack underflow"},
    {"pops through a mark", BYTES("\x80\x03N(0."), "stack underflow"},
    {"an unset memo entry", BYTES("\x80\x03h\x05."), "memo entry not set"},
    {"a memo index far out", BYTES("\x80\x03Nr\xff\xff\xff\x7f."), "memo index"},
    {"a protocol 0 opcode", BYTES("\x80\x02I1\n."), "INT"},
    {"a persistent id", BYTES("\x80\x03X\x01\x00\x00\x00" "aQ."), "persistent"},
    {"no STOP", BYTES("\x80\x03N"), "no STOP"},
    {"a string longer than the file", BYTES("\x80\x03X\xff\xff\xff\x00" "ab."), "truncated"},
    {"two values at STOP", BYTES("\x80\x03NN."), "STOP with other than one value"},
    {"SETITEMS on a list", BYTES("\x80\x03](NNu."), "not a dict"},
    {"odd SETITEMS", BYTES("\x80\x03}(Nu."), "odd number"},
    {"reduce with non-tuple args", BYTES("\x80\x03" "ccollections\nOrderedDict\nNR."), "not a tuple"},
    {"a storage blob that is not one", BYTES("\x80\x03" "ctorch.storage\n_load_from_bytes\nC\x03" "abc\x85R."),
     "torch.storage._load_from_bytes"},
};

static void check_hostile(void) {
    for (size_t i = 0; i < sizeof hostile_cases / sizeof *hostile_cases; i++) {
        const hostile *h = &hostile_cases[i];
        gan_torch_file *f = NULL;
        gan_error err = {{0}};
        int rc = gan_torch_load_buffer((const uint8_t *)h->bytes, h->size, &f, &err);
        CHECKF(rc != 0 && f == NULL, "%s: accepted", h->what);
        CHECKF(strstr(err.msg, h->message) != NULL, "%s: message '%s' lacks '%s'", h->what, err.msg, h->message);
        printf("refused %-42s %s\n", h->what, err.msg);
        gan_torch_free(f);
    }
}

/* A truncated snapshot, and pickles that parse but are not snapshots, are
 * refused by `dne import`'s conversion, which writes nothing. */
static void check_broken_files(gan_ctx *ctx) {
    uint8_t *data;
    size_t size;
    gan_error err = {{0}};
    char path[] = "/tmp/dne-test-pickle-in-XXXXXX", out[] = "/tmp/dne-test-pickle-out-XXXXXX";
    if (gan_read_file(FIXTURES "/tiny-proto3.pkl", 1 << 24, &data, &size, &err) != 0) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    int fd = mkstemp(path), fo = mkstemp(out);
    if (fd < 0 || fo < 0) return;
    close(fo);
    unlink(out);
    static const struct {
        size_t keep;
        const char *bytes;
        size_t size;
        const char *message;
    } cases[] = {{10000, NULL, 0, "truncated"},
                 {0, BYTES("\x80\x03}."), "no 'G_ema'"},
                 {0, BYTES("\x80\x03}X\x05\x00\x00\x00" "G_emaKds."), "not a persistent network"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const uint8_t *src = cases[i].bytes ? (const uint8_t *)cases[i].bytes : data;
        size_t n = cases[i].bytes ? cases[i].size : cases[i].keep;
        CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, src, n, 0) == (ssize_t)n);
        int rc = sg2_import_pickle(ctx, path, SG2_IMPORT_G_EMA, out, &err);
        CHECKF(rc != 0 && strstr(err.msg, cases[i].message), "case %zu: rc %d, message '%s'", i, rc, err.msg);
        CHECKF(access(out, F_OK) != 0, "case %zu: a file was written", i);
        printf("refused file: %s\n", err.msg);
    }
    close(fd);
    unlink(path);
    free(data);
}

/* A snapshot whose kwargs disagree with its tensors, or that names a kwarg
 * dne does not know, is refused with the tensor or kwarg named. */
static void check_inconsistent(gan_ctx *ctx) {
    gan_error err = {{0}};
    sg2_generator *g = sg2_load_pickle(ctx, FIXTURES "/mismatch.pkl", SG2_IMPORT_G_EMA, &err);
    CHECKF(!g && strstr(err.msg, "tensor 'synthesis.b4.const' has shape [2, 4, 4], the architecture needs [4, 4, 4]"),
           "'%s'", err.msg);
    printf("refused: %s\n", err.msg);
    sg2_free(ctx, g);

    uint8_t *data;
    size_t size;
    char path[] = "/tmp/dne-test-pickle-kw-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || gan_read_file(FIXTURES "/tiny-proto3.pkl", 1 << 24, &data, &size, &err) != 0) return;
    uint8_t *key = memmem(data, size, "num_layers", 10); /* only in the mapping kwargs */
    CHECK(key != NULL);
    if (key) memcpy(key, "num_layerz", 10);
    CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);
    g = sg2_load_pickle(ctx, path, SG2_IMPORT_G, &err);
    CHECKF(!g && strstr(err.msg, "init kwarg 'num_layerz' is not supported"), "'%s'", err.msg);
    printf("refused: %s\n", err.msg);
    sg2_free(ctx, g);
    unlink(path);
    free(data);
}

int main(void) {
    gan_ctx *ctx = test_context();
    if (!ctx) return 1;
    check_fixture(ctx, 2);
    check_fixture(ctx, 3);
    check_hostile();
    check_broken_files(ctx);
    check_inconsistent(ctx);
    return test_finish(ctx);
}
