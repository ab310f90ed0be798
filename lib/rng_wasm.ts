/**
 * Philox4x32-10 uniform fields in WebAssembly: the same integer arithmetic as `philox4x32` in
 * `rng.ts`, so the same bits, at several times its speed (wasm multiplies two uint32 into an
 * exact 64-bit product in one instruction, where JS needs four 16-bit partial products). The
 * training noise of Algorithm 1 draws three uniforms per activation element every step; in JS
 * that was most of a noisy-BatchNorm VGG step on a CPU.
 *
 * The module is assembled here from its instructions (`wasm_asm.ts`: no build step, no binary
 * file), and runs wherever WebAssembly does: Deno, a browser tab. Where it cannot be
 * instantiated, callers get null and use the JS reference.
 *
 * @module
 */
import { PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1 } from "./rng.ts";
import { assemble, loopUntil, OP, sleb, T } from "./wasm_asm.ts";

// fill(out, firstBlock, blocks, c1, c2, c3, k0, k1): for b in 0..blocks-1, the block of counter
// (firstBlock + b, c1, c2, c3) and key (k0, k1), as four float32 uniforms (top 24 bits x 2^-24)
// at out + 16 b. Parameters are locals 0-7; the rest are declared below.
const L = {
  out: 0,
  first: 1,
  blocks: 2,
  c1In: 3,
  c2In: 4,
  c3In: 5,
  k0In: 6,
  k1In: 7,
  b: 8,
  c0: 9,
  c1: 10,
  c2: 11,
  c3: 12,
  k0: 13,
  k1: 14,
  round: 15,
  t: 16,
  addr: 17,
  p0: 18, // i64
  p1: 19, // i64
} as const;

const get = (l: number) => [OP.get, l];
const set = (l: number) => [OP.set, l];
const i32 = (v: number) => [OP.i32Const, ...sleb(v | 0)];

/** Stores the uniform of word `word` at addr + offset. */
function storeUniform(word: number, offset: number): number[] {
  return [
    ...get(L.addr),
    ...get(word),
    ...i32(8),
    OP.i32ShrU,
    OP.f32ConvertI32U,
    OP.f32Const,
    0x00,
    0x00,
    0x80,
    0x33, // 2^-24
    OP.f32Mul,
    OP.f32Store,
    2, // align 2^2
    offset,
  ];
}

/** One Philox block (counter firstBlock + b) into out + 16 b. */
const BLOCK: number[] = [
  ...get(L.first),
  ...get(L.b),
  OP.i32Add,
  ...set(L.c0),
  ...get(L.c1In),
  ...set(L.c1),
  ...get(L.c2In),
  ...set(L.c2),
  ...get(L.c3In),
  ...set(L.c3),
  ...get(L.k0In),
  ...set(L.k0),
  ...get(L.k1In),
  ...set(L.k1),
  ...i32(10),
  ...set(L.round),
  OP.loop,
  OP.void,
  // p0 = c0 * M0, p1 = c2 * M1 (exact 64-bit products)
  ...get(L.c0),
  OP.i64ExtendI32U,
  OP.i64Const,
  ...sleb(PHILOX_M0),
  OP.i64Mul,
  ...set(L.p0),
  ...get(L.c2),
  OP.i64ExtendI32U,
  OP.i64Const,
  ...sleb(PHILOX_M1),
  OP.i64Mul,
  ...set(L.p1),
  // t = hi(p1) ^ c1 ^ k0; c1 = lo(p1); c2 = hi(p0) ^ c3 ^ k1; c3 = lo(p0); c0 = t
  ...get(L.p1),
  OP.i64Const,
  32,
  OP.i64ShrU,
  OP.i32WrapI64,
  ...get(L.c1),
  OP.i32Xor,
  ...get(L.k0),
  OP.i32Xor,
  ...set(L.t),
  ...get(L.p1),
  OP.i32WrapI64,
  ...set(L.c1),
  ...get(L.p0),
  OP.i64Const,
  32,
  OP.i64ShrU,
  OP.i32WrapI64,
  ...get(L.c3),
  OP.i32Xor,
  ...get(L.k1),
  OP.i32Xor,
  ...set(L.c2),
  ...get(L.p0),
  OP.i32WrapI64,
  ...set(L.c3),
  ...get(L.t),
  ...set(L.c0),
  // bump the key
  ...get(L.k0),
  ...i32(PHILOX_W0),
  OP.i32Add,
  ...set(L.k0),
  ...get(L.k1),
  ...i32(PHILOX_W1),
  OP.i32Add,
  ...set(L.k1),
  // while (--round)
  ...get(L.round),
  ...i32(1),
  OP.i32Sub,
  ...set(L.round),
  ...get(L.round),
  OP.brIf,
  0,
  OP.end,
  // addr = out + 16 b
  ...get(L.out),
  ...get(L.b),
  ...i32(4),
  OP.i32Shl,
  OP.i32Add,
  ...set(L.addr),
  ...storeUniform(L.c0, 0),
  ...storeUniform(L.c1, 4),
  ...storeUniform(L.c2, 8),
  ...storeUniform(L.c3, 12),
];

const BODY: number[] = [...i32(0), ...set(L.b), ...loopUntil(L.b, L.blocks, 1, BLOCK)];

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return assemble([{
    name: "fill",
    params: Array(8).fill(T.i32),
    results: [],
    locals: [[10, T.i32], [2, T.i64]], // locals 8-17, 18-19
    body: BODY,
  }], { own: true });
}

interface PhiloxModule {
  fill: (...args: number[]) => void;
  memory: WebAssembly.Memory;
}

let instance: PhiloxModule | null | undefined;

function philoxModule(): PhiloxModule | null {
  if (instance !== undefined) return instance;
  try {
    const module = new WebAssembly.Module(moduleBytes());
    const exports = new WebAssembly.Instance(module).exports as unknown as PhiloxModule;
    instance = exports;
  } catch {
    instance = null;
  }
  return instance;
}

/** Blocks computed per call, so that the module's memory stays small (4 MiB of output). */
const CHUNK_BLOCKS = 1 << 18;

/**
 * `size` uniforms of a Philox field (element e = word e % 4 of the block of counter
 * (floor(e / 4), c1, c2, c3) and key (seed, stream), as `wordToUniform`), or null where
 * WebAssembly is unavailable. Arguments are uint32 and validated by the caller.
 *
 * @param size Number of uniforms.
 * @param key [seed, stream].
 * @param counterWords Counter words 1..3.
 * @returns The uniforms, or null.
 */
export function philoxUniformsWasm(
  size: number,
  key: readonly [number, number],
  counterWords: readonly [number, number, number],
): Float32Array | null {
  const philox = philoxModule();
  if (philox === null) return null;
  const out = new Float32Array(size);
  const totalBlocks = Math.ceil(size / 4);
  const needed = Math.min(totalBlocks, CHUNK_BLOCKS) * 16;
  const pages = Math.ceil(needed / 65536) - philox.memory.buffer.byteLength / 65536;
  if (pages > 0) philox.memory.grow(pages);
  for (let first = 0; first < totalBlocks; first += CHUNK_BLOCKS) {
    const blocks = Math.min(CHUNK_BLOCKS, totalBlocks - first);
    philox.fill(
      0,
      first | 0,
      blocks,
      counterWords[0] | 0,
      counterWords[1] | 0,
      counterWords[2] | 0,
      key[0] | 0,
      key[1] | 0,
    );
    const count = Math.min(blocks * 4, size - first * 4);
    out.set(new Float32Array(philox.memory.buffer, 0, count), first * 4);
  }
  return out;
}
