/**
 * A fast `Conv2DBackpropFilter` and `Conv2DBackpropInput` for the tfjs webgpu backend.
 *
 * Stock tfjs-webgpu 4.22 computes the filter gradient with one thread per filter element that
 * loops over the whole N*OH*OW reduction: a few hundred threads for a VGG layer, each reading
 * millions of values with no reuse, 5-25x slower than the forward convolution (see
 * /work/shared/docs/GPU.md). Here it is the GEMM
 *
 *   dW[m, co] = sum_k A[m, k] * B[k, co],   m = (kh*KW + kw)*Ci + ci,   k = (n*OH + oh)*OW + ow,
 *   A[m, k] = x[n, oh*sh - top + kh, ow*sw - left + kw, ci]   (im2col of x, never materialised),
 *   B[k, co] = dy[n, oh, ow, co]                                (dy as a [K, Co] matrix),
 *
 * tiled 64x64 per workgroup with 16-deep K slices staged in workgroup memory, 4x4 outputs per
 * thread in named vec4 accumulators, a fully unrolled inner loop, vec4 loads where Ci or Co is a
 * multiple of 4, and split-K: the K range is cut into chunks, each workgroup writes a partial
 * [M, Co] tile and a second small program sums the chunks in a fixed order (deterministic).
 *
 * The input gradient is the GEMM of dy (implicit im2col) against the flipped, transposed filter,
 * one GEMM per stride class so that stride 2 skips the zeros of a dilated dy; see
 * {@link planInputGrad}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Side effect: registers the webgpu backend, whose `runWebGPUProgram` the kernels call.
import "@tensorflow/tfjs-backend-webgpu";
import type { KernelArgs } from "./kernel_args.ts";
import {
  type WebGpuBackendLike,
  webGpuBackendOf,
  type WebGpuProgramLike,
} from "./webgpu_program.ts";

const BACKEND = "webgpu";

/** Rows (m) of the output tile of one workgroup. */
const TILE_M = 64;
/** Columns (co) of the output tile of one workgroup. */
const TILE_N = 64;
/** Reduction depth staged in workgroup memory per iteration. */
const TILE_K = 16;
/** Workgroups the split-K aims for (enough to fill a large GPU; a CPU adapter needs fewer). */
const TARGET_WORKGROUPS = 256;
/** Smallest K range per split: below this the partial sums cost more than they save. */
const MIN_SPLIT_K = 1024;

/** Geometry of one filter-gradient GEMM. */
export interface FilterGradPlan {
  /** Rows: KH * KW * Ci. */
  m: number;
  /** Columns: Co. */
  n: number;
  /** Reduction: N * OH * OW. */
  k: number;
  /** Number of K chunks (1: no split, the GEMM writes the filter directly). */
  splits: number;
  /** K range of one chunk (a multiple of the K tile). */
  chunk: number;
  /** vec4 loads of x (Ci % 4 == 0). */
  vecX: boolean;
  /** vec4 loads of dy (Co % 4 == 0). */
  vecDy: boolean;
}

/**
 * The tiling and split-K of a filter gradient, as the kernel will run it.
 *
 * @example
 * ```ts
 * import { planFilterGrad } from "./webgpu_conv_grads.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = planFilterGrad({ m: 27, n: 64, k: 128 * 32 * 32, ci: 3 });
 * assert.equal(plan.vecX, false);
 * assert.ok(plan.splits > 1 && plan.splits * plan.chunk >= plan.k);
 * ```
 *
 * @param shape GEMM sizes and the input channel count.
 * @returns The plan.
 */
export function planFilterGrad(
  shape: { m: number; n: number; k: number; ci: number },
): FilterGradPlan {
  const { m, n, k, ci } = shape;
  const tiles = Math.ceil(m / TILE_M) * Math.ceil(n / TILE_N);
  const maxSplits = Math.max(1, Math.floor(k / MIN_SPLIT_K));
  const wanted = Math.min(maxSplits, Math.max(1, Math.ceil(TARGET_WORKGROUPS / tiles)));
  const chunk = Math.ceil(Math.ceil(k / wanted) / TILE_K) * TILE_K;
  return {
    m,
    n,
    k,
    splits: Math.ceil(k / chunk),
    chunk,
    vecX: ci % 4 === 0,
    vecDy: n % 4 === 0,
  };
}

