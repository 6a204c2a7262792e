//===- loomc.cpp - The Loom compiler --------------------------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "loom/Driver/Driver.h"

int main(int argc, char **argv) { return loom::runLoomcMain(argc, argv); }
