/* Measures the fp32 FMA peak of this machine: every thread runs independent
 * 8-wide FMA chains (12 accumulators: enough to hide the FMA latency on two
 * pipes) and the total is printed in GFLOP/s. bench/roofline.py builds and
 * runs it:  clang-22 -O2 -mavx2 -mfma -fopenmp fma_peak.c && ./a.out THREADS */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  const long iters = 200000000;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = omp_get_wtime();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-7f);
      __m256 c0 = _mm256_set1_ps(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0,
             c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
      for (long i = 0; i < iters / 12; ++i) {
        c0 = _mm256_fmadd_ps(c0, a, b);
        c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b);
        c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b);
        c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b);
        c11 = _mm256_fmadd_ps(c11, a, b);
      }
      __m256 s = _mm256_add_ps(
          _mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
          _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
      s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9),
                                         _mm256_add_ps(c10, c11)));
      float out[8];
      _mm256_storeu_ps(out, s);
      sink += out[0];
    }
    double t = omp_get_wtime() - t0;
    double gflops = (double)threads * (iters / 12) * 12 * 16 / t / 1e9;
    if (gflops > best)
      best = gflops;
    if (sink == 12345.f)
      printf("#");
  }
  printf("%.1f\n", best);
  return 0;
}