function asWebGpuBackend(backend: unknown, op: string): WebGpuBackendLike {
  const webgpu = webGpuBackendOf(backend);
  if (webgpu === undefined) {
    throw new TypeError(`Cannot compute ${op} on webgpu: the backend has no runWebGPUProgram`);
  }
  return webgpu;
}

function inputOf(args: KernelArgs, op: string, name: string): tf.TensorInfo {
  const info = args.inputs[name];
  if (info === undefined) {
    throw new TypeError(
      `Cannot compute ${op} on webgpu: input ${name} is required, got [${
        Object.keys(args.inputs)
      }]`,
    );
  }
  return info;
}

/** Conv geometry; throws a RangeError for what the kernel does not support. */
function convInfo(
  op: string,
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: Pick<tf.Conv2DBackpropFilterAttrs, "strides" | "pad" | "dataFormat" | "dimRoundingMode">,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== "NHWC") {
    throw new RangeError(
      `Cannot compute ${op} on webgpu: only the NHWC data format is supported, got ${attrs.dataFormat}`,
    );
  }
  const strides = [attrs.strides].flat();
  if (strides.some((s) => s !== 1 && s !== 2)) {
    throw new RangeError(`Cannot compute ${op} on webgpu: strides must be 1 or 2, got ${strides}`);
  }
  if (attrs.pad !== "same" && attrs.pad !== "valid") {
    throw new RangeError(
      `Cannot compute ${op} on webgpu: pad must be "same" or "valid", got ${
        JSON.stringify(attrs.pad)
      }`,
    );
  }
  const { dilations } = attrs as { dilations?: number | number[] };
  if (dilations !== undefined && [dilations].flat().some((d) => d !== 1)) {
    throw new RangeError(`Cannot compute ${op} on webgpu: dilation must be 1, got ${dilations}`);
  }
  return tf.backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
}

const GEMM_UNIFORMS = "mDim : i32, nDim : i32, kDim : i32, inC : i32, filterW : i32, " +
  "outH : i32, outW : i32, inH : i32, inW : i32, strideH : i32, strideW : i32, padT : i32, " +
  "padL : i32, chunk : i32,";

/**
 * The GEMM's WGSL. 256 threads as 16x16; thread (tr, tc) owns rows 4tr..4tr+3 and columns
 * 4tc..4tc+3 of the 64x64 tile. Per K slice each thread loads 4 A values (one m quad at one k)
 * and 4 B values (one co quad at one k) into workgroup memory.
 */

/**
 * The fully unrolled inner product over one TILE_K-deep slice of the workgroup tiles: each
 * thread's 4x4 outputs (acc0..acc3) gain a(kk) x b(kk) for every kk, with named registers and no
 * loop (the form that reached 22-28 TFLOP/s on an H100, where indexed local arrays did not).
 */
function tileProductSteps(rowQuads: number, colQuads: number): string[] {
  const steps: string[] = [];
  for (let kk = 0; kk < TILE_K; kk++) {
    steps.push(`
      a = tileA[${kk * rowQuads} + tr];
      b = tileB[${kk * colQuads} + tc];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);`);
  }
  return steps;
}

