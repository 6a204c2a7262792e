// RUN: loom-opt %s -verify-diagnostics --loom-gpu-attention=precision=fp32

// expected-error @below {{loom-gpu-attention: unknown precision 'fp32' (fp16 or bf16)}}
func.func @f() {
  return
}
