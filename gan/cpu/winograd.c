/* Winograd F(2x2, 3x3) 'same' convolution on the CPU, with AVX-512.
 *
 * Each 2x2 block of outputs (a tile) is computed from the 4x4 input patch
 * around it as Y = A^T [U (.) V] A, with U = G g G^T the 3x3 kernel and
 * V = B^T d B the patch carried into a 4x4 "transform domain":
 *   B^T = | 1  0 -1  0 |   G = | 1    0    0   |   A^T = | 1  1  1  0 |
 *         | 0  1  1  0 |       | 1/2  1/2  1/2 |         | 0  1 -1 -1 |
 *         | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
 *         | 0  1  0 -1 |       | 0    0    1   |
 * Summed over input channels, the 16 elementwise products become 16
 * independent matrix products M[k] (O x tiles) = U[k] (O x I) . V[k] (I x
 * tiles): 16 multiplies per 4 outputs instead of 36, so a 3x3 layer does
 * 2.25x less arithmetic than im2col + GEMM. The transform matrices hold only
 * 0, +-1 and 1/2, so the rounding error stays small: about 2e-6 of the sum
 * of |x * g| at worst over many random shapes, 14 float epsilons (checked
 * against the naive convolution in tests/test_ops_naive.c, and against the
 * PyTorch fixtures through the generator, whose errors did not change).
 *
 * Why not OpenBLAS for the 16 products: it packs its A operand anew on every
 * call, and U[k] (1 MB at 512 channels) is as large as the work a
 * cache-sized band of tiles gives it, so packing took a third of the time.
 * Here the weight transform writes U directly in the order the kernel reads
 * it ([k][O/8][I][8]: the 8 output channels of a step adjacent), and the
 * kernel keeps a block of results in registers: two 16-tile vectors of V
 * times 8 broadcast weights into 16 accumulators, 16 FMAs per 10 loads, so
 * the FMA units rather than memory set the pace.
 *
 * Tiles are processed in bands of tile rows, so that V[k] of a band stays in
 * the L2 cache while every block of output channels reads it. Threads take
 * whole bands when there are enough; otherwise each stage of a band is
 * shared (transforms over channels, products over (k, channel block)). */
#include <omp.h>
#include <string.h>

#include "cpu.h"

#define TAPS 16
#define BLOCK_OUT 8
#define BLOCK_TILES 32         /* tiles per register block (two vectors) */
#define MIN_PLANE 256          /* smallest h*w worth the transforms (16x16; at 8x8 they tie) */
#define PANEL_FLOATS (1 << 16) /* V[k] or M[k] of a band: 256 KB, half an L2 cache */

static int round_up(int n, int m) { return (n + m - 1) / m * m; }

typedef struct wino_plan {
    int tw, th;                            /* tiles across and down */
    int bands;                             /* band_rows tile rows each, the last maybe fewer */
    int row_n;                             /* padded input row: 2*tw + 2, rounded up to whole vectors */
    int band_rows;                         /* tile rows per band */
    int ld;                                /* a band's tiles, padded to whole register blocks */
    int out_p;                             /* output channels padded to whole blocks */
    size_t v_floats, m_floats, row_floats; /* per band: V, M, row buffers of one thread */
} wino_plan;

static wino_plan plan(int in, int out, int h, int w) {
    wino_plan p = {.tw = (w + 1) / 2, .th = (h + 1) / 2, .out_p = round_up(out, BLOCK_OUT)};
    p.row_n = round_up(2 * p.tw + 2, 16);
    /* Sized by the wider side: with few inputs and many outputs (an RGB input
     * layer, or its backward pass), M rather than V would grow to the plane. */
    int tiles = PANEL_FLOATS / (in > p.out_p ? in : p.out_p);
    p.band_rows = tiles / p.tw < 1 ? 1 : tiles / p.tw;
    if (p.band_rows > p.th) p.band_rows = p.th;
    p.bands = (p.th + p.band_rows - 1) / p.band_rows;
    p.ld = round_up(p.band_rows * p.tw, BLOCK_TILES);
    p.v_floats = (size_t)TAPS * in * p.ld;
    p.m_floats = (size_t)TAPS * p.out_p * p.ld;
    p.row_floats = 4 * (size_t)p.row_n; /* the input transform's four padded rows */
    return p;
}

static size_t band_scratch_floats(const wino_plan *p) { return p->v_floats + p->m_floats + p->row_floats; }

/* Threads take whole bands (no barriers between the stages) when there are
 * enough of them; otherwise they share each stage of one band at a time. */
static int whole_bands(const wino_plan *p, int threads) { return p->bands >= 2 * threads; }

size_t cpu_winograd_weight_floats(int out, int in) { return (size_t)TAPS * round_up(out, BLOCK_OUT) * in; }

