/**
 * Gradient configs that keep the backward pass on the device.
 *
 * Stock tfjs 4.22 builds `ones(x.shape)` on the host in the gradients of `Sum` and `Mean`
 * (`mul(dy, ones(x.shape))`) — an activation-sized upload per BatchNorm statistic on GPU
 * backends, where host uploads run at ~25 MB/s — and the `FusedBatchNorm` gradient tiles
 * 1/sqrt(var) to the full activation shape with `Tile` before multiplying (and throws for
 * statistics with kept dims, e.g. [1, 1, 1, C] from `tf.moments(x, axes, true)`: it reshapes the
 * unreduced [N, H, W, C] mean gradient to [1, 1, 1, C]). The replacements broadcast on the device
 * and return the same values: `Sum`/`Mean` broadcast the reshaped dy with `tf.broadcastTo` (one
 * kernel; `wasm_conv_grads.ts` makes wasm's `Tile` behind it memcpy-fast), `FusedBatchNorm`
 * multiplies with broadcasting and reduces every statistic's gradient over its broadcast axes,
 * `Max`/`Min` compare x with the extremum broadcast to x's shape (see {@link extremumGrad}).
 *
 * Checked op by op: the gradients of the ops our models use that are not replaced here
 * (`Abs`, `Pow`, `Relu`, `Rsqrt`, `Sub`/`Add`/`Mul`/`Div` with
 * broadcasting via `sum`, `MaxPool` via `MaxPoolGrad`, `Softmax`/`LogSoftmax`, `GatherV2`,
 * `OneHot`, `BatchMatMul`, `Conv2D`) build nothing activation-sized on the host.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { sharedView } from "./saved_tensors.ts";
import { RELU_GRAD } from "./wasm_relu.ts";

/** The shape of x with the reduced axes kept as size 1 (where dy's values belong). */
function keepDimsShape(shape: readonly number[], axes: readonly number[]): number[] {
  const out = shape.slice();
  for (const a of axes) out[a] = 1;
  return out;
}

/** Sum: dx = dy broadcast back over the reduced axes. */
const sumGrad: tf.GradConfig = {
  kernelName: "Sum",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    if (x === undefined || Array.isArray(dy)) {
      throw new TypeError(
        `Cannot differentiate Sum: expected one saved input and one dy, got ${saved.length} and ${
          Array.isArray(dy) ? dy.length : 1
        }`,
      );
    }
    const { axis } = attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    // [..., 1 on reduced axes, ...] -> x.shape, on the device
    return {
      x: () => tf.broadcastTo(tf.reshape(dy, keepDimsShape(x.shape, axes)), x.shape),
    };
  },
};

/** Mean: dx = dy / (number of reduced elements), broadcast back over the reduced axes. */
const meanGrad: tf.GradConfig = {
  kernelName: "Mean",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    if (x === undefined || Array.isArray(dy)) {
      throw new TypeError(
        `Cannot differentiate Mean: expected one saved input and one dy, got ${saved.length} and ${
          Array.isArray(dy) ? dy.length : 1
        }`,
      );
    }
    const { axis } = attrs as unknown as tf.MeanAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const count = axes.reduce((p, a) => p * x.shape[a]!, 1);
    // Dividing the small dy before broadcasting gives bitwise the stock (dy * 1) / count.
    return {
      x: () =>
        tf.broadcastTo(
          tf.div(tf.reshape(dy, keepDimsShape(x.shape, axes)), count),
          x.shape,
        ),
    };
  },
};

/**
 * FusedBatchNorm (`tf.batchNorm`): y = (x - mean) * rsqrt(var + eps) * scale + offset. The
 * stock formulas, with the Tile of rsqrt replaced by broadcasting.
 */
const fusedBatchNormGrad: tf.GradConfig = {
  kernelName: "FusedBatchNorm",
  inputsToSave: ["x", "mean", "variance", "scale"],
  gradFunc: (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    if (x === undefined || mean === undefined || variance === undefined || Array.isArray(dy)) {
      throw new TypeError(
        `Cannot differentiate FusedBatchNorm: expected saved x, mean, variance and one dy, got ${saved.length} saved`,
      );
    }
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const scaleValue = scale ?? tf.scalar(1);
    // Axes over which a statistic was broadcast to x (the batch/spatial axes).
    const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: tf.Tensor): tf.Tensor =>
      tf.reshape(reductionAxes.length > 0 ? tf.sum(t, reductionAxes) : t, mean.shape);
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(dy, scaleValue);
    const rstd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon))); // [C] or x-broadcastable
    const minusHalfRCube = tf.mul(tf.mul(tf.mul(rstd, rstd), rstd), tf.scalar(-0.5));
    return {
      x: () => tf.reshape(tf.mul(tf.mul(dy, rstd), scaleValue), x.shape),
      mean: () => reduce(tf.mul(tf.mul(rstd, tf.scalar(-1)), dyTimesScale)),
      variance: () => reduce(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScale)),
      scale: () => reduce(tf.mul(dy, tf.mul(xMinusMean, rstd))),
      offset: () => reduce(dy),
    };
  },
};

