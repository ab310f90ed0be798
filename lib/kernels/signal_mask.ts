/**
 * Runs native code with every signal blocked on the calling thread (Deno FFI to libc's
 * `pthread_sigmask`; Linux only, a Deno-only module like `onednn.ts`).
 *
 * Why: oneDNN 2.x's f32 GEMM kernels (`x64:gemm:jit`, picked for some convolution geometries)
 * point the stack register at a heap buffer while they run (oneDNN issue 4845, fixed in 3.11.2;
 * Debian ships 2.6.3). A signal delivered to that thread meanwhile, e.g. the SIGCHLD of a child
 * process ending, has its frame pushed onto the heap and corrupts it; glibc then aborts at a
 * later `free` ("corrupted size vs. prev_size in fastbins", seen at the exit of a test run that
 * had spawned child processes). Blocked signals wait and are delivered once the mask is restored,
 * or to another thread. OpenMP's worker threads, created inside the first blocked call, inherit
 * the full mask and keep it.
 *
 * @module
 */

/** Linux's `how` values for `pthread_sigmask`. */
const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
/** glibc's `sigset_t` is 1024 bits; the kernel reads the first 64. */
const SIGSET_BYTES = 128;

const SYMBOLS = {
  pthread_sigmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
} as const;

/** Blocks every signal on the calling thread around a call; see the module doc. */
export class SignalShield {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly #everySignal = new Uint8Array(SIGSET_BYTES).fill(0xff);
  readonly #saved = new Uint8Array(SIGSET_BYTES);
  #depth = 0;

  private constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>) {
    this.#lib = lib;
  }

  /**
   * Opens libc's `pthread_sigmask`.
   *
   * @param os The operating system (default `Deno.build.os`).
   * @returns The shield, or null off Linux (where the signal-mask layout differs) or where libc
   *   cannot be opened.
   */
  static open(os: string = Deno.build.os): SignalShield | null {
    if (os !== "linux") return null;
    try {
      return new SignalShield(Deno.dlopen("libc.so.6", SYMBOLS));
    } catch {
      return null; // no glibc (e.g. musl): run unshielded
    }
  }

  /**
   * Calls `body` with every blockable signal blocked on this thread, then restores the mask.
   * Nested calls keep the outer mask until the outermost returns.
   *
   * @param body Synchronous native work.
   * @returns What `body` returns.
   */
  run<T>(body: () => T): T {
    if (this.#depth > 0) return body();
    const status = this.#lib.symbols.pthread_sigmask(SIG_BLOCK, this.#everySignal, this.#saved);
    if (status !== 0) throw new Error(`pthread_sigmask could not block signals: error ${status}`);
    this.#depth++;
    try {
      return body();
    } finally {
      this.#depth--;
      this.#lib.symbols.pthread_sigmask(SIG_SETMASK, this.#saved, null);
    }
  }
}
