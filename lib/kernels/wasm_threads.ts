/**
 * Multi-threaded XNNPACK for the tfjs wasm backend under Deno (or Node).
 *
 * tfjs 4.22 never loads its threaded-SIMD binary outside a browser: the flag
 * `WASM_HAS_MULTITHREAD_SUPPORT` returns false whenever it detects Node (Deno's npm
 * compatibility layer counts as Node), citing tfjs issue #3830. Forcing the flag is not enough:
 * 1. emscripten's glue then runs in Node mode and starts its 8 pthread workers with
 *    `new worker_threads.Worker(url)`, but tfjs hands it a `blob:` URL of the worker script,
 *    which Node (and Deno's `worker_threads`) reject (`ERR_WORKER_PATH`);
 * 2. the worker script's Node branch needs `require`, absent in Deno workers, and
 *    its web branch needs `self`/`importScripts`, absent in Deno's Node-style workers;
 * 3. the C++ side caps the pool at `navigator.hardwareConcurrency / 2` (Node: `os.cpus()`),
 *    i.e. 1 thread on a 2-core machine, whatever `setThreadsCount` asks;
 * 4. Deno's web `Worker` has no `unref`, so a pool of web workers keeps the process alive
 *    forever; `worker_threads` workers can be unref'd, but emscripten refs every worker that
 *    runs a pthread, and XNNPACK's pool threads never finish.
 *
 * `enableWasmThreads` initialises the wasm backend with a small shim for each: a
 * `worker_threads.Worker` subclass that runs a bootstrap (eval'd) which hides Node's `process`,
 * provides `self`/`importScripts`, fetches the `blob:` scripts asynchronously and queues
 * messages meanwhile, and never refs the process; and, during initialisation only, a reported
 * CPU count of 2 x threads.
 * Everything else is tfjs's own threaded binary and XNNPACK's pthreadpool.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";

/** emscripten's fixed pthread pool in tfjs 4.22 (`pthreadPoolSize = 8`): the most threads usable. */
export const MAX_WASM_THREADS = 8;

/** The bits of Node's API the shim needs (reached through `process.getBuiltinModule`). */
interface NodeLike {
  getBuiltinModule(id: "worker_threads"): {
    Worker: new (code: string, options: { eval: boolean }) => NodeWorker;
  };
  getBuiltinModule(id: "os"): { cpus(): unknown[] };
}

/** A `worker_threads.Worker`, as emscripten's Node-mode glue drives it. */
interface NodeWorker {
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  ref(): void;
}

/**
 * Source of the pthread worker bootstrap (runs in a Deno/Node `worker_threads` worker):
 * makes emscripten's worker script take its web-worker path, then loads it.
 */
function bootstrapSource(workerScriptUrl: string): string {
  return `
const { parentPort } = globalThis.process.getBuiltinModule("worker_threads");
globalThis.self = globalThis;
// Hide Node's process: emscripten's scripts would otherwise take their Node path (require).
Object.defineProperty(globalThis, "process", { value: undefined, configurable: true, writable: true });
globalThis.importScripts = (source) => (0, eval)(source); // fed source text, see deliver()
let handler = null;
const pending = [];
let chain = Promise.resolve();
const deliver = (data) => {
  if (data && data.cmd === "load" && typeof data.urlOrBlob === "string" &&
      data.urlOrBlob.startsWith("blob:")) {
    // The main script arrives as a blob: URL; fetch it here (asynchronously) and keep order.
    chain = chain.then(async () => {
      const text = await (await fetch(data.urlOrBlob)).text();
      handler({ data: { ...data, urlOrBlob: text } });
    });
  } else {
    chain = chain.then(() => handler({ data }));
  }
};
parentPort.on("message", (data) => handler === null ? pending.push(data) : deliver(data));
(async () => {
  const source = await (await fetch(${JSON.stringify(workerScriptUrl)})).text();
  (0, eval)(source); // sets globalThis.onmessage
  handler = globalThis.onmessage;
  globalThis.onmessage = null; // messages come through parentPort only
  for (const data of pending.splice(0)) deliver(data);
})();
`;
}

