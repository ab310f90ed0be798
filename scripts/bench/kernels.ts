/**
 * Kernel table of the VGG (PROTOCOL.md) at one width and batch: for every layer shape, the
 * forward convolution, its input and filter gradients, BatchNorm forward+backward, max-pool
 * forward+backward and the dense layers forward and backward, each as the median wall time over
 * a few repetitions after warm-up, with GFLOP/s (2 x multiply-adds) where the op is a product.
 *
 * `deno task bench kernels` prints the table for the chosen backend. Run alone, the script
 * compares backends on one table (stock wasm before this project's kernels are registered, wasm
 * with them, the cpu backend), reports the filter-gradient time relative to the forward
 * convolution, and times full SGD steps of the VGG with BatchNorm:
 *
 *   deno run -A scripts/bench/kernels.ts [--width 0.25] [--batch 32] [--reps 3]
 *     [--threads N] [--no-cpu] [--no-table] [--no-step]
 *
 * `--threads N` starts the wasm backend with N XNNPACK threads (lib/kernels/wasm_threads.ts).
 * Default run: width 1/4, batch 32, about a minute on a 2-core CPU.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { enableWasmThreads, registerTrainingKernels } from "../../lib/kernels/mod.ts";
import { normalize } from "../../lib/models/norm.ts";
import {
  createVgg,
  scaledWidth,
  VGG_CONV_WIDTHS,
  VGG_DENSE_WIDTH,
  VGG_INPUT_SIZE,
  VGG_POOL_AFTER,
} from "../../lib/models/vgg.ts";
import { Random, STREAMS } from "../../lib/rng.ts";
import { disposeState, initialState, SGD_DEFAULTS, train } from "../../lib/train.ts";

/** The ops the table times. */
export type KernelOp =
  | "conv forward"
  | "conv input grad"
  | "conv filter grad"
  | "batchnorm fwd+bwd"
  | "maxpool fwd+bwd"
  | "dense forward"
  | "dense backward";

/** One row of the kernel table. */
export interface KernelBenchRow {
  /** Layer name of the VGG: conv1..conv8, dense9..dense11. */
  layer: string;
  op: KernelOp;
  /** Input shape and output channels, e.g. "32x32x32x3 -> 16". */
  shape: string;
  /** Median wall time in ms; NaN where the backend lacks the kernel. */
  ms: number;
  /** 2 x multiply-adds / time in GFLOP/s; null for memory-bound ops (norm, pool). */
  gflops: number | null;
}

/** Options of {@link benchKernels}. */
export interface KernelBenchOptions {
  /** Backend to time on (switched to when it is not the current one). */
  backend: string;
  /** Channel-width multiplier of the VGG (1 = the paper's widths). */
  width: number;
  /** Batch size. */
  batch: number;
  /** Timed repetitions per op (median reported). Default 3. */
  reps?: number;
  /** Untimed warm-up calls per op. Default 2. */
  warmup?: number;
}

/** One op to time: builds its outputs from tensors prepared outside the timed region. */
interface Case {
  layer: string;
  op: KernelOp;
  shape: string;
  /** Multiply-adds, or null for memory-bound ops. */
  macs: number | null;
  run: () => tf.Tensor | tf.Tensor[];
}

/** Random normal tensor from the project's generator (no tf.random*: seeded and backend-free). */
function normalTensor(random: Random, shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(random.fillNormal(new Float32Array(size)), shape);
}

/** Waits until every output is computed (one 1-element read-back: a sync point on GPUs too). */
async function settle(out: tf.Tensor | tf.Tensor[]): Promise<void> {
  const all = Array.isArray(out) ? out : [out];
  const last = all[all.length - 1]!;
  const probe = tf.tidy(() => tf.slice(tf.reshape(last, [-1]), 0, 1));
  await probe.data();
  tf.dispose([probe, ...all]);
}

/** Median wall time of `run` in ms (NaN when it throws, e.g. a missing kernel). */
async function medianMs(run: Case["run"], reps: number, warmup: number): Promise<number> {
  try {
    for (let i = 0; i < warmup; i++) await settle(run());
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const start = performance.now();
      await settle(run());
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } catch {
    return NaN;
  }
}

