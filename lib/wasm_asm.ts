/**
 * A minimal WebAssembly assembler: enough to build the few small modules of this project (the
 * Philox generator, fused kernels over the tfjs wasm heap) from their instructions at run time,
 * with no toolchain, no build step and no binary file in the repository. Browser-safe.
 *
 * @module
 */

/** Signed LEB128 (i32.const / i64.const immediates). */
export function sleb(value: bigint | number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** Unsigned LEB128 (sizes, indices, SIMD opcodes). */
export function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    const byte = value & 0x7f;
    value >>>= 7;
    out.push(value === 0 ? byte : byte | 0x80);
  } while (value !== 0);
  return out;
}

/** Value types. */
export const T = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;

/** Opcodes used by this project's modules (SIMD ones are `simd(n)`). */
export const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  void: 0x40,
  select: 0x1b,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  i32Const: 0x41,
  i64Const: 0x42,
  f32Const: 0x43,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i64Mul: 0x7e,
  i64ShrU: 0x88,
  f32Sub: 0x93,
  f32Mul: 0x94,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
  f32ConvertI32U: 0xb3,
  f32Load: 0x2a,
  f32Store: 0x38,
} as const;

/** A SIMD instruction: the 0xfd prefix and its opcode. */
export function simd(opcode: number): number[] {
  return [0xfd, ...uleb(opcode)];
}

/** SIMD opcodes used here. */
export const SIMD = {
  load: 0x00,
  store: 0x0b,
  i8x16Shuffle: 0x0d,
  f32x4Splat: 0x13,
  f32x4Ne: 0x42,
  f32x4Gt: 0x44,
  v128And: 0x4e,
  v128Or: 0x50,
  f64x2PromoteLowF32x4: 0x5f,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Max: 0xe9,
  f64x2Add: 0xf0,
} as const;

/**
 * `while (i < end) { body; i += step }` over i32 locals `i` and `end` (byte offsets, say).
 *
 * @param i The counter's local.
 * @param end The bound's local.
 * @param step What each pass adds to the counter.
 * @param body The loop body.
 * @returns The instructions.
 */
export function loopUntil(i: number, end: number, step: number, body: number[]): number[] {
  return [
    OP.block,
    OP.void,
    OP.loop,
    OP.void,
    OP.get,
    i,
    OP.get,
    end,
    OP.i32GeU,
    OP.brIf,
    1,
    ...body,
    OP.get,
    i,
    OP.i32Const,
    ...sleb(step),
    OP.i32Add,
    OP.set,
    i,
    OP.br,
    0,
    OP.end,
    OP.end,
  ];
}

/** An exported function: its signature, extra locals and body (without the final `end`). */
export interface WasmFunction {
  name: string;
  params: number[];
  results: number[];
  /** Extra locals after the parameters, as [count, type] runs. */
  locals: [number, number][];
  body: number[];
}

/** Where the module's memory comes from. */
export type WasmMemory =
  | { own: true }
  | { imported: true; shared: boolean };

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/**
 * The bytes of a module with the given functions (all exported by name) and one memory: its
 * own (1 page, exported as "memory") or imported as env.memory.
 *
 * @param functions The functions.
 * @param memory The memory.
 * @returns The module's bytes.
 */
export function assemble(
  functions: readonly WasmFunction[],
  memory: WasmMemory,
): Uint8Array<ArrayBuffer> {
  const types = section(1, [
    ...uleb(functions.length),
    ...functions.flatMap((f) => [
      0x60,
      ...uleb(f.params.length),
      ...f.params,
      ...uleb(f.results.length),
      ...f.results,
    ]),
  ]);
  // A shared memory must declare a maximum: 65536 pages (4 GiB) accepts any.
  const imports = "imported" in memory
    ? section(2, [
      1,
      ...name("env"),
      ...name("memory"),
      0x02,
      ...(memory.shared ? [0x03, 0, ...uleb(65536)] : [0x00, 0]),
    ])
    : [];
  const funcs = section(3, [...uleb(functions.length), ...functions.map((_, i) => i)]);
  const memories = "own" in memory ? section(5, [1, 0, 1]) : [];
  const exported = [
    ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]),
    ...("own" in memory ? [[...name("memory"), 0x02, 0]] : []),
  ];
  const exports = section(7, [...uleb(exported.length), ...exported.flat()]);
  const code = section(10, [
    ...uleb(functions.length),
    ...functions.flatMap((f) => {
      const body = [
        ...uleb(f.locals.length),
        ...f.locals.flatMap(([count, type]) => [...uleb(count), type]),
        ...f.body,
        OP.end,
      ];
      return [...uleb(body.length), ...body];
    }),
  ]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...types,
    ...imports,
    ...funcs,
    ...memories,
    ...exports,
    ...code,
  ]);
}
