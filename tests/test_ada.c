/* ADA's p heuristic against the trajectory the reference's training loop
 * computes for the same scripted discriminator outputs
 * (tests/fixtures/ada_p.txt, tools/reference/make_ada_fixtures.py): equal to
 * the bit at every minibatch, rising past 1, falling and held at 0. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/test.h"
#include "train/ada.h"

#define FIXTURE "tests/fixtures/ada_p.txt"
#define BATCH 8
#define STEPS 240

/* The script of make_ada_fixtures.py: integer logits, so both sides agree exactly. */
static void real_logits(int b, float *out) {
    int t = b < 120 ? 2 : 12;
    for (int i = 0; i < BATCH; i++) out[i] = (float)((7 * b + 13 * i) % 17 - t);
}

static void check_trajectory(void) {
    FILE *f = fopen(FIXTURE, "r");
    CHECKF(f != NULL, "cannot open %s", FIXTURE);
    if (!f) return;
    ada_controller a = ada_controller_new(0.0f);
    a.kimg = 0.5;
    int adjustments = 0, mismatches = 0;
    float highest = 0, logits[BATCH];
    for (int b = 0; b < STEPS; b++) {
        int line_b;
        float want;
        if (fscanf(f, "%d %f", &line_b, &want) != 2 || line_b != b) {
            CHECKF(0, "%s: bad line for minibatch %d", FIXTURE, b);
            break;
        }
        real_logits(b, logits);
        ada_report_real_logits(&a, logits, BATCH);                       /* Dmain */
        if (b % 16 == 0) ada_report_real_logits(&a, logits, BATCH);      /* Dreg (R1) */
        adjustments += ada_after_minibatch(&a, b + 1, BATCH);
        if (a.p != want && mismatches++ < 5) CHECKF(0, "minibatch %d: p %.9g, reference %.9g", b, a.p, want);
        if (a.p > highest) highest = a.p;
    }
    fclose(f);
    CHECK(adjustments == STEPS / 4);
    CHECKF(highest > 1.0f && a.p == 0.0f, "the script should lift p past 1 and bring it back to 0 (max %g, end %g)",
           highest, a.p);
}

/* Between adjustments nothing moves; an interval without reports leaves p. */
static void check_intervals(void) {
    ada_controller a = ada_controller_new(0.25f);
    float up[4] = {1, 2, 3, 4};
    ada_report_real_logits(&a, up, 4);
    CHECK(ada_after_minibatch(&a, 1, 4) == 0 && a.p == 0.25f);
    CHECK(ada_after_minibatch(&a, 4, 4) == 1 && a.p > 0.25f);
    float p = a.p;
    CHECK(ada_after_minibatch(&a, 8, 4) == 0 && a.p == p);
}

int main(void) {
    check_trajectory();
    check_intervals();
    TEST_DONE();
}
