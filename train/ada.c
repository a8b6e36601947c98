#include "ada.h"

#include <math.h>

ada_controller ada_controller_new(float p) {
    return (ada_controller){.p = p, .target = 0.6, .interval = 4, .kimg = 500};
}

static double sign_of(float v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : (v == 0 ? 0.0 : (double)NAN)); }

void ada_report_real_logits(ada_controller *a, const float *logits, int64_t n) {
    for (int64_t i = 0; i < n; i++) a->sign_sum += sign_of(logits[i]);
    a->sign_count += n;
}

int ada_after_minibatch(ada_controller *a, int64_t batch_idx, int batch) {
    if (a->interval <= 0 || batch_idx % a->interval != 0) return 0;
    /* The mean of an empty interval is NaN in the reference, and p then
     * stays NaN; here p stays put instead, as no evidence came in. */
    double mean = a->sign_count > 0 ? a->sign_sum / (double)a->sign_count : NAN;
    a->sign_sum = 0;
    a->sign_count = 0;
    if (isnan(mean)) return 0;
    double direction = mean > a->target ? 1.0 : (mean < a->target ? -1.0 : 0.0);
    /* The reference adds a float64 adjustment to a float32 tensor: the sum is
     * taken in float32, with the adjustment rounded to float32 first. */
    float adjust = (float)(direction * (double)batch * a->interval / (a->kimg * 1000.0));
    float p = a->p + adjust;
    a->p = p > 0.0f ? p : 0.0f;
    return 1;
}
