#!/usr/bin/python3
"""Builds Loom's bundled example: a tiny GPT-style transformer decoder block
(token embedding, causal self-attention, GELU MLP, pre-LayerNorm), exported by
torch to ONNX opset 17 with a symbolic batch and sequence length.

  example_model.py OUT.onnx

Deterministic: fixed seed, so every run writes the same model.
"""
import sys

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, vocab=64, d=32, heads=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.head = nn.Linear(d, vocab)
        self.heads, self.d = heads, d

    def forward(self, tokens):
        b, s = tokens.shape
        x = self.embed(tokens)
        q, k, v = self.qkv(self.ln1(x)).split(self.d, dim=-1)
        hd = self.d // self.heads
        q = q.reshape(b, s, self.heads, hd).transpose(1, 2)
        k = k.reshape(b, s, self.heads, hd).transpose(1, 2)
        v = v.reshape(b, s, self.heads, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / hd ** 0.5
        causal = torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(causal, float("-inf"))
        o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, self.d)
        x = x + self.proj(o)
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))
        return self.head(x)


def main(out):
    torch.manual_seed(0)
    model = Block().eval()
    tokens = torch.randint(0, 64, (1, 8))
    torch.onnx.export(model, (tokens,), out, opset_version=17,
                      input_names=["tokens"], output_names=["logits"],
                      dynamic_axes={"tokens": {0: "batch", 1: "seq"},
                                    "logits": {0: "batch", 1: "seq"}})


if __name__ == "__main__":
    main(sys.argv[1])
