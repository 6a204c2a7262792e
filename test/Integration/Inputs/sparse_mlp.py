#!/usr/bin/python3
"""Writes a two-layer MLP (MatMul, Relu, MatMul with the second weight
stored transposed through a Transpose-free Gemm transB) with random fp32
weights, an input and the expected output of the *pruned* model, pruned here
in numpy by the rules loomc's --sparsity documents:

  sparse_mlp.py DIR --pattern 2:4|block:RxC,RATIO [--prepruned]
                [--rows M] [--k K] [--hidden H] [--n N]

2:4: in every group of 4 rows of W [K, N] (along K) per column, the 2
values of largest magnitude stay. block:RxC,RATIO: of the R x C blocks of W
(edge blocks partial), round(RATIO * blocks) with the least Frobenius norm
become zeros (stable order on ties). With --prepruned the model's weights
already have that pattern (and the expected output is of those weights), so
that loomc keeps them exactly (--sparsity=2:4 or block:RxC without a
ratio). The reference is numpy's float64 product of the pruned weights.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def prune_2_4(w):
    k, n = w.shape
    out = w.copy()
    for g in range(k // 4):
        block = np.abs(w[4 * g:4 * g + 4, :])
        # The two smallest magnitudes of each column (stable: the lower row
        # stays on ties) are dropped.
        order = np.argsort(-block, axis=0, kind="stable")
        for t in (2, 3):
            out[4 * g + order[t], np.arange(n)] = 0
    return out


def prune_blocks(w, r, c, ratio):
    k, n = w.shape
    rb, cb = -(-k // r), -(-n // c)
    norms = np.zeros(rb * cb)
    for j in range(cb):
        for i in range(rb):
            blk = w[i * r:(i + 1) * r, j * c:(j + 1) * c].astype(np.float64)
            norms[j * rb + i] = (blk * blk).sum()
    order = np.argsort(norms, kind="stable")
    out = w.copy()
    for idx in order[:int(round(ratio * rb * cb))]:
        j, i = divmod(idx, rb)
        out[i * r:(i + 1) * r, j * c:(j + 1) * c] = 0
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--pattern", required=True)
    ap.add_argument("--prepruned", action="store_true")
    ap.add_argument("--rows", type=int, default=5)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=264)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    rng = np.random.default_rng(args.k * 31 + args.hidden + args.n)
    w1 = (rng.standard_normal((args.k, args.hidden)) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((args.hidden, args.n)) * 0.1).astype(np.float32)
    if args.pattern == "2:4":
        prune = prune_2_4
    else:
        shape, _, ratio = args.pattern[len("block:"):].partition(",")
        r, c = map(int, shape.split("x"))
        ratio = float(ratio or 0.5)
        prune = lambda w: prune_blocks(w, r, c, ratio)
    p1, p2 = prune(w1), prune(w2)
    if args.prepruned:
        w1, w2 = p1, p2
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        # The second weight stored [N, H], read transposed.
        helper.make_node("Gemm", ["r", "w2t"], ["y"], name="fc2", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "sparse_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [args.rows, args.k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [args.rows, args.n])],
        [numpy_helper.from_array(w1, "w1"),
         numpy_helper.from_array(np.ascontiguousarray(w2.T), "w2t")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.join(args.dir, "in"), exist_ok=True)
    os.makedirs(os.path.join(args.dir, "exp"), exist_ok=True)
    onnx.save(model, os.path.join(args.dir, "model.onnx"))
    x = rng.standard_normal((args.rows, args.k)).astype(np.float32)
    h = np.maximum(x.astype(np.float64) @ p1, 0)
    y = h @ p2
    with open(os.path.join(args.dir, "in", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x).SerializeToString())
    with open(os.path.join(args.dir, "exp", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y.astype(np.float32), "y").SerializeToString())


if __name__ == "__main__":
    main()
