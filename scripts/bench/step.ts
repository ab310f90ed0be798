/**
 * Full SGD step of the VGG (PROTOCOL.md) in images/s on the current backend, beside the same
 * model and batch in PyTorch fp32 on the same device (when python3 has torch).
 *
 * Ratios are only trusted from timings taken side by side: each configuration is timed in
 * `rounds` rounds, ours then PyTorch's (ours, torch, ours, torch, ...), and the medians are
 * reported with their spread. One profiled step per configuration splits our step into the
 * convolution kernels, the other kernels and the time outside kernels (op dispatch, gradient
 * tape, JS), and counts kernel calls; on webgpu it also counts GPU dispatches and the bytes moved
 * between host and device.
 */
import * as tf from "@tensorflow/tfjs";
import { createVgg } from "../../lib/models/vgg.ts";
import type { Normalization } from "../../lib/models/types.ts";
import {
  disposeState,
  initialState,
  SGD_DEFAULTS,
  train,
  type TrainState,
} from "../../lib/train.ts";
import { Random, STREAMS } from "../../lib/rng.ts";
import { nativeKernels, setNativeKernels } from "../../lib/kernels/native.ts";
import { countGpuTraffic, type GpuTraffic } from "./gpu_counters.ts";

/** Where one profiled step's time goes (profiling itself adds to the time outside kernels). */
export interface StepProfile {
  /** Kernel invocations per SGD step (tfjs kernels; custom-gradient scopes not counted). */
  kernelCalls: number;
  /** ms in Conv2D and its two gradients. */
  convMs: number;
  /** ms in every other kernel. */
  otherKernelMs: number;
  /** The step's wall time minus its kernel time: dispatch, tape, JS, host work of the ops. */
  outsideMs: number;
  /** webgpu only: GPU dispatches and host<->device bytes per step. */
  gpu: GpuTraffic | null;
}

/** Median and range of repeated measurements. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One measured configuration. */
export interface StepBenchRow {
  width: number;
  batch: number;
  normalization: Normalization;
  /** What ran the heavy kernels: the native library's description, or the tfjs backend. */
  kernels: string;
  /** ms per step over the rounds. */
  msPerStep: Spread;
  /** From the median step time. */
  imagesPerSecond: number;
  /** PyTorch fp32 on the same device, images/s over the rounds; null when unavailable. */
  torchImagesPerSecond: Spread | null;
  /** Ours / PyTorch per round: median and range. */
  ratio: Spread | null;
  /** CPU time / wall time of our timed steps (median over rounds): cores kept busy. */
  coresBusy: number | null;
  profile: StepProfile;
}

/** Options of {@link benchStep}. */
export interface StepBenchOptions {
  widths: number[];
  batches: number[];
  normalizations: Normalization[];
  /** Timed steps per round (after two warm-up steps). */
  steps: number;
  /** Rounds of interleaved timing (ours, then PyTorch's) per configuration. */
  rounds: number;
  torch: boolean;
  torchDevice: "cpu" | "cuda";
  /** Also time each configuration with everything in wasm (no native kernels). */
  wasmToo: boolean;
}

const TORCH_NORMALIZATIONS: readonly Normalization[] = ["batchnorm", "none"];
const CONV_KERNELS = new Set(["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"]);
/**
 * Whether a profiled entry is a kernel call. tfjs also records each custom gradient's scope
 * ("unnamed scope", "forward", "logSoftmax__op", ...) as an entry whose time includes the
 * kernels inside: no kernel of that name is registered.
 */
const isKernelCall = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

/**
 * CPU seconds (user + system) this process has used, from /proc/self/stat (Linux); null
 * elsewhere. Divided by wall time it says how many cores a step keeps busy.
 */
function cpuSeconds(): number | null {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ)
  } catch {
    return null;
  }
}

/** A VGG with a fixed batch, warmed up, ready to time. */
interface Subject {
  network: ReturnType<typeof createVgg>;
  source: { batch: () => { x: tf.Tensor; targets: tf.Tensor } };
  state: TrainState;
  dispose(): void;
}

