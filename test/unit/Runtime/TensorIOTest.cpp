//===- TensorIOTest.cpp - Runtime tensor file I/O tests -------------------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Reference files come from numpy and onnx (tensor_files.py); the files the
// runtime writes are checked by numpy and onnx too.
//
//===----------------------------------------------------------------------===//

#include "loomrt/loomrt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

/// Runs the reference script; returns its exit status.
int runScript(const std::string &mode, const std::string &dir) {
  const char *python = std::getenv("LOOM_PYTHON");
  const char *src = std::getenv("LOOM_SRC_ROOT");
  std::string cmd = std::string(python ? python : "/usr/bin/python3") + " " +
                    (src ? src : ".") +
                    "/test/unit/Runtime/tensor_files.py " + mode + " " + dir;
  return std::system(cmd.c_str());
}

/// A directory of reference files shared by the tests of this binary.
class TensorIO : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    const char *tmp = std::getenv("TMPDIR");
    char tmpl[512];
    std::snprintf(tmpl, sizeof tmpl, "%s/loomrt-XXXXXX", tmp ? tmp : "/tmp");
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = new std::string(tmpl);
    ASSERT_EQ(runScript("write", *dir), 0);
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + *dir).c_str());
    delete dir;
  }

  static std::string path(const std::string &name) { return *dir + "/" + name; }

  /// Reads `name`, expecting success.
  static loomrt_tensor *read(const std::string &name) {
    loomrt_tensor *t = nullptr;
    loomrt_status s = loomrt_tensor_read_file(path(name).c_str(), &t);
    EXPECT_EQ(s, nullptr) << loomrt_status_get_message(s);
    loomrt_status_free(s);
    return t;
  }

  /// Reads `name`, expecting failure with `code`; returns the message.
  static std::string readFails(const std::string &name,
                               loomrt_status_code code) {
    loomrt_tensor *t = nullptr;
    loomrt_status s = loomrt_tensor_read_file(path(name).c_str(), &t);
    EXPECT_NE(s, nullptr);
    EXPECT_EQ(t, nullptr);
    EXPECT_EQ(loomrt_status_get_code(s), code)
        << loomrt_status_get_message(s);
    std::string message = loomrt_status_get_message(s);
    loomrt_status_free(s);
    return message;
  }

  static std::string *dir;
};

std::string *TensorIO::dir = nullptr;

/// The values tensor_files.py writes for float tensors: i * 0.5 - 3.
void expectFloatPattern(const loomrt_tensor *t) {
  const float *p = static_cast<const float *>(t->data);
  for (uint64_t i = 0; i < loomrt_tensor_numel(t); ++i)
    EXPECT_FLOAT_EQ(p[i], i * 0.5f - 3.0f) << "element " << i;
}

TEST_F(TensorIO, ReadsFloatNpyAndPb) {
  for (const char *name : {"f32.npy", "f32.pb", "typed_f32.pb"}) {
    loomrt_tensor *t = read(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dtype, LOOMRT_DTYPE_F32);
    ASSERT_EQ(t->rank, 3);
    EXPECT_EQ(t->dims[0], 2);
    EXPECT_EQ(t->dims[1], 3);
    EXPECT_EQ(t->dims[2], 4);
    expectFloatPattern(t);
    loomrt_tensor_destroy(t);
  }
}

TEST_F(TensorIO, ReadsIntegerTypes) {
  for (const char *name : {"i64.npy", "i64.pb", "typed_i64.pb"}) {
    loomrt_tensor *t = read(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, LOOMRT_DTYPE_I64);
    const int64_t *p = static_cast<const int64_t *>(t->data);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(p[i], i - 2);
    loomrt_tensor_destroy(t);
  }
  for (const char *name : {"i8.npy", "i8.pb", "typed_i8.pb"}) {
    loomrt_tensor *t = read(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, LOOMRT_DTYPE_I8);
    EXPECT_EQ(t->nbytes, 4u);
    const int8_t *p = static_cast<const int8_t *>(t->data);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(p[i], i - 2);
    loomrt_tensor_destroy(t);
  }
}

TEST_F(TensorIO, ReadsScalarsAndEmptyTensors) {
  loomrt_tensor *t = read("scalar.pb");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->rank, 0);
  EXPECT_EQ(*static_cast<float *>(t->data), -3.0f);
  loomrt_tensor_destroy(t);
  t = read("empty.npy");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->rank, 2);
  EXPECT_EQ(loomrt_tensor_numel(t), 0u);
  loomrt_tensor_destroy(t);
}

TEST_F(TensorIO, RejectsMalformedFiles) {
  readFails("truncated.pb", LOOMRT_PARSE_ERROR);
  EXPECT_NE(readFails("short.pb", LOOMRT_PARSE_ERROR).find("bytes of data"),
            std::string::npos);
  readFails("huge.pb", LOOMRT_LIMIT_EXCEEDED);
  // Regression (loom-fuzz-tensor): a shape under the size limit but far
  // larger than the data is a parse error before any allocation.
  readFails("big_claim.pb", LOOMRT_PARSE_ERROR);
  readFails("big_claim.npy", LOOMRT_PARSE_ERROR);
  readFails("negative.pb", LOOMRT_INVALID_ARGUMENT);
  readFails("strings.pb", LOOMRT_UNSUPPORTED);
  readFails("truncated.npy", LOOMRT_PARSE_ERROR);
  readFails("badmagic.npy", LOOMRT_PARSE_ERROR);
  readFails("fortran.npy", LOOMRT_UNSUPPORTED);
  readFails("bigendian.npy", LOOMRT_UNSUPPORTED);
  std::string message = readFails("does-not-exist.pb", LOOMRT_IO_ERROR);
  EXPECT_NE(message.find("does-not-exist.pb"), std::string::npos);
}

