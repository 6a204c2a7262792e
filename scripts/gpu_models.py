#!/usr/bin/python3
"""The GPU pipeline's model checks: every test model (the real torch-exported
transformers, the decomposed layer and attention graphs, each loom op) is
generated with its reference outputs (torch or numpy), then

  --mode host   compiled with loomc --target=cuda-host (the GPU pipeline, each
                kernel run as host loops) and run against the reference;
  --mode ptx    compiled to PTX for each --arch and assembled by ptxas;
  --mode sim    compiled with loomc --target=cuda --gpu-binary=sim (the GPU
                pipeline's kernels compiled for the host) and run by loomsim,
                the simulated CUDA driver (--sim-driver: the directory of its
                libcuda.so.1), against the reference;
  --mode gpu    compiled with loomc --target=cuda and run on the GPU against
                the reference (needs an NVIDIA GPU); with --prebuilt, the
                libraries --mode build left in DIR are run as they are (on a
                GPU machine without Loom's toolchain: bench/gpu-check.sh);
  --mode build  generated and compiled with --target=cuda only.

  gpu_models.py --mode MODE [--loomc LOOMC] [--loom-run LOOM_RUN] --out DIR
                [--ptxas PTXAS] [--arch sm_80 --arch sm_90a] [--filter REGEX]
                [--prebuilt] [--bench N] [--sim-driver DIR]

Prints one line per model and check ("PASS name [detail]" or "FAIL name:
why"), then "<mode>: N passed, M failed"; exits 1 if any failed. Models
without kernels (all their work in host runtime calls, e.g. loom.moe) are
reported as such in ptx mode and count as passed.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
INPUTS = os.path.join(ROOT, "test", "Integration", "Inputs")
PY = "/usr/bin/python3"

REAL = ["bert", "gpt2", "vit", "mixer", "mamba", "moe"]
LAYERS = ["layer_norm", "rms_norm", "gelu_tanh", "silu"]
ATTENTION = ["causal", "additive", "where_keep", "ms_attention", "ms_causal"]
LOOM_OPS = [
    "attention_gqa_causal", "attention_mask_rank3", "attention_causal_long",
    "attention_cross_mask", "attention_gqa_dyn", "attention_decode",
    "attention_decode_split", "attention_wide_cross", "attention_wide_causal",
    "attention_scoreq_causal",
    "attention_scoreq_mask", "scan_diagonal", "scan_folded", "scan_gated",
    "scan_gated_decay", "scan_delta", "scan_linear_long", "scan_gated_long",
    "scan_delta_long", "layer_norm", "rms_norm", "gelu_erf", "gelu_tanh",
    "moe", "monarch", "monarch_rect", "monarch_vector",
]


def models():
    """(name, generator command, model file name) for every test model."""
    for m in REAL:
        yield "real/" + m, [PY, os.path.join(HERE, "real_models.py"), m], "model.onnx"
    for m in LAYERS:
        yield "layer/" + m, [PY, os.path.join(INPUTS, "layer_models.py"), m], "model.onnx"
    for m in ATTENTION:
        yield "attention/" + m, [PY, os.path.join(INPUTS, "attention_models.py"), m], "model.onnx"
    for m in LOOM_OPS:
        yield "op/" + m, [PY, os.path.join(INPUTS, "loom_ops.py"), m], "model.mlir"


def run(cmd, timeout=300, env=None):
    """Runs cmd; a command past timeout seconds fails (124) instead of stalling the check."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return 124, "timed out after %d s: %s" % (timeout, " ".join(cmd))
    return p.returncode, p.stdout


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["host", "sim", "ptx", "gpu", "build"], required=True)
    ap.add_argument("--loomc")
    ap.add_argument("--prebuilt", action="store_true",
                    help="gpu mode: run the libraries in --out without generating or compiling")
    ap.add_argument("--loom-run", dest="loom_run")
    ap.add_argument("--ptxas", default="/usr/local/cuda/bin/ptxas")
    ap.add_argument("--arch", action="append", help="GPU architectures (ptx, gpu modes)")
    ap.add_argument("--out", required=True, help="scratch directory")
    ap.add_argument("--filter", help="only models whose name matches REGEX")
    ap.add_argument("--bench", type=int, default=0, help="gpu mode: also time N runs")
    ap.add_argument("--precision", help="sim, gpu and build modes: loomc --precision")
    ap.add_argument("--rtol", help="loom-run --rtol (host, sim and gpu modes)")
    ap.add_argument("--atol", help="loom-run --atol (host, sim and gpu modes)")
    ap.add_argument("--sim-driver", dest="sim_driver",
                    help="sim mode: the directory of loomsim's libcuda.so.1")
    args = ap.parse_args()
    if args.mode == "sim" and not args.sim_driver:
        ap.error("--mode sim needs --sim-driver")
    run_env = None
    if args.mode == "sim":
        run_env = dict(os.environ, LD_LIBRARY_PATH=args.sim_driver)
    if not args.loomc and not args.prebuilt:
        ap.error("--loomc is needed unless --prebuilt")
    archs = args.arch or (["sm_80", "sm_90a"] if args.mode == "ptx" else ["sm_80"])
    passed = failed = 0
    for name, gen, model_file in models():
        if args.filter and not re.search(args.filter, name):
            continue
        d = os.path.join(args.out, name.replace("/", "_"))
        if args.prebuilt:
            lib = os.path.join(d, "cuda.so")
            if not os.path.exists(lib):
                print("FAIL %s: %s is missing (run --mode build first)" % (name, lib))
                failed += 1
                continue
        elif not os.path.exists(os.path.join(d, model_file)):
            rc, out = run(gen + [d])
            if rc:
                print("FAIL %s: cannot generate: %s" % (name, last_line(out)))
                failed += 1
                continue
        model = os.path.join(d, model_file)
        if args.mode == "ptx":
            for arch in archs:
                ptx = os.path.join(d, arch + ".ptx")
                rc, out = run([args.loomc, model, "--target=cuda", "--gpu-arch=" + arch,
                               "--emit=ptx", "-o", ptx])
                if rc and "launches no kernels" in out:
                    print("PASS %s %s: no kernels (host runtime calls only)" % (name, arch))
                    passed += 1
                    continue
                if rc:
                    print("FAIL %s %s: loomc: %s" % (name, arch, last_line(out)))
                    failed += 1
                    continue
                rc, out = run([args.ptxas, "-arch=" + arch, ptx, "-o", os.devnull])
                kernels = open(ptx).read().count(".entry ")
                if rc:
                    print("FAIL %s %s: ptxas: %s" % (name, arch, last_line(out)))
                    failed += 1
                else:
                    print("PASS %s %s: %d kernels" % (name, arch, kernels))
                    passed += 1
            continue
        target = "cuda-host" if args.mode == "host" else "cuda"
        lib = os.path.join(d, ("sim" if args.mode == "sim" else target) + ".so")
        if not args.prebuilt:
            cmd = [args.loomc, model, "--target=" + target, "-o", lib]
            if args.mode != "host":
                cmd.append("--gpu-arch=" + archs[0])
                if args.mode == "sim":
                    cmd.append("--gpu-binary=sim")
                if args.precision:
                    cmd.append("--precision=" + args.precision)
            rc, out = run(cmd)
            if rc:
                print("FAIL %s: loomc: %s" % (name, last_line(out)))
                failed += 1
                continue
        if args.mode == "build":
            print("PASS %s: built %s" % (name, lib))
            passed += 1
            continue
        cmd = [args.loom_run, lib, "--inputs", os.path.join(d, "in"),
               "--expected", os.path.join(d, "exp")]
        if args.bench:
            cmd += ["--bench", str(args.bench), "--warmup", "3"]
        if args.rtol:
            cmd += ["--rtol", args.rtol]
        if args.atol:
            cmd += ["--atol", args.atol]
        rc, out = run(cmd, env=run_env)
        result = [l for l in out.splitlines() if "max_abs_err" in l]
        if rc or not result or any("MISMATCH" in l for l in result):
            print("FAIL %s: %s" % (name, last_line(out)))
            failed += 1
        else:
            detail = "; ".join(re.sub(r"^output \d+ ", "", l) for l in result)
            timing = [l for l in out.splitlines() if "median" in l]
            print("PASS %s: %s%s" % (name, detail, (" | " + timing[0]) if timing else ""))
            passed += 1
    print("%s: %d passed, %d failed" % (args.mode, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
