/**
 * The fused training kernels of this project in WGSL for the tfjs webgpu backend, under the
 * names the wasm ones use, so that the models and the training loop take the same fused path on
 * both: `BiasRelu`, `BiasReluGrad`, `ReluGrad` (lib/kernels/wasm_relu.ts),
 * `BatchNormTrainingForward`/`Backward` (wasm_batchnorm.ts), `SgdUpdate` (wasm_sgd.ts) and
 * `RunningMomentsUpdate` (wasm_moments.ts).
 *
 * What a real GPU pays per step is mostly dispatches (~50 us of host encoding each), so every
 * kernel here is as few dispatches as one output per binding allows, with several outputs per
 * dispatch through {@link runMultiOutput}: BatchNorm is 2 forward (moments; normalise) and 2
 * backward (the two sums; dx) instead of ~35 stock ops, the SGD update and the running moments
 * take two tensors per dispatch, and `BiasReluGrad` writes dx and the bias sums in one.
 *
 * Column reductions (over the rows of an [M, C] view, C the last axis) run one workgroup of
 * 16 x 16 threads per 16 columns: each thread sums a fixed stride of rows, and the 16 partial
 * sums of a column are added in a fixed order, so results are deterministic run to run. Values
 * agree with the cpu backend to float32 rounding (tests/kernels/webgpu_fused_test.ts), not
 * bitwise: sums run in another order, and WGSL compilers may contract a * b + c into an FMA.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Side effect: registers the webgpu backend, whose internals runMultiOutput records into.
import "@tensorflow/tfjs-backend-webgpu";
import { type KernelArgs, registerNewKernels } from "./kernel_args.ts";
import { flatWorkgroups, runMultiOutput, type UniformScalar } from "./webgpu_dispatch.ts";
import { BIAS_RELU, BIAS_RELU_GRAD, RELU_GRAD } from "./wasm_relu.ts";
import { BATCH_NORM_TRAINING_BACKWARD, BATCH_NORM_TRAINING_FORWARD } from "./wasm_batchnorm.ts";
import { SGD_UPDATE } from "./wasm_sgd.ts";
import { RUNNING_MOMENTS_UPDATE } from "./wasm_moments.ts";

const BACKEND = "webgpu";
/** Threads of a flat (elementwise) workgroup. */
const FLAT = 256;
/** Columns (and row lanes) of a column-reduction workgroup. */
const COLS = 16;

/** Bindings and the uniform struct of a program with `outputs` outputs and `inputs` inputs. */
function header(outputs: number, inputs: number, uniforms: string[]): string {
  const lines = [`struct Uniforms { ${uniforms.join(", ")} };`];
  for (let i = 0; i < outputs; i++) {
    lines.push(`@group(0) @binding(${i}) var<storage, read_write> out${i}: array<f32>;`);
  }
  for (let i = 0; i < inputs; i++) {
    lines.push(`@group(0) @binding(${outputs + i}) var<storage, read> in${i}: array<f32>;`);
  }
  lines.push(`@group(0) @binding(${outputs + inputs}) var<uniform> u: Uniforms;`);
  return lines.join("\n");
}

/** Entry point of a flat program: `i` is the element index; returns past `bound`. */
function flatMain(bound: string, body: string): string {
  return `
@compute @workgroup_size(${FLAT})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${FLAT}u + lid;
  if (i >= ${bound}) { return; }
  ${body}
}`;
}

/**
 * Entry point of a column reduction over rows `u.rows` and columns `u.c`: `sums` names the
 * per-thread accumulators and `loop` their update for row index `idx = r * u.c + j` (run only
 * for j < u.c); `finish` runs once per column with the accumulators replaced by column totals.
 * `before` may hold earlier phases (ending with a barrier) that compute per-column values.
 */
