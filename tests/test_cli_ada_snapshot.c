/* A real stylegan2-ada-pytorch network snapshot (random weights, written by
 * the reference's own pickling code) and the images the reference rendered
 * from it: the snapshot is converted by tools/reference/pickle_to_safetensors.py
 * (which runs nothing from the pickle), and `dne generate` must reproduce the
 * reference's PNGs within one level.
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
#include "tests/test.h"

#define DATA "../shared/data/stylegan2_ada_pickles"

static int run(const char *cmd) {
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void compare(const char *got_path, const char *want_path) {
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
    printf("  %s: max level difference %d\n", want_path, worst);
    CHECKF(worst <= 1, "%s differs from the reference by %d levels", got_path, worst);
    gan_image_free(&got);
    gan_image_free(&want);
}

int main(void) {
    if (access(DATA "/network-snapshot-000123.pkl", R_OK) != 0) TEST_SKIP("%s is not there", DATA);
    if (run("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") != 0)
        TEST_SKIP("Debian's python3-torch is not installed (tools/install-deps.sh installs it)");
    char dir[] = "/tmp/dne-test-ada-XXXXXX", cmd[2048];
    if (!mkdtemp(dir)) return 1;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/reference/pickle_to_safetensors.py %s/network-snapshot-000123.pkl %s/G.safetensors",
             DATA, dir);
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof cmd, "'%s' generate --network %s/G.safetensors --seeds 0,42 --trunc 1 --outdir %s", DNE_EXE,
             dir, dir);
    CHECK(run(cmd) == 0);
    char got[512];
    snprintf(got, sizeof got, "%s/seed0000.png", dir);
    compare(got, DATA "/G_ema-psi1.0-seed0000.png");
    snprintf(got, sizeof got, "%s/seed0042.png", dir);
    compare(got, DATA "/G_ema-psi1.0-seed0042.png");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (run(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    TEST_DONE();
}