/** The Node-like `process`, or undefined in a browser. */
function nodeProcess(): NodeLike | undefined {
  const proc = (globalThis as { process?: Partial<NodeLike> }).process;
  return typeof proc?.getBuiltinModule === "function" ? proc as NodeLike : undefined;
}

/**
 * Initialises the tfjs wasm backend with its threaded-SIMD binary and `threads` XNNPACK threads,
 * and makes it the current backend. Must run before anything else initialises the wasm backend.
 * Deno and Node only (in a browser tfjs enables threads itself when the page is cross-origin
 * isolated).
 *
 * Only XNNPACK kernels (convolutions, untransposed matrix products, some element-wise ops) use
 * the threads; the measured gain is in scripts/bench/kernels.ts's report.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { enableWasmThreads } from "./wasm_threads.ts";
 * import { equal } from "node:assert/strict";
 *
 * const threads = await enableWasmThreads(2);
 * equal(threads, 2);
 * equal(tf.getBackend(), "wasm");
 * ```
 *
 * @param threads XNNPACK threads including the main thread, 1..8.
 * @returns The thread count the backend reports after initialisation.
 * @throws RangeError for a thread count outside 1..8; Error when the wasm backend is already
 *   initialised, outside Deno/Node, or when initialisation fails.
 */
export async function enableWasmThreads(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new RangeError(
      `Cannot enable wasm threads: threads must be an integer in 1..${MAX_WASM_THREADS}, got ${threads}`,
    );
  }
  if (tf.findBackend("wasm") !== null) {
    throw new Error(
      "Cannot enable wasm threads: the wasm backend is already initialised, got a live instance",
    );
  }
  const proc = nodeProcess();
  if (proc === undefined) {
    throw new Error(
      "Cannot enable wasm threads: needs process.getBuiltinModule (Deno or Node), got none",
    );
  }
  const { Worker: NodeWorkerClass } = proc.getBuiltinModule("worker_threads");
  const os = proc.getBuiltinModule("os");

  /** emscripten's pthread worker: a `worker_threads` worker running the bootstrap. */
  class PthreadWorker extends NodeWorkerClass {
    constructor(scriptUrl: string | URL) {
      super(bootstrapSource(String(scriptUrl)), { eval: true });
    }
    override postMessage(message: unknown, transfer?: readonly unknown[]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m?.cmd === "load" && m.urlOrBlob instanceof Blob) {
        // A Blob cannot be read synchronously here, and posting must stay synchronous (the
        // main thread may block right after on a futex): pass a URL the worker fetches.
        message = { ...m, urlOrBlob: URL.createObjectURL(m.urlOrBlob) };
      }
      super.postMessage(message, transfer);
    }
    /**
     * emscripten refs a worker while its pthread runs, and XNNPACK's pool threads run (parked on
     * a futex) for the life of the backend: never keep the process alive for them.
     */
    override ref(): void {}
  }

  // emscripten assigns `globalThis.Worker = worker_threads.Worker` and then constructs its pool
  // from the global; during initialisation only, the global reads as our subclass.
  const workerDescriptor = Object.getOwnPropertyDescriptor(globalThis, "Worker");
  Object.defineProperty(globalThis, "Worker", {
    configurable: true,
    get: () => PthreadWorker,
    set: () => {},
  });
  // The C++ side caps threads at cpus / 2: report enough CPUs for the request.
  const realCpus = os.cpus;
  os.cpus = () => {
    const cpus = realCpus.call(os);
    return Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
  };
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(threads);
  try {
    const ok = await tf.setBackend("wasm");
    await tf.ready();
    if (!ok) {
      // Let a later plain tf.setBackend("wasm") fall back to the single-threaded binary.
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
      throw new Error("Cannot enable wasm threads: tf.setBackend('wasm') returned false");
    }
  } finally {
    os.cpus = realCpus;
    if (workerDescriptor === undefined) {
      delete (globalThis as { Worker?: unknown }).Worker;
    } else {
      Object.defineProperty(globalThis, "Worker", workerDescriptor);
    }
  }
  return getThreadsCount();
}
