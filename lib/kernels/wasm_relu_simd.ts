/**
 * SIMD WebAssembly bodies of the fused ReLU kernels (lib/kernels/wasm_relu.ts), working in place
 * on the tfjs wasm backend's heap (its memory imported; assembled by `lib/wasm_asm.ts`). A plain
 * JS loop over the heap ran at a fifth of the stock SIMD kernels' speed, which made a VGG step
 * twice as slow as with the unfused kernels.
 *
 * Four floats at a time, for C a multiple of 4 (every VGG width from 1/16 up; the caller keeps
 * the JS loop for other C). The arithmetic is the stock kernels': `f32x4.max(x + b, 0)` is
 * relu (NaN stays NaN, -0 becomes +0), step(v) is `(v > 0) & 1.0 | (v != v) & v` (1, 0 or NaN),
 * dy * step(v) is exact, and the bias gradient adds each column's values in row order in
 * float64 (`f64x2.promote_low_f32x4`, `f64x2.add`), as `reduceKernel` does.
 *
 * @module
 */
import { assemble, loopUntil, OP, SIMD, simd, T } from "../wasm_asm.ts";

/** relu(x + b) over n bytes of x, b of c bytes repeating. */
export type BiasReluFn = (
  x: number,
  b: number,
  out: number,
  nBytes: number,
  cBytes: number,
) => void;
/** dy * step(x) over n bytes. */
export type ReluGradFn = (dy: number, x: number, out: number, nBytes: number) => void;
/** dx = dy * step(y) over n bytes, and acc (float64, c values) += each row of dx. */
export type BiasReluGradFn = (
  dy: number,
  y: number,
  dx: number,
  acc: number,
  nBytes: number,
  cBytes: number,
) => void;

/** The three functions on one memory. */
export interface ReluSimd {
  biasRelu: BiasReluFn;
  reluGrad: ReluGradFn;
  biasReluGrad: BiasReluGradFn;
}

const load = [...simd(SIMD.load), 0, 0];
const store = [...simd(SIMD.store), 0, 0];
const f32x4 = (value: number) => [
  OP.f32Const,
  ...new Uint8Array(Float32Array.of(value).buffer),
  ...simd(SIMD.f32x4Splat),
];
/** base + i (bytes) on the stack. */
const at = (base: number, i: number) => [OP.get, base, OP.get, i, OP.i32Add];
/** j = j + 16 < c ? j + 16 : 0 (the column offset in bytes, wrapping at each row). */
const nextColumn = (j: number, c: number) => [
  OP.get,
  j,
  OP.i32Const,
  16,
  OP.i32Add,
  OP.tee,
  j,
  OP.i32Const,
  0,
  OP.get,
  j,
  OP.get,
  c,
  OP.i32LtU,
  OP.select,
  OP.set,
  j,
];
/** step(v) of the v128 in local v, with 1.0 splatted in local one and 0 in local zero. */
const stepOf = (v: number, zero: number, one: number) => [
  OP.get,
  v,
  OP.get,
  zero,
  ...simd(SIMD.f32x4Gt),
  OP.get,
  one,
  ...simd(SIMD.v128And),
  OP.get,
  v,
  OP.get,
  v,
  ...simd(SIMD.f32x4Ne),
  OP.get,
  v,
  ...simd(SIMD.v128And),
  ...simd(SIMD.v128Or),
];

// bias_relu(x, b, out, n, c): locals i, j (i32), zero (v128)
const BR = { x: 0, b: 1, out: 2, n: 3, c: 4, i: 5, j: 6, zero: 7 } as const;
const BIAS_RELU_BODY = [
  ...f32x4(0),
  OP.set,
  BR.zero,
  ...loopUntil(BR.i, BR.n, 16, [
    ...at(BR.out, BR.i),
    ...at(BR.x, BR.i),
    ...load,
    ...at(BR.b, BR.j),
    ...load,
    ...simd(SIMD.f32x4Add),
    OP.get,
    BR.zero,
    ...simd(SIMD.f32x4Max),
    ...store,
    ...nextColumn(BR.j, BR.c),
  ]),
];

