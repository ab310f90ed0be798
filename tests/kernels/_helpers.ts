/**
 * Shared helpers of the kernel tests: seeded data, running one function on two backends, error
 * measures and a plain-TypeScript direct convolution (the independent oracle).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Random } from "../../lib/rng.ts";
import { createVgg } from "../../lib/models/vgg.ts";
import type { Normalization } from "../../lib/models/types.ts";
import { disposeParams, flattenParams, unflattenParams } from "../../lib/params.ts";

/** Stream id of the kernel tests' data (any id not used by the library). */
const TEST_STREAM = 9001;

/** `n` standard normal float32 values from a fixed seed. */
export function normals(n: number, seed: number): Float32Array {
  return new Random(seed, TEST_STREAM).fillNormal(new Float32Array(n));
}

/** Runs `fn` on `backend` and reads every returned tensor back (then disposes them). */
export async function runOn(
  backend: "cpu" | "wasm",
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  await tf.ready();
  const out = fn();
  const list = Array.isArray(out) ? out : [out];
  const values = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(list);
  return values;
}

/** max |a - b| / max |b| (0 when both are all zero); throws on a length mismatch. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new RangeError(`Cannot compare: lengths differ, got ${a.length} and ${b.length}`);
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/**
 * Runs `fn` on cpu and wasm and returns the worst relative error over its outputs, or with
 * `joint` the relative error of all outputs concatenated (for a whole gradient, where some
 * parts are zero in exact arithmetic, e.g. a bias followed by BatchNorm).
 */
export async function wasmVsCpu(
  fn: () => tf.Tensor | tf.Tensor[],
  options: { joint?: boolean } = {},
): Promise<number> {
  const cpu = await runOn("cpu", fn);
  const wasm = await runOn("wasm", fn);
  if (cpu.length !== wasm.length) {
    throw new RangeError(
      `Cannot compare: output counts differ, got ${cpu.length} and ${wasm.length}`,
    );
  }
  if (options.joint === true) {
    const concat = (parts: Float32Array[]) => Float32Array.from(parts.flatMap((p) => [...p]));
    return relError(concat(wasm), concat(cpu));
  }
  return Math.max(...cpu.map((c, i) => relError(wasm[i]!, c)));
}

/** Geometry of a 2-D convolution, as TensorFlow defines SAME and VALID. */
export interface ConvGeometry {
  outH: number;
  outW: number;
  padTop: number;
  padLeft: number;
}

/** Output size and leading padding of a conv along one axis (TensorFlow's rules). */
function axisGeometry(size: number, k: number, s: number, pad: "same" | "valid"): [number, number] {
  if (pad === "valid") return [Math.floor((size - k) / s) + 1, 0];
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return [out, Math.floor(total / 2)];
}

/** One convolution case: NHWC input, filter size, output channels, stride and padding. */
export interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number;
  pad: "same" | "valid";
}

/**
 * Conv cases shared by the wasm and oneDNN kernel tests: odd image sizes, 3 and 5 channels,
 * batch 3, stride 2 with odd input.
 */
export const CONV_CASES: ConvCase[] = [
  { x: [3, 5, 7, 3], k: [3, 3], co: 5, s: 1, pad: "same" },
  { x: [3, 5, 7, 3], k: [3, 3], co: 5, s: 2, pad: "same" },
  { x: [3, 5, 7, 5], k: [3, 3], co: 3, s: 2, pad: "valid" },
  { x: [2, 8, 8, 3], k: [3, 3], co: 4, s: 2, pad: "valid" }, // the last row of x is never read
  { x: [2, 6, 9, 5], k: [3, 3], co: 3, s: 1, pad: "valid" },
  { x: [2, 7, 7, 3], k: [2, 2], co: 4, s: 2, pad: "same" },
  { x: [1, 4, 5, 2], k: [5, 3], co: 2, s: 1, pad: "same" },
  { x: [2, 9, 6, 3], k: [3, 3], co: 2, s: 3, pad: "valid" },
];

/** A conv case in words, for test step names. */
export function caseName(c: ConvCase): string {
  return `x ${c.x.join("x")}, ${c.k.join("x")} filter -> ${c.co}, stride ${c.s}, ${c.pad}`;
}

/** SAME/VALID geometry of an NHWC conv with a [kh, kw, ...] filter and stride s. */
export function convGeometry(
  h: number,
  w: number,
  kh: number,
  kw: number,
  s: number,
  pad: "same" | "valid",
): ConvGeometry {
  const [outH, padTop] = axisGeometry(h, kh, s, pad);
  const [outW, padLeft] = axisGeometry(w, kw, s, pad);
  return { outH, outW, padTop, padLeft };
}

