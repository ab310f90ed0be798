/**
 * Full SGD step of the VGG (PROTOCOL.md) in images/s on the current backend, with and without
 * BatchNorm, beside the same model and batch in PyTorch fp32 on the same device (when python3 has
 * torch), measured in the same run so the ratio is meaningful.
 */
import * as tf from "@tensorflow/tfjs";
import { createVgg } from "../../lib/models/vgg.ts";
import type { Normalization } from "../../lib/models/types.ts";
import { disposeState, initialState, SGD_DEFAULTS, train } from "../../lib/train.ts";
import { Random, STREAMS } from "../../lib/rng.ts";
import { nativeKernels, setNativeKernels } from "../../lib/kernels/native.ts";

/** One measured configuration. */
export interface StepBenchRow {
  width: number;
  batch: number;
  normalization: Normalization;
  /** What ran the heavy kernels: the native library's description, or "wasm". */
  kernels: string;
  msPerStep: number;
  imagesPerSecond: number;
  /** PyTorch fp32 on the same device, when available. */
  torchImagesPerSecond: number | null;
  /** Ours / PyTorch. */
  ratio: number | null;
}

/** Options of {@link benchStep}. */
export interface StepBenchOptions {
  widths: number[];
  batch: number;
  /** Timed steps per configuration (after two warm-up steps). */
  steps: number;
  torch: boolean;
  torchDevice: "cpu" | "cuda";
}

async function timeSteps(
  normalization: Normalization,
  width: number,
  batch: number,
  steps: number,
): Promise<number> {
  const network = createVgg({ normalization, width });
  const random = new Random(0, STREAMS.data);
  const x = tf.tensor4d(random.fillNormal(new Float32Array(batch * 32 * 32 * 3)), [
    batch,
    32,
    32,
    3,
  ]);
  const y = tf.tensor1d(Int32Array.from({ length: batch }, () => random.int(10)), "int32");
  const source = { batch: () => ({ x: tf.clone(x), targets: tf.clone(y) }) };
  const config = { ...SGD_DEFAULTS, learningRate: 0.01, seed: 0, steps: 2, metricsEvery: 2 };
  let state = (await train(network, source, config, initialState(network, 0))).state; // warm-up
  const start = performance.now();
  const outcome = await train(
    network,
    source,
    { ...config, steps: 2 + steps, metricsEvery: steps },
    state,
  );
  const ms = (performance.now() - start) / steps; // the block read-back waits for the device
  state = outcome.state;
  disposeState(state);
  tf.dispose([x, y]);
  return ms;
}

interface TorchReport {
  torch: string;
  threads: number;
  results: { width: number; batchnorm: boolean; imagesPerSecond: number }[];
}

async function torchBaseline(options: StepBenchOptions): Promise<TorchReport | null> {
  const script = new URL("./torch_vgg.py", import.meta.url).pathname;
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const args = [script, "--batch", String(options.batch), "--steps", String(options.steps)];
      for (const w of options.widths) args.push("--width", String(w));
      args.push("--device", options.torchDevice);
      const out = await new Deno.Command(python, {
        args,
        env: { OMP_NUM_THREADS: String(navigator.hardwareConcurrency) },
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.success) return JSON.parse(new TextDecoder().decode(out.stdout)) as TorchReport;
    } catch {
      // this python is absent: try the next one
    }
  }
  return null;
}

/**
 * Measures images/s for each width, with and without BatchNorm.
 *
 * @param options Widths, batch, timed steps, PyTorch baseline.
 * @returns One row per configuration (also printed as a table).
 */
export async function benchStep(options: StepBenchOptions): Promise<StepBenchRow[]> {
  const torch = options.torch ? await torchBaseline(options) : null;
  if (options.torch && torch === null) {
    console.log(
      "PyTorch baseline skipped: no python3 with torch (Debian: apt-get install python3-torch)",
    );
  } else if (torch !== null) {
    console.log(`PyTorch ${torch.torch} fp32 on ${options.torchDevice}, ${torch.threads} threads`);
  }
  const rows: StepBenchRow[] = [];
  // With native kernels installed, each configuration is timed with them and again with
  // everything in wasm, side by side.
  const native = nativeKernels();
  const variants = native === null ? [null] : [native, null];
  for (const width of options.widths) {
    for (const normalization of ["batchnorm", "none"] as const) {
      for (const variant of variants) {
        setNativeKernels(variant);
        let ms: number;
        try {
          ms = await timeSteps(normalization, width, options.batch, options.steps);
        } finally {
          setNativeKernels(native);
        }
        const imagesPerSecond = options.batch / (ms / 1000);
        const reference = torch?.results.find((r) =>
          r.width === width && r.batchnorm === (normalization === "batchnorm")
        );
        const torchImagesPerSecond = reference?.imagesPerSecond ?? null;
        rows.push({
          width,
          batch: options.batch,
          normalization,
          kernels: variant?.description ?? "wasm",
          msPerStep: ms,
          imagesPerSecond,
          torchImagesPerSecond,
          ratio: torchImagesPerSecond === null ? null : imagesPerSecond / torchImagesPerSecond,
        });
      }
    }
  }
  console.log("\nSGD step (VGG, PROTOCOL.md)");
  console.log(
    "width  batch  norm        kernels   ms/step   images/s   torch images/s   ours/torch",
  );
  for (const r of rows) {
    console.log(
      [
        r.width.toString().padEnd(5),
        r.batch.toString().padStart(5),
        r.normalization.padEnd(10),
        (r.kernels === "wasm" ? "wasm" : r.kernels.split(" ")[0]!).padEnd(6),
        r.msPerStep.toFixed(1).padStart(9),
        r.imagesPerSecond.toFixed(1).padStart(10),
        (r.torchImagesPerSecond?.toFixed(1) ?? "-").padStart(16),
        (r.ratio?.toFixed(3) ?? "-").padStart(12),
      ].join("  "),
    );
  }
  return rows;
}
