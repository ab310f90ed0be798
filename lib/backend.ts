/**
 * Chooses and initialises the TensorFlow.js backend: `webgpu` on a hardware GPU adapter, else the
 * fastest CPU path (`wasm`, with the training kernels this project adds), with an explicit
 * override. Runs in Deno and in a browser tab alike (the environment variable is read only where
 * `Deno` exists).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { BACKEND_ENV, ONEDNN_ENV, readEnv, WASM_THREADS_ENV } from "./env.ts";
import { registerTrainingKernels } from "./kernels/register.ts";
import { enableWasmThreads, MAX_WASM_THREADS } from "./kernels/wasm_threads.ts";
import { type NativeKernels, setNativeKernels } from "./kernels/native.ts";

/** A TensorFlow.js backend this project runs on. */
export type BackendName = "cpu" | "wasm" | "webgpu";

/** A backend, or `auto` to choose by the rules in {@link chooseBackend}. */
export type BackendChoice = BackendName | "auto";

/** Every accepted backend choice, for CLI validation and messages. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "wasm", "cpu"];

/** What is known about the WebGPU adapter. */
export interface AdapterSummary {
  /** Adapter description, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  vendor: string;
  architecture: string;
  /** True for software rasterisers (Mesa llvmpipe/lavapipe, SwiftShader): no real GPU. */
  software: boolean;
}

/** The backend in use and why it was chosen. */
export interface BackendInfo {
  backend: BackendName;
  /** The WebGPU adapter, when one exists (also reported when another backend was chosen). */
  adapter: AdapterSummary | null;
  /** One sentence: how the choice was made. */
  reason: string;
  /** Threads of the wasm backend (1 elsewhere). */
  threads: number;
  /**
   * The native library running the wasm backend's heaviest kernels (e.g. "oneDNN 2.6.3
   * (libdnnl.so.2; OMP_NUM_THREADS=1)": the thread count changes the bits of its sums), or null where everything runs in wasm (other backends, `BN_ONEDNN=off`,
   * no library, or no FFI as in a browser tab).
   */
  nativeKernels: string | null;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|softpipe/i;

/**
 * Looks for a WebGPU adapter.
 *
 * @returns The adapter's summary, or null where WebGPU or an adapter is absent.
 */
export async function describeAdapter(): Promise<AdapterSummary | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (gpu === undefined) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return null;
  const info = adapter.info;
  const description = info.description || info.device || "unknown adapter";
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    description,
    vendor: info.vendor,
    architecture: info.architecture,
    software: fallback === true || SOFTWARE_ADAPTER.test(description),
  };
}

/**
 * The backend `auto` resolves to: `webgpu` on a hardware adapter, else `wasm` (measured fastest
 * CPU path: `deno task bench` compares them; Mesa's software adapter is 4-20x slower than wasm).
 *
 * @param adapter The adapter found, or null.
 * @returns The backend and the reason.
 */
export function chooseBackend(
  adapter: AdapterSummary | null,
): { backend: BackendName; reason: string } {
  if (adapter === null) {
    return { backend: "wasm", reason: "no WebGPU adapter: using wasm, the fastest CPU path" };
  }
  if (adapter.software) {
    return {
      backend: "wasm",
      reason: `WebGPU adapter "${adapter.description}" is a software rasteriser: using wasm, ` +
        "the fastest CPU path",
    };
  }
  return { backend: "webgpu", reason: `hardware WebGPU adapter "${adapter.description}"` };
}

/**
 * Validates a backend name from a flag or the environment.
 *
 * @param value The raw string.
 * @param source Where it came from, for the message (e.g. "--backend" or "BN_BACKEND").
 * @returns The choice.
 */
export function parseBackendChoice(value: string, source: string): BackendChoice {
  const choice = value.trim().toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(choice)) return choice as BackendChoice;
  throw new RangeError(
    `Cannot select backend: unknown ${source} value "${value}", expected one of ${
      BACKEND_CHOICES.join(", ")
    }`,
  );
}