size_t cpu_winograd_scratch_floats(int in, int out, int h, int w, int threads) {
    wino_plan p = plan(in, out, h, w);
    if (whole_bands(&p, threads)) return band_scratch_floats(&p) * threads;
    return p.v_floats + p.m_floats + p.row_floats * threads;
}

/* U = G g G^T for every kernel g = (w * s) * d of weight [O][I][3][3]
 * (styles s per input channel and d per output channel: NULL for ones).
 * Entry (k, o, i) lies at ((k * O/8 + o/8) * I + i) * 8 + o%8, so a thread
 * that owns a block of 8 output channels writes whole 32-byte runs; padding
 * channels of the last block are zero. */
void cpu_winograd_weights(const float *weight, const float *styles, const float *d, int in, int out, float *u,
                          int threads) {
    int out_blocks = round_up(out, BLOCK_OUT) / BLOCK_OUT;
    size_t tap_stride = (size_t)out_blocks * BLOCK_OUT * in;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int ob = 0; ob < out_blocks; ob++)
        for (int i = 0; i < in; i++) {
            float ub[TAPS][BLOCK_OUT] = {{0}};
            for (int b = 0; b < BLOCK_OUT && ob * BLOCK_OUT + b < out; b++) {
                int o = ob * BLOCK_OUT + b;
                const float *w_oi = weight + ((size_t)o * in + i) * 9;
                float g[9], t[4][3];
                float s = styles ? styles[i] : 1.0f, d_o = d ? d[o] : 1.0f;
                for (int j = 0; j < 9; j++) g[j] = (w_oi[j] * s) * d_o;
                for (int c = 0; c < 3; c++) { /* t = G g */
                    t[0][c] = g[c];
                    t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
                    t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
                    t[3][c] = g[6 + c];
                }
                for (int a = 0; a < 4; a++) { /* u = t G^T */
                    ub[a * 4 + 0][b] = t[a][0];
                    ub[a * 4 + 1][b] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
                    ub[a * 4 + 2][b] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
                    ub[a * 4 + 3][b] = t[a][2];
                }
            }
            float *dst = u + ((size_t)ob * in + i) * BLOCK_OUT;
            for (int k = 0; k < TAPS; k++) memcpy(dst + k * tap_stride, ub[k], sizeof ub[k]);
        }
}

#if defined(__x86_64__)
#include <immintrin.h>

int cpu_winograd_usable(int in, int out, int h, int w) {
    (void)in, (void)out;
    __builtin_cpu_init();
    return h * w >= MIN_PLANE && __builtin_cpu_supports("avx512f");
}

/* Input row y of one channel, shifted one column right and zero-padded to
 * n floats (zero throughout when y lies outside the plane). */
static void padded_row(const float *plane, int h, int w, int y, float *row, int n) {
    memset(row, 0, (size_t)n * sizeof *row);
    if (y >= 0 && y < h) memcpy(row + 1, plane + (size_t)y * w, (size_t)w * sizeof *row);
}

/* One row r of B^T d across the tiles: tile c takes r[2c .. 2c+3] and gives
 * (r0 - r2, r1 + r2, r2 - r1, r1 - r3) to V rows v[0..3]. Sixteen tiles at
 * a time: even and odd columns split by permutes. */
__attribute__((target("avx512f"))) static void transform_row(const float *r, int tw, float *v0, float *v1, float *v2,
                                                             float *v3) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    int c = 0;
    for (; c + 16 <= tw; c += 16) {
        __m512 a0 = _mm512_loadu_ps(r + 2 * c), a1 = _mm512_loadu_ps(r + 2 * c + 16);
        __m512 b0 = _mm512_loadu_ps(r + 2 * c + 2), b1 = _mm512_loadu_ps(r + 2 * c + 18);
        __m512 e0 = _mm512_permutex2var_ps(a0, even, a1), o0 = _mm512_permutex2var_ps(a0, odd, a1);
        __m512 e1 = _mm512_permutex2var_ps(b0, even, b1), o1 = _mm512_permutex2var_ps(b0, odd, b1);
        _mm512_storeu_ps(v0 + c, _mm512_sub_ps(e0, e1));
        _mm512_storeu_ps(v1 + c, _mm512_add_ps(o0, e1));
        _mm512_storeu_ps(v2 + c, _mm512_sub_ps(e1, o0));
        _mm512_storeu_ps(v3 + c, _mm512_sub_ps(o0, o1));
    }
    for (; c < tw; c++) {
        const float *t = r + 2 * c;
        v0[c] = t[0] - t[2];
        v1[c] = t[1] + t[2];
        v2[c] = t[2] - t[1];
        v3[c] = t[1] - t[3];
    }
}