function columnMain(sums: string[], loop: string, finish: string, before = ""): string {
  const shared = sums.map((s) => `var<workgroup> part_${s}: array<f32, ${COLS * COLS}>;`);
  const store = sums.map((s) => `part_${s}[lid.y * ${COLS}u + lid.x] = ${s};`).join("\n  ");
  const total = sums.map((s) => `var ${s} = 0.0;`).join(" ");
  const add = sums.map((s) => `${s} = ${s} + part_${s}[k * ${COLS}u + lid.x];`).join(" ");
  return `
${shared.join("\n")}
@compute @workgroup_size(${COLS}, ${COLS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x * ${COLS}u + lid.x;
  ${before}
  {
    ${total}
    if (j < u.c) {
      for (var r = lid.y; r < u.rows; r = r + ${COLS}u) {
        let idx = r * u.c + j;
        ${loop}
      }
    }
    ${store}
  }
  workgroupBarrier();
  if (lid.y == 0u && j < u.c) {
    ${total}
    for (var k = 0u; k < ${COLS}u; k = k + 1u) { ${add} }
    ${finish}
  }
}`;
}

const f32 = (value: number): UniformScalar => ({ type: "float32", value });
const u32 = (value: number): UniformScalar => ({ type: "uint32", value });

/** A float32 input by name. */
function input(args: KernelArgs, op: string, name: string): tf.TensorInfo {
  const info = args.inputs[name];
  if (info === undefined || info.dtype !== "float32") {
    throw new TypeError(
      `Cannot compute ${op} on webgpu: input ${name} must be a float32 tensor, got ${
        info === undefined ? "none" : info.dtype
      }`,
    );
  }
  return info;
}

/** Rows M and units C of an [M, C] view of x (C the last axis). */
function rowsAndUnits(op: string, x: tf.TensorInfo): [number, number] {
  const c = x.shape[x.shape.length - 1] ?? 0;
  const size = tf.util.sizeFromShape(x.shape);
  if (x.shape.length < 2 || c === 0 || size === 0) {
    throw new TypeError(
      `Cannot compute ${op} on webgpu: the input must be [N, ..., C] and not empty, got [${x.shape}]`,
    );
  }
  return [size / c, c];
}

function sameShape(op: string, a: tf.TensorInfo, b: tf.TensorInfo): void {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new TypeError(
      `Cannot compute ${op} on webgpu: dy and the activation must have one shape, got [${a.shape}] and [${b.shape}]`,
    );
  }
}

const flatCount = (size: number) => flatWorkgroups(Math.ceil(size / FLAT));
const columnCount = (c: number): [number, number, number] => [Math.ceil(c / COLS), 1, 1];

// --- ReLU ------------------------------------------------------------------------------------

const BIAS_RELU_CODE = header(1, 2, ["size: u32", "c: u32"]) + flatMain(
  "u.size",
  "let v = in0[i] + in1[i % u.c];\n  out0[i] = select(v, 0.0, v < 0.0);",
);

function biasRelu(args: KernelArgs): tf.TensorInfo {
  const x = input(args, BIAS_RELU, "x");
  const bias = input(args, BIAS_RELU, "bias");
  const [m, c] = rowsAndUnits(BIAS_RELU, x);
  if (bias.shape.length !== 1 || bias.shape[0] !== c) {
    throw new TypeError(
      `Cannot compute ${BIAS_RELU} on webgpu: x must be [..., C] and bias [C], got [${x.shape}] and [${bias.shape}]`,
    );
  }
  return runMultiOutput(args.backend, {
    key: BIAS_RELU,
    code: BIAS_RELU_CODE,
    outputs: [x.shape.slice()],
    inputs: [x, bias],
    uniforms: [u32(m * c), u32(c)],
    workgroups: flatCount(m * c),
  })[0]!;
}

const BIAS_RELU_GRAD_CODE = header(2, 2, ["rows: u32", "c: u32"]) + columnMain(
  ["s"],
  "let d = select(0.0, in0[idx], in1[idx] > 0.0);\n        out0[idx] = d;\n        s = s + d;",
  "out1[j] = s;",
);