function gemmSource(plan: FilterGradPlan): string {
  const rowQuads = TILE_M / 4; // 16
  const colQuads = TILE_N / 4; // 16
  // One x element of the im2col matrix: zero outside the image (padding) or past the range.
  const loadA = plan.vecX
    ? `
      if (mOk && kOk) {
        let ih = oh * uniforms.strideH - uniforms.padT + khA;
        let iw = ow * uniforms.strideW - uniforms.padL + kwA;
        if (ih >= 0 && ih < uniforms.inH && iw >= 0 && iw < uniforms.inW) {
          a = x[(((nb * uniforms.inH + ih) * uniforms.inW + iw) * uniforms.inC + ciA) / 4];
        }
      }`
    : `
      if (kOk) {
        for (var j = 0; j < 4; j++) {
          if (mA + j < uniforms.mDim) {
            let ci = (mA + j) % uniforms.inC;
            let t = (mA + j) / uniforms.inC;
            let ih = oh * uniforms.strideH - uniforms.padT + t / uniforms.filterW;
            let iw = ow * uniforms.strideW - uniforms.padL + t % uniforms.filterW;
            if (ih >= 0 && ih < uniforms.inH && iw >= 0 && iw < uniforms.inW) {
              a[j] = x[((nb * uniforms.inH + ih) * uniforms.inW + iw) * uniforms.inC + ci];
            }
          }
        }
      }`;
  const loadB = plan.vecDy
    ? `
      if (kOk && coB < uniforms.nDim) {
        b = dy[(kB * uniforms.nDim + coB) / 4];
      }`
    : `
      if (kOk) {
        for (var j = 0; j < 4; j++) {
          if (coB + j < uniforms.nDim) {
            b[j] = dy[kB * uniforms.nDim + coB + j];
          }
        }
      }`;
  const steps = tileProductSteps(rowQuads, colQuads);
  return `
  var<workgroup> tileA : array<vec4<f32>, ${TILE_K * rowQuads}>;
  var<workgroup> tileB : array<vec4<f32>, ${TILE_K * colQuads}>;

  fn writeRow(base : i32, row : i32, col : i32, v : vec4<f32>) {
    if (row < uniforms.mDim) {
      let offset = base + row * uniforms.nDim + col;
      for (var j = 0; j < 4; j++) {
        if (col + j < uniforms.nDim) {
          result[offset + j] = v[j];
        }
      }
    }
  }

  fn main() {
    let tid = i32(localId.x);
    let tr = tid / ${colQuads};
    let tc = tid % ${colQuads};
    let tilesN = (uniforms.nDim + ${TILE_N - 1}) / ${TILE_N};
    let tileM = i32(workgroupId.x) / tilesN;
    let tileN = i32(workgroupId.x) % tilesN;
    let split = i32(workgroupId.y);
    let kStart = split * uniforms.chunk;
    let kEnd = min(kStart + uniforms.chunk, uniforms.kDim);

    // This thread's loads: A row quad mA at slice row kkLoad, B column quad coB at the same row.
    let kkLoad = tid / ${rowQuads};
    let mA = tileM * ${TILE_M} + (tid % ${rowQuads}) * 4;
    let coB = tileN * ${TILE_N} + (tid % ${colQuads}) * 4;
    // (kh, kw, ci) of mA: fixed for the whole loop (the vec4 path needs them only for mA).
    let ciA = mA % uniforms.inC;
    let khA = (mA / uniforms.inC) / uniforms.filterW;
    let kwA = (mA / uniforms.inC) % uniforms.filterW;
    let mOk = mA < uniforms.mDim;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);

    for (var k0 = kStart; k0 < kEnd; k0 = k0 + ${TILE_K}) {
      let kB = k0 + kkLoad;
      let kOk = kB < kEnd;
      // k = (nb * OH + oh) * OW + ow
      let ow = kB % uniforms.outW;
      let oh = (kB / uniforms.outW) % uniforms.outH;
      let nb = kB / (uniforms.outW * uniforms.outH);
      a = vec4<f32>(0.0);
      ${loadA}
      tileA[kkLoad * ${rowQuads} + (tid % ${rowQuads})] = a;
      b = vec4<f32>(0.0);
      ${loadB}
      tileB[kkLoad * ${colQuads} + (tid % ${colQuads})] = b;
      workgroupBarrier();
      ${steps.join("")}
      workgroupBarrier();
    }

    let base = split * uniforms.mDim * uniforms.nDim;
    let row = tileM * ${TILE_M} + tr * 4;
    let col = tileN * ${TILE_N} + tc * 4;
    writeRow(base, row, col, acc0);
    writeRow(base, row + 1, col, acc1);
    writeRow(base, row + 2, col, acc2);
    writeRow(base, row + 3, col, acc3);
  }
  `;
}

