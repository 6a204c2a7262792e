#!/usr/bin/python3
"""Tiny ONNX models for the importer and loomc tests, built with onnx.helper.

  models.py NAME OUT.onnx
  models.py ref NAME DIR     inputs and numpy reference outputs (mlp, deep_mlp, block, gather_oob)

Models are generated at test time; no binary model is checked in. Weights use
a fixed numpy seed. Malformed models are written byte by byte as described.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)
F = TensorProto.FLOAT


def weight(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def model(nodes, inputs, outputs, inits=(), opset=17, ir=8, value_info=(), extra_opsets=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=list(value_info))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="loom-tests")
    m.ir_version = ir
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def mlp():
    """MatMul + Add + Softmax over a symbolic batch."""
    return model(
        [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
         helper.make_node("Add", ["h", "b"], ["hb"], name="bias"),
         helper.make_node("Softmax", ["hb"], ["y"], name="sm", axis=-1)],
        [vi("x", F, ["batch", 16])], [vi("y", F, ["batch", 8])],
        [weight("W", 16, 8), weight("b", 8)])


def deep_mlp():
    """A long reduction into few outputs (K = 1000, N = 24): the GPU's
    products split K among blocks."""
    return model(
        [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
         helper.make_node("Add", ["h", "b"], ["hb"], name="bias"),
         helper.make_node("Relu", ["hb"], ["y"], name="relu")],
        [vi("x", F, ["batch", 1000])], [vi("y", F, ["batch", 24])],
        [weight("W", 1000, 24), weight("b", 24)])


def block():
    """One transformer-ish block using every foundation op."""
    d, h = 16, 2
    nodes = [
        helper.make_node("LayerNormalization", ["x", "g", "beta"], ["ln"], name="ln", axis=-1, epsilon=1e-5),
        helper.make_node("MatMul", ["ln", "Wq"], ["q"], name="q_proj"),
        helper.make_node("Reshape", ["q", "shape4"], ["q4"], name="q_split"),
        helper.make_node("Transpose", ["q4"], ["qt"], name="q_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["q4"], ["kt"], name="k_heads", perm=[0, 2, 3, 1]),
        helper.make_node("MatMul", ["qt", "kt"], ["s"], name="scores"),
        helper.make_node("Div", ["s", "scale"], ["ss"], name="scale"),
        helper.make_node("Softmax", ["ss"], ["p"], name="probs", axis=-1),
        helper.make_node("MatMul", ["p", "qt"], ["o"], name="context"),
        helper.make_node("Transpose", ["o"], ["ot"], name="merge", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ot", "shape3"], ["o3"], name="o_merge"),
        helper.make_node("Mul", ["o3", "half"], ["m"], name="gelu_half"),
        helper.make_node("Erf", ["o3"], ["e"], name="gelu_erf"),
        helper.make_node("Add", ["e", "one"], ["e1"], name="gelu_add"),
        helper.make_node("Mul", ["m", "e1"], ["y"], name="gelu_mul"),
    ]
    inits = [weight("g", d), weight("beta", d), weight("Wq", d, d),
             numpy_helper.from_array(np.array([0, 0, h, d // h], np.int64), "shape4"),
             numpy_helper.from_array(np.array([0, 0, d], np.int64), "shape3"),
             numpy_helper.from_array(np.array(np.sqrt(d // h), np.float32), "scale"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one")]
    return model(nodes, [vi("x", F, [2, 5, d])], [vi("y", F, [2, 5, d])], inits)


def unsupported():
    """Two nodes without a handler, in the default and a custom domain."""
    return model(
        [helper.make_node("Det", ["x"], ["r"], name="det0"),
         helper.make_node("FancyOp", ["r"], ["y"], name="fancy", domain="com.example")],
        [vi("x", F, [4, 4])], [vi("y", F, [])], extra_opsets=[("com.example", 3)])


def subgraph_if():
    """If with branches that read an outer value."""
    then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"], name="then_add")],
                               "then", [], [vi("t", F, [3])])
    else_g = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["e"], name="else_mul")],
                               "else", [], [vi("e", F, [3])])
    return model(
        [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)],
        [vi("c", TensorProto.BOOL, []), vi("x", F, [3])], [vi("y", F, [3])])


def loop_body_missing_outer():
    """A subgraph reading an outer value that does not exist."""
    then_g = helper.make_graph([helper.make_node("Add", ["ghost", "ghost"], ["t"], name="then_add")],
                               "then", [], [vi("t", F, [3])])
    return model(
        [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=then_g)],
        [vi("c", TensorProto.BOOL, [])], [vi("y", F, [3])])


def attrs():
    """A node with one attribute of every kind (an unknown op keeps them)."""
    t = numpy_helper.from_array(np.arange(4, dtype=np.float32), "t")
    node = helper.make_node("Everything", ["x"], ["y"], name="all_attrs", domain="com.example",
                            f=1.5, i=7, s="text", t=t, floats=[1.0, 2.5], ints=[1, -2, 3],
                            strings=["a", "b"])
    return model([node], [vi("x", F, [2])], [vi("y", F, [2])], extra_opsets=[("com.example", 1)])


def big_initializer():
    """An initializer large enough to become a dense_resource blob."""
    return model([helper.make_node("Add", ["x", "W"], ["y"], name="add")],
                 [vi("x", F, [32, 32])], [vi("y", F, [32, 32])], [weight("W", 32, 32)])


def gather_oob():
    """Gather with run-time indices (the test feeds out-of-range ones)."""
    data = numpy_helper.from_array(np.arange(10, dtype=np.float32).reshape(5, 2), "data")
    return model([helper.make_node("Gather", ["data", "idx"], ["y"], name="gather", axis=0)],
                 [vi("idx", TensorProto.INT64, [4])], [vi("y", F, [4, 2])], [data])


def ir10():
    m = mlp()
    m.ir_version = 10
    return m


def newer_opset():
    m = model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
              [vi("x", F, [4])], [vi("y", F, [4])], opset=21, ir=10)
    return m


def undefined_input():
    return model([helper.make_node("Add", ["x", "nope"], ["y"], name="reads_nothing")],
                 [vi("x", F, [4])], [vi("y", F, [4])])


def cycle():
    return model([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                  helper.make_node("Relu", ["a"], ["b"], name="second")],
                 [vi("x", F, [4])], [vi("a", F, [4])])


def type_mismatch():
    return model([helper.make_node("Add", ["x", "i"], ["y"], name="mixed")],
                 [vi("x", F, [4]), vi("i", TensorProto.INT64, [4])], [vi("y", F, [4])])


def short_initializer():
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "W")
    w.raw_data = w.raw_data[:-8]
    return model([helper.make_node("Add", ["x", "W"], ["y"], name="add")],
                 [vi("x", F, [4, 4])], [vi("y", F, [4, 4])], [w])


def write_external(out):
    m = big_initializer()
    onnx.save_model(m, out, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(out) + ".data", size_threshold=0)


MODELS = {f.__name__: f for f in [mlp, deep_mlp, block, gather_oob, unsupported, subgraph_if, loop_body_missing_outer,
                                   attrs, big_initializer, ir10, newer_opset, undefined_input,
                                   cycle, type_mismatch, short_initializer]}


def slice_rank():
    """A position table sliced to a computed length: ONNX 1.12 infers no shape
    for the Slice, and the importer completes it ([1, ?, 8]) so that the Add
    after it keeps its rank."""
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"], name="shape"),
        helper.make_node("Constant", [], ["one"], name="one",
                         value=numpy_helper.from_array(np.array(1, np.int64))),
        helper.make_node("Gather", ["xs", "one"], ["n"], name="len", axis=0),
        helper.make_node("Constant", [], ["ax"], name="ax",
                         value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"], name="n1"),
        helper.make_node("Slice", ["table", "zero", "n1", "axis1"], ["pos"], name="pos"),
        helper.make_node("Add", ["x", "pos"], ["y"], name="add"),
    ]
    inits = [weight("table", 1, 32, 8),
             numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1")]
    return model(nodes, [vi("x", F, ["batch", "seq", 8])], [vi("y", F, ["batch", "seq", 8])], inits)


MODELS["slice_rank"] = slice_rank


def stacked_loop():
    """A loop that appends one [2, 3] row per step to a sequence, stacked by
    ConcatFromSequence(new_axis=1): ONNX 1.12 gives the stack no shape, and
    the importer completes its rank (3) from the body's sequence output so
    that the Add after it keeps its rank."""
    seq_t = helper.make_sequence_type_proto(helper.make_tensor_type_proto(F, [2, 3]))
    body = helper.make_graph(
        [helper.make_node("Gather", ["x", "i"], ["row"], name="step", axis=1),
         helper.make_node("SequenceInsert", ["ys_in", "row"], ["ys_out"], name="append"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep")],
        "body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
         helper.make_value_info("ys_in", seq_t)],
        [vi("cond_out", TensorProto.BOOL, []), helper.make_value_info("ys_out", seq_t)])
    nodes = [
        helper.make_node("Constant", [], ["m"], name="trips",
                         value=numpy_helper.from_array(np.array(4, np.int64))),
        helper.make_node("Constant", [], ["true"], name="true",
                         value=numpy_helper.from_array(np.array(True))),
        helper.make_node("SequenceEmpty", [], ["empty"], name="empty", dtype=F),
        helper.make_node("Loop", ["m", "true", "empty"], ["ys"], name="loop", body=body),
        helper.make_node("ConcatFromSequence", ["ys"], ["stack"], name="stack", axis=1,
                         new_axis=1),
        helper.make_node("Add", ["stack", "bias"], ["y"], name="add"),
    ]
    return model(nodes, [vi("x", F, [2, 4, 3]), vi("bias", F, [3])],
                 [vi("y", F, ["a", "b", "c"])])


MODELS["stacked_loop"] = stacked_loop


def init_arrays(m):
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def numpy_reference(name, d):
    """Writes d/in/input_<i>.pb and the numpy reference d/exp/output_0.pb."""
    import math
    m = MODELS[name]()
    w = init_arrays(m)
    r = np.random.default_rng(7)

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    if name == "mlp":
        x = r.standard_normal((3, 16)).astype(np.float32)
        inputs, y = [x], softmax(x @ w["W"] + w["b"])
    elif name == "deep_mlp":
        x = r.standard_normal((5, 1000)).astype(np.float32)
        h = x.astype(np.float64) @ w["W"].astype(np.float64) + w["b"]
        inputs, y = [x], np.maximum(h, 0).astype(np.float32)
    elif name == "block":
        x = r.standard_normal((2, 5, 16)).astype(np.float32)
        mu = x.mean(-1, keepdims=True)
        ln = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w["g"] + w["beta"]
        q4 = (ln @ w["Wq"]).reshape(2, 5, 2, 8)
        qt, kt = q4.transpose(0, 2, 1, 3), q4.transpose(0, 2, 3, 1)
        p = softmax((qt @ kt) / w["scale"])
        o3 = (p @ qt).transpose(0, 2, 1, 3).reshape(2, 5, 16)
        erf = np.vectorize(math.erf)(o3)
        inputs, y = [x], (o3 * 0.5) * (erf + 1)
    elif name == "gather_oob":
        # in/: out-of-range indices (no reference: the run must fail);
        # ok/ and okexp/: valid ones, negative included, with numpy's result.
        idx = np.array([-1, 7, -9, 2], np.int64)
        good = np.array([-1, 4, -5, 2], np.int64)
        for sub, arr in (("ok", good), ("okexp", w["data"][good])):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            name_ = "input_0.pb" if sub == "ok" else "output_0.pb"
            open(os.path.join(d, sub, name_), "wb").write(
                numpy_helper.from_array(arr).SerializeToString())
        inputs, y = [idx], np.zeros((4, 2), np.float32)
    else:
        raise SystemExit("no numpy reference for " + name)
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    os.makedirs(os.path.join(d, "exp"), exist_ok=True)
    for i, a in enumerate(inputs):
        open(os.path.join(d, "in", "input_%d.pb" % i), "wb").write(
            numpy_helper.from_array(a).SerializeToString())
    open(os.path.join(d, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(y.astype(np.float32)).SerializeToString())


def main():
    if sys.argv[1] == "ref":
        return numpy_reference(sys.argv[2], sys.argv[3])
    name, out = sys.argv[1], sys.argv[2]
    if name == "external":
        return write_external(out)
    if name == "empty":
        open(out, "wb").close()
        return
    if name == "garbage":
        open(out, "wb").write(np.random.default_rng(1).bytes(512))
        return
    if name == "truncated":
        data = block().SerializeToString()
        open(out, "wb").write(data[: len(data) * 2 // 3])
        return
    open(out, "wb").write(MODELS[name]().SerializeToString())


if __name__ == "__main__":
    main()
