#!/usr/bin/python3
"""Numerical cases of the loom ops: writes a loom-IR model (func.func @main),
random inputs and the numpy reference output.

  loom_ops.py CASE DIR   -> DIR/model.mlir, DIR/in/input_<i>.npy, DIR/exp/output_0.npy
"""
import math
import os
import sys

import numpy as np

from matmul_nbits import w4a8_reference

rng = np.random.default_rng(42)


def ty(a, dyn=()):
    """The tensor type of `a`; dims listed in `dyn` are dynamic."""
    dims = ["?" if i in dyn else str(d) for i, d in enumerate(a.shape)]
    elem = {np.dtype(np.int64): "i64", np.dtype(np.int8): "i8",
            np.dtype(np.float16): "f16"}.get(a.dtype, "f32")
    return "tensor<%sx%s>" % ("x".join(dims), elem) if a.ndim else "tensor<%s>" % elem


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def fake_quant_blocks(x, block):
    """x quantized to int8 and back in blocks of `block` along the last dim
    (the last block may be shorter): float32 arithmetic, round half even."""
    x = x.astype(np.float32)
    out = np.empty_like(x)
    for j0 in range(0, x.shape[-1], block):
        b = x[..., j0:j0 + block]
        s = (np.abs(b).max(axis=-1, keepdims=True) / np.float32(127)).astype(np.float32)
        s = np.where(s == 0, np.float32(1), s).astype(np.float32)
        out[..., j0:j0 + block] = np.clip(np.round(b / s), -127, 127).astype(np.float32) * s
    return out


def attention(q, k, v, mask=None, scale=None, causal=False, kv_heads=None,
              window=None, blocks=None, routed=None, score_block=None):
    if kv_heads:
        rep = q.shape[1] // kv_heads
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    scale = scale if scale is not None else 1 / math.sqrt(q.shape[-1])
    s = (q @ np.swapaxes(k, -1, -2)) * scale
    if score_block:
        s = fake_quant_blocks(s, score_block).astype(np.float64)
    if mask is not None:
        s = s + mask
    if causal:
        sq, skv = q.shape[-2], k.shape[-2]
        i = np.arange(sq)[:, None]
        j = np.arange(skv)[None, :]
        s = np.where(j > i + (skv - sq), -np.inf, s)
    if window:
        # Keys further than window - 1 from the query's own position.
        sq, skv = q.shape[-2], k.shape[-2]
        pos = np.arange(sq)[:, None] + (skv - sq)
        j = np.arange(skv)[None, :]
        s = np.where(np.abs(j - pos) >= window, -np.inf, s)
    if blocks:
        # [B, L, G]: keys of blocks neither global nor within L of the
        # query's block, unless the query's block is global.
        bs, local, glob = blocks
        sq, skv = q.shape[-2], k.shape[-2]
        qb = (np.arange(sq)[:, None] + (skv - sq)) // bs
        kb = np.arange(skv)[None, :] // bs
        hidden = (qb >= glob) & (kb >= glob) & (np.abs(kb - qb) > local)
        s = np.where(hidden, -np.inf, s)
    if routed:
        s = np.where(route(q, k, *routed, causal=causal), s, -np.inf)
    return softmax(s) @ v