/** Sums the split-K partials [S, M*N] over S, in order, into [M*N]. */
const REDUCE_SOURCE = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      var total = 0.0;
      for (var s = 0; s < uniforms.splits; s++) {
        total = total + partials[s * uniforms.size + index];
      }
      setOutputAtIndex(index, total);
    }
  }
`;

function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const op = "Conv2DBackpropFilter";
  const backend = asWebGpuBackend(args.backend, op);
  const x = inputOf(args, op, "x");
  const dy = inputOf(args, op, "dy");
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = convInfo(op, x.shape as [number, number, number, number], attrs.filterShape, attrs);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const m = info.filterHeight * info.filterWidth * inChannels;
  const n = info.outChannels;
  const k = batchSize * outHeight * outWidth;
  const plan = planFilterGrad({ m, n, k, ci: inChannels });
  const tiles = Math.ceil(m / TILE_M) * Math.ceil(n / TILE_N);
  const filterShape = [info.filterHeight, info.filterWidth, inChannels, n];
  const gemm: WebGpuProgramLike = {
    // One split writes the filter itself; several write partials summed below.
    outputShape: plan.splits === 1 ? filterShape : [plan.splits, m, n],
    shaderKey: `webgpuConv2DDerFilterGemm_${plan.vecX}_${plan.vecDy}`,
    // Two dispatch axes (tiles, splits): no flat index, `main()` reads workgroupId itself.
    dispatchLayout: { x: [0], y: [1] },
    dispatch: [tiles, plan.splits, 1],
    variableNames: ["x", "dy"],
    variableComponents: [plan.vecX ? 4 : 1, plan.vecDy ? 4 : 1],
    uniforms: GEMM_UNIFORMS,
    workgroupSize: [(TILE_M / 4) * (TILE_N / 4), 1, 1],
    size: false,
    getUserCode: () => gemmSource(plan),
  };
  // One i32 per field of GEMM_UNIFORMS, in order.
  const scalars = [m, n, k, inChannels, info.filterWidth, outHeight, outWidth, inHeight, inWidth]
    .concat([info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, plan.chunk]);
  const gemmOut = backend.runWebGPUProgram(
    gemm,
    [x, dy],
    "float32",
    scalars.map((v) => ({ type: "int32", data: [v] })),
  );
  if (plan.splits === 1) return gemmOut;
  return sumSplits(backend, gemmOut, filterShape, plan.splits);
}

/**
 * Sums split-K partials ([S, size]) over S into a tensor of `shape` with REDUCE_SOURCE, and
 * frees the partials.
 */
function sumSplits(
  backend: WebGpuBackendLike,
  partials: tf.TensorInfo,
  shape: number[],
  splits: number,
): tf.TensorInfo {
  const size = shape.reduce((a, b) => a * b, 1);
  const reduce: WebGpuProgramLike = {
    outputShape: shape,
    shaderKey: `webgpuConvDerReduce_${shape.length}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / 64), 1, 1],
    variableNames: ["partials"],
    uniforms: "splits : i32,",
    workgroupSize: [64, 1, 1],
    size: true,
    getUserCode: () => REDUCE_SOURCE,
  };
  const out = backend.runWebGPUProgram(reduce, [partials], "float32", [
    { type: "int32", data: [splits] },
  ]);
  backend.disposeData(partials.dataId);
  return out;
}

/** Geometry of one input-gradient GEMM (per stride class; the largest class's sizes). */
export interface InputGradPlan {
  /** Rows of the largest stride class: N * ceil(H / sh) * ceil(W / sw) input pixels. */
  m: number;
  /** Columns: Ci. */
  n: number;
  /** Reduction of the largest stride class: taps * Co. */
  k: number;
  /** Filter taps of the largest stride class: ceil(KH / sh) * ceil(KW / sw). */
  taps: number;
  /** Stride classes sh * sw: input pixels of one (row, column) parity share their filter taps. */
  classes: number;
  /** Strides, compiled into the shader (so that dividing by them is a shift or nothing). */
  strides: [number, number];
  /** Rows (input pixels) of the output tile of one workgroup. */
  tileM: number;
  /** Columns (input channels) of the output tile of one workgroup. */
  tileN: number;
  /** Number of reduction chunks (1: no split, the GEMM writes dx directly). */
  splits: number;
  /** Taps of one chunk (the reduction is split between taps). */
  tapsPerSplit: number;
  /** vec4 loads of dy and of the filter along Co (Co % 4 == 0). */
  vec: boolean;
}

