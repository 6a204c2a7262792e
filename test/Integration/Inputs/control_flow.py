#!/usr/bin/python3
"""Models with Loop, Scan and sequence ops, with numpy (or torch) references.

  control_flow.py CASE DIR   -> DIR/model.onnx, DIR/in/input_<i>.pb, DIR/exp/output_<i>.pb

Cases:
  loop_seq   Loop with a trip count input carrying a tensor and a sequence of
             ragged slices, plus a scan output; ConcatFromSequence,
             SequenceLength and SequenceAt (negative position) after it.
  seq_ops    SplitToSequence (sizes, scalar chunk, keepdims=0), SequenceErase,
             SequenceInsert at a position, SequenceConstruct, SequenceAt,
             ConcatFromSequence (axis and new_axis).
  scan_rev   Scan with two scan inputs (one reversed, one scanned along axis
             1) and a reversed scan output moved to axis 1.
  while_cond Loop without a trip count that stops on a data-dependent
             condition.
  seq_io     A sequence as model input and output (SequenceProto files).
  rnn        A recurrent cell written as a Python loop with list appends,
             scripted and exported by torch (Loop + SequenceInsert +
             ConcatFromSequence); reference from torch.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
rng = np.random.default_rng(11)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def const(name, array):
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.asarray(array)))


def model(nodes, inputs, outputs, opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="loom-tests")
    m.ir_version = 8
    return m


def loop_seq():
    body = helper.make_graph(
        [const("one", np.array(1, np.int64)),
         helper.make_node("Add", ["i", "one"], ["end"], name="end"),
         const("zero1", np.array([0], np.int64)),
         const("ax0", np.array([0], np.int64)),
         helper.make_node("Unsqueeze", ["end", "ax0"], ["end1"], name="end1"),
         helper.make_node("Slice", ["x", "zero1", "end1"], ["piece"], name="piece"),
         helper.make_node("SequenceInsert", ["seq_in", "piece"], ["seq_out"], name="insert"),
         helper.make_node("ReduceSum", ["piece"], ["psum"], name="psum", keepdims=1),
         helper.make_node("Add", ["acc_in", "psum"], ["acc_out"], name="acc"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="cond"),
         helper.make_node("Mul", ["psum", "psum"], ["sq"], name="sq")],
        "body",
        [vi("i", I64, []), vi("cond_in", B, []), vi("acc_in", F, [1]),
         helper.make_tensor_sequence_value_info("seq_in", F, None)],
        [vi("cond_out", B, []), vi("acc_out", F, [1]),
         helper.make_tensor_sequence_value_info("seq_out", F, None), vi("sq", F, [1])])
    nodes = [
        helper.make_node("SequenceEmpty", [], ["seq0"], name="empty", dtype=F),
        const("acc0", np.zeros([1], np.float32)),
        helper.make_node("Loop", ["n", "", "acc0", "seq0"], ["acc", "seq", "squares"],
                         name="loop", body=body),
        helper.make_node("ConcatFromSequence", ["seq"], ["joined"], name="join", axis=0),
        helper.make_node("SequenceLength", ["seq"], ["count"], name="count"),
        const("minus1", np.array(-1, np.int64)),
        helper.make_node("SequenceAt", ["seq", "minus1"], ["lastpiece"], name="at"),
    ]
    m = model(nodes, [vi("x", F, [6]), vi("n", I64, [])],
              [vi("acc", F, [1]), vi("joined", F, ["j"]), vi("count", I64, []),
               vi("lastpiece", F, ["l"]), vi("squares", F, ["q", 1])])
    x = rng.standard_normal(6).astype(np.float32)
    n = np.array(4, np.int64)
    pieces = [x[: i + 1] for i in range(4)]
    sums = np.array([p.sum() for p in pieces], np.float32)
    outs = [np.array([sums.sum()], np.float32), np.concatenate(pieces),
            np.array(4, np.int64), pieces[-1], (sums ** 2).reshape(4, 1)]
    return m, [x, n], outs


def seq_ops():
    nodes = [
        const("sizes", np.array([1, 2, 3], np.int64)),
        helper.make_node("SplitToSequence", ["x", "sizes"], ["s"], name="split", axis=1),
        const("zero", np.array(0, np.int64)),
        helper.make_node("SequenceErase", ["s", "zero"], ["s2"], name="erase"),
        helper.make_node("SequenceInsert", ["s2", "t", "zero"], ["s3"], name="insert"),
        helper.make_node("ConcatFromSequence", ["s3"], ["y0"], name="cat", axis=1),
        helper.make_node("SplitToSequence", ["x"], ["rows"], name="rows", axis=0, keepdims=0),
        helper.make_node("ConcatFromSequence", ["rows"], ["y1"], name="stack", axis=1, new_axis=1),
        const("one", np.array(1, np.int64)),
        helper.make_node("SequenceAt", ["s3", "one"], ["y2"], name="at"),
        helper.make_node("SequenceConstruct", ["t", "t"], ["tt"], name="construct"),
        helper.make_node("ConcatFromSequence", ["tt"], ["y3"], name="cat2", axis=0),
        const("four", np.array(4, np.int64)),
        helper.make_node("SplitToSequence", ["x", "four"], ["chunks"], name="chunks", axis=-1),
        helper.make_node("ConcatFromSequence", ["chunks"], ["y4"], name="cat3", axis=-1),
        helper.make_node("SequenceLength", ["chunks"], ["y5"], name="len"),
    ]
    m = model(nodes, [vi("x", F, [3, 6]), vi("t", F, [3, 4])],
              [vi("y0", F, [3, "c0"]), vi("y1", F, [6, 3]), vi("y2", F, [3, "c2"]),
               vi("y3", F, ["r3", 4]), vi("y4", F, [3, "c4"]), vi("y5", I64, [])])
    x = rng.standard_normal((3, 6)).astype(np.float32)
    t = rng.standard_normal((3, 4)).astype(np.float32)
    outs = [np.concatenate([t, x[:, 1:3], x[:, 3:6]], axis=1), x.T.copy(), x[:, 1:3],
            np.concatenate([t, t], axis=0), x, np.array(2, np.int64)]
    return m, [x, t], outs


def scan_rev():
    body = helper.make_graph(
        [helper.make_node("Mul", ["xt", "wt"], ["p"], name="p"),
         helper.make_node("Add", ["s_in", "p"], ["s_out"], name="s"),
         const("two", np.array([2], np.float32)),
         helper.make_node("Mul", ["s_out", "two"], ["o"], name="o")],
        "body",
        [vi("s_in", F, [2]), vi("xt", F, [2]), vi("wt", F, [2])],
        [vi("s_out", F, [2]), vi("o", F, [2])])
    nodes = [helper.make_node("Scan", ["s0", "x", "w"], ["s", "outs"], name="scan", body=body,
                              num_scan_inputs=2, scan_input_axes=[0, 1],
                              scan_input_directions=[1, 0], scan_output_axes=[1],
                              scan_output_directions=[1])]
    m = model(nodes, [vi("s0", F, [2]), vi("x", F, [4, 2]), vi("w", F, [2, 4])],
              [vi("s", F, [2]), vi("outs", F, [2, 4])])
    s0 = rng.standard_normal(2).astype(np.float32)
    x = rng.standard_normal((4, 2)).astype(np.float32)
    w = rng.standard_normal((2, 4)).astype(np.float32)
    s, rows = s0.copy(), []
    for i in range(4):
        s = s + x[3 - i] * w[:, i]
        rows.append(s * 2)
    outs = [s, np.stack(rows[::-1], axis=1)]
    return m, [s0, x, w], outs


def while_cond():
    """Doubles x until its sum exceeds `limit`; counts the steps."""
    body = helper.make_graph(
        [helper.make_node("Add", ["v_in", "v_in"], ["v_out"], name="double"),
         helper.make_node("ReduceSum", ["v_out"], ["total"], name="total", keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["cond_out"], name="less"),
         helper.make_node("Cast", ["i"], ["i_f"], name="cast", to=F)],
        "body",
        [vi("i", I64, []), vi("cond_in", B, []), vi("v_in", F, [3])],
        [vi("cond_out", B, []), vi("v_out", F, [3]), vi("i_f", F, [])])
    nodes = [const("yes", np.array(True)),
             helper.make_node("Loop", ["", "yes", "x"], ["v", "steps"], name="loop", body=body)]
    m = model(nodes, [vi("x", F, [3]), vi("limit", F, [])],
              [vi("v", F, [3]), vi("steps", F, ["k"])])
    x = np.abs(rng.standard_normal(3)).astype(np.float32) + 0.1
    limit = np.array(100.0, np.float32)
    v, steps, i = x.copy(), [], 0
    while True:
        v = v + v
        steps.append(float(i))
        i += 1
        if not v.sum() < limit:
            break
    return m, [x, limit], [v, np.array(steps, np.float32)]


def rnn(d):
    import torch

    class RNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(8, 8)

        def forward(self, x):
            h = torch.zeros(x.size(1), 8)
            outs = []
            for t in range(x.size(0)):
                h = torch.tanh(self.w(h) + x[t])
                outs.append(h)
            return torch.stack(outs), h

    torch.manual_seed(0)
    m = torch.jit.script(RNN())
    x = torch.randn(5, 2, 8)
    torch.onnx.export(m, (x,), os.path.join(d, "model.onnx"), opset_version=17,
                      input_names=["x"], output_names=["ys", "h"],
                      dynamic_axes={"x": {0: "seq"}})
    # A different sequence length than at export.
    x = torch.randn(7, 2, 8)
    with torch.no_grad():
        ys, h = m(x)
    return None, [x.numpy()], [ys.numpy(), h.numpy()]


def seq_io():
    """A sequence as model input and output (SequenceProto files)."""
    nodes = [helper.make_node("SequenceInsert", ["s", "t"], ["s2"], name="insert"),
             helper.make_node("SequenceLength", ["s2"], ["n"], name="len"),
             helper.make_node("ConcatFromSequence", ["s2"], ["all"], name="cat", axis=0)]
    m = model(nodes, [helper.make_tensor_sequence_value_info("s", F, ["r", 2]), vi("t", F, [1, 2])],
              [helper.make_tensor_sequence_value_info("s2", F, ["r2", 2]), vi("n", I64, []),
               vi("all", F, ["a", 2])])
    elems = [rng.standard_normal((k + 1, 2)).astype(np.float32) for k in range(3)]
    t = rng.standard_normal((1, 2)).astype(np.float32)
    out = elems + [t]
    return m, [elems, t], [out, np.array(4, np.int64), np.concatenate(out)]


CASES = {f.__name__: f for f in [loop_seq, seq_ops, scan_rev, while_cond, seq_io]}


def proto(a):
    """A TensorProto, or a SequenceProto for a list."""
    if isinstance(a, list):
        return numpy_helper.from_list(a)
    return numpy_helper.from_array(np.asarray(a))


def main():
    name, d = sys.argv[1], sys.argv[2]
    for sub in ("in", "exp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    if name == "rnn":
        _, inputs, outputs = rnn(d)
    else:
        m, inputs, outputs = CASES[name]()
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, os.path.join(d, "model.onnx"))
    for i, a in enumerate(inputs):
        open(os.path.join(d, "in", "input_%d.pb" % i), "wb").write(
            proto(a).SerializeToString())
    for i, a in enumerate(outputs):
        open(os.path.join(d, "exp", "output_%d.pb" % i), "wb").write(
            proto(a).SerializeToString())


if __name__ == "__main__":
    main()
