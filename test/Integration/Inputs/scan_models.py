#!/usr/bin/python3
"""Recurrent layers exported by torch, with random inputs and torch's outputs as
the reference, for loom-raise-scans.

  scan_models.py CASE DIR [--seq T] -> DIR/model.onnx, DIR/in/*.pb, DIR/exp/*.pb

Cases:
  linear_attention   causal linear attention (elu+1 feature maps) written with
                     cumsum: numerator (q @ cumsum(k v^T)) / (q . cumsum(k))
  linear_einsum      the same numerator read out with einsum
  mamba_loop         Mamba's selective scan as a scripted loop over time
                     (ONNX Loop + SequenceInsert + ConcatFromSequence), the
                     readout a sum of h * c_t; static sequence length
  mamba_einsum       the same with an einsum readout and a dynamic sequence
                     length (the trip count read from the input's shape)
"""
import argparse
import os

import numpy as np
import torch
from onnx import numpy_helper
from typing import List


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


class SelectiveScan(torch.nn.Module):
    """Mamba's discretized selective scan, written as the reference
    implementations do: a Python loop over time, scripted so that the loop
    survives export."""

    def __init__(self, channels, state, einsum=False):
        super().__init__()
        self.A = torch.nn.Parameter(-torch.rand(channels, state) * 2 - 0.1)
        self.einsum = einsum

    def forward(self, x, delta, B, C):
        delta = torch.nn.functional.softplus(delta)
        dA = torch.exp(delta.unsqueeze(-1) * self.A)                  # b t d n
        dBx = delta.unsqueeze(-1) * B.unsqueeze(2) * x.unsqueeze(-1)  # b t d n
        h = torch.zeros(x.shape[0], x.shape[2], self.A.shape[1])
        ys: List[torch.Tensor] = []
        for i in range(x.shape[1]):
            h = dA[:, i] * h + dBx[:, i]
            if self.einsum:
                ys.append(torch.einsum("bdn,bn->bd", h, C[:, i]))
            else:
                ys.append(torch.sum(h * C[:, i].unsqueeze(1), dim=-1))
        return torch.stack(ys, dim=1)


def write(args, model, inputs, names, dyn, opset):
    os.makedirs(os.path.join(args.dir, "in"), exist_ok=True)
    os.makedirs(os.path.join(args.dir, "exp"), exist_ok=True)
    torch.onnx.export(model, inputs, os.path.join(args.dir, "model.onnx"),
                      input_names=names[:-1], output_names=names[-1:],
                      dynamic_axes=dyn, opset_version=opset)
    with torch.no_grad():
        out = model(*inputs)
    for i, t in enumerate(inputs):
        open(os.path.join(args.dir, "in", "input_%d.pb" % i), "wb").write(
            numpy_helper.from_array(t.numpy()).SerializeToString())
    open(os.path.join(args.dir, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(out.numpy().astype(np.float32)).SerializeToString())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("dir")
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--state", type=int, default=16, help="Mamba state size N")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.case.startswith("mamba"):
        einsum = args.case == "mamba_einsum"
        model = torch.jit.script(SelectiveScan(args.dim, args.state, einsum))
        b, t, d, n = 2, args.seq, args.dim, args.state
        inputs = (torch.randn(b, t, d), torch.randn(b, t, d),
                  torch.randn(b, t, n), torch.randn(b, t, n))
        names = ["x", "delta", "B", "C", "y"]
        dyn = {n: {1: "seq"} for n in names} if einsum else None
        write(args, model, inputs, names, dyn, 17)
        return
    model = LinearAttention(einsum=args.case == "linear_einsum").eval()
    shape = (1, args.heads, args.seq, args.dim)
    inputs = tuple(torch.randn(shape) for _ in range(3))
    dyn = {n: {2: "seq"} for n in ("q", "k", "v", "o")}
    write(args, model, inputs, ["q", "k", "v", "o"], dyn, 14)


if __name__ == "__main__":
    main()
