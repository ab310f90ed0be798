/**
 * oneDNN convolutions for the wasm backend, through Deno's FFI (one of the few Deno-only
 * modules of `lib/`; `backend.ts` imports it only where `Deno.dlopen` exists).
 *
 * oneDNN (libdnnl) is the library PyTorch's CPU convolutions run on; Debian ships it as
 * `libdnnl2` (`python3-torch` depends on it). Its JIT kernels use the CPU's widest vectors
 * (AVX-512 here) and OpenMP threads, where wasm is limited to 128-bit SIMD. The convolutions read
 * and write the tensors in place on the wasm heap (NHWC activations, [KH, KW, Ci, Co] = oneDNN's
 * `hwio` filters), so nothing is copied. Built against oneDNN 2.x's C API (`dnnl.h`, 2.6.3 on
 * Debian 12); 3.x removed the descriptor functions used here and is refused with a message.
 *
 * Threads: OpenMP's; `OMP_NUM_THREADS` sets them (default: one per core). Unless the
 * environment says otherwise, `open()` sets `OMP_WAIT_POLICY=passive` before the library loads:
 * between convolutions the JS thread runs the other ops, and spinning OpenMP workers would take
 * the cores it needs (measured: passive 322 ms per full-width VGG+BN step against 345 ms
 * spinning on 2 idle cores, and spinning is worse when the cores are shared).
 *
 * @module
 */
import type { ConvGeometry, NativeConvolution } from "./native_conv.ts";

/** Environment variable: `off` disables oneDNN; any other value is the library's path. */
export const ONEDNN_ENV = "BN_ONEDNN";

/** The library's file name where `BN_ONEDNN` does not name one. */
export function defaultOneDnnLibrary(os: string = Deno.build.os): string {
  return os === "darwin" ? "libdnnl.2.dylib" : os === "windows" ? "dnnl.dll" : "libdnnl.so.2";
}

const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "buffer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
} as const;

type OneDnnLibrary = Deno.DynamicLibrary<typeof SYMBOLS>;
type Pointer = Deno.PointerValue;

// Constants of oneDNN 2.x's dnnl_types.h (checked against 2.6.3 by a compiled probe).
const ENGINE_CPU = 1;
const STREAM_DEFAULT = 1;
const F32 = 3;
const TAG_NHWC = 20;
const TAG_HWIO = 30;
const FORWARD_TRAINING = 64;
const CONVOLUTION_DIRECT = 1;
const QUERY_IMPL_INFO = 8;
const ARG = { src: 1, dst: 17, weights: 33, diffSrc: 129, diffDst: 145, diffWeights: 161 };
// Generous sizes for the descriptor structs the library fills in (2.6.3: memory desc 696 B,
// convolution desc 5976 B); larger buffers are harmless, smaller ones would be overrun.
const MEMORY_DESC_BYTES = 2048;
const OP_DESC_BYTES = 16384;

const STATUS: Record<number, string> = {
  1: "out of memory",
  2: "invalid arguments",
  3: "unimplemented",
  5: "runtime error",
  7: "not required",
};

/** A convolution direction with its oneDNN primitive and the buffers it binds. */
type Pass = "forward" | "backwardInput" | "backwardFilter";

interface BoundPrimitive {
  primitive: Pointer;
  /** Memory objects in the order the caller passes buffers. */
  memories: Pointer[];
  /** dnnl_exec_arg_t[]: { int arg; dnnl_memory_t memory } pairs, 16 bytes each. */
  args: BigUint64Array;
  /** oneDNN's name for the implementation it chose, e.g. "x64:gemm:jit". */
  implementation: string;
}

/** oneDNN convolutions on float32 NHWC buffers; see the module doc. */
export class OneDnnConvolution implements NativeConvolution {
  readonly description: string;
  readonly #lib: OneDnnLibrary;
  readonly #engine: Pointer;
  readonly #stream: Pointer;
  /** Primitives by pass and geometry; null where oneDNN cannot run that geometry. */
  readonly #cache = new Map<string, BoundPrimitive | null>();

