/**
 * The VGG's loss and batch accuracy in WGSL for the tfjs webgpu backend: one dispatch each for
 * the mean softmax cross-entropy, its gradient and the accuracy, where the stock ops take ~30
 * (logSoftmax, oneHot, mul, sum, mean, neg and their gradients; argMax, equal, cast, mean).
 *
 * The loss runs in one workgroup: each thread takes rows r = lid, lid + 256, ... and computes
 * -log softmax(l_r)[label_r] = log sum_k exp(l_rk - max_r) - (l_r,label - max_r); the row losses
 * are summed in a fixed order (deterministic) and divided by N. The gradient is
 * dy * (softmax(l_r) - onehot(label_r)) / N per element, each thread recomputing its row's max
 * and sum (K is 10). Accuracy takes the first maximum, as `tf.argMax` does.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { type KernelArgs, registerNewKernels } from "./kernel_args.ts";
import { flatWorkgroups, runMultiOutput } from "./webgpu_dispatch.ts";
import { BATCH_ACCURACY, SOFTMAX_CROSS_ENTROPY, SOFTMAX_CROSS_ENTROPY_GRAD } from "./loss_names.ts";

const BACKEND = "webgpu";
const THREADS = 256;

const BINDINGS = (extra: string) => `
struct Uniforms { n: u32, k: u32 };
@group(0) @binding(0) var<storage, read_write> out0: array<f32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
${extra}
`;

/** max_k l_rk and sum_k exp(l_rk - max): the row's softmax normaliser. */
const ROW_STATS = `
fn rowMax(r: u32) -> f32 {
  var m = logits[r * u.k];
  for (var k = 1u; k < u.k; k = k + 1u) { m = max(m, logits[r * u.k + k]); }
  return m;
}
fn rowSum(r: u32, m: f32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < u.k; k = k + 1u) { s = s + exp(logits[r * u.k + k] - m); }
  return s;
}`;

/** One workgroup: per-thread partial sums of `rowValue(r)`, added in thread order. */
const rowReduction = (rowValue: string) => `
var<workgroup> part: array<f32, ${THREADS}>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var r = lid; r < u.n; r = r + ${THREADS}u) { acc = acc + ${rowValue}; }
  part[lid] = acc;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0.0;
    for (var t = 0u; t < ${THREADS}u; t = t + 1u) { s = s + part[t]; }
    out0[0] = s / f32(u.n);
  }
}`;

const LOSS_CODE = BINDINGS("@group(0) @binding(3) var<uniform> u: Uniforms;") + ROW_STATS + `
fn rowLoss(r: u32) -> f32 {
  let m = rowMax(r);
  return log(rowSum(r, m)) - (logits[r * u.k + u32(labels[r])] - m);
}` + rowReduction("rowLoss(r)");

const GRAD_CODE = BINDINGS(`@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<uniform> u: Uniforms;`) + ROW_STATS + `
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${THREADS}u + lid;
  if (i >= u.n * u.k) { return; }
  let r = i / u.k;
  let m = rowMax(r);
  let p = exp(logits[i] - m) / rowSum(r, m);
  let hot = select(0.0, 1.0, i - r * u.k == u32(labels[r]));
  out0[i] = dy[0] * (p - hot) / f32(u.n);
}`;

const ACCURACY_CODE = BINDINGS("@group(0) @binding(3) var<uniform> u: Uniforms;") + `
fn rowHit(r: u32) -> f32 {
  var best = 0u;
  for (var k = 1u; k < u.k; k = k + 1u) {
    if (logits[r * u.k + k] > logits[r * u.k + best]) { best = k; }
  }
  return select(0.0, 1.0, best == u32(labels[r]));
}` + rowReduction("rowHit(r)");

/** logits [N, K] float32 and labels int32 [N]. */
function logitsAndLabels(args: KernelArgs, op: string): [tf.TensorInfo, tf.TensorInfo] {
  const logits = args.inputs.logits;
  const labels = args.inputs.labels;
  if (
    logits === undefined || labels === undefined || logits.dtype !== "float32" ||
    logits.shape.length !== 2 || labels.dtype !== "int32" || labels.shape.length !== 1 ||
    labels.shape[0] !== logits.shape[0] || logits.shape[0] === 0 || logits.shape[1] === 0
  ) {
    throw new TypeError(
      `Cannot compute ${op} on webgpu: expected float32 logits [N, K] and int32 labels [N], got ${
        logits?.dtype ?? "no"
      } [${logits?.shape ?? ""}] and ${labels?.dtype ?? "no"} [${labels?.shape ?? ""}]`,
    );
  }
  return [logits, labels];
}

const dims = (logits: tf.TensorInfo) => [
  { type: "uint32" as const, value: logits.shape[0]! },
  { type: "uint32" as const, value: logits.shape[1]! },
];

function reduction(op: string, code: string) {
  return (args: KernelArgs): tf.TensorInfo => {
    const [logits, labels] = logitsAndLabels(args, op);
    return runMultiOutput(args.backend, {
      key: op,
      code,
      outputs: [[]],
      inputs: [logits, labels],
      uniforms: dims(logits),
      workgroups: [1, 1, 1],
    })[0]!;
  };
}

function lossGrad(args: KernelArgs): tf.TensorInfo {
  const [logits, labels] = logitsAndLabels(args, SOFTMAX_CROSS_ENTROPY_GRAD);
  const dy = args.inputs.dy;
  if (dy === undefined || dy.dtype !== "float32" || tf.util.sizeFromShape(dy.shape) !== 1) {
    throw new TypeError(
      `Cannot compute ${SOFTMAX_CROSS_ENTROPY_GRAD} on webgpu: dy must be a float32 scalar, got [${
        dy?.shape ?? "none"
      }]`,
    );
  }
  const size = logits.shape[0]! * logits.shape[1]!;
  return runMultiOutput(args.backend, {
    key: SOFTMAX_CROSS_ENTROPY_GRAD,
    code: GRAD_CODE,
    outputs: [logits.shape.slice()],
    inputs: [logits, labels, dy],
    uniforms: dims(logits),
    workgroups: flatWorkgroups(Math.ceil(size / THREADS)),
  })[0]!;
}

/**
 * Registers the loss, its gradient and the batch accuracy on the webgpu backend. Idempotent.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWebGpuLossKernels } from "./webgpu_loss.ts";
 * import assert from "node:assert/strict";
 *
 * registerWebGpuLossKernels();
 * assert.ok(tf.getKernel("SoftmaxCrossEntropy", "webgpu") !== undefined);
 * ```
 */
export function registerWebGpuLossKernels(): void {
  registerNewKernels(BACKEND, [
    [SOFTMAX_CROSS_ENTROPY, reduction(SOFTMAX_CROSS_ENTROPY, LOSS_CODE)],
    [SOFTMAX_CROSS_ENTROPY_GRAD, lossGrad],
    [BATCH_ACCURACY, reduction(BATCH_ACCURACY, ACCURACY_CODE)],
  ]);
}