function biasReluGrad(args: KernelArgs): tf.TensorInfo[] {
  const dy = input(args, BIAS_RELU_GRAD, "dy");
  const y = input(args, BIAS_RELU_GRAD, "y");
  sameShape(BIAS_RELU_GRAD, dy, y);
  const [m, c] = rowsAndUnits(BIAS_RELU_GRAD, y);
  return runMultiOutput(args.backend, {
    key: BIAS_RELU_GRAD,
    code: BIAS_RELU_GRAD_CODE,
    outputs: [y.shape.slice(), [c]],
    inputs: [dy, y],
    uniforms: [u32(m), u32(c)],
    workgroups: columnCount(c),
  });
}

const RELU_GRAD_CODE = header(1, 2, ["size: u32"]) +
  flatMain("u.size", "out0[i] = select(0.0, in0[i], in1[i] > 0.0);");

function reluGrad(args: KernelArgs): tf.TensorInfo {
  const dy = input(args, RELU_GRAD, "dy");
  const x = input(args, RELU_GRAD, "x");
  sameShape(RELU_GRAD, dy, x);
  const size = tf.util.sizeFromShape(x.shape);
  return runMultiOutput(args.backend, {
    key: RELU_GRAD,
    code: RELU_GRAD_CODE,
    outputs: [x.shape.slice()],
    inputs: [dy, x],
    uniforms: [u32(size)],
    workgroups: flatCount(size),
  })[0]!;
}

// --- BatchNorm -------------------------------------------------------------------------------

/** [1, (1, 1,) C]: the kept-dims shape of a per-unit statistic. */
const unitShape = (x: tf.TensorInfo) => [...x.shape.slice(0, -1).map(() => 1), x.shape.at(-1)!];

/** Mean, then the biased variance about it, per column (two passes over x in one dispatch). */
const BN_MOMENTS_CODE = header(2, 1, ["rows: u32", "c: u32"]) + `
var<workgroup> mean_col: array<f32, ${COLS}>;` + columnMain(
  ["s2"],
  "let d = in0[idx] - mean_col[lid.x];\n        s2 = s2 + d * d;",
  "out1[j] = s2 / f32(u.rows);",
  // Phase 1: the column means, shared with every row lane.
  `{
    var s1 = 0.0;
    if (j < u.c) {
      for (var r = lid.y; r < u.rows; r = r + ${COLS}u) { s1 = s1 + in0[r * u.c + j]; }
    }
    part_s2[lid.y * ${COLS}u + lid.x] = s1;
  }
  workgroupBarrier();
  if (lid.y == 0u) {
    var t = 0.0;
    for (var k = 0u; k < ${COLS}u; k = k + 1u) { t = t + part_s2[k * ${COLS}u + lid.x]; }
    let mean = t / f32(u.rows);
    mean_col[lid.x] = mean;
    if (j < u.c) { out0[j] = mean; }
  }
  workgroupBarrier();`,
);

/** y = (x - mean) * rsqrt(var + eps) * gamma + beta; gamma and beta optional. */
function bnNormalizeCode(gamma: boolean, beta: boolean): string {
  const inputs = 3 + (gamma ? 1 : 0) + (beta ? 1 : 0);
  const g = gamma ? " * in3[k]" : "";
  const b = beta ? ` + in${gamma ? 4 : 3}[k]` : "";
  return header(1, inputs, ["size: u32", "c: u32", "eps: f32"]) + flatMain(
    "u.size",
    `let k = i % u.c;\n  out0[i] = (in0[i] - in1[k]) * inverseSqrt(in2[k] + u.eps)${g}${b};`,
  );
}