TEST_F(TensorIO, RejectsGarbageWithoutCrashing) {
  // Every prefix of a valid file either parses or fails cleanly.
  loomrt_tensor *good = read("f32.pb");
  ASSERT_NE(good, nullptr);
  loomrt_tensor_destroy(good);
  FILE *f = std::fopen(path("f32.pb").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::vector<uint8_t> bytes(4096);
  size_t n = std::fread(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  for (size_t len = 0; len < n; ++len) {
    loomrt_tensor *t = nullptr;
    loomrt_status s = loomrt_tensor_parse_pb(bytes.data(), len, &t);
    EXPECT_TRUE((s == nullptr) != (t == nullptr));
    loomrt_status_free(s);
    loomrt_tensor_destroy(t);
  }
}

TEST_F(TensorIO, WritesFilesThatNumpyAndOnnxRead) {
  for (const char *name : {"f32", "f64", "f16", "i64", "i32", "i8", "u8", "b",
                           "scalar", "empty"}) {
    loomrt_tensor *t = read(std::string(name) + ".npy");
    ASSERT_NE(t, nullptr) << name;
    loomrt_status s =
        loomrt_tensor_write_npy(path(std::string("out_") + name + ".npy").c_str(), t);
    EXPECT_EQ(s, nullptr) << loomrt_status_get_message(s);
    loomrt_status_free(s);
    s = loomrt_tensor_write_pb(path(std::string("out_") + name + ".pb").c_str(), t);
    EXPECT_EQ(s, nullptr) << loomrt_status_get_message(s);
    loomrt_status_free(s);
    loomrt_tensor_destroy(t);
  }
  EXPECT_EQ(runScript("check", *dir), 0);
}

TEST_F(TensorIO, ReadsAndWritesSequences) {
  loomrt_tensor *seq = nullptr;
  loomrt_status s = loomrt_sequence_read_file(path("seq.pb").c_str(), &seq);
  ASSERT_EQ(s, nullptr) << loomrt_status_get_message(s);
  ASSERT_TRUE(seq->is_sequence);
  EXPECT_EQ(seq->dtype, LOOMRT_DTYPE_F32);
  EXPECT_EQ(seq->rank, 2);
  ASSERT_EQ(seq->num_elements, 3u);
  for (size_t k = 0; k < 3; ++k) {
    const loomrt_tensor *e = seq->elements[k];
    ASSERT_EQ(e->rank, 2);
    EXPECT_EQ(e->dims[0], int64_t(k + 1));
    EXPECT_EQ(e->dims[1], 3);
    const float *p = static_cast<const float *>(e->data);
    for (uint64_t i = 0; i < loomrt_tensor_numel(e); ++i)
      EXPECT_EQ(p[i], float(10 * k + i));
  }
  s = loomrt_tensor_write_pb(path("out_seq.pb").c_str(), seq);
  EXPECT_EQ(s, nullptr) << loomrt_status_get_message(s);
  loomrt_status_free(s);
  // Sequences have no .npy form.
  s = loomrt_tensor_write_npy(path("out_seq.npy").c_str(), seq);
  EXPECT_EQ(loomrt_status_get_code(s), LOOMRT_UNSUPPORTED);
  loomrt_status_free(s);
  loomrt_tensor_destroy(seq);

  s = loomrt_sequence_read_file(path("empty_seq.pb").c_str(), &seq);
  ASSERT_EQ(s, nullptr) << loomrt_status_get_message(s);
  EXPECT_EQ(seq->num_elements, 0u);
  loomrt_tensor_destroy(seq);

  s = loomrt_sequence_read_file(path("nested_seq.pb").c_str(), &seq);
  EXPECT_EQ(loomrt_status_get_code(s), LOOMRT_UNSUPPORTED);
  EXPECT_EQ(seq, nullptr);
  loomrt_status_free(s);
  // A tensor file is not a sequence, and garbage fails cleanly.
  for (const char *name : {"truncated.pb", "f32.npy"}) {
    s = loomrt_sequence_read_file(path(name).c_str(), &seq);
    EXPECT_NE(s, nullptr) << name;
    EXPECT_EQ(seq, nullptr);
    loomrt_status_free(s);
  }
  EXPECT_EQ(runScript("check-seq", *dir), 0);
}

TEST(TensorCreate, RefusesAbsurdSizes) {
  int64_t dims[] = {int64_t(1) << 40, int64_t(1) << 20};
  loomrt_tensor *t = nullptr;
  loomrt_status s = loomrt_tensor_create(LOOMRT_DTYPE_F32, 2, dims, &t);
  EXPECT_EQ(loomrt_status_get_code(s), LOOMRT_LIMIT_EXCEEDED);
  EXPECT_EQ(t, nullptr);
  loomrt_status_free(s);
  int64_t bad[] = {3, -1};
  s = loomrt_tensor_create(LOOMRT_DTYPE_F32, 2, bad, &t);
  EXPECT_EQ(loomrt_status_get_code(s), LOOMRT_INVALID_ARGUMENT);
  loomrt_status_free(s);
  s = loomrt_tensor_create(LOOMRT_DTYPE_F32, LOOMRT_MAX_RANK + 1, dims, &t);
  EXPECT_EQ(loomrt_status_get_code(s), LOOMRT_LIMIT_EXCEEDED);
  loomrt_status_free(s);
}

} // namespace
