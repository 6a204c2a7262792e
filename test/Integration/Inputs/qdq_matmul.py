#!/usr/bin/python3
"""Writes a weight-quantized model in ONNX's QDQ form with its input and the
expected output: y = MatMul(x, DequantizeLinear(Wq, scale, zero_point)).

  qdq_matmul.py DIR --k K --n N --kind int8-axis|uint8-128|uint8-asym

int8-axis: int8 weights, one scale per column (axis 1), zero points 0;
uint8-128: uint8 weights, one scale, zero point 128 (both symmetric, which
loom-raise-quantized makes loom.quantized_matmul); uint8-asym: zero point
37 (legalized as DequantizeLinear then MatMul). The reference is numpy's
float64 evaluation of the same dequantized product.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--kind", required=True,
                    choices=["int8-axis", "uint8-128", "uint8-asym"])
    args = ap.parse_args()
    k, n = args.k, args.n
    rng = np.random.default_rng(k + n)
    if args.kind == "int8-axis":
        wq = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
        scale = (rng.random(n) * 0.01 + 0.001).astype(np.float32)
        zero = np.zeros(n, np.int8)
        attrs = {"axis": 1}
    else:
        wq = rng.integers(0, 256, size=(k, n)).astype(np.uint8)
        scale = np.array(0.004, np.float32)
        zero = np.array(128 if args.kind == "uint8-128" else 37, np.uint8)
        attrs = {}
    inits = [numpy_helper.from_array(wq, "wq"), numpy_helper.from_array(scale, "scale"),
             numpy_helper.from_array(zero, "zero")]
    nodes = [helper.make_node("DequantizeLinear", ["wq", "scale", "zero"], ["w"],
                              name="dequantize", **attrs),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")]
    graph = helper.make_graph(
        nodes, "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 7, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 7, n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    os.makedirs(os.path.join(args.dir, "in"), exist_ok=True)
    os.makedirs(os.path.join(args.dir, "exp"), exist_ok=True)
    onnx.save(model, os.path.join(args.dir, "model.onnx"))
    x = rng.standard_normal((2, 7, k)).astype(np.float32)
    w = (wq.astype(np.float64) - zero.astype(np.float64)) * scale.astype(np.float64)
    y = x.astype(np.float64) @ w
    with open(os.path.join(args.dir, "in", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x).SerializeToString())
    with open(os.path.join(args.dir, "exp", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y.astype(np.float32), "y").SerializeToString())


if __name__ == "__main__":
    main()
