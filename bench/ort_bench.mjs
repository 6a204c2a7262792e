// Times one ONNX model in ONNX Runtime (onnxruntime-node, CPU) on the inputs
// that bench/run.py wrote: node ort_bench.mjs MODEL INPUTS.json RUNS WARMUP THREADS [OUT]
// Prints one JSON line: {"median_ms": ..., "min_ms": ..., "max_ms": ..., "runs": N}
// With OUT, also writes the first output's values there (raw float32).
import fs from "node:fs";
import ort from "onnxruntime-node";

const [model, inputsJson, runs, warmup, threads, out] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(inputsJson, "utf8"));
const arrays = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array };
const feeds = {};
for (const input of spec) {
  const buf = fs.readFileSync(input.file);
  const Ctor = arrays[input.dtype];
  const data = new Ctor(buf.buffer, buf.byteOffset, buf.byteLength / Ctor.BYTES_PER_ELEMENT);
  feeds[input.name] = new ort.Tensor(input.dtype, data, input.dims);
}
const session = await ort.InferenceSession.create(model, {
  executionProviders: ["cpu"],
  intraOpNumThreads: Number(threads),
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
});
for (let i = 0; i < Number(warmup); ++i) await session.run(feeds);
const times = [];
for (let i = 0; i < Number(runs); ++i) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
if (out) {
  const result = await session.run(feeds);
  const first = result[session.outputNames[0]];
  fs.writeFileSync(out, Buffer.from(first.data.buffer, first.data.byteOffset,
                                    first.data.byteLength));
}
times.sort((a, b) => a - b);
const n = times.length;
const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
console.log(JSON.stringify({ median_ms: median, min_ms: times[0], max_ms: times[n - 1], runs: n }));