function backendFromEnvironment(): BackendChoice | undefined {
  const value = readEnv(BACKEND_ENV);
  return value === undefined ? undefined : parseBackendChoice(value, BACKEND_ENV);
}

/**
 * Validates a wasm thread count from a flag or the environment.
 *
 * @param value The raw string.
 * @param source Where it came from, for the message.
 * @returns An integer in 1..8.
 */
export function parseThreadCount(value: string, source: string): number {
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new RangeError(
      `Cannot set wasm threads: ${source} must be an integer in 1..${MAX_WASM_THREADS}, got "${value}"`,
    );
  }
  return threads;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Explicit choice; overrides `BN_BACKEND`. Default: `BN_BACKEND`, else `auto`. */
  backend?: BackendChoice;
  /**
   * oneDNN for the wasm backend's convolutions, BatchNorm and max-pool gradient: `false` keeps
   * them in wasm, a string is the library's path. Default: `BN_ONEDNN`, else use the library
   * where it loads.
   */
  onednn?: boolean | string;
  /**
   * wasm threads (XNNPACK's pool, including the calling thread). Default: `BN_WASM_THREADS`,
   * else 1: the pool's threads spin while they wait, so on a machine whose cores are busy
   * (parallel tests, other jobs) more threads make a step several times slower; on an idle
   * machine 2 threads gave 1.3x (see `deno task bench`). Only the first initialisation of wasm
   * in a process can set it.
   */
  wasmThreads?: number;
}

/**
 * Resolves a choice against the adapter found, without touching tfjs.
 *
 * @param requested The choice, and where it came from (for the reason).
 * @param adapter The adapter found, or null.
 * @returns The backend and the reason.
 * @throws {Error} When `webgpu` is requested and there is no adapter.
 */
export function resolveBackend(
  requested: { choice: BackendChoice; source: string },
  adapter: AdapterSummary | null,
): { backend: BackendName; reason: string } {
  if (requested.choice === "auto") return chooseBackend(adapter);
  if (requested.choice === "webgpu" && adapter === null) {
    throw new Error(
      "Cannot use the webgpu backend: no WebGPU adapter was found. Use --backend wasm (or " +
        "cpu), or see README.md, 'Backends and GPUs', for the Vulkan driver a GPU needs",
    );
  }
  return { backend: requested.choice, reason: `requested by ${requested.source}` };
}

/**
 * Chooses, initialises and reports the backend.
 *
 * @param options See {@link InitBackendOptions}.
 * @returns The backend in use, the adapter and the reason.
 * @throws Error when `webgpu` is requested and no adapter exists, or a backend fails to start.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const fromEnvironment = backendFromEnvironment();
  const requested = options.backend !== undefined
    ? { choice: options.backend, source: "the caller" }
    : fromEnvironment !== undefined
    ? { choice: fromEnvironment, source: `${BACKEND_ENV}=${fromEnvironment}` }
    : { choice: "auto" as const, source: "default" };
  const adapter = await describeAdapter();
  const { backend, reason } = resolveBackend(requested, adapter);
  // Silence tfjs's "running in Node.js" banner and debug-only warnings.
  tf.enableProdMode();
  // Kernels tfjs lacks (wasm convolution gradients) and gradients that stay on the device.
  registerTrainingKernels();
  let threads = 1;
  let nativeKernels: string | null = null;
  setNativeKernels(null);
  if (backend === "wasm") {
    const fromEnv = readEnv(WASM_THREADS_ENV);
    const requestedThreads = options.wasmThreads ??
      (fromEnv === undefined ? 1 : parseThreadCount(fromEnv, WASM_THREADS_ENV));
    threads = await startWasm(requestedThreads);
    nativeKernels = await startOneDnn(options.onednn);
  } else {
    const ok = await tf.setBackend(backend);
    if (!ok) {
      throw new Error(`Cannot initialise the ${backend} backend: tf.setBackend returned false`);
    }
    await tf.ready();
  }
  return { backend, adapter, reason, threads, nativeKernels };
}

/** oneDNN opened once per library path (an engine and its cached primitives each). */
const openedOneDnn = new Map<string, NativeKernels>();

