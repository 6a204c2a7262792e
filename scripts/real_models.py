#!/usr/bin/python3
"""Small real transformer models built with torch 1.13 and exported to ONNX
(opset 17), with inputs and torch's outputs as the reference.

  real_models.py NAME DIR [--batch B --seq S --d D --layers L --heads H]
      -> DIR/model.onnx, DIR/in/input_0.pb, DIR/exp/output_0.pb

NAME: bert  (encoder with token and position embeddings, 2 blocks),
      gpt2  (decoder with token embedding, causal mask and LM head, 2 blocks),
      vit   (patch embedding by Conv2d, class token, 2 encoder layers, head),
      mixer (MLP-Mixer blocks on [batch, seq, d] patch embeddings: token
             mixing Transpose-MLP-Transpose, then channel mixing),
      mamba (Mamba blocks on [batch, seq, d]: input projection, causal
             depthwise Conv1d, SiLU, input-dependent delta/B/C, the
             selective scan as a scripted loop over time (ONNX Loop),
             gating, output projection; residual between blocks),
      moe   (a top-2-of-8 mixture-of-experts FFN on [batch, seq, d]: softmax
             router, TopK, renormalized weights, experts Linear-GELU-Linear
             (hidden 4d) summed with masks as a loop over experts exports).
Options --vocab (bert, gpt2), --image and --patch (vit) size the rest.
--calibration-sets N also writes N other inputs of the same shape (other
seeds) to DIR/calib/set_<i>/input_0.pb: sample data for loomc --calibration.
Deterministic (fixed seeds). Sizes are small so that tests stay fast; bench/
uses the same builders with larger sizes.
"""
import argparse
import os
import sys

import math
from typing import List

import torch
from torch import nn
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from example_model import Block, Decoder  # noqa: E402


