//===- Driver.h - The library behind loomc ----------------------*- C++ -*-===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef LOOM_DRIVER_DRIVER_H
#define LOOM_DRIVER_DRIVER_H

namespace loom {

/// Runs the `loomc` command line: parses `argv`, imports the model, runs the
/// pipeline up to the requested stage and writes the result. Returns the
/// process exit status: 0 on success, 1 when the model is malformed or
/// unsupported or an output cannot be written.
int runLoomcMain(int argc, char **argv);

} // namespace loom

#endif // LOOM_DRIVER_DRIVER_H
