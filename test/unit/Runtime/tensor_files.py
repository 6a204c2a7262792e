#!/usr/bin/python3
"""Reference tensor files for the runtime tensor I/O tests, made by numpy and
onnx (never by the runtime under test).

  tensor_files.py write DIR   writes reference .npy and .pb files into DIR
  tensor_files.py check DIR   reads the files the runtime wrote into DIR and
                              exits 0 when they hold the expected values
  tensor_files.py check-seq DIR   the same for the sequence the runtime wrote
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper, TensorProto, helper


def arrays():
    """The arrays every test agrees on: value[i] = i * 0.5 - 3 (as dtype)."""
    out = {}
    for name, dtype, shape in [
        ("f32", np.float32, (2, 3, 4)),
        ("f64", np.float64, (5,)),
        ("f16", np.float16, (3, 2)),
        ("i64", np.int64, (4, 1)),
        ("i32", np.int32, (7,)),
        ("i8", np.int8, (2, 2)),
        ("u8", np.uint8, (6,)),
        ("b", np.bool_, (3,)),
        ("scalar", np.float32, ()),
        ("empty", np.float32, (0, 3)),
    ]:
        n = int(np.prod(shape)) if shape else 1
        base = np.arange(n, dtype=np.float64) * 0.5 - 3
        if np.issubdtype(dtype, np.integer):
            base = np.arange(n) - 2 if dtype != np.uint8 else np.arange(n)
        if dtype == np.bool_:
            base = np.arange(n) % 2
        out[name] = base.astype(dtype).reshape(shape)
    return out


def sequence_arrays():
    """Three float32 matrices of different row counts: element k is k + 1
    rows of 3 values, value[i] = 10 * k + i."""
    return [(10 * k + np.arange((k + 1) * 3)).astype(np.float32).reshape(k + 1, 3)
            for k in range(3)]


def write(d):
    os.makedirs(d, exist_ok=True)
    for name, a in arrays().items():
        np.save(os.path.join(d, name + ".npy"), a)
        t = numpy_helper.from_array(a, name)
        with open(os.path.join(d, name + ".pb"), "wb") as f:
            f.write(t.SerializeToString())
    # Typed (non-raw) fields, as older exporters write them.
    a = arrays()["f32"]
    t = helper.make_tensor("typed_f32", TensorProto.FLOAT, a.shape, a.flatten().tolist())
    open(os.path.join(d, "typed_f32.pb"), "wb").write(t.SerializeToString())
    a = arrays()["i64"]
    t = helper.make_tensor("typed_i64", TensorProto.INT64, a.shape, a.flatten().tolist())
    open(os.path.join(d, "typed_i64.pb"), "wb").write(t.SerializeToString())
    a = arrays()["i8"]
    t = helper.make_tensor("typed_i8", TensorProto.INT8, a.shape, a.flatten().tolist())
    open(os.path.join(d, "typed_i8.pb"), "wb").write(t.SerializeToString())
    # Malformed files.
    good = open(os.path.join(d, "f32.pb"), "rb").read()
    open(os.path.join(d, "truncated.pb"), "wb").write(good[: len(good) // 2])
    short = numpy_helper.from_array(arrays()["f32"], "short")
    short.raw_data = short.raw_data[:-4]
    open(os.path.join(d, "short.pb"), "wb").write(short.SerializeToString())
    huge = TensorProto()
    huge.data_type = TensorProto.FLOAT
    huge.dims.extend([1 << 20, 1 << 20, 1 << 10])
    open(os.path.join(d, "huge.pb"), "wb").write(huge.SerializeToString())
    # Shapes that claim 12 GiB (under the 16 GiB limit) with 4 bytes of data:
    # found by loom-fuzz-tensor (the readers allocated before checking).
    claim = TensorProto()
    claim.data_type = TensorProto.FLOAT
    claim.dims.extend([1 << 20, 1 << 10, 3])
    claim.raw_data = b"\0\0\0\0"
    open(os.path.join(d, "big_claim.pb"), "wb").write(claim.SerializeToString())
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 3072), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    open(os.path.join(d, "big_claim.npy"), "wb").write(
        b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 4)
    neg = TensorProto()
    neg.data_type = TensorProto.FLOAT
    neg.dims.extend([2, -3])
    open(os.path.join(d, "negative.pb"), "wb").write(neg.SerializeToString())
    strings = helper.make_tensor("s", TensorProto.STRING, (1,), [b"x"])
    open(os.path.join(d, "strings.pb"), "wb").write(strings.SerializeToString())
    # Sequences (SequenceProto): ragged elements, an empty one, and a
    # sequence of sequences (unsupported).
    seq = numpy_helper.from_list([a for a in sequence_arrays()], "seq")
    open(os.path.join(d, "seq.pb"), "wb").write(seq.SerializeToString())
    empty = helper.make_sequence("empty_seq", onnx.SequenceProto.TENSOR, [])
    open(os.path.join(d, "empty_seq.pb"), "wb").write(empty.SerializeToString())
    nested = helper.make_sequence("nested", onnx.SequenceProto.SEQUENCE, [seq])
    open(os.path.join(d, "nested_seq.pb"), "wb").write(nested.SerializeToString())
    npy = open(os.path.join(d, "f32.npy"), "rb").read()
    open(os.path.join(d, "truncated.npy"), "wb").write(npy[:-5])
    open(os.path.join(d, "badmagic.npy"), "wb").write(b"NOTNUMPY" + npy[8:])
    np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(np.ones((2, 3), np.float32)))
    np.save(os.path.join(d, "bigendian.npy"), np.ones((2,), dtype=">f4"))


def check(d):
    ok = True
    for name, want in arrays().items():
        for ext in (".npy", ".pb"):
            path = os.path.join(d, "out_" + name + ext)
            if not os.path.exists(path):
                print("missing", path)
                ok = False
                continue
            if ext == ".npy":
                got = np.load(path)
            else:
                t = TensorProto()
                t.ParseFromString(open(path, "rb").read())
                got = numpy_helper.to_array(t)
            if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
                print("mismatch", path, got.dtype, got.shape, want.dtype, want.shape)
                ok = False
    return 0 if ok else 1


def check_seq(d):
    ok = True
    path = os.path.join(d, "out_seq.pb")
    seq = onnx.SequenceProto()
    seq.ParseFromString(open(path, "rb").read())
    got = numpy_helper.to_list(seq)
    want = sequence_arrays()
    if len(got) != len(want) or any(g.dtype != w.dtype or not np.array_equal(g, w)
                                    for g, w in zip(got, want)):
        print("mismatch", path)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    elif sys.argv[1] == "check-seq":
        sys.exit(check_seq(sys.argv[2]))
    else:
        sys.exit(check(sys.argv[2]))