function bnForward(args: KernelArgs): tf.TensorInfo[] {
  const op = BATCH_NORM_TRAINING_FORWARD;
  const { epsilon } = args.attrs as unknown as { epsilon: number };
  const x = input(args, op, "x");
  const [m, c] = rowsAndUnits(op, x);
  const gamma = args.inputs.gamma === undefined ? undefined : input(args, op, "gamma");
  const beta = args.inputs.beta === undefined ? undefined : input(args, op, "beta");
  const [mean, variance] = runMultiOutput(args.backend, {
    key: "BatchNormMoments",
    code: BN_MOMENTS_CODE,
    outputs: [unitShape(x), unitShape(x)],
    inputs: [x],
    uniforms: [u32(m), u32(c)],
    workgroups: columnCount(c),
  }) as [tf.TensorInfo, tf.TensorInfo];
  const affine = [gamma, beta].filter((t): t is tf.TensorInfo => t !== undefined);
  const [y] = runMultiOutput(args.backend, {
    key: `BatchNormNormalize${gamma ? "G" : ""}${beta ? "B" : ""}`,
    code: bnNormalizeCode(gamma !== undefined, beta !== undefined),
    outputs: [x.shape.slice()],
    inputs: [x, mean, variance, ...affine],
    uniforms: [u32(m * c), u32(c), f32(epsilon)],
    workgroups: flatCount(m * c),
  });
  return [y!, mean, variance];
}

/** dgamma = sum(dy * xhat), dbeta = sum(dy) per column. */
const BN_SUMS_CODE = header(2, 4, ["rows: u32", "c: u32", "eps: f32"]) + columnMain(
  ["dg", "db"],
  "let g = in0[idx];\n        dg = dg + g * (in1[idx] - in2[j]) * inverseSqrt(in3[j] + u.eps);\n" +
    "        db = db + g;",
  "out0[j] = dg;\n    out1[j] = db;",
);

/** dx = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M). */
function bnDxCode(gamma: boolean): string {
  const g = gamma ? "in6[k] * " : "";
  return header(1, gamma ? 7 : 6, ["size: u32", "c: u32", "eps: f32", "m: f32"]) + flatMain(
    "u.size",
    `let k = i % u.c;
  let rstd = inverseSqrt(in3[k] + u.eps);
  let xhat = (in1[i] - in2[k]) * rstd;
  out0[i] = ${g}rstd * (in0[i] - in5[k] / u.m - xhat * in4[k] / u.m);`,
  );
}

function bnBackward(args: KernelArgs): tf.TensorInfo[] {
  const op = BATCH_NORM_TRAINING_BACKWARD;
  const { epsilon } = args.attrs as unknown as { epsilon: number };
  const dy = input(args, op, "dy");
  const x = input(args, op, "x");
  sameShape(op, dy, x);
  const mean = input(args, op, "mean");
  const variance = input(args, op, "variance");
  const gamma = args.inputs.gamma === undefined ? undefined : input(args, op, "gamma");
  const [m, c] = rowsAndUnits(op, x);
  const [dGamma, dBeta] = runMultiOutput(args.backend, {
    key: "BatchNormSums",
    code: BN_SUMS_CODE,
    outputs: [[c], [c]],
    inputs: [dy, x, mean, variance],
    uniforms: [u32(m), u32(c), f32(epsilon)],
    workgroups: columnCount(c),
  }) as [tf.TensorInfo, tf.TensorInfo];
  const [dx] = runMultiOutput(args.backend, {
    key: `BatchNormDx${gamma ? "G" : ""}`,
    code: bnDxCode(gamma !== undefined),
    outputs: [x.shape.slice()],
    inputs: [dy, x, mean, variance, dGamma, dBeta, ...(gamma === undefined ? [] : [gamma])],
    uniforms: [u32(m * c), u32(c), f32(epsilon), f32(m)],
    workgroups: flatCount(m * c),
  });
  return [dx!, dGamma, dBeta];
}

// --- Updates of several tensors, two per dispatch ---------------------------------------------

/**
 * out_t = a * p_t + b * q_t for one or two (p, q) pairs: the SGD update (a = 1, b = -lr) and
 * the running moments (a = 1 - m, b = m).
 */
function pairUpdateCode(pairs: 1 | 2): string {
  const uniforms = ["a: f32", "b: f32", "n0: u32", ...(pairs === 2 ? ["n1: u32"] : [])];
  const second = pairs === 2 ? "\n  if (i < u.n1) { out1[i] = u.a * in2[i] + u.b * in3[i]; }" : "";
  return header(pairs, 2 * pairs, uniforms) + flatMain(
    pairs === 2 ? "max(u.n0, u.n1)" : "u.n0",
    `if (i < u.n0) { out0[i] = u.a * in0[i] + u.b * in1[i]; }${second}`,
  );
}