/**
 * Installs oneDNN's kernels for the wasm backend where Deno's FFI and the library exist.
 * A library named explicitly (option or `BN_ONEDNN`) must load; the default one may be absent.
 *
 * @returns The library's description, or null where everything stays in wasm.
 */
async function startOneDnn(option: boolean | string | undefined): Promise<string | null> {
  const fromEnv = readEnv(ONEDNN_ENV);
  const setting = option ?? (fromEnv === undefined ? true : fromEnv === "off" ? false : fromEnv);
  if (setting === false) return null;
  const deno = (globalThis as { Deno?: { dlopen?: unknown } }).Deno;
  if (typeof deno?.dlopen !== "function") return null; // a browser tab: no FFI
  // Deno-only module, loaded only here so that a browser bundle never needs it.
  const { defaultOneDnnLibrary, OneDnnKernels } = await import("./kernels/onednn.ts");
  const path = setting === true ? defaultOneDnnLibrary() : setting;
  try {
    const native = openedOneDnn.get(path) ?? OneDnnKernels.open(path);
    openedOneDnn.set(path, native);
    setNativeKernels(native);
    return native.description;
  } catch (error) {
    if (setting !== true) throw error;
    return null;
  }
}

/**
 * Starts wasm with `threads` threads where it is not running yet (tfjs fixes the count at the
 * backend's first initialisation); falls back to one thread where threads cannot start.
 */
async function startWasm(threads: number): Promise<number> {
  const running = tf.findBackend("wasm") !== null;
  if (!running && threads > 1) {
    try {
      const started = await enableWasmThreads(threads);
      return started;
    } catch (error) {
      console.warn(`wasm threads unavailable, using one thread: ${(error as Error).message}`);
    }
  }
  const ok = await tf.setBackend("wasm");
  if (!ok) throw new Error("Cannot initialise the wasm backend: tf.setBackend returned false");
  await tf.ready();
  const backend = tf.backend() as { getThreadsCount?: () => number };
  return running ? backend.getThreadsCount?.() ?? 1 : 1;
}

/**
 * What computes, in a few words: the backend, its wasm threads and its native kernels, e.g.
 * `wasm, 1 thread, kernels by oneDNN 2.6.3 (libdnnl.so.2)`.
 *
 * @param info The result of {@link initBackend}.
 * @returns The summary.
 */
export function backendSummary(info: BackendInfo): string {
  const threads = info.backend === "wasm"
    ? `, ${info.threads} thread${info.threads === 1 ? "" : "s"}`
    : "";
  const native = info.nativeKernels === null ? "" : `, kernels by ${info.nativeKernels}`;
  return `${info.backend}${threads}${native}`;
}

/**
 * What computed a run, for a figure's `computedOn`: {@link backendSummary}, and on webgpu the
 * adapter too, e.g. `webgpu (NVIDIA H100 80GB HBM3)`.
 *
 * @param info The result of {@link initBackend}.
 * @returns The label.
 */
export function computedOnLabel(info: BackendInfo): string {
  const summary = backendSummary(info);
  return info.backend === "webgpu" && info.adapter !== null
    ? `${summary} (${info.adapter.description})`
    : summary;
}

/**
 * One line for logs and figure provenance, e.g. `webgpu (adapter NVIDIA H100 80GB HBM3; ...)`.
 *
 * @param info The result of {@link initBackend}.
 * @returns A short description.
 */
export function formatBackend(info: BackendInfo): string {
  const adapter = info.adapter === null
    ? "no WebGPU adapter"
    : `${info.adapter.software ? "software adapter" : "adapter"} ${info.adapter.description}`;
  return `${backendSummary(info)} (${adapter}; ${info.reason})`;
}