  private constructor(lib: OneDnnLibrary, path: string, version: string) {
    this.#lib = lib;
    this.description = `oneDNN ${version} (${path})`;
    this.#engine = this.#create(
      "engine",
      (out) => lib.symbols.dnnl_engine_create(out, ENGINE_CPU, 0n),
    );
    this.#stream = this.#create(
      "stream",
      (out) => lib.symbols.dnnl_stream_create(out, this.#engine, STREAM_DEFAULT),
    );
  }

  /**
   * Opens the library and checks its version.
   *
   * @param path File name or path of libdnnl (default {@link defaultOneDnnLibrary}).
   * @returns The convolutions.
   * @throws {Error} Saying why oneDNN cannot be used (missing library, no FFI permission,
   *   unsupported version).
   */
  static open(path: string = defaultOneDnnLibrary()): OneDnnConvolution {
    let lib: OneDnnLibrary;
    try {
      if (Deno.env.get("OMP_WAIT_POLICY") === undefined) Deno.env.set("OMP_WAIT_POLICY", "passive");
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (error) {
      throw new Error(
        `Cannot use oneDNN: ${path} did not load (${(error as Error).message.split("\n")[0]}). ` +
          `Install it (Debian/Ubuntu: apt install libdnnl2) or set ${ONEDNN_ENV} to its path`,
      );
    }
    const view = new Deno.UnsafePointerView(lib.symbols.dnnl_version()!);
    const version = [view.getInt32(0), view.getInt32(4), view.getInt32(8)].join(".");
    if (view.getInt32(0) !== 2) {
      lib.close();
      throw new Error(`Cannot use oneDNN: ${path} is version ${version}, expected 2.x`);
    }
    return new OneDnnConvolution(lib, path, version);
  }

  forward(g: ConvGeometry, x: Float32Array, w: Float32Array, y: Float32Array): boolean {
    return this.#run("forward", g, [x, w, y]);
  }

  backwardInput(g: ConvGeometry, dy: Float32Array, w: Float32Array, dx: Float32Array): boolean {
    return this.#run("backwardInput", g, [dy, w, dx]);
  }

  backwardFilter(g: ConvGeometry, x: Float32Array, dy: Float32Array, dw: Float32Array): boolean {
    return this.#run("backwardFilter", g, [x, dy, dw]);
  }

  /**
   * The implementation oneDNN picks for a pass and geometry (e.g. "x64:gemm:jit"), or null
   * where it has none; for benchmarks and logs.
   */
  implementation(pass: Pass, g: ConvGeometry): string | null {
    return this.#bound(pass, g)?.implementation ?? null;
  }

  #run(pass: Pass, g: ConvGeometry, buffers: Float32Array[]): boolean {
    const bound = this.#bound(pass, g);
    if (bound === null) return false;
    const s = this.#lib.symbols;
    bound.memories.forEach((memory, i) => {
      this.#check("set a data handle", s.dnnl_memory_set_data_handle(memory, buffers[i]!));
    });
    this.#check(
      `run the ${pass} convolution`,
      s.dnnl_primitive_execute(
        bound.primitive,
        this.#stream,
        bound.memories.length,
        bound.args,
      ),
    );
    this.#check("wait for the stream", s.dnnl_stream_wait(this.#stream));
    return true;
  }

  #bound(pass: Pass, g: ConvGeometry): BoundPrimitive | null {
    const key = `${pass}:${Object.values(g).join(",")}`;
    let bound = this.#cache.get(key);
    if (bound === undefined) {
      try {
        bound = this.#bind(pass, g);
      } catch {
        bound = null; // oneDNN has no implementation for it: the wasm kernels compute it
      }
      this.#cache.set(key, bound);
    }
    return bound;
  }

  #bind(pass: Pass, g: ConvGeometry): BoundPrimitive {
    const s = this.#lib.symbols;
    const src = this.#memoryDesc([g.batch, g.inChannels, g.inHeight, g.inWidth], TAG_NHWC);
    const dst = this.#memoryDesc([g.batch, g.outChannels, g.outHeight, g.outWidth], TAG_NHWC);
    const weights = this.#memoryDesc(
      [g.outChannels, g.inChannels, g.filterHeight, g.filterWidth],
      TAG_HWIO,
    );
    const noBias = new Uint8Array(MEMORY_DESC_BYTES); // a zero descriptor disables the bias
    const strides = dims([g.strideHeight, g.strideWidth]);
    const padLeft = dims([g.padTop, g.padLeft]);
    const padRight = dims([g.padBottom, g.padRight]);
    const forwardDesc = new Uint8Array(OP_DESC_BYTES);
    this.#check(
      "describe the convolution",
      s.dnnl_convolution_forward_desc_init(
        forwardDesc,
        FORWARD_TRAINING,
        CONVOLUTION_DIRECT,
        src,
        weights,
        noBias,
        dst,
        strides,
        padLeft,
        padRight,
      ),
    );
    const forward = this.#primitiveDesc(forwardDesc, null);
    if (pass === "forward") {
      return this.#bindMemories(forward, [[ARG.src, src], [ARG.weights, weights], [ARG.dst, dst]]);
    }
    const desc = new Uint8Array(OP_DESC_BYTES);
    if (pass === "backwardInput") {
      this.#check(
        "describe the input gradient",
        s.dnnl_convolution_backward_data_desc_init(
          desc,
          CONVOLUTION_DIRECT,
          src,
          weights,
          dst,
          strides,
          padLeft,
          padRight,
        ),
      );
      return this.#bindMemories(this.#primitiveDesc(desc, forward), [
        [ARG.diffDst, dst],
        [ARG.weights, weights],
        [ARG.diffSrc, src],
      ]);
    }
    this.#check(
      "describe the filter gradient",
      s.dnnl_convolution_backward_weights_desc_init(
        desc,
        CONVOLUTION_DIRECT,
        src,
        weights,
        noBias,
        dst,
        strides,
        padLeft,
        padRight,
      ),
    );
    return this.#bindMemories(this.#primitiveDesc(desc, forward), [
      [ARG.src, src],
      [ARG.diffDst, dst],
      [ARG.diffWeights, weights],
    ]);
  }

  #bindMemories(primitiveDesc: Pointer, bindings: [number, Uint8Array][]): BoundPrimitive {
    const s = this.#lib.symbols;
    const primitive = this.#create(
      "primitive",
      (out) => s.dnnl_primitive_create(out, primitiveDesc),
    );
    const memories = bindings.map(([, desc]) =>
      this.#create("memory", (out) => s.dnnl_memory_create(out, desc, this.#engine, null))
    );
    const args = new BigUint64Array(bindings.length * 2);
    bindings.forEach(([arg], i) => {
      args[2 * i] = BigInt(arg);
      args[2 * i + 1] = BigInt(Deno.UnsafePointer.value(memories[i]!));
    });
    const info = new BigUint64Array(1);
    this.#check(
      "query the implementation",
      s.dnnl_primitive_desc_query(
        primitiveDesc,
        QUERY_IMPL_INFO,
        0,
        info,
      ),
    );
    const name = new Deno.UnsafePointerView(Deno.UnsafePointer.create(info[0]!)!).getCString();
    return { primitive, memories, args, implementation: name };
  }

  #memoryDesc(shape: number[], tag: number): Uint8Array {
    const desc = new Uint8Array(MEMORY_DESC_BYTES);
    this.#check(
      "describe a tensor",
      this.#lib.symbols.dnnl_memory_desc_init_by_tag(desc, shape.length, dims(shape), F32, tag),
    );
    return desc;
  }

  #primitiveDesc(opDesc: Uint8Array, hint: Pointer): Pointer {
    return this.#create(
      "primitive descriptor",
      (out) => this.#lib.symbols.dnnl_primitive_desc_create(out, opDesc, null, this.#engine, hint),
    );
  }

  /** Calls a creator that writes a handle through its first argument. */
  #create(what: string, call: (out: BigUint64Array) => number): Pointer {
    const out = new BigUint64Array(1);
    this.#check(`create a ${what}`, call(out));
    return Deno.UnsafePointer.create(out[0]!);
  }

  #check(what: string, status: number): void {
    if (status !== 0) {
      throw new Error(`oneDNN could not ${what}: ${STATUS[status] ?? `status ${status}`}`);
    }
  }
}

/** A dnnl_dims_t (int64_t[12]). */
function dims(values: number[]): BigInt64Array {
  const out = new BigInt64Array(12);
  values.forEach((v, i) => out[i] = BigInt(v));
  return out;
}