/* V[k][i][t] of channel i for the band's tiles (t from the band's first
 * tile; the padding up to ld is zeroed so the kernel multiplies zeros). */
__attribute__((target("avx512f"))) static void transform_input(const float *plane, int h, int w, const wino_plan *p,
                                                               int ty0, int rows, float *v, size_t v_stride,
                                                               float *buf) {
    int tw = p->tw, n = p->row_n;
    float *d0 = buf, *d1 = buf + n, *d2 = buf + 2 * n, *d3 = buf + 3 * n;
    for (int ly = 0; ly < rows; ly++) {
        int y = 2 * (ty0 + ly) - 1;
        padded_row(plane, h, w, y, d0, n);
        padded_row(plane, h, w, y + 1, d1, n);
        padded_row(plane, h, w, y + 2, d2, n);
        padded_row(plane, h, w, y + 3, d3, n);
        for (int c = 0; c < n; c += 16) { /* rows of B^T d, in place */
            __m512 x0 = _mm512_loadu_ps(d0 + c), x1 = _mm512_loadu_ps(d1 + c);
            __m512 x2 = _mm512_loadu_ps(d2 + c), x3 = _mm512_loadu_ps(d3 + c);
            _mm512_storeu_ps(d0 + c, _mm512_sub_ps(x0, x2));
            _mm512_storeu_ps(d1 + c, _mm512_add_ps(x1, x2));
            _mm512_storeu_ps(d2 + c, _mm512_sub_ps(x2, x1));
            _mm512_storeu_ps(d3 + c, _mm512_sub_ps(x1, x3));
        }
        float *row[4] = {d0, d1, d2, d3};
        for (int a = 0; a < 4; a++) {
            float *va = v + (size_t)(a * 4) * v_stride + (size_t)ly * tw;
            transform_row(row[a], tw, va, va + v_stride, va + 2 * v_stride, va + 3 * v_stride);
        }
    }
    for (int k = 0; k < TAPS; k++)
        memset(v + k * v_stride + (size_t)rows * tw, 0, (size_t)(p->ld - rows * tw) * sizeof *v);
}

/* Output rows 2ty and 2ty + 1 of one channel from the 16 M rows of a tile
 * row: A^T m A per tile, the two columns of a tile interleaved by permutes. */