async function subject(
  normalization: Normalization,
  width: number,
  batch: number,
): Promise<Subject> {
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
  const s: Subject = {
    network,
    source,
    state: initialState(network, 0),
    dispose() {
      disposeState(s.state);
      tf.dispose([x, y]);
    },
  };
  await advance(s, 2); // warm-up: kernels compiled, primitives planned
  return s;
}

/** Trains `steps` more steps; one read-back at the end waits for the device. */
async function advance(s: Subject, steps: number): Promise<void> {
  const config = {
    ...SGD_DEFAULTS,
    learningRate: 0.01,
    seed: 0,
    steps: s.state.step + steps,
    metricsEvery: steps,
  };
  s.state = (await train(s.network, s.source, config, s.state)).state;
}

/** ms per step, and the cores kept busy (CPU time / wall time; null where unknown). */
async function timeSteps(s: Subject, steps: number): Promise<{ ms: number; cores: number | null }> {
  const cpuStart = cpuSeconds();
  const start = performance.now();
  await advance(s, steps);
  const wall = performance.now() - start;
  const cpuEnd = cpuSeconds();
  const cores = cpuStart === null || cpuEnd === null ? null : (cpuEnd - cpuStart) / (wall / 1000);
  return { ms: wall / steps, cores };
}

/** One step under `tf.profile`: kernel calls and times, and the step's own wall time. */
async function profileStep(s: Subject): Promise<StepProfile> {
  const traffic = tf.getBackend() === "webgpu" ? countGpuTraffic() : null;
  const start = performance.now();
  const info = await tf.profile(async () => {
    await advance(s, 1);
  });
  const wallMs = performance.now() - start;
  const gpu = traffic?.stop() ?? null;
  let kernelCalls = 0, convMs = 0, otherKernelMs = 0;
  for (const k of info.kernels) {
    if (!isKernelCall(k.name)) continue;
    kernelCalls++;
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    if (CONV_KERNELS.has(k.name)) convMs += ms;
    else otherKernelMs += ms;
  }
  const outsideMs = Math.max(0, wallMs - convMs - otherKernelMs);
  return { kernelCalls, convMs, otherKernelMs, outsideMs, gpu };
}

interface TorchResult {
  torch: string;
  threads: number;
  imagesPerSecond: number;
}

/** PyTorch's images/s for one configuration, or null where no python3 has torch. */
async function torchRun(
  width: number,
  batch: number,
  normalization: Normalization,
  options: StepBenchOptions,
): Promise<TorchResult | null> {
  const script = new URL("./torch_vgg.py", import.meta.url).pathname;
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const args = [script, "--batch", String(batch), "--steps", String(options.steps)];
      args.push("--width", String(width), "--norm", normalization, "--device", options.torchDevice);
      const out = await new Deno.Command(python, {
        args,
        env: { OMP_NUM_THREADS: String(navigator.hardwareConcurrency) },
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) continue;
      const report = JSON.parse(new TextDecoder().decode(out.stdout)) as {
        torch: string;
        threads: number;
        results: { imagesPerSecond: number }[];
      };
      return {
        torch: report.torch,
        threads: report.threads,
        imagesPerSecond: report.results[0]!.imagesPerSecond,
      };
    } catch {
      // this python is absent: try the next one
    }
  }
  return null;
}

/** Median and range. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError("Cannot summarise no measurements");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

/**
 * Measures images/s for each width, batch and normalisation.
 *
 * @param options Configurations, steps, rounds, PyTorch baseline.
 * @returns One row per configuration (also printed as a table).
 */