const PAIR_CODE = { 1: pairUpdateCode(1), 2: pairUpdateCode(2) } as const;

/** a * p + b * q for every (p, q) pair, two pairs per dispatch. */
function pairUpdates(
  backend: unknown,
  pairs: [tf.TensorInfo, tf.TensorInfo][],
  a: number,
  b: number,
): tf.TensorInfo[] {
  const out: tf.TensorInfo[] = [];
  for (let k = 0; k < pairs.length; k += 2) {
    const group = pairs.slice(k, k + 2);
    const sizes = group.map(([p]) => tf.util.sizeFromShape(p.shape));
    out.push(...runMultiOutput(backend, {
      key: `PairUpdate${group.length}`,
      code: PAIR_CODE[group.length as 1 | 2],
      outputs: group.map(([p]) => p.shape.slice()),
      inputs: group.flat(),
      uniforms: [f32(a), f32(b), ...sizes.map(u32)],
      workgroups: flatCount(Math.max(...sizes)),
    }));
  }
  return out;
}

/** Pairs of inputs `${p}k`, `${q}k` of one shape each. */
function inputPairs(args: KernelArgs, op: string, p: string, q: string) {
  const count = Object.keys(args.inputs).length / 2;
  const pairs: [tf.TensorInfo, tf.TensorInfo][] = [];
  for (let k = 0; k < count; k++) {
    const a = input(args, op, `${p}${k}`);
    const b = input(args, op, `${q}${k}`);
    if (!tf.util.arraysEqual(a.shape, b.shape) || tf.util.sizeFromShape(a.shape) === 0) {
      throw new TypeError(
        `Cannot compute ${op} on webgpu: ${p}${k} and ${q}${k} must be non-empty tensors of one shape, got [${a.shape}] and [${b.shape}]`,
      );
    }
    pairs.push([a, b]);
  }
  return pairs;
}

function sgdUpdate(args: KernelArgs): tf.TensorInfo[] {
  const { learningRate } = args.attrs as unknown as { learningRate: number };
  return pairUpdates(args.backend, inputPairs(args, SGD_UPDATE, "w", "g"), 1, -learningRate);
}

function runningMomentsUpdate(args: KernelArgs): tf.TensorInfo[] {
  const { momentum } = args.attrs as unknown as { momentum: number };
  const pairs = inputPairs(args, RUNNING_MOMENTS_UPDATE, "r", "c");
  return pairUpdates(args.backend, pairs, 1 - momentum, momentum);
}

/** The kernels registered by {@link registerWebGpuFusedKernels}. */
export const WEBGPU_FUSED_KERNELS: readonly string[] = [
  BIAS_RELU,
  BIAS_RELU_GRAD,
  RELU_GRAD,
  BATCH_NORM_TRAINING_FORWARD,
  BATCH_NORM_TRAINING_BACKWARD,
  SGD_UPDATE,
  RUNNING_MOMENTS_UPDATE,
];

/**
 * Registers the fused kernels on the webgpu backend. Idempotent.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWebGpuFusedKernels } from "./webgpu_fused.ts";
 * import assert from "node:assert/strict";
 *
 * registerWebGpuFusedKernels();
 * assert.ok(tf.getKernel("SgdUpdate", "webgpu") !== undefined);
 * ```
 */
export function registerWebGpuFusedKernels(): void {
  registerNewKernels(BACKEND, [
    [BIAS_RELU, biasRelu],
    [BIAS_RELU_GRAD, biasReluGrad],
    [RELU_GRAD, reluGrad],
    [BATCH_NORM_TRAINING_FORWARD, bnForward],
    [BATCH_NORM_TRAINING_BACKWARD, bnBackward],
    [SGD_UPDATE, sgdUpdate],
    [RUNNING_MOMENTS_UPDATE, runningMomentsUpdate],
  ]);
}
