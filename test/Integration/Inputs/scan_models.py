#!/usr/bin/python3
"""Recurrent layers exported by torch, with random inputs and torch's outputs as
the reference, for loom-raise-scans.

  scan_models.py CASE DIR [--seq T] -> DIR/model.onnx, DIR/in/*.pb, DIR/exp/*.pb

Cases:
  linear_attention   causal linear attention (elu+1 feature maps) written with
                     cumsum: numerator (q @ cumsum(k v^T)) / (q . cumsum(k))
  linear_einsum      the same numerator read out with einsum
"""
import argparse
import os

import numpy as np
import torch
from onnx import numpy_helper


class LinearAttention(torch.nn.Module):
    def __init__(self, einsum=False):
        super().__init__()
        self.einsum = einsum

    def forward(self, q, k, v):
        q = torch.nn.functional.elu(q) + 1
        k = torch.nn.functional.elu(k) + 1
        s = (k.unsqueeze(-1) * v.unsqueeze(-2)).cumsum(dim=2)
        if self.einsum:
            num = torch.einsum("bhtd,bhtde->bhte", q, s)
        else:
            num = (q.unsqueeze(-2) @ s).squeeze(-2)
        z = (q * k.cumsum(dim=2)).sum(-1, keepdim=True)
        return num / (z + 1e-6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("dir")
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=16)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = LinearAttention(einsum=args.case == "linear_einsum").eval()
    shape = (1, args.heads, args.seq, args.dim)
    inputs = tuple(torch.randn(shape) for _ in range(3))
    os.makedirs(os.path.join(args.dir, "in"), exist_ok=True)
    os.makedirs(os.path.join(args.dir, "exp"), exist_ok=True)
    dyn = {n: {2: "seq"} for n in ("q", "k", "v", "o")}
    torch.onnx.export(model, inputs, os.path.join(args.dir, "model.onnx"),
                      input_names=["q", "k", "v"], output_names=["o"],
                      dynamic_axes=dyn, opset_version=14)
    with torch.no_grad():
        out = model(*inputs)
    for i, t in enumerate(inputs):
        open(os.path.join(args.dir, "in", "input_%d.pb" % i), "wb").write(
            numpy_helper.from_array(t.numpy()).SerializeToString())
    open(os.path.join(args.dir, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(out.numpy().astype(np.float32)).SerializeToString())


if __name__ == "__main__":
    main()