class Bert(nn.Module):
    def __init__(self, vocab=128, d=64, heads=4, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, 512, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, causal=False) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos[:, : tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.ln(x)


class MixerBlock(nn.Module):
    """MLP-Mixer block: token mixing across the sequence, then channels."""

    def __init__(self, seq, d, token_hidden, channel_hidden):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.tok1 = nn.Linear(seq, token_hidden)
        self.tok2 = nn.Linear(token_hidden, seq)
        self.ln2 = nn.LayerNorm(d)
        self.ch1 = nn.Linear(d, channel_hidden)
        self.ch2 = nn.Linear(channel_hidden, d)

    def forward(self, x):
        y = self.ln1(x).transpose(1, 2)
        x = x + self.tok2(nn.functional.gelu(self.tok1(y))).transpose(1, 2)
        return x + self.ch2(nn.functional.gelu(self.ch1(self.ln2(x))))


class Mixer(nn.Module):
    def __init__(self, seq, d, layers):
        super().__init__()
        self.blocks = nn.ModuleList([MixerBlock(seq, d, d // 2, 4 * d)
                                     for _ in range(layers)])

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class MambaBlock(nn.Module):
    """Mamba's block (Gu and Dao) as the reference implementations write it,
    with the selective scan a loop over time; meant for torch.jit.script so
    that the loop survives export as an ONNX Loop."""

    def __init__(self, d, state=16, conv=4):
        super().__init__()
        self.inner = 2 * d
        self.state = state
        self.rank = math.ceil(d / 16)
        self.in_proj = nn.Linear(d, 2 * self.inner, bias=False)
        self.conv = nn.Conv1d(self.inner, self.inner, conv, groups=self.inner,
                              padding=conv - 1)
        self.x_proj = nn.Linear(self.inner, self.rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(self.rank, self.inner)
        a = torch.arange(1, state + 1, dtype=torch.float32).repeat(self.inner, 1)
        self.A_log = nn.Parameter(torch.log(a))
        self.D = nn.Parameter(torch.ones(self.inner))
        self.out_proj = nn.Linear(self.inner, d, bias=False)

    def forward(self, x):
        t = x.shape[1]
        xz = self.in_proj(x)
        xs = xz[:, :, : self.inner]
        z = xz[:, :, self.inner:]
        xs = self.conv(xs.transpose(1, 2))[:, :, :t].transpose(1, 2)
        xs = nn.functional.silu(xs)
        dbc = self.x_proj(xs)
        dt = dbc[:, :, : self.rank]
        B = dbc[:, :, self.rank: self.rank + self.state]
        C = dbc[:, :, self.rank + self.state:]
        delta = nn.functional.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log)
        dA = torch.exp(delta.unsqueeze(-1) * A)
        dBx = delta.unsqueeze(-1) * B.unsqueeze(2) * xs.unsqueeze(-1)
        h = torch.zeros(x.shape[0], self.inner, self.state)
        ys: List[torch.Tensor] = []
        for i in range(t):
            h = dA[:, i] * h + dBx[:, i]
            ys.append(torch.sum(h * C[:, i].unsqueeze(1), dim=-1))
        y = torch.stack(ys, dim=1) + xs * self.D
        return self.out_proj(y * nn.functional.silu(z))


class Mamba(nn.Module):
    def __init__(self, d, layers):
        super().__init__()
        self.blocks = nn.ModuleList([MambaBlock(d) for _ in range(layers)])

    def forward(self, x):
        for block in self.blocks:
            x = x + block(x)
        return x


class MoE(nn.Module):
    """A sparsely gated mixture of experts written as reference code does:
    every expert runs on every token and a mask from the top-k routing
    selects its weight (exporters then keep all the work)."""

    def __init__(self, d, experts=8, k=2):
        super().__init__()
        self.k = k
        self.gate = nn.Linear(d, experts, bias=False)
        self.experts = nn.ModuleList([
            nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            for _ in range(experts)])

    def forward(self, x):
        probs = torch.softmax(self.gate(x), dim=-1)
        w, idx = torch.topk(probs, self.k, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            out = out + (w * (idx == e)).sum(-1, keepdim=True) * expert(x)
        return out


class Monarch(nn.Module):
    """A Monarch matrix (Dao et al. 2022) on the last axis: block-diagonal
    factors with the transpose of the blocks' grid between them, written as
    the paper's blockdiag_butterfly_multiply."""

    def __init__(self, n, nblocks):
        super().__init__()
        b = n // nblocks
        self.w1 = nn.Parameter(torch.randn(nblocks, b, b) / b ** 0.5)
        self.w2 = nn.Parameter(torch.randn(b, nblocks, nblocks) / nblocks ** 0.5)

    def forward(self, x):
        batch_shape, n = x.shape[:-1], x.shape[-1]
        k, q, p = self.w1.shape
        l, s, r = self.w2.shape
        x = x.reshape(-1, k, p).transpose(0, 1)
        out1 = torch.bmm(x, self.w1.transpose(-1, -2))
        out1 = out1.transpose(0, 1).reshape(-1, r, l).transpose(-1, -2).contiguous().transpose(0, 1)
        out2 = torch.bmm(out1, self.w2.transpose(-1, -2))
        return out2.permute(1, 2, 0).reshape(*batch_shape, s * l)


class MonarchMlp(nn.Module):
    """A residual MLP whose two dense layers are Monarch matrices (as in
    Monarch Mixer's channel mixing)."""

    def __init__(self, d, nblocks=4):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.m1, self.m2 = Monarch(d, nblocks), Monarch(d, nblocks)

    def forward(self, x):
        return x + self.m2(torch.nn.functional.gelu(self.m1(self.norm(x))))


class ViT(nn.Module):
    def __init__(self, d=64, heads=4, layers=2, patch=4, image=16, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, stride=patch)
        n = (image // patch) ** 2
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, causal=False) for _ in range(layers)])
        self.head = nn.Linear(d, classes)

    def forward(self, images):
        x = self.patch(images).flatten(2).transpose(1, 2)
        cls = self.cls.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(x[:, 0])


def build(name, batch, seq, d=64, layers=2, heads=4, vocab=128, image=16, patch=4):
    torch.manual_seed(0)
    if name == "bert":
        model = Bert(vocab, d, heads, layers).eval()
        x = torch.randint(0, vocab, (batch, seq))
        axes = {"tokens": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}}
        names = ["tokens"]
    elif name == "gpt2":
        model = Decoder(vocab, d, heads, layers).eval()
        x = torch.randint(0, vocab, (batch, seq))
        axes = {"tokens": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}}
        names = ["tokens"]
    elif name == "vit":
        model = ViT(d, heads, layers, patch, image).eval()
        x = torch.randn(batch, 3, image, image)
        axes = {"images": {0: "batch"}, "out": {0: "batch"}}
        names = ["images"]
    elif name == "mixer":
        model = Mixer(seq, d, layers).eval()
        x = torch.randn(batch, seq, d)
        axes = {"patches": {0: "batch"}, "out": {0: "batch"}}
        names = ["patches"]
    elif name == "moe":
        model = MoE(d).eval()
        x = torch.randn(batch, seq, d)
        axes = {"x": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}}
        names = ["x"]
    elif name == "monarch":
        model = MonarchMlp(d).eval()
        x = torch.randn(batch, seq, d)
        axes = {"x": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}}
        names = ["x"]
    elif name == "mamba":
        model = torch.jit.script(Mamba(d, layers).eval())
        x = torch.randn(batch, seq, d)
        axes = {"x": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}}
        names = ["x"]
    else:
        raise SystemExit("unknown model " + name)
    return model, x, names, axes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("dir")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--d", type=int, default=64, help="model width")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=128)
    ap.add_argument("--image", type=int, default=16)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--calibration-sets", type=int, default=0)
    args = ap.parse_args()
    model, x, names, axes = build(args.name, args.batch, args.seq, args.d, args.layers,
                                  args.heads, args.vocab, args.image, args.patch)
    os.makedirs(os.path.join(args.dir, "in"), exist_ok=True)
    os.makedirs(os.path.join(args.dir, "exp"), exist_ok=True)
    path = os.path.join(args.dir, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (x,), path, opset_version=17, input_names=names,
                          output_names=["out"], dynamic_axes=axes)
        y = model(x)
    open(os.path.join(args.dir, "in", "input_0.pb"), "wb").write(
        numpy_helper.from_array(x.numpy()).SerializeToString())
    open(os.path.join(args.dir, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(y.numpy()).SerializeToString())
    for i in range(args.calibration_sets):
        # Same distribution as x, other draws.
        torch.manual_seed(1000 + i)
        if x.dtype == torch.int64:
            sample = torch.randint(0, args.vocab, tuple(x.shape))
        else:
            sample = torch.randn(*x.shape)
        d = os.path.join(args.dir, "calib", "set_%d" % i)
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "input_0.pb"), "wb").write(
            numpy_helper.from_array(sample.numpy()).SerializeToString())


if __name__ == "__main__":
    main()
