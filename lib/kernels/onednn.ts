/**
 * oneDNN kernels for the wasm backend (convolutions, training-mode BatchNorm, max-pool gradient),
 * through Deno's FFI (one of the few Deno-only modules of `lib/`; `backend.ts` imports it only
 * where `Deno.dlopen` exists).
 *
 * oneDNN (libdnnl) is the library PyTorch's CPU convolutions run on; Debian ships it as
 * `libdnnl2` (`python3-torch` depends on it). Its JIT kernels use the CPU's widest vectors
 * (AVX-512 here) and OpenMP threads, where wasm is limited to 128-bit SIMD. The kernels read
 * and write the activations in place on the wasm heap (NHWC), so they are never copied; filters
 * ([KH, KW, Ci, Co] = oneDNN's `hwio`) and filter gradients are reordered to and from the blocked
 * layout the direct convolution kernels want (see `#convPlan`). Built against oneDNN 2.x's C API (`dnnl.h`, 2.6.3 on
 * Debian 12); 3.x removed the descriptor functions used here and is refused with a message.
 *
 * Threads: OpenMP's; `OMP_NUM_THREADS` sets them (default: one per core). Unless the
 * environment says otherwise, `open()` sets `OMP_WAIT_POLICY=passive` before the library loads:
 * between convolutions the JS thread runs the other ops, and spinning OpenMP workers would take
 * the cores it needs (measured on 2 idle cores: 322 ms per full-width VGG+BN step passive,
 * 345 ms spinning).
 *
 * @module
 */
import type { ConvGeometry, NativeKernels, PoolGeometry } from "./native.ts";

