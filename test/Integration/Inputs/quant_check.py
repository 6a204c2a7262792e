#!/usr/bin/python3
"""Compares a quantized model's output with the fp32 reference.

  quant_check.py GOT.npy EXPECTED.pb --min-cos C
  quant_check.py --report-gain REPORT.json --min-gain G

Prints the cosine similarity and the max abs error of GOT against EXPECTED
(both flattened, in float64) and exits 1 when the cosine is below C. A
quantized model does not match fp32 element by element; the accuracy goals
of quantization are stated as cosine similarity (docs/Quantization.md).

--report-gain reads a --quant-report of a GPTQ-rounded model and exits 1
unless every layer's output error on the calibration inputs is at least G
times below round-to-nearest's (both as the report gives them).
"""
import json
import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def report_gain(path, min_gain):
    layers = json.load(open(path))["layers"]
    gains = [l["nearest_output_rel_error"] / l["calibration_output_rel_error"]
             for l in layers if l.get("rounding") == "gptq"]
    ok = len(gains) == len(layers) and min(gains) >= min_gain
    print("every layer's calibration output error is below round-to-nearest's "
          "by %.2f-%.2fx over %d layers (min gain %g) %s" % (
              min(gains), max(gains), len(gains), min_gain, "OK" if ok else "LOW"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("got", nargs="?")
    ap.add_argument("expected", nargs="?")
    ap.add_argument("--min-cos", type=float)
    ap.add_argument("--report-gain")
    ap.add_argument("--min-gain", type=float, default=1.0)
    args = ap.parse_args()
    if args.report_gain:
        return report_gain(args.report_gain, args.min_gain)
    if not args.got or not args.expected or args.min_cos is None:
        ap.error("GOT, EXPECTED and --min-cos are required")
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
