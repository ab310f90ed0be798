/**
 * WebGPU convolution kernels at the VGG's conv layer shapes (PROTOCOL.md), on the current
 * adapter: the forward convolution, tfjs-webgpu's stock filter and input gradients and this
 * project's (lib/kernels/webgpu_conv_grads.ts), each the median wall time of a few runs after
 * warm-up (each run ends with a 4-byte read-back of one element so the GPU work is included),
 * and each gradient's ratio to the forward convolution at the same shape (the target: at most
 * 2x; the input gradient does the forward's multiply-adds, so about 1x is the fair mark).
 *
 *   deno run -A scripts/bench/webgpu_kernels.ts [--width 0.125] [--batch 8] [--reps 3]
 *
 * Defaults are small because Mesa's llvmpipe runs WGSL on the CPU; on a GPU use --width 1
 * --batch 128.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { parseArgs } from "node:util";
import {
  registerWebGpuTrainingKernels,
  stockWebGpuKernel,
} from "../../lib/kernels/webgpu_conv_grads.ts";
import {
  scaledWidth,
  VGG_CONV_WIDTHS,
  VGG_INPUT_SIZE,
  VGG_POOL_AFTER,
} from "../../lib/models/vgg.ts";
import { Random } from "../../lib/rng.ts";

/** Options of {@link benchWebGpuKernels}. */
export interface WebGpuKernelBenchOptions {
  /** Channel-width multiplier of the VGG (1 = the paper's widths). Default 1/8. */
  width?: number;
  /** Batch size. Default 8. */
  batch?: number;
  /** Timed repetitions per op (median reported). Default 3. */
  reps?: number;
  /** Untimed warm-up runs per op. Default 1. */
  warmup?: number;
}

/** One conv layer's timings. */
export interface WebGpuKernelRow {
  /** conv1..conv8. */
  layer: string;
  /** e.g. "8x32x32x3 -> 8". */
  shape: string;
  /** Forward convolution, median ms. */
  forwardMs: number;
  /** tfjs-webgpu's stock Conv2DBackpropFilter, median ms. */
  stockFilterMs: number;
  /** This project's Conv2DBackpropFilter, median ms. */
  filterMs: number;
  /** stockFilterMs / forwardMs. */
  stockRatio: number;
  /** filterMs / forwardMs (target: at most 2). */
  ratio: number;
  /** tfjs-webgpu's stock Conv2DBackpropInput, median ms. */
  stockInputMs: number;
  /** This project's Conv2DBackpropInput, median ms. */
  inputMs: number;
  /** stockInputMs / forwardMs. */
  stockInputRatio: number;
  /** inputMs / forwardMs. */
  inputRatio: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median ms of `run`, each run followed by a one-element read-back (a queue flush). */
async function time(run: () => tf.Tensor, reps: number, warmup: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const start = performance.now();
    const out = run();
    const probe = tf.slice(tf.reshape(out, [-1]), 0, 1);
    await probe.data();
    const ms = performance.now() - start;
    tf.dispose([out, probe]);
    if (i >= warmup) times.push(ms);
  }
  return median(times);
}

/**
 * Times the forward convolution and the stock and our filter and input gradients at every conv
 * layer of the VGG.
 * Switches to the webgpu backend and registers this project's kernels.
 *
 * @param options Width, batch and repetitions.
 * @returns One row per conv layer.
 * @throws {Error} When the webgpu backend cannot start.
 */
