#!/usr/bin/python3
"""Draws the roofline picture of docs/Performance.md from benchmark results.

  bench/roofline.py RUN.json GEMM.json OUT.png

RUN.json comes from `bench/run.py --json`, GEMM.json from `bench/gemm.py
--json`. The picture: achieved GFLOP/s of Loom and ONNX Runtime per model and
per GEMM size, against the measured fp32 GEMM peak (OpenBLAS sgemm at the
largest size, the same run) and the FMA peak of the cores, measured by
bench/fma_peak.c (independent FMA chains of the widest vectors the CPU has,
AVX-512 or AVX2, on every thread).
Installs Debian's python3-matplotlib if it is missing.
"""
import json
import os
import subprocess
import sys


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", "python3-matplotlib"], check=True)


def fma_peak(threads):
    """Builds and runs bench/fma_peak.c: GFLOP/s of pure FMA chains."""
    here = os.path.dirname(os.path.abspath(__file__))
    exe = os.path.join(here, "..", "build", "bench", "fma_peak")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    subprocess.run(["clang-22", "-O2", "-fopenmp",
                    os.path.join(here, "fma_peak.c"), "-o", exe,
                    "-L/usr/lib/llvm-22/lib", "-Wl,-rpath,/usr/lib/llvm-22/lib"], check=True)
    out = subprocess.run([exe, str(threads)], check=True, stdout=subprocess.PIPE)
    isa, gflops = out.stdout.decode().split()[-2:]
    return isa, float(gflops)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    ensure_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = json.load(open(sys.argv[1]))
    gemms = json.load(open(sys.argv[2]))
    labels = [r["model"] for r in runs] + ["GEMM %d³" % g["n"] for g in gemms]
    loom = [r["loom_gflops"] for r in runs] + [g["loom_gflops"] for g in gemms]
    ort = [r["ort_gflops"] for r in runs] + [g["ort_gflops"] for g in gemms]
    blas = max(g["openblas_gflops"] for g in gemms)
    isa, peak = fma_peak(2)

    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=100)
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], loom, width=0.4, label="Loom", color="#3b75af")
    ax.bar([i + 0.2 for i in x], ort, width=0.4, label="ONNX Runtime", color="#ef8636")
    ax.axhline(blas, color="black", linestyle="--",
               label="measured sgemm peak (OpenBLAS) %.0f GFLOP/s" % blas)
    ax.axhline(peak, color="gray", linestyle=":",
               label="measured %s FMA peak of 2 cores %.0f GFLOP/s" % (isa, peak))
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=20)
    ax.set_ylabel("GFLOP/s (matmul + conv FLOPs / time)")
    ax.set_title("Achieved fp32 throughput, 2 threads, medians (bench/run.py, bench/gemm.py)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_ylim(0, peak * 1.15)
    fig.tight_layout()
    fig.savefig(sys.argv[3])
    print("wrote", sys.argv[3], "(%d bytes)" % os.path.getsize(sys.argv[3]))


if __name__ == "__main__":
    main()