def route_scores(q, k, bs, qb, causal):
    """Query block qb's routing scores [..., key blocks]: each key block's
    mean key dotted with the block's query sum; with `causal`, -inf for
    blocks starting after the block's last position."""
    sq, skv = q.shape[-2], k.shape[-2]
    nk = -(-skv // bs)
    qsum = q[..., qb * bs:(qb + 1) * bs, :].astype(np.float64).sum(-2)
    scores = np.stack([
        (k[..., kb * bs:(kb + 1) * bs, :].astype(np.float64).mean(-2) * qsum).sum(-1)
        for kb in range(nk)], -1)
    if causal:
        last = min(sq, (qb + 1) * bs) - 1 + (skv - sq)
        scores = np.where(np.arange(nk) * bs > last, -np.inf, scores)
    return scores


def route(q, k, bs, top, causal=False):
    """Content routing: for every query block (of bs rows) the `top` key
    blocks with the largest route_scores (stable: the lower block on ties;
    never a -inf one). Returns the [..., Sq, Skv] mask of keys each query
    sees."""
    sq, skv = q.shape[-2], k.shape[-2]
    nq, nk = -(-sq // bs), -(-skv // bs)
    keep = np.zeros(q.shape[:-2] + (sq, skv), bool)
    for qb in range(nq):
        scores = route_scores(q, k, bs, qb, causal)
        order = np.argsort(-scores, -1, kind="stable")[..., :top]
        for kb in range(nk):
            hit = ((order == kb).any(-1) & np.isfinite(scores[..., kb]))[..., None, None]
            keep[..., qb * bs:(qb + 1) * bs, kb * bs:(kb + 1) * bs] |= hit
    return keep


def route_margin(q, k, bs, top, causal=False):
    """The smallest gap between the top-th and the next routing score over
    all query blocks (near-ties could be decided differently in fp32)."""
    sq, skv = q.shape[-2], k.shape[-2]
    nq, nk = -(-sq // bs), -(-skv // bs)
    if nk <= top:
        return np.inf
    gap = np.inf
    for qb in range(nq):
        srt = -np.sort(-route_scores(q, k, bs, qb, causal), -1)
        with np.errstate(invalid="ignore"):
            diff = srt[..., top - 1] - srt[..., top]
        diff = np.where(np.isinf(srt[..., top]), np.inf, diff)
        gap = min(gap, float(diff.min()))
    return gap


def layer_norm(x, g, b, axis, eps):
    axes = tuple(range(axis, x.ndim))
    m = x.mean(axes, keepdims=True)
    var = ((x - m) ** 2).mean(axes, keepdims=True)
    return (x - m) / np.sqrt(var + eps) * g + b


def rms_norm(x, g, axis, eps):
    axes = tuple(range(axis, x.ndim))
    return x / np.sqrt((x ** 2).mean(axes, keepdims=True) + eps) * g


def gelu(x, tanh):
    if tanh:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    from math import erf
    return 0.5 * x * (1 + np.vectorize(erf)(x / math.sqrt(2)))


def scan(kind, ins):
    """Sequential numpy reference of loom.scan (float64 state)."""
    if kind == "diagonal":
        if len(ins) == 3:  # folded: u = b * x
            a, u, c = (t.astype(np.float64) for t in ins)
            x, b = np.ones(a.shape[:3]), u
        else:
            x, a, b, c = (t.astype(np.float64) for t in ins)
        B, T, D = x.shape
        h = np.zeros((B, D, a.shape[-1]))
        y = np.zeros((B, T, D))
        for t in range(T):
            h = a[:, t] * h + b[:, t] * x[:, t, :, None]
            y[:, t] = (h * c[:, t, None, :]).sum(-1)
        return y
    q, k, v = (t.astype(np.float64) for t in ins[:3])
    B, H, T, Dk = q.shape
    S = np.zeros((B, H, Dk, v.shape[-1]))
    o = np.zeros((B, H, T, v.shape[-1]))
    for t in range(T):
        kt, vt = k[:, :, t], v[:, :, t]
        if kind == "gated":
            S = ins[3][:, :, t, :, None] * S
        if kind == "delta":
            beta = ins[3][:, :, t, None, None].astype(np.float64)
            u = np.einsum("bhij,bhi->bhj", S, kt)
            S = S + beta * kt[..., :, None] * (vt - u)[..., None, :]
        else:
            S = S + kt[..., :, None] * vt[..., None, :]
        o[:, :, t] = np.einsum("bhij,bhi->bhj", S, q[:, :, t])
    return o


# Cases whose function signature has dynamic dims: case -> dims made dynamic
# in every operand and the result.
def int4_weights(k, n, group, zp, scale_type):
    """Random 4-bit weights q [k, n], scales and zero points [groups, n]
    (8 without zp), drawn in that order."""
    groups = (k + group - 1) // group
    q = rng.integers(0, 16, size=(k, n)).astype(np.uint8)
    scale = (np.abs(rng.standard_normal((groups, n)).astype(np.float32)) * 0.01 +
             0.001).astype(scale_type)
    zero = rng.integers(0, 16, size=(groups, n)).astype(np.uint8) if zp else \
        np.full((groups, n), 8, np.uint8)
    return q, scale, zero


def int4_matmul(x, q, scale, zero, group, attrs):
    """The loom.quantized_matmul of 4-bit q (packed two per byte along k, the
    even row in the low nibble) and its inputs; `attrs` extends the
    attribute dictionary."""
    k = q.shape[0]
    packed = np.zeros(((k + 1) // 2, q.shape[1]), np.uint8)
    packed |= q[0::2]
    packed[: k // 2] |= q[1::2] << 4
    inputs = [x, packed.view(np.int8), scale]
    op = "loom.quantized_matmul %a0, %a1, %a2"
    if zero is not None:
        inputs.append(zero.view(np.int8))
        op += " zero_point %a3"
    return op + " {bits = 4 : i64, group_size = %d : i64%s}" % (group, attrs), inputs


DYNAMIC = {"attention_causal_long": (0, 2), "attention_scoreq_causal": (2,), "attention_window_causal": (2,),
           "attention_blocks_causal": (2,), "attention_routed_cross": (0,),
           "attention_routed_causal": (2,), "attention_gqa_dyn": (0, 2),
           "attention_decode": (2,), "attention_wide_causal": (2,), "scan_diagonal": (1,), "scan_folded": (0, 1), "scan_linear_long": (2,),
           "scan_gated_long": (2,), "scan_delta": (0, 2), "scan_delta_long": (2,), "moe": (1,)}


def case(name):
    """Returns (mlir op line template, inputs, reference output)."""
    r = lambda *s: rng.standard_normal(s).astype(np.float32)
    if name in ("attention_scoreq_causal", "attention_scoreq_mask"):
        # score_quant_block = 32 (loomc --quant-activations): the scaled
        # scores quantized to int8 in blocks of 32 keys before the mask and
        # softmax. Small integer Q and K and a power-of-two scale make every
        # score exact in float32, so both sides round the same values.
        causal = name == "attention_scoreq_causal"
        q = rng.integers(-2, 3, size=(2, 3, 70, 16)).astype(np.float32)
        k = rng.integers(-2, 3, size=(2, 3, 80, 16)).astype(np.float32)
        v = r(2, 3, 80, 24)
        m = np.where(rng.random((2, 1, 1, 80)) < 0.2, -1e4, 0).astype(np.float32)
        out = attention(q, k, v, mask=None if causal else m, scale=0.125,
                        causal=causal, score_block=32)
        if causal:
            return ("loom.attention %a0, %a1, %a2 {causal, scale = 1.250000e-01 : f32, "
                    "score_quant_block = 32 : i64}"), [q, k, v], out
        return ("loom.attention %a0, %a1, %a2 mask %a3 {scale = 1.250000e-01 : f32, "
                "score_quant_block = 32 : i64}"), [q, k, v, m], out
    if name == "attention_gqa_causal":
        q, k, v = r(2, 4, 5, 8), r(2, 2, 7, 8), r(2, 2, 7, 6)
        out = attention(q, k, v, causal=True, kv_heads=2)
        op = "loom.attention %a0, %a1, %a2 {causal, num_kv_heads = 2 : i64}"
        return op, [q, k, v], out
    if name == "attention_mask_rank3":
        q, k, v, m = r(3, 6, 16), r(3, 9, 16), r(3, 9, 16), r(1, 6, 9)
        out = attention(q, k, v, mask=m, scale=0.3)
        op = "loom.attention %a0, %a1, %a2 mask %a3 {scale = 3.000000e-01 : f32}"
        return op, [q, k, v, m], out
    if name == "attention_causal_long":
        # 200 rows: not a multiple of the tile sizes.
        q, k, v = r(1, 3, 200, 32), r(1, 3, 200, 32), r(1, 3, 200, 32)
        out = attention(q, k, v, causal=True)
        return "loom.attention %a0, %a1, %a2 {causal}", [q, k, v], out
    if name == "attention_cross_mask":
        # Cross attention (Sq != Skv, Dv != D) with a padding mask of -inf:
        # batch 1 sees 100 of 130 keys, so whole key tiles are masked.
        q, k, v = r(2, 2, 70, 16), r(2, 2, 130, 16), r(2, 2, 130, 24)
        m = np.zeros((2, 1, 1, 130), np.float32)
        m[1, ..., 100:] = -np.inf
        m[0, ..., :3] = -2.5
        out = attention(q, k, v, mask=m)
        return "loom.attention %a0, %a1, %a2 mask %a3", [q, k, v, m], out
    if name == "attention_gqa_dyn":
        q, k, v = r(1, 8, 65, 16), r(1, 2, 65, 16), r(1, 2, 65, 16)
        out = attention(q, k, v, causal=True, kv_heads=2)
        op = "loom.attention %a0, %a1, %a2 {causal, num_kv_heads = 2 : i64}"
        return op, [q, k, v], out
    if name == "attention_decode":
        # One query against a 300-entry KV cache: causal sees every key.
        q, k, v = r(1, 4, 1, 16), r(1, 4, 300, 16), r(1, 4, 300, 16)
        out = attention(q, k, v, causal=True)
        return "loom.attention %a0, %a1, %a2 {causal}", [q, k, v], out
    if name == "attention_wide_cross":
        # Head dims 128 (scores) and 64 (values), 100 queries against 150
        # keys: several query and key tiles of the GPU's flash kernel
        # (64 x 64), both partial.
        q, k, v = r(2, 2, 100, 128), r(2, 2, 150, 128), r(2, 2, 150, 64)
        out = attention(q, k, v)
        return "loom.attention %a0, %a1, %a2", [q, k, v], out
    if name == "attention_wide_causal":
        # Causal cross attention (query i sees keys j <= i + 60) with head
        # dims 64 and 128 and grouped-query heads, dynamic sequences.
        q, k, v = r(1, 4, 70, 64), r(1, 2, 130, 64), r(1, 2, 130, 128)
        out = attention(q, k, v, causal=True, kv_heads=2, scale=0.1)
        op = ("loom.attention %a0, %a1, %a2 {causal, num_kv_heads = 2 : i64, "
              "scale = 1.000000e-01 : f32}")
        return op, [q, k, v], out
    if name == "attention_decode_split":
        # Three queries (one tile, static): the 700 keys are split into
        # ranges computed in parallel and merged; batch 1 masks its last 200
        # keys with -inf, so one range sees no key at all.
        q, k, v = r(2, 2, 3, 32), r(2, 2, 700, 32), r(2, 2, 700, 32)
        m = np.zeros((2, 1, 1, 700), np.float32)
        m[1, ..., 500:] = -np.inf
        out = attention(q, k, v, mask=m, causal=True)
        return "loom.attention %a0, %a1, %a2 mask %a3 {causal}", [q, k, v, m], out
    if name == "attention_window":
        # A band of 17 keys on either side (Longformer-style local
        # attention), 200 rows: tiles that start and end mid-band.
        q, k, v = r(1, 2, 200, 32), r(1, 2, 200, 32), r(1, 2, 200, 24)
        out = attention(q, k, v, window=17)
        return "loom.attention %a0, %a1, %a2 {window = 17 : i64}", [q, k, v], out
    if name == "attention_window_causal":
        # Mistral's sliding window: the last 50 keys, dynamic sequence,
        # grouped-query heads.
        q, k, v = r(1, 4, 300, 16), r(1, 2, 300, 16), r(1, 2, 300, 16)
        out = attention(q, k, v, causal=True, kv_heads=2, window=50)
        op = "loom.attention %a0, %a1, %a2 {causal, num_kv_heads = 2 : i64, window = 50 : i64}"
        return op, [q, k, v], out
    if name == "attention_window_cross":
        # Sq != Skv (bottom-right aligned positions 60..129) and a mask.
        q, k, v = r(2, 70, 16), r(2, 130, 16), r(2, 130, 16)
        m = r(2, 1, 130)
        out = attention(q, k, v, mask=m, window=20)
        return "loom.attention %a0, %a1, %a2 mask %a3 {window = 20 : i64}", [q, k, v, m], out
    if name == "attention_window_decode":
        # Three queries against 700 keys, split into ranges computed in
        # parallel: the window (100, causal) leaves most ranges empty.
        q, k, v = r(1, 2, 3, 32), r(1, 2, 700, 32), r(1, 2, 700, 32)
        out = attention(q, k, v, causal=True, window=100)
        return "loom.attention %a0, %a1, %a2 {causal, window = 100 : i64}", [q, k, v], out
    if name == "attention_blocks":
        # Blocks of 32 (300 rows: a partial last block), 1 local block on
        # either side, 1 global block.
        q, k, v = r(1, 2, 300, 16), r(1, 2, 300, 16), r(1, 2, 300, 16)
        out = attention(q, k, v, blocks=(32, 1, 1))
        op = "loom.attention %a0, %a1, %a2 {block_sparse = array<i64: 32, 1, 1>}"
        return op, [q, k, v], out
    if name == "attention_blocks_causal":
        # Causal, blocks of 20, 2 local, 2 global, grouped-query heads,
        # dynamic sequence.
        q, k, v = r(1, 4, 260, 16), r(1, 2, 260, 16), r(1, 2, 260, 16)
        out = attention(q, k, v, causal=True, kv_heads=2, blocks=(20, 2, 2))
        op = ("loom.attention %a0, %a1, %a2 {block_sparse = array<i64: 20, 2, 2>, "
              "causal, num_kv_heads = 2 : i64}")
        return op, [q, k, v], out
    if name == "attention_blocks_decode":
        # Three queries against 700 keys (split ranges): blocks of 64, the
        # first global, 1 local block.
        q, k, v = r(1, 2, 3, 32), r(1, 2, 700, 32), r(1, 2, 700, 32)
        out = attention(q, k, v, causal=True, blocks=(64, 1, 1))
        op = "loom.attention %a0, %a1, %a2 {block_sparse = array<i64: 64, 1, 1>, causal}"
        return op, [q, k, v], out
    if name == "attention_routed":
        # Blocks of 16 (150 rows: a partial last block), 3 key blocks per
        # query block; data drawn until no routing decision is a near-tie.
        while True:
            q, k, v = r(1, 2, 150, 16), r(1, 2, 150, 16), r(1, 2, 150, 24)
            if route_margin(q, k, 16, 3) > 1e-3:
                break
        out = attention(q, k, v, routed=(16, 3))
        return "loom.attention %a0, %a1, %a2 {routed = array<i64: 16, 3>}", [q, k, v], out
    if name == "attention_routed_cross":
        # Rank 3, Sq != Skv, a mask, dynamic batch; and more blocks chosen
        # than there are for the last queries' partial grid (K = 5 of 5).
        while True:
            q, k, v, m = r(2, 40, 8), r(2, 70, 8), r(2, 70, 8), r(2, 1, 70)
            if route_margin(q, k, 16, 2) > 1e-3:
                break
        out = attention(q, k, v, mask=m, routed=(16, 2))
        op = "loom.attention %a0, %a1, %a2 mask %a3 {routed = array<i64: 16, 2>}"
        return op, [q, k, v, m], out
    if name == "attention_routed_causal":
        # Causal (Sq = Skv), blocks of 16, 3 key blocks, GQA, dynamic
        # sequence: early query blocks have fewer candidates than 3.
        while True:
            q, k, v = r(1, 4, 130, 16), r(1, 2, 130, 16), r(1, 2, 130, 16)
            kk = np.repeat(k, 2, axis=1)
            if route_margin(q, kk, 16, 3, causal=True) > 1e-3:
                break
        out = attention(q, k, v, causal=True, kv_heads=2, routed=(16, 3))
        op = ("loom.attention %a0, %a1, %a2 {causal, num_kv_heads = 2 : i64, "
              "routed = array<i64: 16, 3>}")
        return op, [q, k, v], out
    if name == "attention_routed_all":
        # K at least the number of key blocks: full attention.
        q, k, v = r(1, 1, 40, 8), r(1, 1, 40, 8), r(1, 1, 40, 8)
        out = attention(q, k, v)
        return "loom.attention %a0, %a1, %a2 {routed = array<i64: 16, 5>}", [q, k, v], out
    if name == "scan_diagonal":
        # Mamba-shaped: 100 channels (two tiles of 64, one partial), state 16;
        # a = exp(delta * A) in (0, 1), b = delta * B.
        B, T, D, N = 2, 300, 100, 16
        x = r(B, T, D)
        delta = np.log1p(np.exp(r(B, T, D))).astype(np.float32)
        A = -np.exp(r(D, N) * 0.5).astype(np.float32)
        a = np.exp(delta[..., None] * A).astype(np.float32)
        b = (delta[..., None] * r(B, T, 1, N)).astype(np.float32)
        c = r(B, T, N)
        return "loom.scan <diagonal> %a0, %a1, %a2, %a3", [x, a, b, c], scan("diagonal", [x, a, b, c])
    if name == "scan_folded":
        # The folded form (a, u = delta * B * x, c) over 1000 steps, 70
        # channels, state 8.
        B, T, D, N = 3, 1000, 70, 8
        delta = np.log1p(np.exp(r(B, T, D))).astype(np.float32)
        a = np.exp(delta[..., None] * -np.exp(r(D, N) * 0.5)).astype(np.float32)
        u = (delta[..., None] * r(B, T, 1, N) * r(B, T, D)[..., None]).astype(np.float32)
        c = r(B, T, N)
        return "loom.scan <diagonal> %a0, %a1, %a2", [a, u, c], scan("diagonal", [a, u, c])
    if name == "scan_linear_long":
        # Causal linear attention over 4096 steps; feature maps keep q, k > 0.
        q, k, v = np.abs(r(1, 2, 4096, 16)) * 0.1, np.abs(r(1, 2, 4096, 16)) * 0.1, r(1, 2, 4096, 8)
        return "loom.scan <linear> %a0, %a1, %a2", [q, k, v], scan("linear", [q, k, v])
    if name == "scan_gated":
        q, k, v = r(2, 3, 200, 16), r(2, 3, 200, 16) * 0.3, r(2, 3, 200, 12)
        alpha = (1 / (1 + np.exp(-r(2, 3, 200, 16) - 3))).astype(np.float32)
        return ("loom.scan <gated> %a0, %a1, %a2, %a3", [q, k, v, alpha],
                scan("gated", [q, k, v, alpha]))
    if name == "scan_gated_long":
        # Gated linear attention over 4096 steps (dynamic length), gates
        # around 0.95: every chunk of the chunked form is within its decay
        # bound.
        q, k, v = r(1, 2, 4096, 32), r(1, 2, 4096, 32) * 0.2, r(1, 2, 4096, 16)
        alpha = (1 / (1 + np.exp(-r(1, 2, 4096, 32) * 0.5 - 3))).astype(np.float32)
        return ("loom.scan <gated> %a0, %a1, %a2, %a3", [q, k, v, alpha],
                scan("gated", [q, k, v, alpha]))
    if name == "scan_gated_decay":
        # 300 steps (a partial last chunk); head 0 forgets fast (gates
        # ~ 0.002: a chunk's cumulative decay is far beyond fp32's range, so
        # the chunked form runs those chunks step by step), head 1 slowly,
        # head 2 switches between the two halfway.
        q, k, v = r(2, 3, 300, 16), r(2, 3, 300, 16), r(2, 3, 300, 8)
        logit = r(2, 3, 300, 16) * 0.5
        logit[:, 0] -= 6
        logit[:, 1] += 4
        logit[:, 2, :150] -= 6
        logit[:, 2, 150:] += 4
        alpha = (1 / (1 + np.exp(-logit))).astype(np.float32)
        return ("loom.scan <gated> %a0, %a1, %a2, %a3", [q, k, v, alpha],
                scan("gated", [q, k, v, alpha]))
    if name == "scan_delta":
        q, k, v = r(1, 2, 500, 16), r(1, 2, 500, 16), r(1, 2, 500, 16)
        k = (k / np.linalg.norm(k, axis=-1, keepdims=True)).astype(np.float32)
        beta = (1 / (1 + np.exp(-r(1, 2, 500)))).astype(np.float32)
        return ("loom.scan <delta> %a0, %a1, %a2, %a3", [q, k, v, beta],
                scan("delta", [q, k, v, beta]))
    if name == "scan_delta_long":
        # DeltaNet over 4096 steps (dynamic length), head dims 32: the chunked
        # form's forward substitution and pseudo values over 64 chunks.
        q, k, v = r(1, 2, 4096, 32), r(1, 2, 4096, 32), r(1, 2, 4096, 32)
        k = (k / np.linalg.norm(k, axis=-1, keepdims=True)).astype(np.float32)
        beta = (1 / (1 + np.exp(-r(1, 2, 4096)))).astype(np.float32)
        return ("loom.scan <delta> %a0, %a1, %a2, %a3", [q, k, v, beta],
                scan("delta", [q, k, v, beta]))
    if name == "layer_norm":
        x, g, b = r(2, 3, 16), r(3, 16), r(16)
        out = layer_norm(x, g, b, 1, 1e-5)
        op = "loom.layer_norm %a0, %a1 bias %a2 {axis = 1 : i64, epsilon = 9.99999974E-6 : f32}"
        return op, [x, g, b], out
    if name == "rms_norm":
        x, g = r(4, 32), r(32)
        out = rms_norm(x, g, 1, 1e-6)
        op = "loom.rms_norm %a0, %a1 {epsilon = 9.99999997E-7 : f32}"
        return op, [x, g], out
    if name in ("gelu_erf", "gelu_tanh"):
        x = r(5, 33) * 3
        t = name == "gelu_tanh"
        out = gelu(x, t)
        op = "loom.gelu %a0" + (" {approximate = #loom.gelu_approximation<tanh>}" if t else "")
        return op, [x], out
    if name == "gelu_blockwise":
        # loomc --quant-activations: GELU of its input quantized to int8 and
        # back in blocks of 32 along the last dim (per block max |x| / 127,
        # float32 division, round half to even), evaluated in numpy.
        x = r(3, 5, 64) * 3
        blocks = x.reshape(3, 5, 2, 32)
        s = (np.abs(blocks).max(axis=-1, keepdims=True) / np.float32(127)).astype(np.float32)
        s = np.where(s == 0, np.float32(1), s).astype(np.float32)
        q = np.clip(np.round(blocks / s), -127, 127).astype(np.float32)
        out = gelu((q * s).reshape(3, 5, 64).astype(np.float64), False)
        return "loom.gelu %a0", [x], out
    if name in ("monarch", "monarch_rect", "monarch_vector"):
        # y[..., t Q + j] = sum_i (sum_a x[..., i P + a] w1[i, a, j]) w2[j, i, t]
        # as dense numpy: block-diagonal factors and the grid's transpose.
        lead, (k, p, q, s_) = {"monarch": ((2, 7), (16, 16, 16, 16)),
                               "monarch_rect": ((5,), (4, 6, 3, 5)),
                               "monarch_vector": ((), (8, 4, 8, 2))}[name]
        x = r(*lead, k * p)
        w1, w2 = r(k, p, q), r(q, k, s_)
        z = np.einsum("...ia,iaj->...ij", x.reshape(*lead, k, p).astype(np.float64), w1)
        y = np.einsum("...ij,jit->...tj", z, w2).reshape(*lead, s_ * q)
        return "loom.monarch %a0, %a1, %a2", [x, w1, w2], y
    if name in ("quantized_matmul", "quantized_gemv"):
        # scale[n] * sum_k x[..., k] w[k, n] with int8 w, in float64.
        lead, k, n = {"quantized_matmul": ((3, 13), 96, 70),
                      "quantized_gemv": ((1,), 768, 1000)}[name]
        x = r(*lead, k)
        w = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
        scale = (np.abs(r(n)) * 0.01 + 0.001).astype(np.float32)
        out = (x.astype(np.float64) @ w.astype(np.float64)) * scale
        return "loom.quantized_matmul %a0, %a1, %a2", [x, w, scale], out
    if name in ("w8a8_matmul", "w8a8_gemv"):
        # W8A8: the input quantized to uint8 (per row, or static with values
        # that clip), integer sums, the zero point corrected with the column
        # sums, scaled in float32: the kernel's arithmetic step by step in
        # numpy (float32 division, round half to even), so results agree to
        # the last bit.
        lead, k, n, static = {"w8a8_matmul": ((3, 13), 97, 70, None),
                              "w8a8_gemv": ((1,), 768, 1000, (0.005, 100))}[name]
        x = r(*lead, k)
        w = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
        scale = (np.abs(r(n)) * 0.01 + 0.001).astype(np.float32)
        rows = x.reshape(-1, k)
        if static:
            s = np.full((rows.shape[0], 1), static[0], np.float32)
            z = np.full((rows.shape[0], 1), static[1], np.float32)
        else:
            lo = np.minimum(rows.min(axis=1, keepdims=True), 0).astype(np.float32)
            hi = np.maximum(rows.max(axis=1, keepdims=True), 0).astype(np.float32)
            s = ((hi - lo) / np.float32(255)).astype(np.float32)
            z = np.clip(np.round(-lo / s), 0, 255).astype(np.float32)
        q = np.clip(np.round(rows / s) + z, 0, 255).astype(np.int64)
        acc = q @ w.astype(np.int64) - z.astype(np.int64) * w.astype(np.int64).sum(axis=0)
        out = (acc.astype(np.float32) * (s * scale)).reshape(*lead, n)
        op = "loom.quantized_matmul %a0, %a1, %a2 {input_bits = 8 : i64"
        if static:
            op += ", input_scale = %s : f32, input_zero_point = %d : i64" % static
        return op + "}", [x, w, scale], out
    if name in ("quantized4_matmul", "quantized4_gemv"):
        # sum_k x[..., k] (q[k, n] - zero[k/G, n]) scale[k/G, n] with 4-bit q
        # packed two per byte along k, in float64; an odd K (the last byte
        # half used) with zero points, and a GEMV without (zero point 8).
        lead, k, n, group, zp = {
            "quantized4_matmul": ((3, 13), 95, 70, 32, True),
            "quantized4_gemv": ((1,), 768, 1000, 64, False)}[name]
        x = r(*lead, k)
        q, scale, zero = int4_weights(k, n, group, zp, np.float16)
        g = np.arange(k) // group
        wq = (q.astype(np.float64) - zero[g]) * scale[g].astype(np.float64)
        out = x.astype(np.float64) @ wq
        op, inputs = int4_matmul(x, q, scale, zero if zp else None, group, "")
        return op, inputs, out
    if name in ("w4a8_matmul", "w4a8_gemv"):
        # W4A8: 4-bit groups (MatMulNBits' layout) times the input quantized
        # to int8 per row and group (symmetric, max |x| / 127, float32
        # division, round half to even), integer sums per group with the zero
        # point corrected by the group's sum of quantized inputs, then the
        # groups added in order (matmul_nbits.w4a8_reference). K = 95
        # (padding, a short last group) with zero points and fp16 scales; a
        # GEMV without zero points, fp32 scales.
        lead, k, n, group, zp, f32 = {
            "w4a8_matmul": ((3, 13), 95, 70, 32, True, False),
            "w4a8_gemv": ((1,), 768, 1000, 64, False, True)}[name]
        x = r(*lead, k)
        q, scale, zero = int4_weights(k, n, group, zp, np.float32 if f32 else np.float16)
        out = w4a8_reference(x.reshape(-1, k), q, zero, scale, group).reshape(*lead, n)
        op, inputs = int4_matmul(x, q, scale, zero if zp else None, group,
                                 ", input_bits = 8 : i64")
        return op, inputs, out
    if name == "moe":
        # Top-2 of 4 experts with biases and GELU over [2, 37, 24] tokens,
        # against a per-token float64 loop; the weights are model inputs.
        E, D, H = 4, 24, 40
        x = r(2, 37, D)
        idx = np.stack([rng.permutation(E)[:2] for _ in range(74)]).reshape(2, 37, 2)
        w = np.abs(r(2, 37, 2))
        experts = []
        for _ in range(E):
            experts += [r(D, H) / np.sqrt(D), r(H) * 0.1, r(H, D) / np.sqrt(H), r(D) * 0.1]
        out = np.zeros((2, 37, D))
        for b in range(2):
            for t in range(37):
                for j in range(2):
                    w1, b1, w2, b2 = (a.astype(np.float64) for a in experts[4 * idx[b, t, j]:][:4])
                    h = gelu(x[b, t].astype(np.float64) @ w1 + b1, False)
                    out[b, t] += w[b, t, j] * (h @ w2 + b2)
        names = ", ".join("%%a%d" % (3 + i) for i in range(len(experts)))
        op = ("loom.moe %%a0, %%a1, %%a2 experts(%s) {activation = #loom.activation<gelu>, "
              "num_experts = 4 : i64}" % names)
        return op, [x, w, idx.astype(np.int64)] + experts, out
    raise SystemExit("unknown case " + name)


def main():
    name, d = sys.argv[1], sys.argv[2]
    op, inputs, out = case(name)
    out = out.astype(np.float32)
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    os.makedirs(os.path.join(d, "exp"), exist_ok=True)
    dyn = DYNAMIC.get(name, ())
    args = ", ".join("%%a%d: %s" % (i, ty(a, dyn)) for i, a in enumerate(inputs))
    if op.startswith("loom.gelu"):
        sig = " : " + ty(out)
    else:
        sig = " : (%s) -> %s" % (", ".join(ty(a, dyn) for a in inputs), ty(out, dyn))
    text = "func.func @main(%s) -> %s {\n  %%r = %s%s\n  return %%r : %s\n}\n" % (
        args, ty(out, dyn), op, sig, ty(out, dyn))
    open(os.path.join(d, "model.mlir"), "w").write(text)
    for i, a in enumerate(inputs):
        np.save(os.path.join(d, "in", "input_%d.npy" % i), a)
    np.save(os.path.join(d, "exp", "output_0.npy"), out)


if __name__ == "__main__":
    main()