/** The conv sizes that {@link planInputGrad} reads (a subset of tfjs's `Conv2DInfo`). */
export type InputGradShape = Pick<
  tf.backend_util.Conv2DInfo,
  | "batchSize"
  | "inHeight"
  | "inWidth"
  | "inChannels"
  | "outChannels"
  | "filterHeight"
  | "filterWidth"
  | "strideHeight"
  | "strideWidth"
>;

/**
 * The tiling, stride classes and split-K of an input gradient, as the kernel will run it.
 *
 * dx is the GEMM dx[m, ci] = sum_k A[m, k] * B[k, ci] of dy (implicit im2col) against the
 * flipped, transposed filter. With stride s only the taps kh = ih + top (mod s) reach input
 * row ih, so the pixels are split into s*s classes by (ih mod s, iw mod s), each its own GEMM
 * over only the taps it uses: no multiply by the zeros of a dilated dy.
 *
 * @example
 * ```ts
 * import { planInputGrad } from "./webgpu_conv_grads.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = planInputGrad({
 *   batchSize: 2, inHeight: 9, inWidth: 9, inChannels: 8, outChannels: 4,
 *   filterHeight: 3, filterWidth: 3, strideHeight: 2, strideWidth: 2,
 * });
 * assert.equal(plan.classes, 4);
 * assert.equal(plan.m, 2 * 5 * 5);
 * assert.equal(plan.k, 2 * 2 * 4);
 * ```
 *
 * @param shape The conv sizes.
 * @returns The plan.
 */
export function planInputGrad(shape: InputGradShape): InputGradPlan {
  const sh = shape.strideHeight;
  const sw = shape.strideWidth;
  const m = shape.batchSize * Math.ceil(shape.inHeight / sh) * Math.ceil(shape.inWidth / sw);
  const n = shape.inChannels;
  const taps = Math.ceil(shape.filterHeight / sh) * Math.ceil(shape.filterWidth / sw);
  const k = taps * shape.outChannels;
  const classes = sh * sw;
  // Narrow tiles for few channels (the early VGG layers at small widths): a 64-wide tile over
  // 8 channels would compute 7/8 padding. 16 outputs per thread in every shape.
  const tileN = n <= 16 ? 16 : n <= 32 ? 32 : 64;
  const tileM = tileN === 64 ? 64 : 128;
  const tiles = Math.ceil(m / tileM) * Math.ceil(n / tileN) * classes;
  const maxSplits = Math.min(taps, Math.max(1, Math.floor(k / MIN_SPLIT_K)));
  const wanted = Math.min(maxSplits, Math.max(1, Math.ceil(TARGET_WORKGROUPS / tiles)));
  const tapsPerSplit = Math.ceil(taps / wanted);
  return {
    m,
    n,
    k,
    taps,
    classes,
    strides: [sh, sw],
    tileM,
    tileN,
    splits: Math.ceil(taps / tapsPerSplit),
    tapsPerSplit,
    vec: shape.outChannels % 4 === 0,
  };
}

const INPUT_UNIFORMS = "batch : i32, inH : i32, inW : i32, inC : i32, outH : i32, outW : i32, " +
  "outC : i32, filterW : i32, filterH : i32, padT : i32, padL : i32, tapsPerSplit : i32,";

/**
 * The input-gradient GEMM's WGSL. (tileM/4) x (tileN/4) threads; thread (tr, tc) owns rows
 * 4tr..4tr+3 (input pixels of its class) and columns 4tc..4tc+3 (input channels). The
 * reduction runs tap by tap, and within a tap over Co in slices of 16, so the dy pixel a tap
 * reads and its bounds check are worked out once per tap, not per k (integer division is slow
 * on a CPU adapter). Loads are items of 4 consecutive co (one vec4 when Co % 4 == 0): A items
 * at one pixel, B items at one input channel, transposed into workgroup memory so that the
 * inner loop reads a vec4 over pixels and a vec4 over channels.
 */
