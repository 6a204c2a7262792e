//===- ModelTest.cpp - loomrt model API against a hand-written entry ------===//
//
// Part of the Loom project. SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// A hand-written `loom_entry` with the compiled models' ABI (docs/Runtime.md)
// checks descriptor layout, output ownership and input validation without
// the compiler.
//
//===----------------------------------------------------------------------===//

#include "loomrt/loomrt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

/// z[b, j] = x[b, j] + y[b]: reads two descriptors, returns a malloc'ed one.
extern "C" void fakeEntry(void **args) {
  auto *out = static_cast<int64_t *>(args[0]);
  auto *x = static_cast<int64_t *>(args[1]);
  auto *y = static_cast<int64_t *>(args[2]);
  float *xd, *yd;
  std::memcpy(&xd, &x[1], sizeof xd);
  std::memcpy(&yd, &y[1], sizeof yd);
  int64_t b = x[3], n = x[4];
  auto *z = static_cast<float *>(std::malloc(sizeof(float) * b * n));
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < n; ++j)
      z[i * n + j] = xd[x[2] + i * x[5] + j * x[6]] + yd[y[2] + i * y[4]];
  std::memcpy(&out[0], &z, sizeof z);
  std::memcpy(&out[1], &z, sizeof z);
  out[2] = 0;
  out[3] = b;
  out[4] = n;
  out[5] = n;
  out[6] = 1;
}

const char *kSignature = "loom-signature 1\n"
                         "input x 1 2 ?batch 3\n"
                         "input y%20vec 1 1 ?batch\n"
                         "output z 1 2 ?batch 3\n";

/// Owns a status and shows its message on failure.
struct Status {
  loomrt_status s;
  ~Status() { loomrt_status_free(s); }
  loomrt_status_code code() const { return loomrt_status_get_code(s); }
  std::string message() const { return loomrt_status_get_message(s); }
};

loomrt_tensor *tensor(std::initializer_list<int64_t> dims, float start,
                      loomrt_dtype dtype = LOOMRT_DTYPE_F32) {
  std::vector<int64_t> d(dims);
  loomrt_tensor *t = nullptr;
  loomrt_status s = loomrt_tensor_create(dtype, d.size(), d.data(), &t);
  EXPECT_EQ(s, nullptr);
  if (dtype == LOOMRT_DTYPE_F32)
    for (uint64_t i = 0; i < loomrt_tensor_numel(t); ++i)
      static_cast<float *>(t->data)[i] = start + i;
  return t;
}

TEST(Model, ParsesTheSignature) {
  loomrt_model *m = nullptr;
  Status s{loomrt_model_create(fakeEntry, kSignature, &m)};
  ASSERT_EQ(s.s, nullptr) << s.message();
  ASSERT_EQ(loomrt_model_num_inputs(m), 2u);
  ASSERT_EQ(loomrt_model_num_outputs(m), 1u);
  const loomrt_value_info *y = loomrt_model_input(m, 1);
  EXPECT_STREQ(y->name, "y vec");
  EXPECT_EQ(y->rank, 1);
  EXPECT_EQ(y->dims[0], -1);
  EXPECT_STREQ(y->dim_names[0], "batch");
  EXPECT_EQ(loomrt_model_input(m, 2), nullptr);
  loomrt_model_destroy(m);
}

TEST(Model, RunsAndHandsOverOutputs) {
  loomrt_model *m = nullptr;
  Status create{loomrt_model_create(fakeEntry, kSignature, &m)};
  ASSERT_EQ(create.s, nullptr);
  loomrt_tensor *in[2] = {tensor({2, 3}, 0), tensor({2}, 10)};
  loomrt_tensor *out[1] = {nullptr};
  Status run{loomrt_model_run(m, in, 2, out, 1)};
  ASSERT_EQ(run.s, nullptr) << run.message();
  ASSERT_NE(out[0], nullptr);
  EXPECT_STREQ(out[0]->name, "z");
  EXPECT_EQ(out[0]->dims[0], 2);
  auto *z = static_cast<float *>(out[0]->data);
  EXPECT_EQ(z[0], 10.0f);
  EXPECT_EQ(z[5], 5.0f + 11.0f);
  loomrt_tensors_destroy(in, 2);
  loomrt_tensors_destroy(out, 1);
  loomrt_model_destroy(m);
}

