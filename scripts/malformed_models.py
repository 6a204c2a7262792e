#!/usr/bin/python3
"""Generates Loom's malformed-model corpus and checks that loomc rejects each
case cleanly: exit status 1 and one error naming the file and, where there is
one, the node (or initializer) at fault. Nothing binary is checked in: this
script writes the corpus.

  malformed_models.py --out DIR                 write DIR/<case>.onnx
  malformed_models.py --out DIR --loomc LOOMC   write, then compile each case
                                                to a shared library and check
  malformed_models.py --out DIR --loomc LOOMC --markdown
                                                also print the table for docs

Cases: see CASES below (name, what is wrong, the name the message must hold).
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def model(nodes, inputs, outputs, inits=(), opset=17, ir=8, extra_opsets=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="loom-malformed")
    m.ir_version = ir
    return m.SerializeToString()


def good():
    return model([helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
                  helper.make_node("Relu", ["h"], ["y"], name="relu")],
                 [vi("x", F, [2, 8])], [vi("y", F, [2, 8])],
                 [numpy_helper.from_array(np.ones((8, 8), np.float32), "W")])


def empty():
    return b""


def truncated():
    data = good()
    return data[: len(data) * 2 // 3]


def random_bytes():
    return np.random.default_rng(3).bytes(1024)


def undefined_value():
    return model([helper.make_node("Add", ["x", "nope"], ["y"], name="reads_nothing")],
                 [vi("x", F, [4])], [vi("y", F, [4])])


def cycle():
    return model([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                  helper.make_node("Relu", ["a"], ["b"], name="second")],
                 [vi("x", F, [4])], [vi("a", F, [4])])


def short_initializer():
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "W")
    w.raw_data = w.raw_data[:-8]
    return model([helper.make_node("Add", ["x", "W"], ["y"], name="add")],
                 [vi("x", F, [4, 4])], [vi("y", F, [4, 4])], [w])


def element_types():
    return model([helper.make_node("Add", ["x", "i"], ["y"], name="mixed")],
                 [vi("x", F, [4]), vi("i", I64, [4])], [vi("y", F, [4])])


def absurd_initializer():
    w = TensorProto()
    w.name = "W"
    w.data_type = F
    w.dims.extend([1 << 40, 1 << 40])
    return model([helper.make_node("Add", ["x", "W"], ["y"], name="add")],
                 [vi("x", F, [1])], [vi("y", F, [1])], [w])


def absurd_constant_of_shape():
    shape = numpy_helper.from_array(np.array([1 << 40, 1 << 40], np.int64), "shape")
    return model([helper.make_node("ConstantOfShape", ["shape"], ["y"], name="huge")],
                 [], [vi("y", F, [1 << 40, 1 << 40])], [shape])


def absurd_input():
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                 [vi("x", F, [1 << 40, 1 << 40])], [vi("y", F, [1 << 40, 1 << 40])])


def negative_dims():
    w = TensorProto()
    w.name = "W"
    w.data_type = F
    w.dims.extend([-3, 2])
    return model([helper.make_node("Add", ["x", "W"], ["y"], name="add")],
                 [vi("x", F, [3, 2])], [vi("y", F, [3, 2])], [w])


def negative_input_dims():
    m = onnx.load_from_string(model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                    [vi("x", F, [3, 2])], [vi("y", F, [3, 2])]))
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -3
    return m.SerializeToString()


def impossible_reshape():
    shape = numpy_helper.from_array(np.array([4, 5], np.int64), "shape")
    return model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
                 [vi("x", F, [2, 3])], [vi("y", F, [4, 5])], [shape])


def gather_out_of_range():
    idx = numpy_helper.from_array(np.array([1, 7], np.int64), "idx")
    return model([helper.make_node("Gather", ["x", "idx"], ["y"], name="gather", axis=0)],
                 [vi("x", F, [5, 2])], [vi("y", F, [2, 2])], [idx])


def unknown_domain():
    return model([helper.make_node("Foo", ["x"], ["y"], name="foo", domain="com.nowhere")],
                 [vi("x", F, [4])], [vi("y", F, [4])], extra_opsets=[("com.nowhere", 1)])


def outer_value_missing():
    branch = helper.make_graph([helper.make_node("Add", ["ghost", "ghost"], ["t"], name="then_add")],
                               "then", [], [vi("t", F, [3])])
    return model([helper.make_node("If", ["c"], ["y"], name="branch", then_branch=branch,
                                   else_branch=branch)],
                 [vi("c", TensorProto.BOOL, [])], [vi("y", F, [3])])


def newer_opset():
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                 [vi("x", F, [4])], [vi("y", F, [4])], opset=99, ir=10)


def unknown_op():
    return model([helper.make_node("NoSuchOp", ["x"], ["y"], name="nosuch")],
                 [vi("x", F, [4])], [vi("y", F, [4])])


def bad_attribute():
    return model([helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=5)],
                 [vi("x", F, [4])], [vi("y", F, [4])])


def scan_body(extra_inputs=0):
    inputs = [vi("s_in", F, [2]), vi("e", F, [2])] + [vi("z%d" % i, F, [2]) for i in range(extra_inputs)]
    return helper.make_graph([helper.make_node("Add", ["s_in", "e"], ["s_out"], name="add"),
                              helper.make_node("Inedtity", ["s_out"], ["o"], name="typo")],
                             "body", inputs, [vi("s_out", F, [2]), vi("o", F, [2])])


def scan_misspelled_attribute():
    """Found by loom-fuzz-onnx: ONNX 1.12's Scan shape inference crashed on a
    Scan without num_scan_inputs whose body holds an unknown op."""
    node = helper.make_node("Scan", ["s", "x"], ["y", "z"], name="scan", body=scan_body())
    node.attribute.append(helper.make_attribute("num_scan@inputs", 1))
    return model([node], [vi("s", F, [2]), vi("x", F, [3, 2])], [vi("y", F, [2]), vi("z", F, [3, 2])])


def scan_body_arity():
    node = helper.make_node("Scan", ["s", "x"], ["y", "z"], name="scan", body=scan_body(2),
                            num_scan_inputs=1)
    return model([node], [vi("s", F, [2]), vi("x", F, [3, 2])], [vi("y", F, [2]), vi("z", F, [3, 2])])


def not_on_strings():
    """Found by loom-fuzz-onnx: Not of a string tensor reached the integer
    constant builder of the handler (crash)."""
    return model([helper.make_node("Not", ["x"], ["y"], name="not")],
                 [vi("x", TensorProto.STRING, [3, 4])], [vi("y", TensorProto.BOOL, [3, 4])],
                 opset=1, ir=3)


def range_scalar_output():
    """Found by loom-fuzz-onnx: Range declared with a rank-0 output made the
    handler index an empty shape."""
    m = onnx.load_from_string(model(
        [helper.make_node("Range", ["start", "limit", "delta"], ["y"], name="range")],
        [vi("start", F, []), vi("limit", F, []), vi("delta", F, [])], [vi("y", F, [])],
        opset=11, ir=6))
    return m.SerializeToString()


def reshape_overflow():
    """Found by loom-fuzz-onnx: a Reshape whose constant shape's element count
    overflows int64 (undefined behaviour in the check)."""
    shape = numpy_helper.from_array(np.array([8243109542029099012, 5], np.int64), "shape")
    return model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
                 [vi("x", F, [2, 3])], [vi("y", F, [4, 5])], [shape])


def conv_zero_stride():
    """Found by loom-fuzz-onnx: ONNX 1.12's Conv shape inference divides by
    the strides."""
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "W")
    return model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv", strides=[0, 1])],
                 [vi("x", F, [1, 1, 8, 8])], [vi("y", F, [1, 2, 6, 6])], [w])


def reshape_to_scalar_dynamic():
    """Found by loom-fuzz-onnx: Reshape of a dynamic input to an empty shape
    (a scalar) built a shape tensor from no values (crash); the declared
    output type then contradicts the scalar."""
    return model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
                 [vi("x", F, [2, 3, "n"]), vi("shape", I64, [0])], [vi("y", F, [2, "m", 4, 1])],
                 opset=14, ir=7)


def conv_transpose_scalar_weight():
    """Found by loom-fuzz-onnx: ONNX 1.12's ConvTranspose shape inference
    dereferences a null pointer for a weight of rank 0; shape inference now
    runs in a child process, so the crash is an error."""
    return model([helper.make_node("ConvTranspose", ["X", "W"], ["y"], name="deconv")],
                 [vi("X", F, [1, 1, 3, 4, 5]), vi("W", F, [])], [vi("y", F, ["a", "b", "c", "d", "e"])],
                 opset=11, ir=6)


# (name, builder, what is wrong, the name the message must contain or None)
CASES = [
    ("empty", empty, "empty file", None),
    ("truncated", truncated, "protobuf cut at 2/3", None),
    ("random_bytes", random_bytes, "1 KiB of random bytes", None),
    ("undefined_value", undefined_value, "a node reads a value nothing produces", "reads_nothing"),
    ("cycle", cycle, "two nodes feed each other", "first"),
    ("short_initializer", short_initializer, "initializer data shorter than its shape", "'W'"),
    ("element_types", element_types, "Add of float and int64", "mixed"),
    ("absurd_initializer", absurd_initializer, "initializer of 2^40 x 2^40 floats, no data", "'W'"),
    ("absurd_constant_of_shape", absurd_constant_of_shape, "ConstantOfShape to 2^40 x 2^40", "huge"),
    ("absurd_input", absurd_input, "graph input of 2^40 x 2^40 floats", None),
    ("negative_dims", negative_dims, "initializer with dims (-3, 2)", "'W'"),
    ("negative_input_dims", negative_input_dims, "graph input with dim -3", None),
    ("impossible_reshape", impossible_reshape, "Reshape of 2x3 to 4x5", "reshape"),
    ("gather_out_of_range", gather_out_of_range, "Gather with constant index 7 on an axis of 5", "gather"),
    ("unknown_domain", unknown_domain, "an op in domain com.nowhere", "foo"),
    ("unknown_op", unknown_op, "an op ONNX does not define", "nosuch"),
    ("outer_value_missing", outer_value_missing, "a subgraph reads an outer value that does not exist", "then_add"),
    ("newer_opset", newer_opset, "default-domain opset 99", None),
    ("bad_attribute", bad_attribute, "Softmax axis 5 on a rank-1 input", "softmax"),
    ("scan_misspelled_attribute", scan_misspelled_attribute,
     "Scan without num_scan_inputs (misspelled) and an unknown op in its body", "scan"),
    ("scan_body_arity", scan_body_arity, "Scan body takes 4 inputs, the node passes 2", "scan"),
    ("not_on_strings", not_on_strings, "Not of a string tensor (opset 1)", None),
    ("range_scalar_output", range_scalar_output, "Range whose output is declared rank 0", "range"),
    ("reshape_overflow", reshape_overflow, "Reshape to a shape of over 2^63 elements", "reshape"),
    ("conv_zero_stride", conv_zero_stride, "Conv with a stride of 0", "conv"),
    ("conv_transpose_scalar_weight", conv_transpose_scalar_weight,
     "ConvTranspose with a rank-0 weight (crashes ONNX's inference)", None),
    ("reshape_to_scalar_dynamic", reshape_to_scalar_dynamic,
     "Reshape of a dynamic input to shape [] declared rank 4", None),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--loomc")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, build, _, _ in CASES:
        with open(os.path.join(args.out, name + ".onnx"), "wb") as f:
            f.write(build())
    if not args.loomc:
        return 0
    bad = 0
    rows = []
    for name, _, what, node in CASES:
        path = os.path.join(args.out, name + ".onnx")
        try:
            p = subprocess.run([args.loomc, path, "-o", os.path.join(args.out, name + ".so")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            rc, out = p.returncode, p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired:
            rc, out = "timeout", ""
        errors = [l for l in out.splitlines() if "error:" in l]
        first = errors[0] if errors else out.strip().splitlines()[-1:] or [""]
        first = first if isinstance(first, str) else first[0]
        ok = (rc == 1 and path in out and (node is None or node in out))
        bad += not ok
        verdict = "ok" if ok else "FAIL (exit %s)" % rc
        print("%-26s %-6s %s" % (name, "ok" if ok else "FAIL", first.replace(path, "<file>")))
        rows.append((name, what, first.replace(path, "<file>").split("error: ", 1)[-1], verdict))
    if args.markdown:
        print("\n| case | what is wrong | loomc says (exit 1) |\n|---|---|---|")
        for name, what, msg, verdict in rows:
            print("| %s | %s | %s |" % (name, what, msg.replace("|", "\\|")))
    print("malformed models: %d cases, %d rejected cleanly, %d not" % (len(CASES), len(CASES) - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