function inputGemmSource(plan: InputGradPlan): string {
  const { tileM, tileN } = plan;
  const [sh, sw] = plan.strides;
  const rowQuads = tileM / 4;
  const colQuads = tileN / 4;
  const threads = rowQuads * colQuads;
  const kQuads = TILE_K / 4; // 4
  const itemsA = tileM * kQuads;
  const itemsB = tileN * kQuads;
  const countA = Math.ceil(itemsA / threads);
  const countB = Math.ceil(itemsB / threads);
  // Stores item v (4 consecutive k at one row or column `cc`) transposed into a tile.
  const store = (tile: string, quads: number, kq: string, cc: string) => `
        let slot = ${kq} * ${4 * quads} + ${cc} / 4;
        let lane = ${cc} % 4;
        ${tile}[slot][lane] = v.x;
        ${tile}[slot + ${quads}][lane] = v.y;
        ${tile}[slot + ${2 * quads}][lane] = v.z;
        ${tile}[slot + ${3 * quads}][lane] = v.w;`;
  // One item of 4 consecutive co from `buffer` at `base` (-1: outside, all zero).
  const load = (buffer: string, base: string) =>
    plan.vec
      ? `
        if (${base} >= 0 && co < uniforms.outC) {
          v = ${buffer}[(${base} + co) / 4];
        }`
      : `
        if (${base} >= 0) {
          for (var j = 0; j < 4; j++) {
            if (co + j < uniforms.outC) {
              v[j] = ${buffer}[${base} + co + j];
            }
          }
        }`;
  const hoistA: string[] = [];
  const tapA: string[] = [];
  const loadsA: string[] = [];
  for (let i = 0; i < countA; i++) {
    // Pixel of item i, fixed over the whole reduction: decoded once.
    hoistA.push(`
    let mmA${i} = (tid + ${i * threads}) / ${kQuads};
    let kqA${i} = (tid + ${i * threads}) % ${kQuads};
    let pA${i} = pixelOf(mBase + mmA${i}, hc, wc, ph, pw);
    let okA${i} = tid + ${i * threads} < ${itemsA} && mBase + mmA${i} < mC;`);
    // dy pixel of this tap; exact divisions: ih + top - kh is a multiple of the stride here.
    tapA.push(`
      var baseA${i} = -1;
      {
        let oh = (pA${i}.y + uniforms.padT - kh) / ${sh};
        let ow = (pA${i}.z + uniforms.padL - kw) / ${sw};
        if (okA${i} && oh >= 0 && oh < uniforms.outH && ow >= 0 && ow < uniforms.outW) {
          baseA${i} = ((pA${i}.x * uniforms.outH + oh) * uniforms.outW + ow) * uniforms.outC;
        }
      }`);
    loadsA.push(`
      if (tid + ${i * threads} < ${itemsA}) {
        let co = co0 + kqA${i} * 4;
        var v = vec4<f32>(0.0);
        ${load("dy", `baseA${i}`)}
        ${store("tileA", rowQuads, `kqA${i}`, `mmA${i}`)}
      }`);
  }
  const hoistB: string[] = [];
  const tapB: string[] = [];
  const loadsB: string[] = [];
  for (let i = 0; i < countB; i++) {
    hoistB.push(`
    let ccB${i} = (tid + ${i * threads}) / ${kQuads};
    let kqB${i} = (tid + ${i * threads}) % ${kQuads};
    let okB${i} = tid + ${i * threads} < ${itemsB} && nBase + ccB${i} < uniforms.inC;`);
    // B[k, ci] = W[kh, kw, ci, co]: 4 consecutive k are 4 consecutive co, contiguous in W.
    tapB.push(`
      let baseB${i} = select(-1,
        ((kh * uniforms.filterW + kw) * uniforms.inC + nBase + ccB${i}) * uniforms.outC, okB${i});`);
    loadsB.push(`
      if (tid + ${i * threads} < ${itemsB}) {
        let co = co0 + kqB${i} * 4;
        var v = vec4<f32>(0.0);
        ${load("W", `baseB${i}`)}
        ${store("tileB", colQuads, `kqB${i}`, `ccB${i}`)}
      }`);
  }
  const steps = tileProductSteps(rowQuads, colQuads);
  return `
  var<workgroup> tileA : array<vec4<f32>, ${TILE_K * rowQuads}>;
  var<workgroup> tileB : array<vec4<f32>, ${TILE_K * colQuads}>;

  // (n, ih, iw) of row m of the class GEMM whose pixels are ih = ph + sh*i, iw = pw + sw*j.
  fn pixelOf(m : i32, hc : i32, wc : i32, ph : i32, pw : i32) -> vec3<i32> {
    let j = m % wc;
    let i = (m / wc) % hc;
    let n = m / (wc * hc);
    return vec3<i32>(n, ph + ${sh} * i, pw + ${sw} * j);
  }

  fn writeRow(base : i32, m : i32, mC : i32, hc : i32, wc : i32, ph : i32, pw : i32, col : i32,
      v : vec4<f32>) {
    if (m < mC) {
      let p = pixelOf(m, hc, wc, ph, pw);
      let offset = base + ((p.x * uniforms.inH + p.y) * uniforms.inW + p.z) * uniforms.inC + col;
      for (var j = 0; j < 4; j++) {
        if (col + j < uniforms.inC) {
          result[offset + j] = v[j];
        }
      }
    }
  }

  fn main() {
    let tid = i32(localId.x);
    let tr = tid / ${colQuads};
    let tc = tid % ${colQuads};
    // Stride class (ph, pw): its pixels, rows and taps (kh = kh0 + sh*a only).
    let cls = i32(workgroupId.z);
    let ph = cls / ${sw};
    let pw = cls % ${sw};
    let hc = (uniforms.inH - ph + ${sh - 1}) / ${sh};
    let wc = (uniforms.inW - pw + ${sw - 1}) / ${sw};
    let mC = uniforms.batch * hc * wc;
    let kh0 = (ph + uniforms.padT) % ${sh};
    let kw0 = (pw + uniforms.padL) % ${sw};
    let khc = (uniforms.filterH - kh0 + ${sh - 1}) / ${sh};
    let kwc = (uniforms.filterW - kw0 + ${sw - 1}) / ${sw};

    let tilesN = (uniforms.inC + ${tileN - 1}) / ${tileN};
    let mBase = (i32(workgroupId.x) / tilesN) * ${tileM};
    let nBase = (i32(workgroupId.x) % tilesN) * ${tileN};
    // A split past this class's taps runs no step and writes its zero partial.
    let split = i32(workgroupId.y);
    let tapStart = split * uniforms.tapsPerSplit;
    let tapEnd = min(tapStart + uniforms.tapsPerSplit, khc * kwc);
    ${hoistA.join("")}
    ${hoistB.join("")}

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);

    for (var tap = tapStart; tap < tapEnd; tap++) {
      let kh = kh0 + ${sh} * (tap / kwc);
      let kw = kw0 + ${sw} * (tap % kwc);
      ${tapA.join("")}
      ${tapB.join("")}
      for (var co0 = 0; co0 < uniforms.outC; co0 = co0 + ${TILE_K}) {
        ${loadsA.join("")}
        ${loadsB.join("")}
        workgroupBarrier();
        ${steps.join("")}
        workgroupBarrier();
      }
    }

    let base = split * uniforms.batch * uniforms.inH * uniforms.inW * uniforms.inC;
    let row = mBase + tr * 4;
    let col = nBase + tc * 4;
    writeRow(base, row, mC, hc, wc, ph, pw, col, acc0);
    writeRow(base, row + 1, mC, hc, wc, ph, pw, col, acc1);
    writeRow(base, row + 2, mC, hc, wc, ph, pw, col, acc2);
    writeRow(base, row + 3, mC, hc, wc, ph, pw, col, acc3);
  }
  `;
}