// relu_grad(dy, x, out, n): locals i (i32), zero, one, v (v128)
const RG = { dy: 0, x: 1, out: 2, n: 3, i: 4, zero: 5, one: 6, v: 7 } as const;
const RELU_GRAD_BODY = [
  ...f32x4(0),
  OP.set,
  RG.zero,
  ...f32x4(1),
  OP.set,
  RG.one,
  ...loopUntil(RG.i, RG.n, 16, [
    ...at(RG.x, RG.i),
    ...load,
    OP.set,
    RG.v,
    ...at(RG.out, RG.i),
    ...at(RG.dy, RG.i),
    ...load,
    ...stepOf(RG.v, RG.zero, RG.one),
    ...simd(SIMD.f32x4Mul),
    ...store,
  ]),
];

// bias_relu_grad(dy, y, dx, acc, n, c): locals i, j, a (i32), zero, one, v, d (v128)
const BG = {
  dy: 0,
  y: 1,
  dx: 2,
  acc: 3,
  n: 4,
  c: 5,
  i: 6,
  j: 7,
  a: 8,
  zero: 9,
  one: 10,
  v: 11,
  d: 12,
};
/** The low (or, shuffled down, high) two lanes of d, promoted, added to acc at a (+ 16). */
const accumulate = (high: boolean) => [
  OP.get,
  BG.a,
  ...(high ? [OP.i32Const, 16, OP.i32Add] : []),
  OP.get,
  BG.a,
  ...(high ? [OP.i32Const, 16, OP.i32Add] : []),
  ...load,
  OP.get,
  BG.d,
  ...(high
    ? [
      OP.get,
      BG.d,
      ...simd(SIMD.i8x16Shuffle),
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      15,
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
    ]
    : []),
  ...simd(SIMD.f64x2PromoteLowF32x4),
  ...simd(SIMD.f64x2Add),
  ...store,
];
const BIAS_RELU_GRAD_BODY = [
  ...f32x4(0),
  OP.set,
  BG.zero,
  ...f32x4(1),
  OP.set,
  BG.one,
  ...loopUntil(BG.i, BG.n, 16, [
    ...at(BG.y, BG.i),
    ...load,
    OP.set,
    BG.v,
    ...at(BG.dy, BG.i),
    ...load,
    ...stepOf(BG.v, BG.zero, BG.one),
    ...simd(SIMD.f32x4Mul),
    OP.set,
    BG.d,
    ...at(BG.dx, BG.i),
    OP.get,
    BG.d,
    ...store,
    // a = acc + 2 j: the column's float64 accumulators
    OP.get,
    BG.acc,
    OP.get,
    BG.j,
    OP.get,
    BG.j,
    OP.i32Add,
    OP.i32Add,
    OP.set,
    BG.a,
    ...accumulate(false),
    ...accumulate(true),
    ...nextColumn(BG.j, BG.c),
  ]),
];

const instances = new WeakMap<WebAssembly.Memory, ReluSimd | null>();

/**
 * The three SIMD functions instantiated on `memory`, or null where WebAssembly SIMD is missing.
 *
 * @param memory The wasm backend's heap.
 * @returns The functions (byte offsets into the heap), or null.
 */
export function reluSimd(memory: WebAssembly.Memory): ReluSimd | null {
  if (instances.has(memory)) return instances.get(memory)!;
  let fns: ReluSimd | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const i32 = T.i32;
    const bytes = assemble([
      {
        name: "biasRelu",
        params: [i32, i32, i32, i32, i32],
        results: [],
        locals: [[2, i32], [1, T.v128]],
        body: BIAS_RELU_BODY,
      },
      {
        name: "reluGrad",
        params: [i32, i32, i32, i32],
        results: [],
        locals: [[1, i32], [3, T.v128]],
        body: RELU_GRAD_BODY,
      },
      {
        name: "biasReluGrad",
        params: [i32, i32, i32, i32, i32, i32],
        results: [],
        locals: [[3, i32], [4, T.v128]],
        body: BIAS_RELU_GRAD_BODY,
      },
    ], { imported: true, shared });
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
      .exports;
    fns = {
      biasRelu: exports.biasRelu as BiasReluFn,
      reluGrad: exports.reluGrad as ReluGradFn,
      biasReluGrad: exports.biasReluGrad as BiasReluGradFn,
    };
  } catch {
    fns = null; // no WebAssembly SIMD here: the JS loops run instead
  }
  instances.set(memory, fns);
  return fns;
}
