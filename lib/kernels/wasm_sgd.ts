/**
 * The SGD update of every parameter tensor as one kernel on the tfjs wasm backend's heap.
 *
 * `W - lr * g` as tfjs ops is two kernel calls per tensor (a `Multiply` by the scalar and a
 * `Sub`), 44 of a VGG step's ~280, each paying tfjs's dispatch and allocation. `SgdUpdate` takes
 * all weights and gradients and makes one pass over each pair in a small SIMD WebAssembly
 * function that works in place on the backend's own heap (its memory imported; assembled by
 * `lib/wasm_asm.ts`). It computes `w - (g * lr)` with float32 multiply and subtract, as the two
 * stock kernels do, so training is bitwise the same with or without it (a plain JS loop would be
 * too, but it ran at half the speed of the stock SIMD kernels at full width).
 *
 * Inputs `w0..w{n-1}` and `g0..g{n-1}`, attribute `learningRate`; outputs the n new weights.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assemble, loopUntil, OP, SIMD, simd, sleb, T } from "../wasm_asm.ts";
import type { KernelArgs } from "./kernel_args.ts";
import { heapMemory, type WasmModuleBackend } from "./wasm_heap.ts";

/** Kernel name of the fused SGD update. */
export const SGD_UPDATE = "SgdUpdate";

/** Attributes of the kernel. */
export interface SgdUpdateAttrs {
  learningRate: number;
}

// sgd(w, g, out, n, lr): out[i] = w[i] - g[i] * lr for i < n (byte offsets of float32 arrays),
// four at a time, then the tail one at a time.
const P = { w: 0, g: 1, out: 2, n: 3, lr: 4, i: 5, end: 6, lrv: 7 } as const;
const at = (base: number) => [OP.get, base, OP.get, P.i, OP.i32Add];
const SGD_BODY: number[] = [
  OP.get,
  P.lr,
  ...simd(SIMD.f32x4Splat),
  OP.set,
  P.lrv,
  // end = (n & ~3) * 4: the bytes of whole groups of four
  OP.get,
  P.n,
  OP.i32Const,
  ...sleb(-4),
  OP.i32And,
  OP.i32Const,
  2,
  OP.i32Shl,
  OP.set,
  P.end,
  ...loopUntil(P.i, P.end, 16, [
    ...at(P.out),
    ...at(P.w),
    ...simd(SIMD.load),
    0,
    0,
    ...at(P.g),
    ...simd(SIMD.load),
    0,
    0,
    OP.get,
    P.lrv,
    ...simd(SIMD.f32x4Mul),
    ...simd(SIMD.f32x4Sub),
    ...simd(SIMD.store),
    0,
    0,
  ]),
  // the tail, one at a time: end = n * 4
  OP.get,
  P.n,
  OP.i32Const,
  2,
  OP.i32Shl,
  OP.set,
  P.end,
  ...loopUntil(P.i, P.end, 4, [
    ...at(P.out),
    ...at(P.w),
    OP.f32Load,
    0,
    0,
    ...at(P.g),
    OP.f32Load,
    0,
    0,
    OP.get,
    P.lr,
    OP.f32Mul,
    OP.f32Sub,
    OP.f32Store,
    0,
    0,
  ]),
];

type SgdFunction = (w: number, g: number, out: number, n: number, lr: number) => void;

/** The SIMD function instantiated on each backend memory it met; null where it cannot run. */
const instances = new WeakMap<WebAssembly.Memory, SgdFunction | null>();

function sgdFunction(memory: WebAssembly.Memory): SgdFunction | null {
  if (instances.has(memory)) return instances.get(memory)!;
  let fn: SgdFunction | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const bytes = assemble([{
      name: "sgd",
      params: [T.i32, T.i32, T.i32, T.i32, T.f32],
      results: [],
      locals: [[2, T.i32], [1, T.v128]],
      body: SGD_BODY,
    }], { imported: true, shared });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory },
    });
    fn = instance.exports.sgd as SgdFunction;
  } catch {
    fn = null; // no WebAssembly SIMD here: callers use the stock ops
  }
  instances.set(memory, fn);
  return fn;
}

/**
 * Whether `SgdUpdate` can run on the current backend (wasm, with its memory reachable and
 * WebAssembly SIMD available, or webgpu where the WGSL version is registered); where not, use
 * `W - lr * g` as tfjs ops.
 *
 * @returns True when the kernel is registered and usable.
 */
export function sgdUpdateAvailable(): boolean {
  const backend = tf.getBackend();
  if (tf.getKernel(SGD_UPDATE, backend) === undefined) return false;
  if (backend === "webgpu") return true; // the WGSL version (lib/kernels/webgpu_fused.ts)
  if (backend !== "wasm") return false;
  const memory = heapMemory(tf.backend() as unknown as WasmModuleBackend);
  return memory !== null && sgdFunction(memory) !== null;
}

function sgdUpdate(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmModuleBackend;
  const { learningRate } = args.attrs as unknown as SgdUpdateAttrs;
  const count = Object.keys(args.inputs).length / 2;
  const pairs: [tf.TensorInfo, tf.TensorInfo][] = [];
  for (let k = 0; k < count; k++) {
    const w = args.inputs[`w${k}`];
    const g = args.inputs[`g${k}`];
    if (
      w === undefined || g === undefined || w.dtype !== "float32" || g.dtype !== "float32" ||
      !tf.util.arraysEqual(w.shape, g.shape)
    ) {
      throw new TypeError(
        `Cannot compute ${SGD_UPDATE} on wasm: w${k} and g${k} must be float32 tensors of one ` +
          `shape, got [${w?.shape ?? "none"}] ${w?.dtype ?? ""} and [${g?.shape ?? "none"}] ${
            g?.dtype ?? ""
          }`,
      );
    }
    pairs.push([w, g]);
  }
  const outputs = pairs.map(([w]) => backend.makeOutput(w.shape.slice(), "float32"));
  const memory = heapMemory(backend);
  const sgd = memory === null ? null : sgdFunction(memory);
  if (sgd === null) {
    throw new Error(`Cannot compute ${SGD_UPDATE}: check sgdUpdateAvailable() first`);
  }
  // Byte offsets on the heap, taken after the last allocation (which may grow it).
  pairs.forEach(([wInfo, gInfo], k) => {
    const w = backend.typedArrayFromHeap(wInfo);
    const g = backend.typedArrayFromHeap(gInfo);
    const out = backend.typedArrayFromHeap(outputs[k]!);
    sgd(w.byteOffset, g.byteOffset, out.byteOffset, out.length, learningRate);
  });
  return outputs;
}

/**
 * Registers `SgdUpdate` on the wasm backend. Idempotent.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmSgdKernel, SGD_UPDATE } from "./wasm_sgd.ts";
 * import assert from "node:assert/strict";
 *
 * registerWasmSgdKernel();
 * assert.ok(tf.getKernel(SGD_UPDATE, "wasm") !== undefined);
 * ```
 */
export function registerWasmSgdKernel(): void {
  if (tf.getKernel(SGD_UPDATE, "wasm") !== undefined) return;
  tf.registerKernel({
    kernelName: SGD_UPDATE,
    backendName: "wasm",
    kernelFunc: sgdUpdate as unknown as tf.KernelFunc,
  });
}