function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  const op = "Conv2DBackpropInput";
  const backend = asWebGpuBackend(args.backend, op);
  const dy = inputOf(args, op, "dy");
  const filter = inputOf(args, op, "filter");
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = convInfo(
    op,
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs,
  );
  const plan = planInputGrad(info);
  const tiles = Math.ceil(plan.m / plan.tileM) * Math.ceil(plan.n / plan.tileN);
  const size = info.inShape.reduce((a, b) => a * b, 1);
  const gemm: WebGpuProgramLike = {
    // One split writes dx itself; several write partials summed below.
    outputShape: plan.splits === 1 ? [...info.inShape] : [plan.splits, size],
    shaderKey: `webgpuConv2DDerInputGemm_${plan.tileM}_${plan.tileN}_${plan.vec}_${plan.strides}`,
    // Three dispatch axes (tiles, splits, stride classes): `main()` reads workgroupId itself.
    dispatchLayout: { x: [0], y: [1], z: [2] },
    dispatch: [tiles, plan.splits, plan.classes],
    variableNames: ["dy", "W"],
    variableComponents: [plan.vec ? 4 : 1, plan.vec ? 4 : 1],
    uniforms: INPUT_UNIFORMS,
    workgroupSize: [(plan.tileM / 4) * (plan.tileN / 4), 1, 1],
    size: false,
    getUserCode: () => inputGemmSource(plan),
  };
  // One i32 per field of INPUT_UNIFORMS, in order.
  const scalars = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight]
    .concat([info.outWidth, info.outChannels, info.filterWidth, info.filterHeight])
    .concat([info.padInfo.top, info.padInfo.left, plan.tapsPerSplit]);
  const gemmOut = backend.runWebGPUProgram(
    gemm,
    [dy, filter],
    "float32",
    scalars.map((v) => ({ type: "int32", data: [v] })),
  );
  if (plan.splits === 1) return gemmOut;
  return sumSplits(backend, gemmOut, [...info.inShape], plan.splits);
}

