/* nervp's CPU relighting kernel for float16 images (compiled on first use by
 * nervp/relight/native.py with the machine's compiler; the torch path is used when that fails).
 *
 *     out[j] = sum_k wpat[k][j % 48] * img[k * stride + j],   0 <= j < ncols
 *
 * img: n rows of float16 bits (row k starts at img + k * stride); wpat: n x 48 float32, each
 * row the light's (r, g, b) weights repeated 16 times, so a 48-column block of interleaved RGB
 * pixels meets its weights in whole vectors; out: ncols float32. Columns are processed in blocks
 * whose float32 accumulators stay in L1, reading four rows per pass: the float16 images are
 * read from memory exactly once and converted in registers (F16C), which is what the torch
 * path cannot do (it converts into a scratch buffer first).
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "this kernel needs AVX2, FMA and F16C"
#endif

#define BLK 1536 /* accumulator columns per block (6 KB), a multiple of 48 */

#ifdef __AVX512F__
#define VW 16
typedef __m512 vf;
#define LOADH(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define LOADF(p) _mm512_loadu_ps(p)
#define STOREF(p, v) _mm512_storeu_ps(p, v)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define ZERO() _mm512_setzero_ps()
#else
#define VW 8
typedef __m256 vf;
#define LOADH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define LOADF(p) _mm256_loadu_ps(p)
#define STOREF(p, v) _mm256_storeu_ps(p, v)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define ZERO() _mm256_setzero_ps()
#endif
#define NV (48 / VW)

int nervp_relight_f16(const uint16_t *img, ptrdiff_t stride, int n, const float *wpat, float *out,
                      ptrdiff_t ncols)
{
    float acc[BLK] __attribute__((aligned(64)));
    for (ptrdiff_t c0 = 0; c0 < ncols; c0 += BLK) {
        ptrdiff_t m = ncols - c0 < BLK ? ncols - c0 : BLK;
        ptrdiff_t mv = m / 48 * 48;
        memset(acc, 0, sizeof(float) * (size_t)m);
        for (int k = 0; k < n; k += 4) {
            int kk = n - k < 4 ? n - k : 4; /* rows in this pass; missing ones get zero weight */
            const uint16_t *r[4];
            vf w[4][NV];
            for (int i = 0; i < 4; i++) {
                int ki = i < kk ? k + i : k;
                r[i] = img + (ptrdiff_t)ki * stride + c0;
                for (int v = 0; v < NV; v++)
                    w[i][v] = i < kk ? LOADF(wpat + 48 * (ptrdiff_t)ki + VW * v) : ZERO();
            }
            for (ptrdiff_t j = 0; j < mv; j += 48)
                for (int v = 0; v < NV; v++) {
                    ptrdiff_t o = j + VW * v;
                    vf a = LOADF(acc + o);
                    a = FMA(w[0][v], LOADH(r[0] + o), a);
                    a = FMA(w[1][v], LOADH(r[1] + o), a);
                    a = FMA(w[2][v], LOADH(r[2] + o), a);
                    a = FMA(w[3][v], LOADH(r[3] + o), a);
                    STOREF(acc + o, a);
                }
            for (ptrdiff_t j = mv; j < m; j++)
                for (int i = 0; i < kk; i++)
                    acc[j] += wpat[48 * (ptrdiff_t)(k + i) + j % 48] * _cvtsh_ss(r[i][j]);
        }
        memcpy(out + c0, acc, sizeof(float) * (size_t)m);
    }
    return 0;
}