__attribute__((target("avx512f"))) static void transform_tile_row(const float *mt, size_t m_stride, int tw, float *out0,
                                                                  float *out1, int w) {
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    int c = 0;
    for (; c + 16 <= tw && 2 * c + 32 <= w; c += 16) {
        __m512 s0[4], s1[4]; /* A^T m: rows 0 and 1 */
        for (int b = 0; b < 4; b++) {
            __m512 m0 = _mm512_loadu_ps(mt + (size_t)b * m_stride + c);
            __m512 m1 = _mm512_loadu_ps(mt + (size_t)(4 + b) * m_stride + c);
            __m512 m2 = _mm512_loadu_ps(mt + (size_t)(8 + b) * m_stride + c);
            __m512 m3 = _mm512_loadu_ps(mt + (size_t)(12 + b) * m_stride + c);
            s0[b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            s1[b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        float *outs[2] = {out0, out1};
        __m512 *s[2] = {s0, s1};
        for (int dy = 0; dy < 2; dy++) {
            if (!outs[dy]) continue;
            __m512 ev = _mm512_add_ps(_mm512_add_ps(s[dy][0], s[dy][1]), s[dy][2]);
            __m512 od = _mm512_sub_ps(_mm512_sub_ps(s[dy][1], s[dy][2]), s[dy][3]);
            _mm512_storeu_ps(outs[dy] + 2 * c, _mm512_permutex2var_ps(ev, lo, od));
            _mm512_storeu_ps(outs[dy] + 2 * c + 16, _mm512_permutex2var_ps(ev, hi, od));
        }
    }
    for (; c < tw; c++) {
        float s0[4], s1[4];
        for (int b = 0; b < 4; b++) {
            float m0 = mt[(size_t)b * m_stride + c], m1 = mt[(size_t)(4 + b) * m_stride + c],
                  m2 = mt[(size_t)(8 + b) * m_stride + c], m3 = mt[(size_t)(12 + b) * m_stride + c];
            s0[b] = m0 + m1 + m2;
            s1[b] = m1 - m2 - m3;
        }
        float y[2][2] = {{s0[0] + s0[1] + s0[2], s0[1] - s0[2] - s0[3]},
                         {s1[0] + s1[1] + s1[2], s1[1] - s1[2] - s1[3]}};
        float *outs[2] = {out0, out1};
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2 && outs[dy] && 2 * c + dx < w; dx++) outs[dy][2 * c + dx] = y[dy][dx];
    }
}

/* Output rows of channel o from M[k][o][t] over the band (the last tile
 * row and column may reach past an odd-sized plane). */
static void transform_output(const float *m, size_t m_stride, const wino_plan *p, int ty0, int rows, float *plane,
                             int h, int w) {
    for (int ly = 0; ly < rows; ly++) {
        int y = 2 * (ty0 + ly);
        float *out0 = plane + (size_t)y * w, *out1 = y + 1 < h ? out0 + w : NULL;
        transform_tile_row(m + (size_t)ly * p->tw, m_stride, p->tw, out0, out1, w);
    }
}

/* M[k] rows [o0, o0 + 8) = U[k] block . V[k], over `blocks` register blocks of tiles. */
__attribute__((target("avx512f"))) static void product_block(const float *ub, const float *v, int in, int ld,
                                                             int blocks, float *m) {
    for (int cb = 0; cb < blocks; cb++) {
        __m512 acc[BLOCK_OUT][2];
        for (int b = 0; b < BLOCK_OUT; b++) acc[b][0] = acc[b][1] = _mm512_setzero_ps();
        const float *vc = v + cb * BLOCK_TILES;
        for (int i = 0; i < in; i++) {
            __m512 x0 = _mm512_loadu_ps(vc + (size_t)i * ld), x1 = _mm512_loadu_ps(vc + (size_t)i * ld + 16);
            const float *wi = ub + (size_t)i * BLOCK_OUT;
            for (int b = 0; b < BLOCK_OUT; b++) {
                __m512 wv = _mm512_set1_ps(wi[b]);
                acc[b][0] = _mm512_fmadd_ps(wv, x0, acc[b][0]);
                acc[b][1] = _mm512_fmadd_ps(wv, x1, acc[b][1]);
            }
        }
        for (int b = 0; b < BLOCK_OUT; b++) {
            float *row = m + (size_t)b * ld + cb * BLOCK_TILES;
            _mm512_storeu_ps(row, acc[b][0]);
            _mm512_storeu_ps(row + 16, acc[b][1]);
        }
    }
}

/* Tile rows [ty0, ty0 + rows): transforms in, the 16 products, transforms out. */
static void run_band(const float *x, int in, int h, int w, const float *u, int out, float *y, const wino_plan *p,
                     int ty0, float *scratch, int threads) {
    int rows = ty0 + p->band_rows > p->th ? p->th - ty0 : p->band_rows;
    int blocks = (rows * p->tw + BLOCK_TILES - 1) / BLOCK_TILES, out_blocks = p->out_p / BLOCK_OUT;
    size_t v_stride = (size_t)in * p->ld, m_stride = (size_t)p->out_p * p->ld;
    float *v = scratch, *m = v + p->v_floats, *bufs = m + p->m_floats;
#pragma omp parallel num_threads(threads)
    {
        float *buf = bufs + p->row_floats * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
        for (int i = 0; i < in; i++)
            transform_input(x + (size_t)i * h * w, h, w, p, ty0, rows, v + (size_t)i * p->ld, v_stride, buf);
            /* k outermost: V[k] stays cached while every output block reads it */
#pragma omp for schedule(static)
        for (int j = 0; j < TAPS * out_blocks; j++) {
            int k = j / out_blocks, ob = j % out_blocks;
            product_block(u + ((size_t)k * out_blocks + ob) * in * BLOCK_OUT, v + k * v_stride, in, p->ld, blocks,
                          m + k * m_stride + (size_t)ob * BLOCK_OUT * p->ld);
        }
#pragma omp for schedule(static)
        for (int o = 0; o < out; o++)
            transform_output(m + (size_t)o * p->ld, m_stride, p, ty0, rows, y + (size_t)o * h * w, h, w);
    }
}

void cpu_winograd_conv3x3(const float *x, int in, int h, int w, const float *u, int out, float *y, float *scratch,
                          int threads) {
    wino_plan p = plan(in, out, h, w);
    if (whole_bands(&p, threads)) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (int b = 0; b < p.bands; b++)
            run_band(x, in, h, w, u, out, y, &p, b * p.band_rows,
                     scratch + band_scratch_floats(&p) * (size_t)omp_get_thread_num(), 1);
    } else {
        for (int b = 0; b < p.bands; b++) run_band(x, in, h, w, u, out, y, &p, b * p.band_rows, scratch, threads);
    }
}

#else /* no AVX-512 on this architecture: modconv keeps to im2col + GEMM */

int cpu_winograd_usable(int in, int out, int h, int w) {
    (void)in, (void)out, (void)h, (void)w;
    return 0;
}

void cpu_winograd_conv3x3(const float *x, int in, int h, int w, const float *u, int out, float *y, float *scratch,
                          int threads) {
    (void)x, (void)in, (void)h, (void)w, (void)u, (void)out, (void)y, (void)scratch, (void)threads;
}

#endif