/** The kernel functions this module registered (to keep registration idempotent). */
const ours = new Set<unknown>();

/** Stock webgpu kernels replaced here (for benchmarks that compare against them). */
const stock = new Map<string, tf.KernelFunc>();

/**
 * The stock tfjs-webgpu kernel function that {@link registerWebGpuTrainingKernels} replaced, or
 * undefined before registration (benchmarks time it against ours).
 *
 * @param name Kernel name, e.g. "Conv2DBackpropFilter".
 * @returns The replaced kernel function.
 */
export function stockWebGpuKernel(name: string): tf.KernelFunc | undefined {
  return stock.get(name) ??
    (ours.has(tf.getKernel(name, BACKEND)?.kernelFunc)
      ? undefined
      : tf.getKernel(name, BACKEND)?.kernelFunc);
}

/** Kernel name and function of every replacement of this module. */
const KERNELS: readonly { name: string; kernelFunc: (args: KernelArgs) => tf.TensorInfo }[] = [
  { name: "Conv2DBackpropFilter", kernelFunc: conv2DBackpropFilter },
  { name: "Conv2DBackpropInput", kernelFunc: conv2DBackpropInput },
];

/**
 * Registers this module's webgpu kernels in place of the stock ones (the filter and input
 * gradients of a 2-D convolution). Idempotent; safe before or after the backend is initialised, and harmless
 * where WebGPU is absent (kernels are only looked up on the webgpu backend).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWebGpuTrainingKernels } from "./webgpu_conv_grads.ts";
 * import assert from "node:assert/strict";
 *
 * registerWebGpuTrainingKernels();
 * registerWebGpuTrainingKernels();
 * assert.ok(tf.getKernel("Conv2DBackpropFilter", "webgpu") !== undefined);
 * ```
 */
export function registerWebGpuTrainingKernels(): void {
  for (const { name, kernelFunc } of KERNELS) {
    const current = tf.getKernel(name, BACKEND);
    if (current !== undefined && ours.has(current.kernelFunc)) continue;
    if (current !== undefined) {
      stock.set(name, current.kernelFunc);
      // registerKernel warns on duplicates; unregistering first keeps the log clean.
      tf.unregisterKernel(name, BACKEND);
    }
    ours.add(kernelFunc);
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    });
  }
}
