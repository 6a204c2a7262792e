#!/usr/bin/python3
"""Builds Loom's bundled example: a tiny GPT-style transformer decoder
(token embedding, causal self-attention, GELU MLP, pre-LayerNorm), exported by
torch to ONNX opset 17 with a symbolic batch and sequence length.

  example_model.py OUT.onnx                       the bundled example (1 layer, d=32)
  example_model.py OUT.onnx --layers 6 --d 768 --heads 12 --vocab 50257
                                                  a GPT-2-shaped decoder (~330 MB)

Deterministic: fixed seed, so every run writes the same model.
"""
import argparse

import torch
from torch import nn


class Block(nn.Module):
    """One pre-LayerNorm transformer block (causal for decoders)."""

    def __init__(self, d, heads, causal=True):
        super().__init__()
        self.causal = causal
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.heads, self.d = heads, d

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(self.d, dim=-1)
        hd = self.d // self.heads
        q = q.reshape(b, s, self.heads, hd).transpose(1, 2)
        k = k.reshape(b, s, self.heads, hd).transpose(1, 2)
        v = v.reshape(b, s, self.heads, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / hd ** 0.5
        if self.causal:
            mask = torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)
            scores = scores.masked_fill(mask, float("-inf"))
        o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, self.d)
        x = x + self.proj(o)
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))
        return x


class Decoder(nn.Module):
    def __init__(self, vocab, d, heads, layers):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=64)
    ap.add_argument("--data", help="also write DIR/in/input_0.pb and torch's DIR/exp/output_0.pb")
    args = ap.parse_args()
    torch.manual_seed(0)
    model = Decoder(args.vocab, args.d, args.heads, args.layers).eval()
    tokens = torch.randint(0, args.vocab, (1, 8))
    torch.onnx.export(model, (tokens,), args.out, opset_version=17,
                      input_names=["tokens"], output_names=["logits"],
                      dynamic_axes={"tokens": {0: "batch", 1: "seq"},
                                    "logits": {0: "batch", 1: "seq"}})
    if args.data:
        import os
        from onnx import numpy_helper
        x = torch.randint(0, args.vocab, (2, 12))
        with torch.no_grad():
            y = model(x)
        for sub, name, t in (("in", "input_0.pb", x), ("exp", "output_0.pb", y)):
            os.makedirs(os.path.join(args.data, sub), exist_ok=True)
            with open(os.path.join(args.data, sub, name), "wb") as f:
                f.write(numpy_helper.from_array(t.numpy()).SerializeToString())


if __name__ == "__main__":
    main()
