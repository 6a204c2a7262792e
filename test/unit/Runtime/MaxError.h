//===- MaxError.h - Running maximum of errors that keeps NaNs ---*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_TEST_UNIT_RUNTIME_MAXERROR_H
#define LOOM_TEST_UNIT_RUNTIME_MAXERROR_H

#include <algorithm>
#include <cmath>

namespace loomtest {

/// The larger of a running maximum error `max` and `err`, where a NaN `err`
/// (a NaN output, or a reference of NaN) counts as infinitely large:
/// std::max(max, NaN) returns `max`, and a kernel that wrote NaNs would
/// pass any tolerance.
inline double maxError(double max, double err) {
  return std::isnan(err) ? INFINITY : std::max(max, err);
}

} // namespace loomtest

#endif // LOOM_TEST_UNIT_RUNTIME_MAXERROR_H