/**
 * Max and Min: dx = dy where x equals the extremum, else 0 (the stock formula, same values), with
 * the extremum broadcast to x's shape first: wasm's `Equal` takes a generic per-element index path
 * when it broadcasts (454 ms for [128, 32, 32, 16] against [1, 1, 1, 16], 23 ms with
 * `broadcastTo`), which made the l_inf VGG ~3x slower per step than the l_2 one.
 */
function extremumGrad(kernelName: "Max" | "Min"): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ["x"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved;
      if (x === undefined || y === undefined || Array.isArray(dy)) {
        throw new TypeError(
          `Cannot differentiate ${kernelName}: expected saved x and y and one dy, got ${saved.length} saved`,
        );
      }
      // tfjs names the reduced axes differently in the two kernels.
      const axes = kernelName === "Max"
        ? (attrs as unknown as tf.MaxAttrs).reductionIndices
        : (attrs as unknown as tf.MinAttrs).axis;
      const kept = keepDimsShape(x.shape, tf.util.parseAxisParam(axes, x.shape));
      return {
        x: () => {
          const extremum = tf.broadcastTo(tf.reshape(y, kept), x.shape);
          const mask = tf.cast(tf.equal(x, extremum), dy.dtype);
          return tf.mul(tf.reshape(dy, kept), mask);
        },
      };
    },
  };
}

const maxGrad = extremumGrad("Max");
const minGrad = extremumGrad("Min");

/**
 * Relu: dx = dy * step(x). Stock tfjs casts step(x) to float32 first; for float32 x (every
 * activation here) step is float32 already, and the cast is one more kernel call per ReLU
 * per step. Same values: step(NaN) is NaN, step(0) is 0, as before. Where the backend has the
 * fused `ReluGrad` kernel it is one call instead of `Step` and `Multiply`.
 */
const reluGrad: tf.GradConfig = {
  kernelName: "Relu",
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    if (x === undefined || Array.isArray(dy)) {
      throw new TypeError(
        `Cannot differentiate Relu: expected one saved input and one dy, got ${saved.length} and ${
          Array.isArray(dy) ? dy.length : 1
        }`,
      );
    }
    return {
      x: () => {
        // One fused kernel where the backend has it (the same values: lib/kernels/wasm_relu.ts).
        if (tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined) {
          return tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor;
        }
        const mask = tf.step(x);
        return tf.mul(dy, mask.dtype === "float32" ? mask : tf.cast(mask, "float32"));
      },
    };
  },
};

/**
 * The gradient of one operand of a broadcasting Add: dy summed over the axes the operand was
 * broadcast along, in the operand's shape. Stock tfjs always ends with a `Reshape` kernel call,
 * also where dy already has the operand's shape (the activation side of a bias add) or the sum
 * has it (the bias side): here those are views without a kernel call. Same values.
 */
function broadcastOperandGrad(dy: tf.Tensor, shape: readonly number[], outShape: number[]) {
  const axes = tf.backend_util.getReductionAxes([...shape], outShape);
  const reduced = axes.length > 0 ? tf.sum(dy, axes) : dy;
  if (tf.util.arraysEqual(reduced.shape, [...shape])) {
    return sharedView(reduced, shape) ?? tf.reshape(reduced, [...shape]);
  }
  return tf.reshape(reduced, [...shape]);
}

/** Add: each operand's gradient is {@link broadcastOperandGrad} of dy. */
const addGrad: tf.GradConfig = {
  kernelName: "Add",
  inputsToSave: ["a", "b"],
  gradFunc: (dy, saved) => {
    const [a, b] = saved;
    if (a === undefined || b === undefined || Array.isArray(dy)) {
      throw new TypeError(
        `Cannot differentiate Add: expected two saved inputs and one dy, got ${saved.length}`,
      );
    }
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    return {
      a: () => broadcastOperandGrad(dy, a.shape, outShape),
      b: () => broadcastOperandGrad(dy, b.shape, outShape),
    };
  },
};

/** Kernels whose gradients `registerFastGradients()` replaces. */
export const FAST_GRADIENTS: readonly string[] = [
  sumGrad.kernelName,
  meanGrad.kernelName,
  fusedBatchNormGrad.kernelName,
  maxGrad.kernelName,
  minGrad.kernelName,
  reluGrad.kernelName,
  addGrad.kernelName,
];

/** Whether the configs are registered (to make registration idempotent). */
let registered = false;

/**
 * Replaces the gradients of `Sum`, `Mean`, `FusedBatchNorm`, `Max` and `Min` (all backends) with
 * versions that broadcast on the device instead of building `ones(x.shape)` on the host, tiling,
 * or comparing with broadcasting, `Relu`'s with one that skips a same-dtype cast, and `Add`'s with
 * one that skips no-op reshapes. Values are
 * unchanged (tests/kernels/gradients_test.ts). Idempotent.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerFastGradients } from "./gradients.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * registerFastGradients();
 * const g = tf.grad((x: tf.Tensor) => tf.mean(x))(tf.tensor1d([1, 2, 3, 4]));
 * deepEqual(Array.from(await g.data()), [0.25, 0.25, 0.25, 0.25]);
 * ```
 */
export function registerFastGradients(): void {
  if (registered) return;
  registered = true;
  for (
    const config of [sumGrad, meanGrad, fusedBatchNormGrad, maxGrad, minGrad, reluGrad, addGrad]
  ) {
    tf.registerGradient(config);
  }
}
