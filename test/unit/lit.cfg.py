# -*- Python -*-
# GoogleTest binaries (test/unit/*/...Tests) run as lit tests, so that one
# lit invocation runs the whole suite.

import os

import lit.formats

config.name = "Loom-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.loom_obj_root, "test", "unit")
config.test_source_root = config.test_exec_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
config.environment["LOOM_PYTHON"] = config.loom_python
config.environment["LOOM_SRC_ROOT"] = config.loom_src_root
for var in ["TMPDIR", "HOME"]:
    if var in os.environ:
        config.environment[var] = os.environ[var]