export async function benchStep(options: StepBenchOptions): Promise<StepBenchRow[]> {
  const rows: StepBenchRow[] = [];
  const native = nativeKernels();
  const variants = native === null || !options.wasmToo ? [native] : [native, null];
  let torchAvailable = options.torch;
  let torchNamed = false;
  for (const batch of options.batches) {
    for (const width of options.widths) {
      for (const normalization of options.normalizations) {
        for (const variant of variants) {
          setNativeKernels(variant);
          try {
            const s = await subject(normalization, width, batch);
            const ours: number[] = [];
            const cores: number[] = [];
            const torch: number[] = [];
            for (let round = 0; round < options.rounds; round++) {
              const timed = await timeSteps(s, options.steps);
              ours.push(timed.ms);
              if (timed.cores !== null) cores.push(timed.cores);
              // The PyTorch model has BatchNorm or nothing: other variants have no baseline.
              if (!torchAvailable || !TORCH_NORMALIZATIONS.includes(normalization)) continue;
              const t = await torchRun(width, batch, normalization, options);
              if (t === null) {
                torchAvailable = false;
                console.log(
                  "PyTorch baseline skipped: no python3 with torch (Debian: apt-get install python3-torch)",
                );
              } else {
                if (!torchNamed) {
                  console.log(
                    `PyTorch ${t.torch} fp32 on ${options.torchDevice}, ${t.threads} threads`,
                  );
                  torchNamed = true;
                }
                torch.push(t.imagesPerSecond);
              }
            }
            const profiled = await profileStep(s);
            s.dispose();
            const ms = spread(ours);
            const imagesPerSecond = batch / (ms.median / 1000);
            const paired = torch.length === ours.length;
            rows.push({
              width,
              batch,
              normalization,
              kernels: variant?.description ?? tf.getBackend(),
              msPerStep: ms,
              imagesPerSecond,
              torchImagesPerSecond: paired ? spread(torch) : null,
              ratio: paired ? spread(ours.map((m, i) => batch / (m / 1000) / torch[i]!)) : null,
              coresBusy: cores.length === ours.length ? spread(cores).median : null,
              profile: profiled,
            });
            console.log(formatStepRow(rows.at(-1)!));
          } finally {
            setNativeKernels(native);
          }
        }
      }
    }
  }
  console.log(`\nSGD step (VGG, PROTOCOL.md), ${options.rounds} interleaved rounds`);
  console.log(formatStepTable(rows));
  return rows;
}

const HEADER = [
  "width",
  "batch",
  "norm      ",
  "kernels",
  "  ms/step (range)",
  " images/s",
  "torch images/s",
  "ours/torch (range)",
  "conv ms",
  "other ms",
  "outside ms",
  "kernels/step",
  "cores busy",
  "dispatches/step",
  "host<->device KB/step",
].join("  ");

function formatStepRow(r: StepBenchRow): string {
  const range = (s: Spread, digits: number) =>
    `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
  const gpu = r.profile.gpu;
  return [
    r.width.toString().padEnd(5),
    r.batch.toString().padStart(5),
    r.normalization.padEnd(10),
    r.kernels.split(" ")[0]!.padEnd(7),
    range(r.msPerStep, 1).padStart(17),
    r.imagesPerSecond.toFixed(0).padStart(9),
    (r.torchImagesPerSecond?.median.toFixed(0) ?? "-").padStart(14),
    (r.ratio === null ? "-" : range(r.ratio, 2)).padStart(18),
    r.profile.convMs.toFixed(1).padStart(7),
    r.profile.otherKernelMs.toFixed(1).padStart(8),
    r.profile.outsideMs.toFixed(1).padStart(10),
    r.profile.kernelCalls.toString().padStart(12),
    (r.coresBusy?.toFixed(2) ?? "-").padStart(10),
    (gpu?.dispatches.toString() ?? "-").padStart(15),
    (gpu === null ? "-" : ((gpu.uploadBytes + gpu.downloadBytes) / 1024).toFixed(1)).padStart(21),
  ].join("  ");
}

/** The table `deno task bench step` prints. */
export function formatStepTable(rows: readonly StepBenchRow[]): string {
  return [HEADER, ...rows.map(formatStepRow)].join("\n");
}
