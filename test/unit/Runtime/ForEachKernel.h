//===- ForEachKernel.h - Each GEMM microkernel in turn ----------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TEST_UNIT_RUNTIME_FOREACHKERNEL_H
#define LOOM_TEST_UNIT_RUNTIME_FOREACHKERNEL_H

#include "loomrt/kernels.h"

#include <string>

namespace loomtest {

/// Runs `body(kernel)` once under each distinct microkernel this CPU has
/// (capped at portable, AVX2 and AVX-512 in turn), then lifts the cap.
template <typename Body> void forEachKernel(Body body) {
  std::string last;
  for (const char *isa : {"portable", "avx2", "avx512"}) {
    std::string kernel = loomrt_sgemm_set_max_isa(isa);
    if (kernel == last)
      continue;
    last = kernel;
    body(kernel);
  }
  loomrt_sgemm_set_max_isa(nullptr);
}

} // namespace loomtest

#endif // LOOM_TEST_UNIT_RUNTIME_FOREACHKERNEL_H