/** The library's file name where `BN_ONEDNN` (see `backend.ts`) does not name one. */
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
  dnnl_batch_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_batch_normalization_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_pooling_v2_forward_desc_init: {
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
  dnnl_pooling_v2_backward_desc_init: {
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
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_memory_desc_get_size: { parameters: ["pointer"], result: "usize" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "pointer", "pointer"], result: "i32" },
  // The same function for a descriptor the library owns (a queried workspace descriptor).
  dnnl_memory_create_from_query: {
    name: "dnnl_memory_create",
    parameters: ["buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  // Reorders between the caller's layout and the one a primitive picked (descriptors passed
  // by pointer: either ours or ones the library owns).
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_memory_desc_equal: { parameters: ["pointer", "pointer"], result: "i32" },
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
const TAG_ANY = 1; // the primitive picks the layout
const TAG_A = 2; // 1-D
const TAG_NHWC = 20;
const TAG_HWIO = 30;
const FORWARD_TRAINING = 64;
const BACKWARD = 128;
const CONVOLUTION_DIRECT = 1;
const POOLING_MAX = 0x1ff;
const USE_SCALE_AND_SHIFT = 0x8 | 0x10;
const QUERY_IMPL_INFO = 8;
const QUERY_WEIGHTS_MD = 131;
const QUERY_DIFF_WEIGHTS_MD = 132;
const QUERY_WORKSPACE_MD = 135;
const ARG = {
  src: 1,
  dst: 17,
  weights: 33,
  mean: 49,
  variance: 50,
  scale: 51,
  shift: 52,
  workspace: 64,
  diffSrc: 129,
  diffDst: 145,
  diffWeights: 161,
  diffScale: 255,
  diffShift: 256,
};
/** DNNL_MEMORY_ALLOCATE: the library allocates the buffer (scratch outputs, workspaces). */
const LIBRARY_ALLOCATES = Deno.UnsafePointer.create(0xffffffffffffffffn);
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

/** One primitive to execute and its dnnl_exec_arg_t[] ({ int arg; dnnl_memory_t }, 16 B each). */
interface Step {
  primitive: Pointer;
  args: BigUint64Array;
  argCount: number;
}

/** The primitives of one kernel call and the memories whose buffers the caller passes. */
interface Plan {
  steps: Step[];
  /** Memory objects taking the caller's buffers, in the order the caller passes them. */
  inputs: Pointer[];
  /** oneDNN's name for the implementation of the last step, e.g. "x64:gemm:jit". */
  implementation: string;
}

/** A memory of a step: its argument slot and the caller's buffer index, or a shared memory. */
type Slot = [arg: number, memory: number | Pointer];

/** A convolution direction. */
type ConvPass = "forward" | "backwardInput" | "backwardFilter";

/** oneDNN kernels on float32 buffers of the wasm heap; see the module doc. */
export class OneDnnKernels implements NativeKernels {
  readonly description: string;
  readonly #lib: OneDnnLibrary;
  readonly #engine: Pointer;
  readonly #stream: Pointer;
  /** Plans by kernel and geometry; null where oneDNN cannot run that geometry. */
  readonly #plans = new Map<string, Plan | null>();
  /** gamma = 1 and beta = 0 per unit count, for BatchNorm without affine parameters. */
  readonly #identity = new Map<number, { ones: Float32Array; zeros: Float32Array }>();

  private constructor(lib: OneDnnLibrary, path: string, version: string) {
    this.#lib = lib;
    // The OpenMP thread count changes the bits of oneDNN's sums, so the provenance names it.
    const threads = Deno.env.get("OMP_NUM_THREADS") ?? "unset, one per core";
    this.description = `oneDNN ${version} (${path}; OMP_NUM_THREADS=${threads})`;
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
   * @returns The kernels.
   * @throws {Error} Saying why oneDNN cannot be used (missing library, no FFI permission,
   *   unsupported version).
   */
  static open(path: string = defaultOneDnnLibrary()): OneDnnKernels {
    let lib: OneDnnLibrary;
    try {
      if (Deno.env.get("OMP_WAIT_POLICY") === undefined) Deno.env.set("OMP_WAIT_POLICY", "passive");
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (error) {
      throw new Error(
        `Cannot use oneDNN: ${path} did not load (${(error as Error).message.split("\n")[0]}). ` +
          "Install it (Debian/Ubuntu: apt install libdnnl2) or set BN_ONEDNN to its path",
      );
    }
    const view = new Deno.UnsafePointerView(lib.symbols.dnnl_version()!);
    const version = [view.getInt32(0), view.getInt32(4), view.getInt32(8)].join(".");
    if (view.getInt32(0) !== 2) {
      lib.close();
      throw new Error(`Cannot use oneDNN: ${path} is version ${version}, expected 2.x`);
    }
    return new OneDnnKernels(lib, path, version);
  }

  convForward(g: ConvGeometry, x: Float32Array, w: Float32Array, y: Float32Array): boolean {
    return this.#runConv("forward", g, [x, w, y]);
  }

  convBackwardInput(
    g: ConvGeometry,
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
  ): boolean {
    return this.#runConv("backwardInput", g, [dy, w, dx]);
  }

  convBackwardFilter(
    g: ConvGeometry,
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
  ): boolean {
    return this.#runConv("backwardFilter", g, [x, dy, dw]);
  }

  batchNormForward(
    rows: number,
    units: number,
    epsilon: number,
    x: Float32Array,
    gamma: Float32Array | null,
    beta: Float32Array | null,
    out: { y: Float32Array; mean: Float32Array; variance: Float32Array },
  ): boolean {
    const identity = this.#identityOf(units);
    return this.#run(
      `bn:forward:${rows},${units},${epsilon}`,
      () => this.#batchNormPlan(rows, units, epsilon, "forward"),
      [x, out.y, out.mean, out.variance, gamma ?? identity.ones, beta ?? identity.zeros],
    );
  }

  batchNormBackward(
    rows: number,
    units: number,
    epsilon: number,
    inputs: {
      dy: Float32Array;
      x: Float32Array;
      mean: Float32Array;
      variance: Float32Array;
      gamma: Float32Array | null;
    },
    out: { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array },
  ): boolean {
    const identity = this.#identityOf(units);
    return this.#run(
      `bn:backward:${rows},${units},${epsilon}`,
      () => this.#batchNormPlan(rows, units, epsilon, "backward"),
      [
        inputs.x,
        inputs.mean,
        inputs.variance,
        inputs.dy,
        inputs.gamma ?? identity.ones,
        identity.zeros, // beta: unused by the gradient, but oneDNN asks for it
        out.dx,
        out.dGamma,
        out.dBeta,
      ],
    );
  }

  maxPoolBackward(g: PoolGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array): boolean {
    return this.#run(`pool:${key(g)}`, () => this.#maxPoolPlan(g), [x, dy, dx]);
  }

  /**
   * The implementation oneDNN picks for a convolution pass and geometry (e.g. "x64:gemm:jit"),
   * or null where it has none; for benchmarks and logs.
   */
  convImplementation(pass: ConvPass, g: ConvGeometry): string | null {
    return this.#plan(convKey(pass, g), () => this.#convPlan(pass, g))?.implementation ?? null;
  }

  #runConv(pass: ConvPass, g: ConvGeometry, buffers: Float32Array[]): boolean {
    return this.#run(convKey(pass, g), () => this.#convPlan(pass, g), buffers);
  }

  #run(planKey: string, build: () => Plan, buffers: Float32Array[]): boolean {
    const plan = this.#plan(planKey, build);
    if (plan === null) return false;
    const s = this.#lib.symbols;
    plan.inputs.forEach((memory, i) => {
      this.#check("set a data handle", s.dnnl_memory_set_data_handle(memory, buffers[i]!));
    });
    for (const step of plan.steps) {
      this.#check(
        `run ${planKey}`,
        s.dnnl_primitive_execute(step.primitive, this.#stream, step.argCount, step.args),
      );
    }
    this.#check("wait for the stream", s.dnnl_stream_wait(this.#stream));
    return true;
  }

  #plan(planKey: string, build: () => Plan): Plan | null {
    let plan = this.#plans.get(planKey);
    if (plan === undefined) {
      try {
        plan = build();
      } catch {
        plan = null; // oneDNN has no implementation for it: the wasm kernels compute it
      }
      this.#plans.set(planKey, plan);
    }
    return plan;
  }

  /**
   * A convolution pass on NHWC activations. The filter is described as "any" so that oneDNN can
   * pick its direct JIT kernels, which want a blocked filter layout (with the caller's [KH, KW,
   * Ci, Co] layout it falls back to im2col + GEMM, ~1.7x slower on the VGG's small layers); the
   * plan then reorders the caller's filter into that layout, or the filter gradient out of it.
   */
  #convPlan(pass: ConvPass, g: ConvGeometry): Plan {
    const s = this.#lib.symbols;
    const src = this.#memoryDesc([g.batch, g.inChannels, g.inHeight, g.inWidth], TAG_NHWC);
    const dst = this.#memoryDesc([g.batch, g.outChannels, g.outHeight, g.outWidth], TAG_NHWC);
    const filterShape = [g.outChannels, g.inChannels, g.filterHeight, g.filterWidth];
    const userWeights = this.#memoryDesc(filterShape, TAG_HWIO);
    const weights = this.#memoryDesc(filterShape, TAG_ANY);
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
      const filter = this.#layoutFor(forward, QUERY_WEIGHTS_MD, userWeights, 1, "in");
      return this.#planOf([src, userWeights, dst], [
        ...filter.steps,
        [forward, [[ARG.src, 0], [ARG.weights, filter.memory], [ARG.dst, 2]]],
      ], filter.steps.length);
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
      const backward = this.#primitiveDesc(desc, forward);
      const filter = this.#layoutFor(backward, QUERY_WEIGHTS_MD, userWeights, 1, "in");
      return this.#planOf([dst, userWeights, src], [
        ...filter.steps,
        [backward, [[ARG.diffDst, 0], [ARG.weights, filter.memory], [ARG.diffSrc, 2]]],
      ], filter.steps.length);
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
    const backward = this.#primitiveDesc(desc, forward);
    const filter = this.#layoutFor(backward, QUERY_DIFF_WEIGHTS_MD, userWeights, 2, "out");
    return this.#planOf([src, dst, userWeights], [
      [backward, [[ARG.src, 0], [ARG.diffDst, 1], [ARG.diffWeights, filter.memory]]],
      ...filter.steps,
    ], 0);
  }

  /**
   * Where a primitive's argument lives when the primitive picked its own layout: the caller's
   * buffer `input` when the layouts agree, else a library-allocated memory in the picked layout
   * and the reorder from the caller's buffer into it (`in`) or out of it into the buffer (`out`).
   */
  #layoutFor(
    primitiveDesc: Pointer,
    query: number,
    userDesc: Uint8Array,
    input: number,
    direction: "in" | "out",
  ): { memory: number | Pointer; steps: [Pointer, Slot[]][] } {
    const s = this.#lib.symbols;
    const picked = s.dnnl_primitive_desc_query_md(primitiveDesc, query, 0);
    if (picked === null) throw new Error("oneDNN returned no memory descriptor");
    const user = Deno.UnsafePointer.of(userDesc);
    if (s.dnnl_memory_desc_equal(picked, user) === 1) return { memory: input, steps: [] };
    const memory = this.#create(
      "memory",
      (out) => s.dnnl_memory_create_from_query(out, picked, this.#engine, LIBRARY_ALLOCATES),
    );
    const [from, to] = direction === "in" ? [user, picked] : [picked, user];
    const reorder = this.#create(
      "reorder",
      (out) =>
        s.dnnl_reorder_primitive_desc_create(out, from, this.#engine, to, this.#engine, null),
    );
    const slots: Slot[] = direction === "in"
      ? [[ARG.src, input], [ARG.dst, memory]]
      : [[ARG.src, memory], [ARG.dst, input]];
    return { memory, steps: [[reorder, slots]] };
  }

  #batchNormPlan(
    rows: number,
    units: number,
    epsilon: number,
    pass: "forward" | "backward",
  ): Plan {
    const s = this.#lib.symbols;
    // [rows, units] as an NHWC tensor of 1x1 images: oneDNN's JIT BatchNorm handles the
    // channels-last layout, where a 2-D "nc" tensor gets its generic reference code.
    const data = this.#memoryDesc([rows, units, 1, 1], TAG_NHWC);
    const unit = this.#memoryDesc([units], TAG_A);
    const forwardDesc = new Uint8Array(OP_DESC_BYTES);
    this.#check(
      "describe the BatchNorm",
      s.dnnl_batch_normalization_forward_desc_init(
        forwardDesc,
        FORWARD_TRAINING,
        data,
        epsilon,
        USE_SCALE_AND_SHIFT,
      ),
    );
    const forward = this.#primitiveDesc(forwardDesc, null);
    if (pass === "forward") {
      // Buffers: x, y, mean, variance, gamma, beta.
      return this.#planOf([data, data, unit, unit, unit, unit], [[forward, [
        [ARG.src, 0],
        [ARG.dst, 1],
        [ARG.mean, 2],
        [ARG.variance, 3],
        [ARG.scale, 4],
        [ARG.shift, 5],
      ]]]);
    }
    const desc = new Uint8Array(OP_DESC_BYTES);
    this.#check(
      "describe the BatchNorm gradient",
      s.dnnl_batch_normalization_backward_desc_init(
        desc,
        BACKWARD,
        data,
        data,
        epsilon,
        USE_SCALE_AND_SHIFT,
      ),
    );
    // Buffers: x, mean, variance, dy, gamma, beta, dx, dgamma, dbeta.
    return this.#planOf([data, unit, unit, data, unit, unit, data, unit, unit], [[
      this.#primitiveDesc(desc, forward),
      [
        [ARG.src, 0],
        [ARG.mean, 1],
        [ARG.variance, 2],
        [ARG.diffDst, 3],
        [ARG.scale, 4],
        [ARG.shift, 5],
        [ARG.diffSrc, 6],
        [ARG.diffScale, 7],
        [ARG.diffShift, 8],
      ],
    ]]);
  }

  /**
   * Max-pool gradient: oneDNN's backward pass reads the arg-max positions its forward pass
   * records in a workspace, so the plan runs the forward pass (into a scratch output) first.
   */
  #maxPoolPlan(g: PoolGeometry): Plan {
    const s = this.#lib.symbols;
    const src = this.#memoryDesc([g.batch, g.inChannels, g.inHeight, g.inWidth], TAG_NHWC);
    const dst = this.#memoryDesc([g.batch, g.inChannels, g.outHeight, g.outWidth], TAG_NHWC);
    const strides = dims([g.strideHeight, g.strideWidth]);
    const kernel = dims([g.filterHeight, g.filterWidth]);
    const dilation = dims([0, 0]);
    const padLeft = dims([g.padTop, g.padLeft]);
    const padRight = dims([g.padBottom, g.padRight]);
    const forwardDesc = new Uint8Array(OP_DESC_BYTES);
    this.#check(
      "describe the max-pool",
      s.dnnl_pooling_v2_forward_desc_init(
        forwardDesc,
        FORWARD_TRAINING,
        POOLING_MAX,
        src,
        dst,
        strides,
        kernel,
        dilation,
        padLeft,
        padRight,
      ),
    );
    const forward = this.#primitiveDesc(forwardDesc, null);
    const backwardDesc = new Uint8Array(OP_DESC_BYTES);
    this.#check(
      "describe the max-pool gradient",
      s.dnnl_pooling_v2_backward_desc_init(
        backwardDesc,
        POOLING_MAX,
        src,
        dst,
        strides,
        kernel,
        dilation,
        padLeft,
        padRight,
      ),
    );
    const backward = this.#primitiveDesc(backwardDesc, forward);
    const scratch = this.#create(
      "memory",
      (out) => s.dnnl_memory_create(out, dst, this.#engine, LIBRARY_ALLOCATES),
    );
    const workspaceDesc = s.dnnl_primitive_desc_query_md(forward, QUERY_WORKSPACE_MD, 0);
    if (workspaceDesc === null || s.dnnl_memory_desc_get_size(workspaceDesc) === 0n) {
      throw new Error("oneDNN max-pool has no workspace");
    }
    const workspace = this.#create(
      "memory",
      (out) => s.dnnl_memory_create_from_query(out, workspaceDesc, this.#engine, LIBRARY_ALLOCATES),
    );
    // Buffers: x, dy, dx.
    return this.#planOf([src, dst, src], [
      [forward, [[ARG.src, 0], [ARG.dst, scratch], [ARG.workspace, workspace]]],
      [backward, [[ARG.diffDst, 1], [ARG.workspace, workspace], [ARG.diffSrc, 2]]],
    ]);
  }

  /**
   * Creates the primitives and the memories for the caller's buffers (described by
   * `inputDescs`), and each step's argument list; the implementation reported is step `main`'s.
   */
  #planOf(inputDescs: Uint8Array[], steps: [Pointer, Slot[]][], main = steps.length - 1): Plan {
    const s = this.#lib.symbols;
    const inputs = inputDescs.map((desc) =>
      this.#create("memory", (out) => s.dnnl_memory_create(out, desc, this.#engine, null))
    );
    const built = steps.map(([primitiveDesc, slots]) => {
      const primitive = this.#create(
        "primitive",
        (out) => s.dnnl_primitive_create(out, primitiveDesc),
      );
      const args = new BigUint64Array(slots.length * 2);
      slots.forEach(([arg, memory], i) => {
        const handle = typeof memory === "number" ? inputs[memory]! : memory;
        args[2 * i] = BigInt(arg);
        args[2 * i + 1] = BigInt(Deno.UnsafePointer.value(handle));
      });
      return { primitive, args, argCount: slots.length };
    });
    const info = new BigUint64Array(1);
    this.#check(
      "query the implementation",
      s.dnnl_primitive_desc_query(steps[main]![0], QUERY_IMPL_INFO, 0, info),
    );
    const name = new Deno.UnsafePointerView(Deno.UnsafePointer.create(info[0]!)!).getCString();
    return { steps: built, inputs, implementation: name };
  }

  #identityOf(units: number): { ones: Float32Array; zeros: Float32Array } {
    let identity = this.#identity.get(units);
    if (identity === undefined) {
      identity = { ones: new Float32Array(units).fill(1), zeros: new Float32Array(units) };
      this.#identity.set(units, identity);
    }
    return identity;
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

/** The plan cache key of a convolution pass. */
function convKey(pass: ConvPass, g: ConvGeometry): string {
  return `conv:${pass}:${key(g)}`;
}

/** A cache key of a geometry. */
function key(g: ConvGeometry | PoolGeometry): string {
  return Object.values(g).join(",");
}

/** A dnnl_dims_t (int64_t[12]). */
function dims(values: number[]): BigInt64Array {
  const out = new BigInt64Array(12);
  values.forEach((v, i) => out[i] = BigInt(v));
  return out;
}
