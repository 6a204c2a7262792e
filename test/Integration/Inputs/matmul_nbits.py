#!/usr/bin/python3
"""Writes a one-node com.microsoft MatMulNBits model (ONNX Runtime's 4-bit
block format) with random weights, an input and the expected output.

  matmul_nbits.py DIR --k K --n N --block B [--rows M] [--zero-points]
                  [--bias] [--accuracy-level 4]

B holds the 4-bit weights q [N, K] in blocks of B along K, two per byte
(low nibble first), scales are fp32 [N * blocks], zero points (optional)
4-bit packed [N * ceil(blocks / 2)] bytes, else 8. The reference is numpy's
float64 evaluation of ONNX Runtime's definition:
Y = A ((q - zero) * scale)^T (+ bias). With --accuracy-level 4 (ONNX Runtime
computes with int8 inputs) Loom runs W4A8, and the reference is that
arithmetic step by step (w4a8_reference).
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def w4a8_reference(rows, q, zero, scale, group):
    """W4A8 as loomrt_i4gemm_f32 computes it: rows [M, K] fp32 quantized to
    int8 per row and group (max |x| / 127, float32 division, round half to
    even), q [K, N] 4-bit values, zero and scale [groups, N]; per group the
    exact integer sum corrected by zero * sum(qa), then
    acc = fma(t, sa * scale, acc) in order (t * s is exact in float64)."""
    k = rows.shape[1]
    groups = (k + group - 1) // group
    acc = np.zeros((rows.shape[0], q.shape[1]), np.float32)
    for g in range(groups):
        blk = rows[:, g * group:(g + 1) * group]
        sa = (np.abs(blk).max(axis=1, keepdims=True) / np.float32(127)).astype(np.float32)
        sa = np.where(sa == 0, np.float32(1), sa).astype(np.float32)
        qa = np.clip(np.round(blk / sa), -127, 127).astype(np.int64)
        dot = qa @ q[g * group:(g + 1) * group].astype(np.int64)
        t = (dot - zero[g].astype(np.int64) * qa.sum(axis=1, keepdims=True)).astype(np.float32)
        s = (sa * scale[g].astype(np.float32)).astype(np.float32)
        acc = (t.astype(np.float64) * s + acc).astype(np.float32)
    return acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--block", type=int, required=True)
    ap.add_argument("--rows", type=int, default=3)
    ap.add_argument("--zero-points", action="store_true")
    ap.add_argument("--bias", action="store_true")
    ap.add_argument("--accuracy-level", type=int, default=0)
    args = ap.parse_args()
    k, n, block = args.k, args.n, args.block
    rng = np.random.default_rng(k * 7 + n)
    blocks = (k + block - 1) // block
    q = rng.integers(0, 16, size=(n, blocks * block)).astype(np.uint8)
    b = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8).reshape(n, blocks, block // 2)
    scales = (rng.random((n, blocks)) * 0.02 + 0.001).astype(np.float32)
    inits = [numpy_helper.from_array(b, "B"), numpy_helper.from_array(scales.ravel(), "scales")]
    inputs = ["A", "B", "scales"]
    zero = np.full((n, blocks), 8, np.uint8)
    if args.zero_points:
        zero = rng.integers(0, 16, size=(n, blocks)).astype(np.uint8)
        padded = np.zeros((n, (blocks + 1) // 2 * 2), np.uint8)
        padded[:, :blocks] = zero
        packed = (padded[:, 0::2] | (padded[:, 1::2] << 4)).astype(np.uint8)
        inits.append(numpy_helper.from_array(packed.ravel(), "zero_points"))
        inputs.append("zero_points")
    bias = rng.standard_normal(n).astype(np.float32)
    if args.bias:
        while len(inputs) < 5:
            inputs.append("")
        inits.append(numpy_helper.from_array(bias, "bias"))
        inputs.append("bias")
    node = helper.make_node("MatMulNBits", inputs, ["Y"], domain="com.microsoft",
                            name="matmul_nbits", K=k, N=n, bits=4, block_size=block,
                            **({"accuracy_level": args.accuracy_level}
                               if args.accuracy_level else {}))
    graph = helper.make_graph(
        [node], "matmul_nbits",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [args.rows, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [args.rows, n])], inits)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    os.makedirs(os.path.join(args.dir, "in"), exist_ok=True)
    os.makedirs(os.path.join(args.dir, "exp"), exist_ok=True)
    onnx.save(model, os.path.join(args.dir, "model.onnx"))
    a = rng.standard_normal((args.rows, k)).astype(np.float32)
    w = ((q[:, :k].astype(np.float64) - np.repeat(zero, block, axis=1)[:, :k]) *
         np.repeat(scales, block, axis=1)[:, :k])
    y = a.astype(np.float64) @ w.T + (bias if args.bias else 0)
    if args.accuracy_level == 4:
        y = w4a8_reference(a, q[:, :k].T, zero.T, scales.T, block)
        if args.bias:
            y = (y + bias).astype(np.float32)
    with open(os.path.join(args.dir, "in", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(a).SerializeToString())
    with open(os.path.join(args.dir, "exp", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y.astype(np.float32), "Y").SerializeToString())


if __name__ == "__main__":
    main()
