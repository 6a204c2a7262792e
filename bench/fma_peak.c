/* Measures the fp32 FMA peak of this machine: every thread runs independent
 * FMA chains (12 accumulators: enough to hide the FMA latency on two pipes)
 * of the widest vectors the CPU has (AVX-512 when present, else AVX2), and
 * prints the total GFLOP/s and the ISA. bench/roofline.py builds and runs
 * it:  clang-22 -O2 -fopenmp fma_peak.c && ./a.out THREADS */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS(T, SET1, FMA, ADD)                                              \
  T a = SET1(0.999f), b = SET1(1e-7f);                                         \
  T c0 = SET1(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,        \
    c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;                             \
  for (long i = 0; i < iters / 12; ++i) {                                      \
    c0 = FMA(c0, a, b);                                                        \
    c1 = FMA(c1, a, b);                                                        \
    c2 = FMA(c2, a, b);                                                        \
    c3 = FMA(c3, a, b);                                                        \
    c4 = FMA(c4, a, b);                                                        \
    c5 = FMA(c5, a, b);                                                        \
    c6 = FMA(c6, a, b);                                                        \
    c7 = FMA(c7, a, b);                                                        \
    c8 = FMA(c8, a, b);                                                        \
    c9 = FMA(c9, a, b);                                                        \
    c10 = FMA(c10, a, b);                                                      \
    c11 = FMA(c11, a, b);                                                      \
  }                                                                            \
  T s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));     \
  s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)));                                 \
  float out[sizeof(T) / 4];                                                    \
  __builtin_memcpy(out, &s, sizeof out);                                       \
  return out[0];

/* One thread's chains; returns a value so the work is not optimized away. */
__attribute__((target("avx2,fma"))) static float chainsAvx2(long iters) {
  CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)
}

__attribute__((target("avx512f"))) static float chainsAvx512(long iters) {
  CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  const long iters = 200000000;
  __builtin_cpu_init();
  int wide = __builtin_cpu_supports("avx512f");
  int lanes = wide ? 16 : 8;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = omp_get_wtime();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += wide ? chainsAvx512(iters) : chainsAvx2(iters);
    double t = omp_get_wtime() - t0;
    double gflops = (double)threads * (iters / 12) * 12 * 2 * lanes / t / 1e9;
    if (gflops > best)
      best = gflops;
    if (sink == 12345.f)
      printf("#");
  }
  printf("%s %.1f\n", wide ? "avx512" : "avx2", best);
  return 0;
}
