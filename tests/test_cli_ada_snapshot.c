/* A real stylegan2-ada-pytorch network snapshot (random weights, written by
 * the reference's own pickling code, protocol 4) and the images the
 * reference rendered from it:
 *   - `dne import` (the C pickle reader) and `dne generate` on the .pkl
 *     itself reproduce the reference's PNGs within one level;
 *   - with Debian's python3-torch, the tensors dne imports (G_ema, and G, D,
 *     G_ema with the augmentation p for --which all) are bit-identical to
 *     what tools/reference/pickle_to_safetensors.py's restricted unpickler
 *     reads with PyTorch itself.
 *
 * Only the psi 1.0 images are compared: the psi 0.5 images in that folder were
 * rendered with the network still in training mode, where every mapping call
 * first moves w_avg (tools/reference/README.md), so they are not what
 * generate.py gives for this snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gan/io/image.h"
#include "gan/io/safetensors.h"
#include "tests/fixture_util.h"
#include "tests/test.h"

#define DATA "../shared/data/stylegan2_ada_pickles"
#define PKL DATA "/network-snapshot-000123.pkl"

static int run(const char *cmd) {
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void compare_image(const char *got_path, const char *want_path) {
    gan_image got, want;
    gan_error err;
    if (gan_image_load(got_path, &got, &err) != 0 || gan_image_load(want_path, &want, &err) != 0) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    CHECK(got.width == want.width && got.height == want.height && got.channels == want.channels);
    int worst = 0;
    size_t n = (size_t)got.width * got.height * got.channels;
    for (size_t i = 0; got.width == want.width && i < n; i++) {
        int d = abs((int)got.pixels[i] - (int)want.pixels[i]);
        if (d > worst) worst = d;
    }
    printf("  %s vs %s: max level difference %d\n", got_path, want_path, worst);
    CHECKF(worst <= 1, "%s differs from the reference by %d levels", got_path, worst);
    gan_image_free(&got);
    gan_image_free(&want);
}

/* dne generate --network NET at psi 1 for seeds 0 and 42, against the PNGs. */
static void generate_and_compare(const char *dir, const char *network, const char *sub) {
    char cmd[2048], got[600];
    snprintf(cmd, sizeof cmd, "'%s' generate --network '%s' --seeds 0,42 --trunc 1 --outdir '%s/%s' 2>/dev/null",
             DNE_EXE, network, dir, sub);
    CHECKF(run(cmd) == 0, "%s", cmd);
    snprintf(got, sizeof got, "%s/%s/seed0000.png", dir, sub);
    compare_image(got, DATA "/G_ema-psi1.0-seed0000.png");
    snprintf(got, sizeof got, "%s/%s/seed0042.png", dir, sub);
    compare_image(got, DATA "/G_ema-psi1.0-seed0042.png");
}

/* dne's import against PyTorch's reading of the same snapshot. */
static void compare_tensors(const char *got_path, const char *want_path) {
    gan_st_file *got = NULL, *want = NULL;
    gan_error err;
    if (gan_st_open(got_path, &got, &err) != 0 || gan_st_open(want_path, &want, &err) != 0) {
        CHECKF(0, "%s", err.msg);
        gan_st_close(got);
        return;
    }
    int same = fixture_same_tensors(got, want, got_path);
    const char *p = gan_st_meta(want, "augment_p");
    printf("  %s: %d tensors bit-identical to PyTorch's reading%s%s\n", got_path, same, p ? ", augment_p " : "",
           p ? p : "");
    gan_st_close(got);
    gan_st_close(want);
}

static void against_pytorch(const char *dir, const char *which) {
    char cmd[2048], ours[600], theirs[600];
    snprintf(ours, sizeof ours, "%s/dne-%s.safetensors", dir, which);
    snprintf(theirs, sizeof theirs, "%s/torch-%s.safetensors", dir, which);
    snprintf(cmd, sizeof cmd, "'%s' import %s --which %s --out '%s' 2>/dev/null", DNE_EXE, PKL, which, ours);
    CHECKF(run(cmd) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/reference/pickle_to_safetensors.py %s '%s' --which %s >/dev/null", PKL, theirs,
             which);
    CHECKF(run(cmd) == 0, "%s", cmd);
    compare_tensors(ours, theirs);
}

int main(void) {
    if (access(PKL, R_OK) != 0) TEST_SKIP("%s is not there", PKL);
    char dir[] = "/tmp/dne-test-ada-XXXXXX", cmd[2048], g[600];
    if (!mkdtemp(dir)) return 1;
    snprintf(g, sizeof g, "%s/G.safetensors", dir);
    snprintf(cmd, sizeof cmd, "'%s' import %s --out '%s' 2>/dev/null", DNE_EXE, PKL, g);
    CHECKF(run(cmd) == 0, "%s", cmd);
    generate_and_compare(dir, g, "imported");
    generate_and_compare(dir, PKL, "direct");
    if (run("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") == 0) {
        against_pytorch(dir, "G_ema");
        against_pytorch(dir, "all");
    } else {
        printf("  (Debian's python3-torch is not installed: the PyTorch cross-check is skipped)\n");
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (run(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    TEST_DONE();
}
