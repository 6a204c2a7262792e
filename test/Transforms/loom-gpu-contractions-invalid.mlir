// RUN: loom-opt %s -verify-diagnostics --loom-gpu-contractions=precision=fp8

// expected-error @below {{loom-gpu-contractions: unknown precision 'fp8' (fp32, fp16 or bf16)}}
module {
  func.func @f() {
    return
  }
}
