#!/usr/bin/python3
"""Runs loomc over ONNX's backend node tests (Debian's libonnx-testdata).

  onnx_node_tests.py import --loomc build/bin/loomc [--floor N] [--list]

`import`: every `model.onnx` that ONNX's own checker accepts must import with
`loomc --emit=onnx-ir` (exit 0, no crash). Prints pass/fail counts and fails
when the number of passing models is below --floor or any model crashes.
"""
import argparse
import concurrent.futures
import glob
import os
import subprocess
import sys

import onnx

DATA = "/usr/share/libonnx-testdata/data/node"


def checker_accepts(path):
    try:
        onnx.checker.check_model(path)
        return True
    except Exception:
        return False


def run_import(loomc, path):
    proc = subprocess.run([loomc, path, "--emit=onnx-ir", "-o", os.devnull],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return proc.returncode, proc.stdout.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["import"])
    ap.add_argument("--loomc", required=True)
    ap.add_argument("--floor", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="print every model's result")
    args = ap.parse_args()

    models = sorted(glob.glob(os.path.join(DATA, "*", "model.onnx")))
    accepted = [m for m in models if checker_accepts(m)]
    passed, failed, crashed = [], [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda m: (m, run_import(args.loomc, m)), accepted))
    for model, (code, out) in results:
        name = os.path.basename(os.path.dirname(model))
        if code == 0:
            passed.append(name)
        elif code < 0 or code > 1:
            crashed.append((name, code, out))
        else:
            failed.append((name, out))
        if args.list:
            print("%-60s %s" % (name, "ok" if code == 0 else "exit %d" % code))
    for name, out in failed:
        print("FAIL %s: %s" % (name, out.strip().splitlines()[0] if out.strip() else ""))
    for name, code, out in crashed:
        print("CRASH %s (exit %d): %s" % (name, code, out.strip()[-300:]))
    print("node models: %d, accepted by the ONNX checker: %d" % (len(models), len(accepted)))
    print("import: %d passed, %d failed, %d crashed" % (len(passed), len(failed), len(crashed)))
    if crashed or len(passed) < args.floor:
        print("below floor %d or crashed" % args.floor)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
