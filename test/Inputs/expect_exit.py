#!/usr/bin/python3
"""expect_exit.py CODE CMD [ARGS...]: runs CMD, copies its stdout and stderr
to stdout, and exits 0 only when CMD exited with CODE (lit's `not` only tells
zero from non-zero)."""
import subprocess
import sys

want = int(sys.argv[1])
proc = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
sys.stdout.write(proc.stdout.decode(errors="replace"))
if proc.returncode != want:
    sys.stdout.write("expect_exit: exit status %d, expected %d\n" % (proc.returncode, want))
    sys.exit(1)
