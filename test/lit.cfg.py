# -*- Python -*-
# lit configuration of the Loom test suite (IR, importer and tool tests).

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "Loom"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "onnx.dict"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.loom_obj_root, "test")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [os.path.join(config.loom_obj_root, "bin"), config.llvm_tools_dir]
tools = ["loom-opt", "loomc", "loom-run", "FileCheck", "not", "count"]
if config.loom_fuzzers:
    tools += ["loom-fuzz-onnx", "loom-fuzz-tensor", "loom-fuzz-loom-ir"]
    config.available_features.add("fuzzers")
if config.loom_sanitizers:
    config.available_features.add("asan")
    # Leaks of the tools at exit (LLVM's and protobuf's globals) are not
    # findings; memory errors and UB are.
    # allow_user_poisoning=0: LLVM's allocators poison memory from inline
    # header code compiled into Loom (instrumented) that libMLIR
    # (uninstrumented) then uses without unpoisoning: false reports.
    config.environment["ASAN_OPTIONS"] = "detect_leaks=0:allow_user_poisoning=0"
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1"
llvm_config.add_tool_substitutions(tools, tool_dirs)

config.substitutions.append(("%python", config.loom_python))
config.substitutions.append(("%models", os.path.join(config.loom_src_root, "test", "Inputs", "models.py")))
config.substitutions.append(("%expect_exit", config.loom_python + " " + os.path.join(config.loom_src_root, "test", "Inputs", "expect_exit.py")))
config.substitutions.append(("%loom_src", config.loom_src_root))

if os.path.isdir("/usr/share/libonnx-testdata/data/node"):
    config.available_features.add("onnx-testdata")

# The CUDA toolkit (ptxas validates the PTX of GPU models) and an NVIDIA GPU
# (GPU models run only where one is found: the driver loads and reports a
# device).
cuda_home = os.environ.get("CUDA_HOME") or "/usr/local/cuda"
ptxas = os.path.join(cuda_home, "bin", "ptxas")
if os.access(ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
# libdevice: the kernels' math functions (__nv_*), linked in by MLIR's NVVM
# serialization; models with such math need it to run on loomsim.
if os.path.isfile(os.path.join(cuda_home, "nvvm", "libdevice", "libdevice.10.bc")):
    config.available_features.add("libdevice")


def _have_cuda_gpu():
    import ctypes
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


if _have_cuda_gpu():
    config.available_features.add("cuda-gpu")

# A stand-in CUDA driver (test/unit/Runtime/fake_cuda.c, built as
# libcuda.so.1): GPU models load and "run" against it without a GPU.
config.substitutions.append(("%fake_cuda_dir", os.path.join(config.loom_obj_root, "test", "unit", "Runtime", "fake_cuda")))

# loomsim, the simulated CUDA driver (runtime/src/cuda/sim.c, built as
# libcuda.so.1): GPU models compiled with --gpu-binary=sim run on it.
config.substitutions.append(("%loomsim_dir", os.path.join(config.loom_obj_root, "runtime", "sim")))
