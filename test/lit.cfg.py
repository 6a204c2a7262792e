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
