/*===- loomrt.h - Loom runtime umbrella header --------------------*- C -*-===*
 *
 * Part of the Loom project. SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*/

#ifndef LOOMRT_LOOMRT_H
#define LOOMRT_LOOMRT_H

#include "loomrt/status.h"
#include "loomrt/model.h"
#include "loomrt/tensor.h"

#endif /* LOOMRT_LOOMRT_H */