/**
 * Direct (six nested loops, float64) gradients of y = conv2d(x, w, s, pad) for a given dy:
 * dW[a, b, ci, co] = sum x[n, oy*s + a - top, ox*s + b - left, ci] dy[n, oy, ox, co] and
 * dx[n, r, c, ci] = sum of dy[n, oy, ox, co] w[a, b, ci, co] over the taps that read x[n, r, c].
 */
export function directConvGrads(
  x: Float32Array,
  xShape: [number, number, number, number],
  w: Float32Array,
  wShape: [number, number, number, number],
  dy: Float32Array,
  s: number,
  pad: "same" | "valid",
): { dx: Float64Array; dw: Float64Array } {
  const [n, h, wd, ci] = xShape;
  const [kh, kw, , co] = wShape;
  const { outH, outW, padTop, padLeft } = convGeometry(h, wd, kh, kw, s, pad);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let a = 0; a < kh; a++) {
          const r = oy * s + a - padTop;
          if (r < 0 || r >= h) continue;
          for (let c = 0; c < kw; c++) {
            const col = ox * s + c - padLeft;
            if (col < 0 || col >= wd) continue;
            for (let i = 0; i < ci; i++) {
              const xi = ((b * h + r) * wd + col) * ci + i;
              for (let o = 0; o < co; o++) {
                const g = dy[((b * outH + oy) * outW + ox) * co + o]!;
                const wi = ((a * kw + c) * ci + i) * co + o;
                dw[wi]! += x[xi]! * g;
                dx[xi]! += w[wi]! * g;
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw };
}

/** The live tensor count and the backend's live data buffers (wasm intermediates included). */
export function memorySnapshot(): { tensors: number; buffers: number } {
  return { tensors: tf.memory().numTensors, buffers: tf.engine().backend.numDataIds() };
}

/**
 * Float64 closed form of training-mode BatchNorm and its gradients over x viewed as
 * [rows, units] (units last).
 */
export function batchNormReference(
  x: Float32Array,
  dy: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  units: number,
  eps: number,
): {
  y: number[];
  mean: number[];
  variance: number[];
  dx: number[];
  dGamma: number[];
  dBeta: number[];
} {
  const rows = x.length / units;
  const mean = new Array<number>(units).fill(0);
  const variance = new Array<number>(units).fill(0);
  for (let i = 0; i < x.length; i++) mean[i % units]! += x[i]! / rows;
  for (let i = 0; i < x.length; i++) variance[i % units]! += (x[i]! - mean[i % units]!) ** 2 / rows;
  const rstd = variance.map((v) => 1 / Math.sqrt(v + eps));
  const xhat = Array.from(x, (v, i) => (v - mean[i % units]!) * rstd[i % units]!);
  const y = xhat.map((v, i) => v * gamma[i % units]! + beta[i % units]!);
  const dBeta = new Array<number>(units).fill(0);
  const dGamma = new Array<number>(units).fill(0);
  for (let i = 0; i < x.length; i++) {
    dBeta[i % units]! += dy[i]!;
    dGamma[i % units]! += dy[i]! * xhat[i]!;
  }
  const dx = xhat.map((v, i) => {
    const j = i % units;
    return gamma[j]! * rstd[j]! * (dy[i]! - dBeta[j]! / rows - v * dGamma[j]! / rows);
  });
  return { y, mean, variance, dx, dGamma, dBeta };
}

/**
 * A small VGG's loss gradients on a fixed batch of 4 images (init seed 0), on the current
 * backend, and the kernels they ran, in order (custom-gradient scopes, which are not kernels,
 * left out).
 */
export async function profiledVggGradients(
  normalization: Normalization,
  width: number,
): Promise<{ grads: Float32Array[]; kernels: string[] }> {
  const network = createVgg({ normalization, width });
  const x = tf.tensor4d(normals(4 * 32 * 32 * 3, 1), [4, 32, 32, 3]);
  const labels = tf.tensor1d([0, 3, 7, 9], "int32");
  const params = network.init(0);
  const { tensors, slots } = flattenParams(params);
  let grads: Float32Array[] = [];
  const info = await tf.profile(async () => {
    const gs = tf.tidy(() =>
      tf.grads((...ws: tf.Tensor[]) => {
        const { output } = network.forward(unflattenParams(ws, slots), x, { training: true });
        return network.loss(output, labels);
      })(tensors)
    );
    grads = await Promise.all(gs.map(async (g) => Float32Array.from(await g.data())));
    tf.dispose(gs);
  });
  disposeParams(params);
  tf.dispose([x, labels]);
  const kernels = info.kernels.map((k) => k.name)
    .filter((name) => tf.getKernel(name, tf.getBackend()) !== undefined);
  return { grads, kernels };
}