/** Inputs of every case, created once (disposed by the caller). */
function buildCases(width: number, batch: number, random: Random): {
  cases: Case[];
  inputs: tf.Tensor[];
} {
  const cases: Case[] = [];
  const inputs: tf.Tensor[] = [];
  const keep = (t: tf.Tensor): tf.Tensor => (inputs.push(t), t);
  let size = VGG_INPUT_SIZE;
  let cin = 3;
  VGG_CONV_WIDTHS.forEach((base, i) => {
    const layer = `conv${i + 1}`;
    const cout = scaledWidth(base, width);
    const xShape: [number, number, number, number] = [batch, size, size, cin];
    const x = keep(normalTensor(random, xShape)) as tf.Tensor4D; // [B, S, S, Cin]
    const w = keep(normalTensor(random, [3, 3, cin, cout])) as tf.Tensor4D; // [3, 3, Cin, Cout]
    const dy = keep(normalTensor(random, [batch, size, size, cout])) as tf.Tensor4D; // [B, S, S, Cout]
    const macs = batch * size * size * 9 * cin * cout;
    const shape = `${xShape.join("x")} -> ${cout}`;
    cases.push(
      { layer, op: "conv forward", shape, macs, run: () => tf.conv2d(x, w, 1, "same") },
      {
        layer,
        op: "conv input grad",
        shape,
        macs,
        run: () => tf.conv2dTranspose(dy, w, xShape, 1, "same"),
      },
      {
        layer,
        op: "conv filter grad",
        shape,
        macs,
        // No public op runs this kernel alone; it is what tf.grad of conv2d calls.
        run: () =>
          tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
            strides: [1, 1],
            pad: "same",
            dataFormat: "NHWC",
            filterShape: [3, 3, cin, cout],
          }) as tf.Tensor,
      },
    );
    const gamma = keep(tf.ones([cout]));
    const beta = keep(tf.zeros([cout]));
    const grads = tf.grads((z: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(
        normalize(z, "batchnorm", { training: true, layer: i + 1, gamma: g, beta: b }).output,
        dy,
      ))
    );
    cases.push({
      layer,
      op: "batchnorm fwd+bwd",
      shape: `${batch}x${size}x${size}x${cout}`,
      macs: null,
      run: () => grads([dy, gamma, beta]),
    });
    if (VGG_POOL_AFTER.includes(i + 1)) {
      const dyPool = keep(normalTensor(random, [batch, size / 2, size / 2, cout]));
      const poolGrad = tf.grad((a: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid"), dyPool))
      );
      cases.push({
        layer,
        op: "maxpool fwd+bwd",
        shape: `${batch}x${size}x${size}x${cout}`,
        macs: null,
        run: () => poolGrad(dy),
      });
      size /= 2;
    }
    cin = cout;
  });
  const dense = scaledWidth(VGG_DENSE_WIDTH, width);
  const dims: [number, number][] = [[cin * size * size, dense], [dense, dense], [dense, 10]];
  dims.forEach(([nin, nout], k) => {
    const layer = `dense${9 + k}`;
    const x = keep(normalTensor(random, [batch, nin])) as tf.Tensor2D; // [B, in]
    const w = keep(normalTensor(random, [nin, nout])) as tf.Tensor2D; // [in, out]
    const dy = keep(normalTensor(random, [batch, nout])) as tf.Tensor2D; // [B, out]
    const shape = `${batch}x${nin} -> ${nout}`;
    const macs = batch * nin * nout;
    cases.push(
      { layer, op: "dense forward", shape, macs, run: () => tf.matMul(x, w) },
      {
        layer,
        op: "dense backward",
        shape,
        macs: 2 * macs,
        // dx = dy W^T and dW = x^T dy: the two products of matMul's gradient.
        run: () => [tf.matMul(dy, w, false, true), tf.matMul(x, dy, true, false)],
      },
    );
  });
  return { cases, inputs };
}

/**
 * Times every op of the VGG's layer shapes on one backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { benchKernels } from "./kernels.ts";
 * import { equal } from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const rows = await benchKernels({ backend: "cpu", width: 1 / 32, batch: 1, reps: 1, warmup: 0 });
 * equal(rows.filter((r) => r.op === "conv forward").length, 8);
 * ```
 *
 * @param options Backend, width multiplier, batch, repetitions.
 * @returns One row per layer and op, in layer order.
 */
export async function benchKernels(options: KernelBenchOptions): Promise<KernelBenchRow[]> {
  const { backend, width, batch } = options;
  const reps = options.reps ?? 3;
  const warmup = options.warmup ?? 2;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`Cannot bench kernels: batch must be a positive integer, got ${batch}`);
  }
  if (!Number.isInteger(reps) || reps < 1) {
    throw new RangeError(`Cannot bench kernels: reps must be a positive integer, got ${reps}`);
  }
  if (tf.getBackend() !== backend) {
    if (!(await tf.setBackend(backend))) {
      throw new Error(`Cannot bench kernels: backend ${backend} failed to initialise`);
    }
  }
  await tf.ready();
  const { cases, inputs } = buildCases(width, batch, new Random(0, STREAMS.measure));
  const rows: KernelBenchRow[] = [];
  for (const c of cases) {
    const ms = await medianMs(c.run, reps, warmup);
    const gflops = c.macs === null || !Number.isFinite(ms) ? null : (2 * c.macs) / (ms * 1e6);
    rows.push({ layer: c.layer, op: c.op, shape: c.shape, ms, gflops });
  }
  tf.dispose(inputs);
  return rows;
}

/** A column of times to print beside the main table. */
export interface ExtraColumn {
  /** Header, e.g. "cpu ms". */
  title: string;
  /** Times in the same row order as the table (NaN prints as "-"). */
  ms: number[];
}

/**
 * Formats rows as an aligned text table, with optional extra time columns.
 *
 * @param rows The table.
 * @param extra Columns printed after GFLOP/s (same row order).
 * @returns The table as lines joined by newlines.
 */
