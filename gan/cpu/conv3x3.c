/* Direct 3x3 'same' convolution with AVX-512, for layers whose rows are at
 * least DIRECT_MIN_WIDTH wide and that have at most DIRECT_MAX_CHANNELS input
 * channels.
 *
 * Why not im2col + GEMM there: with few channels (64 at 256 px) the im2col
 * matrix is nine times the input and OpenBLAS copies it again into its packed
 * format, so memory traffic, not arithmetic, sets the pace (about 60% of
 * sgemm's speed). This kernel reads the zero-padded input rows directly: each
 * step loads two 16-float vectors of an input row and multiplies them by the
 * broadcast weights of 8 output channels, keeping 16 accumulators in
 * registers; that is 16 FMAs for 10 loads, so the FMA units set the pace.
 * With many channels the GEMM's packing is cheap next to its arithmetic and
 * OpenBLAS is faster (measured: direct wins by 10-40% at 64 channels, ties at
 * 128, loses by 10-25% at 256 and 512).
 * The weights are arranged [ceil(O/8)][I][9][8] so the 8 weights of a step
 * are adjacent. */
#include <string.h>

#include "cpu.h"

#define BLOCK_OUT CPU_CONV3X3_BLOCK_OUT
#define BLOCK_COLS 32     /* output columns per register block (two vectors) */
#define DIRECT_MIN_WIDTH 32
#define DIRECT_MAX_CHANNELS 128

/* Padded input rows: one zero column on the left, and room on the right for
 * the last block's full-width loads. */
static int padded_width(int w) { return w + 2 + BLOCK_COLS; }

size_t cpu_conv3x3_weight_floats(int out, int in) {
    return (size_t)(out + BLOCK_OUT - 1) / BLOCK_OUT * BLOCK_OUT * in * 9;
}

size_t cpu_conv3x3_scratch_floats(int in, int h, int w) { return (size_t)in * (h + 2) * padded_width(w); }

#if defined(__x86_64__)
#include <immintrin.h>

int cpu_conv3x3_usable(int in, int width) {
    __builtin_cpu_init();
    return width >= DIRECT_MIN_WIDTH && in <= DIRECT_MAX_CHANNELS && __builtin_cpu_supports("avx512f");
}

static void pad_input(const float *x, int in, int h, int w, float *xp, int threads) {
    int pw = padded_width(w);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int i = 0; i < in; i++) {
        float *plane = xp + (size_t)i * (h + 2) * pw;
        memset(plane, 0, (size_t)pw * sizeof *plane);
        memset(plane + (size_t)(h + 1) * pw, 0, (size_t)pw * sizeof *plane);
        for (int r = 0; r < h; r++) {
            float *row = plane + (size_t)(r + 1) * pw;
            row[0] = 0;
            memcpy(row + 1, x + ((size_t)i * h + r) * w, (size_t)w * sizeof *row);
            memset(row + 1 + w, 0, (size_t)(pw - 1 - w) * sizeof *row);
        }
    }
}

/* Output row r, columns [c0, c0 + 32) of output channels [o0, o0 + 8). */
__attribute__((target("avx512f"))) static void block(const float *xp, int in, int h, int pw, const float *wb, int r,
                                                      int c0, int valid_cols, float *y, int w, int o0, int valid_out) {
    __m512 acc[BLOCK_OUT][2];
    for (int b = 0; b < BLOCK_OUT; b++) acc[b][0] = acc[b][1] = _mm512_setzero_ps();
    for (int i = 0; i < in; i++) {
        const float *rows = xp + ((size_t)i * (h + 2) + r) * pw + c0;
        const float *wi = wb + (size_t)i * 9 * BLOCK_OUT;
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                const float *src = rows + (size_t)ky * pw + kx;
                __m512 x0 = _mm512_loadu_ps(src), x1 = _mm512_loadu_ps(src + 16);
                const float *taps = wi + (ky * 3 + kx) * BLOCK_OUT;
                for (int b = 0; b < BLOCK_OUT; b++) {
                    __m512 wv = _mm512_set1_ps(taps[b]);
                    acc[b][0] = _mm512_fmadd_ps(wv, x0, acc[b][0]);
                    acc[b][1] = _mm512_fmadd_ps(wv, x1, acc[b][1]);
                }
            }
    }
    __mmask16 m0 = valid_cols >= 16 ? 0xffff : (__mmask16)((1u << valid_cols) - 1);
    __mmask16 m1 = valid_cols >= 32 ? 0xffff : valid_cols > 16 ? (__mmask16)((1u << (valid_cols - 16)) - 1) : 0;
    for (int b = 0; b < valid_out; b++) {
        float *out = y + ((size_t)(o0 + b) * h + r) * w + c0;
        _mm512_mask_storeu_ps(out, m0, acc[b][0]);
        _mm512_mask_storeu_ps(out + 16, m1, acc[b][1]);
    }
}

void cpu_conv3x3(const float *x, int in, int h, int w, const float *wb, int out, float *y, float *scratch,
                 int threads) {
    int pw = padded_width(w), blocks_out = (out + BLOCK_OUT - 1) / BLOCK_OUT;
    int blocks_cols = (w + BLOCK_COLS - 1) / BLOCK_COLS;
    pad_input(x, in, h, w, scratch, threads);
    /* Threads take whole rows: the three input rows of every channel stay in
     * the core's cache while all output-channel blocks read them. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int r = 0; r < h; r++)
        for (int ob = 0; ob < blocks_out; ob++) {
            int o0 = ob * BLOCK_OUT, valid_out = out - o0 < BLOCK_OUT ? out - o0 : BLOCK_OUT;
            const float *wb_block = wb + (size_t)ob * in * 9 * BLOCK_OUT;
            for (int cb = 0; cb < blocks_cols; cb++) {
                int c0 = cb * BLOCK_COLS;
                block(scratch, in, h, pw, wb_block, r, c0, w - c0, y, w, o0, valid_out);
            }
        }
}

#else /* no AVX-512 on this architecture: modconv keeps to im2col + GEMM */

int cpu_conv3x3_usable(int in, int width) {
    (void)in, (void)width;
    return 0;
}

void cpu_conv3x3(const float *x, int in, int h, int w, const float *wb, int out, float *y, float *scratch,
                 int threads) {
    (void)x, (void)in, (void)h, (void)w, (void)wb, (void)out, (void)y, (void)scratch, (void)threads;
}

#endif
