#!/usr/bin/python3
"""Compares a quantized model's output with the fp32 reference.

  quant_check.py GOT.npy EXPECTED.pb --min-cos C

Prints the cosine similarity and the max abs error of GOT against EXPECTED
(both flattened, in float64) and exits 1 when the cosine is below C. A
quantized model does not match fp32 element by element; the accuracy goals
of quantization are stated as cosine similarity (docs/Quantization.md).
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("got")
    ap.add_argument("expected")
    ap.add_argument("--min-cos", type=float, required=True)
    args = ap.parse_args()
    got = np.load(args.got).astype(np.float64).ravel()
    t = onnx.TensorProto()
    t.ParseFromString(open(args.expected, "rb").read())
    want = numpy_helper.to_array(t).astype(np.float64).ravel()
    if got.shape != want.shape:
        print("shape mismatch: %s vs %s" % (got.shape, want.shape))
        return 1
    cos = float(got @ want / (np.linalg.norm(got) * np.linalg.norm(want)))
    err = float(np.abs(got - want).max())
    ok = cos >= args.min_cos
    print("cos %.7f max_abs_err %.3g (min cos %g) %s" % (cos, err, args.min_cos,
                                                        "OK" if ok else "LOW"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
