#!/usr/bin/python3
"""Attention as exporters decompose it, in ONNX graphs built with onnx.helper,
with random inputs and a numpy reference: the raising pass must recognize each
(loomc --emit=loom shows loom.attention) and the compiled model must match.

  attention_models.py CASE DIR -> DIR/model.onnx, DIR/in/*.pb, DIR/exp/*.pb

Cases:
  causal       GPT-2 style: K^T by Transpose(0,2,3,1) of [B,S,H,D], Div scale,
               Where(Trilu(ConstantOfShape(true), k=1), -inf, s) over the
               sequence length read with Shape/Gather.
  additive     BERT style: Mul scale, Add of a [B,1,1,S] float mask input.
  where_keep   rank 3: scales on Q and K^T, Where(keep, s, -1e9) with a boolean
               keep-mask input, cross attention (Sq != Skv).
  gqa          LLaMA-style grouped-query causal attention exported by torch
               (8 query heads, 2 key/value heads repeated by
               Reshape(Expand(Unsqueeze))), dynamic batch and sequence; the
               reference is torch's output.
  gqa_static   the same exported with static shapes (constant Expand shape).
  ms_attention ONNX Runtime's com.microsoft Attention (fused QKV weight and
               bias, 4 heads, a [B, S] key mask with padding in batch 1).
  ms_causal    the same, unidirectional, no mask, an explicit scale.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, B_ = TensorProto.FLOAT, TensorProto.BOOL


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def const(name, value):
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.asarray(value)))


def causal():
    nodes = [
        helper.make_node("Transpose", ["q"], ["qt"], name="q_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["k"], ["kt"], name="k_heads", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["v"], ["vt"], name="v_heads", perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["qt", "kt"], ["s"], name="scores"),
        const("c8", np.float32(8.0)),
        helper.make_node("Div", ["s", "c8"], ["ss"], name="scale"),
        helper.make_node("Shape", ["q"], ["qshape"], name="qshape"),
        const("one_i", np.int64(1)),
        helper.make_node("Gather", ["qshape", "one_i"], ["n"], name="seq_len", axis=0),
        const("ax0", np.array([0], np.int64)),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="n1"),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n2"], name="n2"),
        helper.make_node("Concat", ["n1", "n2"], ["nn"], name="nn", axis=0),
        helper.make_node("ConstantOfShape", ["nn"], ["ones"], name="ones",
                         value=numpy_helper.from_array(np.array([True]))),
        helper.make_node("Trilu", ["ones", "one_i"], ["upper"], name="upper", upper=1),
        const("ninf", np.float32(-np.inf)),
        helper.make_node("Where", ["upper", "ninf", "ss"], ["m"], name="causal_mask"),
        helper.make_node("Softmax", ["m"], ["p"], name="probs", axis=-1),
        helper.make_node("MatMul", ["p", "vt"], ["o"], name="context"),
    ]
    shape = ["batch", "seq", 3, 64]
    graph = helper.make_graph(
        nodes, "causal", [helper.make_tensor_value_info(n, F, shape) for n in "qkv"],
        [helper.make_tensor_value_info("o", F, ["batch", 3, "seq", 64])])
    r = np.random.default_rng(1)
    q, k, v = (r.standard_normal((2, 150, 3, 64)).astype(np.float32) for _ in range(3))
    qt, kt, vt = q.transpose(0, 2, 1, 3), k.transpose(0, 2, 3, 1), v.transpose(0, 2, 1, 3)
    s = (qt @ kt) / 8.0
    n = q.shape[1]
    s = np.where(np.triu(np.ones((n, n), bool), 1), -np.inf, s)
    return graph, [q, k, v], softmax(s) @ vt


def additive():
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], name="k_t", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
        const("c", np.float32(0.25)),
        helper.make_node("Mul", ["c", "s"], ["ss"], name="scale"),
        helper.make_node("Add", ["ss", "mask"], ["m"], name="add_mask"),
        helper.make_node("Softmax", ["m"], ["p"], name="probs", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"], name="context"),
    ]
    shape = ["batch", 4, "seq", 16]
    graph = helper.make_graph(
        nodes, "additive",
        [helper.make_tensor_value_info(n, F, shape) for n in "qkv"] +
        [helper.make_tensor_value_info("mask", F, ["batch", 1, 1, "seq"])],
        [helper.make_tensor_value_info("o", F, shape)])
    r = np.random.default_rng(2)
    q, k, v = (r.standard_normal((2, 4, 100, 16)).astype(np.float32) for _ in range(3))
    mask = np.zeros((2, 1, 1, 100), np.float32)
    mask[1, ..., 70:] = -10000.0
    s = (q @ k.transpose(0, 1, 3, 2)) * 0.25 + mask
    return graph, [q, k, v, mask], softmax(s) @ v


def where_keep():
    nodes = [
        const("h", np.float32(0.5)),
        helper.make_node("Mul", ["q", "h"], ["qs"], name="q_scale"),
        helper.make_node("Transpose", ["k"], ["kt"], name="k_t", perm=[0, 2, 1]),
        helper.make_node("Mul", ["kt", "h"], ["kts"], name="k_scale"),
        helper.make_node("MatMul", ["qs", "kts"], ["s"], name="scores"),
        const("big", np.float32(-1e9)),
        helper.make_node("Where", ["keep", "s", "big"], ["m"], name="keep_mask"),
        helper.make_node("Softmax", ["m"], ["p"], name="probs", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"], name="context"),
    ]
    graph = helper.make_graph(
        nodes, "where_keep",
        [helper.make_tensor_value_info("q", F, [3, "sq", 16]),
         helper.make_tensor_value_info("k", F, [3, "skv", 16]),
         helper.make_tensor_value_info("v", F, [3, "skv", 8]),
         helper.make_tensor_value_info("keep", B_, ["sq", "skv"])],
        [helper.make_tensor_value_info("o", F, [3, "sq", 8])])
    r = np.random.default_rng(3)
    q = r.standard_normal((3, 37, 16)).astype(np.float32)
    k = r.standard_normal((3, 90, 16)).astype(np.float32)
    v = r.standard_normal((3, 90, 8)).astype(np.float32)
    keep = r.random((37, 90)) > 0.3
    keep[:, 0] = True
    s = (q * 0.5) @ (k.transpose(0, 2, 1) * 0.5)
    s = np.where(keep, s, np.float32(-1e9))
    return graph, [q, k, v, keep], softmax(s) @ v


def ms_attention(causal=False):
    rng = np.random.default_rng(3)
    B, S, D, H = 2, 37, 32, 4
    hd = D // H
    x = rng.standard_normal((B, S, D)).astype(np.float32)
    w = (rng.standard_normal((D, 3 * D)) / np.sqrt(D)).astype(np.float32)
    b = (rng.standard_normal(3 * D) * 0.1).astype(np.float32)
    mask = np.ones((B, S), np.int32)
    mask[1, 30:] = 0
    attrs = {"num_heads": H}
    if causal:
        attrs.update(unidirectional=1, scale=0.25)
    ins = ["x", "w", "b"] + ([] if causal else ["mask"])
    node = helper.make_node("Attention", ins, ["y"], name="attention", domain="com.microsoft",
                            **attrs)
    qkv = x.astype(np.float64) @ w + b
    q, k, v = (qkv[..., i * D:(i + 1) * D].reshape(B, S, H, hd).transpose(0, 2, 1, 3)
               for i in range(3))
    scale = 0.25 if causal else 1 / np.sqrt(hd)
    s = q @ k.transpose(0, 1, 3, 2) * scale
    if causal:
        s = s + np.triu(np.full((S, S), -np.inf), 1)
    else:
        s = s + np.where(mask[:, None, None, :] != 0, 0.0, -10000.0)
    out = (softmax(s) @ v).transpose(0, 2, 1, 3).reshape(B, S, D)
    inputs = [vi_ for vi_ in [helper.make_tensor_value_info("x", F, ["batch", "seq", D])]]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    data = [x]
    if not causal:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "seq"]))
        data.append(mask)
    graph = helper.make_graph([node], "ms_attention", inputs,
                              [helper.make_tensor_value_info("y", F, ["batch", "seq", D])], inits)
    return graph, data, out


CASES = {"causal": causal, "additive": additive, "where_keep": where_keep,
         "ms_attention": ms_attention, "ms_causal": lambda: ms_attention(True)}


def export_gqa(d, dynamic):
    import torch

    class GQA(torch.nn.Module):
        def __init__(self, dim=64, heads=8, kv=2):
            super().__init__()
            self.h, self.kv, self.hd = heads, kv, dim // heads
            self.q = torch.nn.Linear(dim, dim, bias=False)
            self.k = torch.nn.Linear(dim, kv * self.hd, bias=False)
            self.v = torch.nn.Linear(dim, kv * self.hd, bias=False)

        def forward(self, x):
            b, s, _ = x.shape
            q = self.q(x).view(b, s, self.h, self.hd).transpose(1, 2)
            k = self.k(x).view(b, s, self.kv, self.hd).transpose(1, 2)
            v = self.v(x).view(b, s, self.kv, self.hd).transpose(1, 2)
            r = self.h // self.kv
            k = k[:, :, None].expand(b, self.kv, r, s, self.hd).reshape(b, self.h, s, self.hd)
            v = v[:, :, None].expand(b, self.kv, r, s, self.hd).reshape(b, self.h, s, self.hd)
            att = (q @ k.transpose(2, 3)) / (self.hd ** 0.5)
            mask = torch.triu(torch.ones(s, s, dtype=torch.bool), 1)
            att = att.masked_fill(mask, float("-inf")).softmax(-1)
            return (att @ v).transpose(1, 2).reshape(b, s, -1)

    torch.manual_seed(0)
    model = GQA().eval()
    x = torch.randn(2, 37, 64)
    axes = {"x": {0: "b", 1: "s"}, "y": {0: "b", 1: "s"}} if dynamic else None
    for sub in ("in", "exp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(model, (x,), os.path.join(d, "model.onnx"), opset_version=17,
                          input_names=["x"], output_names=["y"], dynamic_axes=axes)
        y = model(x)
    open(os.path.join(d, "in", "input_0.pb"), "wb").write(
        numpy_helper.from_array(x.numpy()).SerializeToString())
    open(os.path.join(d, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(y.numpy()).SerializeToString())


def main():
    name, d = sys.argv[1], sys.argv[2]
    if name in ("gqa", "gqa_static"):
        return export_gqa(d, dynamic=name == "gqa")
    graph, inputs, out = CASES[name]()
    opsets = [helper.make_opsetid("", 17)]
    if name.startswith("ms_"):
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    m = helper.make_model(graph, opset_imports=opsets, producer_name="loom-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    for sub in ("in", "exp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    for i, a in enumerate(inputs):
        open(os.path.join(d, "in", "input_%d.pb" % i), "wb").write(
            numpy_helper.from_array(a).SerializeToString())
    open(os.path.join(d, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(out.astype(np.float32)).SerializeToString())


if __name__ == "__main__":
    main()