export async function benchWebGpuKernels(
  options: WebGpuKernelBenchOptions = {},
): Promise<WebGpuKernelRow[]> {
  const width = options.width ?? 1 / 8;
  const batch = options.batch ?? 8;
  const reps = options.reps ?? 3;
  const warmup = options.warmup ?? 1;
  registerWebGpuTrainingKernels();
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error("Cannot benchmark webgpu kernels: tf.setBackend('webgpu') returned false");
  }
  await tf.ready();
  const stock = stockWebGpuKernel("Conv2DBackpropFilter");
  const stockInput = stockWebGpuKernel("Conv2DBackpropInput");
  if (stock === undefined || stockInput === undefined) {
    throw new Error("Cannot benchmark webgpu kernels: a stock conv gradient was not found");
  }
  const random = new Random(1, 9003);
  const rows: WebGpuKernelRow[] = [];
  let size = VGG_INPUT_SIZE;
  let channels = 3;
  for (const [i, base] of VGG_CONV_WIDTHS.entries()) {
    const out = scaledWidth(base, width);
    const xShape: [number, number, number, number] = [batch, size, size, channels];
    const filterShape: [number, number, number, number] = [3, 3, channels, out];
    const normal = (shape: number[]) =>
      tf.tensor(random.fillNormal(new Float32Array(shape.reduce((a, b) => a * b))), shape);
    const x = normal(xShape) as tf.Tensor4D; // [B, H, W, Ci]
    const filter = normal(filterShape) as tf.Tensor4D; // [3, 3, Ci, Co]
    const dy = normal([batch, size, size, out]) as tf.Tensor4D; // [B, H, W, Co]
    const attrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC", filterShape };
    const ours = () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs as never) as tf.Tensor;
    const theirs = () => {
      const info = stock({ inputs: { x, dy }, backend: tf.backend(), attrs: attrs as never });
      return tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
    };
    const inputAttrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC", inputShape: xShape };
    const oursInput = () =>
      tf.engine().runKernel(
        "Conv2DBackpropInput",
        { dy, filter },
        inputAttrs as never,
      ) as tf.Tensor;
    const theirsInput = () => {
      const inputs = { dy, filter };
      const info = stockInput({ inputs, backend: tf.backend(), attrs: inputAttrs as never });
      return tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
    };
    const forwardMs = await time(() => tf.conv2d(x, filter, 1, "same"), reps, warmup);
    const stockFilterMs = await time(theirs, reps, warmup);
    const filterMs = await time(ours, reps, warmup);
    const stockInputMs = await time(theirsInput, reps, warmup);
    const inputMs = await time(oursInput, reps, warmup);
    rows.push({
      layer: `conv${i + 1}`,
      shape: `${xShape.join("x")} -> ${out}`,
      forwardMs,
      stockFilterMs,
      filterMs,
      stockRatio: stockFilterMs / forwardMs,
      ratio: filterMs / forwardMs,
      stockInputMs,
      inputMs,
      stockInputRatio: stockInputMs / forwardMs,
      inputRatio: inputMs / forwardMs,
    });
    tf.dispose([x, filter, dy]);
    channels = out;
    if (VGG_POOL_AFTER.includes(i + 1)) size /= 2;
  }
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      width: { type: "string", default: "0.125" },
      batch: { type: "string", default: "8" },
      reps: { type: "string", default: "3" },
    },
  });
  const adapter = await navigator.gpu?.requestAdapter();
  if (adapter == null) {
    console.error("No WebGPU adapter: nothing to benchmark");
    Deno.exit(1);
  }
  console.log(`adapter: ${adapter.info.description || adapter.info.device}`);
  tf.enableProdMode();
  const rows = await benchWebGpuKernels({
    width: Number(values.width),
    batch: Number(values.batch),
    reps: Number(values.reps),
  });
  console.log(
    "layer  shape                 fwd ms  stock dW ms (x fwd)  ours dW ms (x fwd)  " +
      "stock dX ms (x fwd)  ours dX ms (x fwd)",
  );
  const cell = (ms: number, ratio: number) =>
    `${ms.toFixed(1).padStart(8)} (${ratio.toFixed(2).padStart(5)})`;
  for (const r of rows) {
    console.log(
      `${r.layer.padEnd(6)} ${r.shape.padEnd(21)} ${r.forwardMs.toFixed(1).padStart(6)}  ` +
        `${cell(r.stockFilterMs, r.stockRatio)}     ${cell(r.filterMs, r.ratio)}  ` +
        `${cell(r.stockInputMs, r.stockInputRatio)}     ${cell(r.inputMs, r.inputRatio)}`,
    );
  }
}