TEST(Model, ValidatesInputsBeforeRunning) {
  loomrt_model *m = nullptr;
  Status create{loomrt_model_create(fakeEntry, kSignature, &m)};
  ASSERT_EQ(create.s, nullptr);
  loomrt_tensor *out[1] = {nullptr};
  {
    loomrt_tensor *in[1] = {tensor({2, 3}, 0)};
    Status s{loomrt_model_run(m, in, 1, out, 1)};
    EXPECT_EQ(s.code(), LOOMRT_INVALID_ARGUMENT);
    EXPECT_NE(s.message().find("takes 2 inputs, got 1"), std::string::npos);
    loomrt_tensors_destroy(in, 1);
  }
  {
    loomrt_tensor *in[2] = {tensor({2, 3}, 0, LOOMRT_DTYPE_I64), tensor({2}, 0)};
    Status s{loomrt_model_run(m, in, 2, out, 1)};
    EXPECT_EQ(s.code(), LOOMRT_DTYPE_MISMATCH);
    EXPECT_NE(s.message().find("input 0 ('x') has element type int64"),
              std::string::npos);
    loomrt_tensors_destroy(in, 2);
  }
  {
    loomrt_tensor *in[2] = {tensor({2, 4}, 0), tensor({2}, 0)};
    Status s{loomrt_model_run(m, in, 2, out, 1)};
    EXPECT_EQ(s.code(), LOOMRT_SHAPE_MISMATCH);
    EXPECT_NE(s.message().find("has shape [2, 4]"), std::string::npos);
    loomrt_tensors_destroy(in, 2);
  }
  {
    loomrt_tensor *in[2] = {tensor({2, 3}, 0), tensor({2, 1}, 0)};
    Status s{loomrt_model_run(m, in, 2, out, 1)};
    EXPECT_EQ(s.code(), LOOMRT_SHAPE_MISMATCH);
    EXPECT_NE(s.message().find("has rank 2"), std::string::npos);
    loomrt_tensors_destroy(in, 2);
  }
  {
    loomrt_tensor *in[2] = {tensor({2, 3}, 0), tensor({5}, 0)};
    Status s{loomrt_model_run(m, in, 2, out, 1)};
    EXPECT_EQ(s.code(), LOOMRT_SHAPE_MISMATCH);
    EXPECT_NE(s.message().find("dimension 'batch' is 2 in input 0 ('x') but 5 "
                               "in input 1 ('y vec')"),
              std::string::npos)
        << s.message();
    loomrt_tensors_destroy(in, 2);
  }
  EXPECT_EQ(out[0], nullptr);
  loomrt_model_destroy(m);
}

TEST(Model, RejectsBadSignaturesAndFiles) {
  loomrt_model *m = nullptr;
  Status v{loomrt_model_create(fakeEntry, "loom-signature 9\n", &m)};
  EXPECT_EQ(v.code(), LOOMRT_PARSE_ERROR);
  Status bad{loomrt_model_create(fakeEntry, "loom-signature 1\ninput x 99 1 3\n", &m)};
  EXPECT_EQ(bad.code(), LOOMRT_PARSE_ERROR);
  EXPECT_EQ(m, nullptr);
  Status load{loomrt_model_load("/nonexistent/model.so", &m)};
  EXPECT_EQ(load.code(), LOOMRT_IO_ERROR);
  EXPECT_NE(load.message().find("/nonexistent/model.so"), std::string::npos);
}

} // namespace
