#!/usr/bin/python3
"""Norm and GELU layers as decomposed chains in ONNX graphs (onnx.helper), with
random inputs and a numpy reference, for loom-raise-norms-and-gelu.

  layer_models.py CASE DIR -> DIR/model.onnx, DIR/in/*.pb, DIR/exp/*.pb

Cases:
  layer_norm   opset 13: ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div, * gamma + beta
  rms_norm     opset 13: x * Reciprocal(Sqrt(ReduceMean(x * x) + eps)) * w
  gelu_tanh    0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * Pow(x, 3))))
  silu         Mul(x, Sigmoid(x)) and Mul(Sigmoid(h), h) of a matmul h (a SwiGLU-style
               gated MLP: silu(x W1) * (x W3), then W2)
  conv_channels_last
               Transpose [B, T, C] -> [B, C, T], a depthwise Conv1d with bias, stride 2,
               dilation 2 and pads (3, 1), a Slice along T, Transpose back (Mamba's
               causal conv as torch exports it, with every Conv attribute exercised)
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
rng = np.random.default_rng(5)


def c(name, value):
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def layer_norm():
    g = rng.standard_normal(32).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], name="mean", axes=[-1]),
        helper.make_node("Sub", ["x", "m"], ["d"], name="center"),
        helper.make_node("Pow", ["d", "two"], ["sq"], name="square"),
        helper.make_node("ReduceMean", ["sq"], ["v"], name="var", axes=[-1]),
        helper.make_node("Add", ["v", "eps"], ["ve"], name="add_eps"),
        helper.make_node("Sqrt", ["ve"], ["s"], name="std"),
        helper.make_node("Div", ["d", "s"], ["n"], name="normalize"),
        helper.make_node("Mul", ["n", "g"], ["y"], name="gamma"),
        helper.make_node("Add", ["y", "b"], ["z"], name="beta"),
    ]
    inits = [c("two", 2.0), c("eps", 1e-5), c("g", g), c("b", b)]
    x = rng.standard_normal((3, 7, 32)).astype(np.float32) * 2 + 1
    m = x.mean(-1, keepdims=True)
    ref = (x - m) / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-5) * g + b
    return nodes, inits, [("x", ["batch", "seq", 32])], ("z", ["batch", "seq", 32]), [x], ref, 13


def rms_norm():
    w = rng.standard_normal(48).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"], name="square"),
        helper.make_node("ReduceMean", ["sq"], ["v"], name="mean_sq", axes=[-1]),
        helper.make_node("Add", ["eps", "v"], ["ve"], name="add_eps"),
        helper.make_node("Sqrt", ["ve"], ["s"], name="rms"),
        helper.make_node("Reciprocal", ["s"], ["r"], name="inv_rms"),
        helper.make_node("Mul", ["x", "r"], ["n"], name="normalize"),
        helper.make_node("Mul", ["w", "n"], ["y"], name="weight"),
    ]
    inits = [c("eps", 1e-6), c("w", w)]
    x = rng.standard_normal((2, 9, 48)).astype(np.float32)
    ref = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * w
    return nodes, inits, [("x", [2, "seq", 48])], ("y", [2, "seq", 48]), [x], ref, 13


def gelu_tanh():
    nodes = [
        helper.make_node("Pow", ["x", "three"], ["cube"], name="cube"),
        helper.make_node("Mul", ["k3", "cube"], ["kc"], name="scale_cube"),
        helper.make_node("Add", ["x", "kc"], ["inner"], name="inner"),
        helper.make_node("Mul", ["inner", "k"], ["arg"], name="scale"),
        helper.make_node("Tanh", ["arg"], ["t"], name="tanh"),
        helper.make_node("Add", ["t", "one"], ["t1"], name="one_plus"),
        helper.make_node("Mul", ["x", "half"], ["hx"], name="half_x"),
        helper.make_node("Mul", ["hx", "t1"], ["y"], name="gelu"),
    ]
    inits = [c("three", 3.0), c("k3", 0.044715), c("k", math.sqrt(2 / math.pi)),
             c("one", 1.0), c("half", 0.5)]
    x = (rng.standard_normal((5, 64)) * 3).astype(np.float32)
    ref = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return nodes, inits, [("x", ["n", 64])], ("y", ["n", 64]), [x], ref, 17


def silu():
    w1 = (rng.standard_normal((24, 40)) * 0.3).astype(np.float32)
    w3 = (rng.standard_normal((24, 40)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((40, 24)) * 0.3).astype(np.float32)
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["sx"], name="sig_x"),
        helper.make_node("Mul", ["x", "sx"], ["a"], name="silu_x"),
        helper.make_node("MatMul", ["a", "w1"], ["h"], name="up"),
        helper.make_node("Sigmoid", ["h"], ["sh"], name="sig_h"),
        helper.make_node("Mul", ["sh", "h"], ["gate"], name="silu_h"),
        helper.make_node("MatMul", ["a", "w3"], ["u"], name="up3"),
        helper.make_node("Mul", ["gate", "u"], ["gu"], name="glu"),
        helper.make_node("MatMul", ["gu", "w2"], ["y"], name="down"),
    ]
    inits = [c("w1", w1), c("w3", w3), c("w2", w2)]
    x = (rng.standard_normal((3, 7, 24)) * 4).astype(np.float32)
    x[0, 0, :4] = [-100.0, 100.0, -20.0, 0.0]
    silu_np = lambda v: v / (1 + np.exp(-v.astype(np.float64)))
    a = silu_np(x)
    ref = (silu_np(a @ w1) * (a @ w3)) @ w2
    return nodes, inits, [("x", [3, "seq", 24])], ("y", [3, "seq", 24]), [x], ref, 14


def conv_channels_last():
    ch, k = 20, 3
    w = rng.standard_normal((ch, 1, k)).astype(np.float32)
    b = rng.standard_normal(ch).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], name="to_channels_first",
                         perm=[0, 2, 1]),
        helper.make_node("Conv", ["xt", "w", "b"], ["y"], name="conv", group=ch,
                         kernel_shape=[k], strides=[2], dilations=[2], pads=[3, 1]),
        helper.make_node("Slice", ["y", "starts", "ends", "axes"], ["ys"], name="trim"),
        helper.make_node("Transpose", ["ys"], ["z"], name="to_channels_last",
                         perm=[0, 2, 1]),
    ]
    inits = [c("w", w), c("b", b),
             numpy_helper.from_array(np.array([1], np.int64), "starts"),
             numpy_helper.from_array(np.array([1 << 30], np.int64), "ends"),
             numpy_helper.from_array(np.array([2], np.int64), "axes")]
    x = rng.standard_normal((2, 11, ch)).astype(np.float32)
    xp = np.pad(x.transpose(0, 2, 1).astype(np.float64), ((0, 0), (0, 0), (3, 1)))
    steps = (xp.shape[2] - (2 * (k - 1) + 1)) // 2 + 1
    y = np.zeros((2, ch, steps))
    for t in range(steps):
        for j in range(k):
            y[:, :, t] += xp[:, :, 2 * t + 2 * j] * w[:, 0, j]
    y += b[None, :, None]
    ref = y[:, :, 1:].transpose(0, 2, 1)
    return nodes, inits, [("x", ["batch", "seq", ch])], ("z", ["batch", "steps", ch]), [x], ref, 13


CASES = {"layer_norm": layer_norm, "rms_norm": rms_norm, "gelu_tanh": gelu_tanh,
         "silu": silu, "conv_channels_last": conv_channels_last}


def main():
    name, d = sys.argv[1], sys.argv[2]
    nodes, inits, ins, out, arrays, ref, opset = CASES[name]()
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, F, s) for n, s in ins],
                              [helper.make_tensor_value_info(out[0], F, out[1])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="loom-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    for sub in ("in", "exp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    for i, a in enumerate(arrays):
        open(os.path.join(d, "in", "input_%d.pb" % i), "wb").write(
            numpy_helper.from_array(a).SerializeToString())
    open(os.path.join(d, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(ref.astype(np.float32)).SerializeToString())


if __name__ == "__main__":
    main()