export function formatKernelTable(rows: KernelBenchRow[], extra: ExtraColumn[] = []): string {
  const fmt = (v: number, digits: number) => Number.isFinite(v) ? v.toFixed(digits) : "-";
  const header = ["layer", "op", "shape", "ms", "GFLOP/s", ...extra.map((e) => e.title)];
  const body = rows.map((r, i) => [
    r.layer,
    r.op,
    r.shape,
    fmt(r.ms, 2),
    r.gflops === null ? "" : fmt(r.gflops, 1),
    ...extra.map((e) => fmt(e.ms[i] ?? NaN, 2)),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => c < 3 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** Median ms per full SGD step (forward, backward, update) of the VGG with BatchNorm. */
async function stepMs(width: number, batch: number, steps: number): Promise<number> {
  const network = createVgg({ normalization: "batchnorm", width });
  const random = new Random(0, STREAMS.data);
  const x = normalTensor(random, [batch, VGG_INPUT_SIZE, VGG_INPUT_SIZE, 3]);
  const y = tf.tensor1d(Int32Array.from({ length: batch }, () => random.int(10)), "int32");
  const source = { batch: () => ({ x: tf.clone(x), targets: tf.clone(y) }) };
  const config = { ...SGD_DEFAULTS, learningRate: 0.01, seed: 0, steps: 2, metricsEvery: 1 };
  let state = (await train(network, source, config, initialState(network, 0))).state; // warm-up
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    // metricsEvery 1: the step's loss is read back, so the time covers all of its work.
    state = (await train(network, source, { ...config, steps: state.step + 1 }, state)).state;
    times.push(performance.now() - start);
  }
  disposeState(state);
  tf.dispose([x, y]);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Prints the kernel table: this project's wasm kernels beside stock wasm (and cpu). */
async function tables(
  width: number,
  batch: number,
  reps: number,
  cpuColumn: boolean,
): Promise<void> {
  // Stock wasm first: our kernels replace some stock ones once registered.
  const stock = await benchKernels({ backend: "wasm", width, batch, reps });
  registerTrainingKernels();
  const ours = await benchKernels({ backend: "wasm", width, batch, reps });
  const extra: ExtraColumn[] = [{ title: "stock wasm ms", ms: stock.map((r) => r.ms) }];
  extra.push({
    title: "speed-up",
    ms: ours.map((r, i) => stock[i]!.ms / r.ms),
  });
  if (cpuColumn) {
    const cpu = await benchKernels({ backend: "cpu", width, batch, reps: 1, warmup: 0 });
    extra.push({ title: "cpu ms", ms: cpu.map((r) => r.ms) });
    await tf.setBackend("wasm");
  }
  console.log(formatKernelTable(ours, extra));

  console.log("\nfilter gradient / forward convolution (wasm, this project's kernels):");
  let forwardTotal = 0;
  let filterTotal = 0;
  let inputTotal = 0;
  for (const row of ours) {
    if (row.op !== "conv filter grad") continue;
    const fwd = ours.find((r) => r.layer === row.layer && r.op === "conv forward")!;
    const dx = ours.find((r) => r.layer === row.layer && r.op === "conv input grad")!;
    forwardTotal += fwd.ms;
    filterTotal += row.ms;
    if (row.layer !== "conv1") inputTotal += dx.ms; // training never needs conv1's input grad
    console.log(`  ${row.layer.padEnd(6)} ${(row.ms / fwd.ms).toFixed(2)}x`);
  }
  console.log(
    `  all    ${(filterTotal / forwardTotal).toFixed(2)}x; conv ms per step: forward ${
      forwardTotal.toFixed(1)
    }, input grads ${inputTotal.toFixed(1)}, filter grads ${filterTotal.toFixed(1)}`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      width: { type: "string", default: "0.25" },
      batch: { type: "string", default: "32" },
      reps: { type: "string", default: "3" },
      steps: { type: "string", default: "5" },
      threads: { type: "string" },
      "no-cpu": { type: "boolean", default: false },
      "no-table": { type: "boolean", default: false },
      "no-step": { type: "boolean", default: false },
    },
  });
  const width = Number(values.width);
  const batch = Number(values.batch);
  const reps = Number(values.reps);
  const steps = Number(values.steps);
  tf.enableProdMode();
  let threads = 1;
  if (values.threads !== undefined) {
    threads = await enableWasmThreads(Number(values.threads));
  } else {
    await tf.setBackend("wasm");
  }
  console.log(
    `wasm backend, ${threads} thread(s); VGG width ${width}, batch ${batch}, ${reps} reps`,
  );

  if (!values["no-table"]) await tables(width, batch, reps, !values["no-cpu"]);
  registerTrainingKernels();
  if (!values["no-step"]) {
    const ms = await stepMs(width, batch, steps);
    console.log(
      `\nfull SGD step, VGG width ${width} + BatchNorm, batch ${batch}, wasm ${threads} thread(s): ${
        ms.toFixed(1)
      } ms = ${(batch / ms * 1000).toFixed(1)} images/s (median of ${steps})`,
    );
  }
}

if (import.meta.main) await main();
