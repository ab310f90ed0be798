/**
 * Counter-based random numbers (Philox4x32-10, Salmon et al. 2011) for every random draw of
 * the project: initialisation, data order and training noise.
 *
 * A counter-based generator maps (key, counter) to random bits with no hidden state, so any
 * element of any stream can be computed independently: on the host here, or on the device by a
 * kernel that runs the same 32-bit integer arithmetic (see `lib/models/noise.ts`). Uniform
 * floats are built from the top 24 bits, so they are exact in float32 and identical on every
 * backend.
 *
 * @module
 */

/** Philox4x32's round multipliers and key increments (Salmon et al. 2011). */
export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 values. */
function mulHi32(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16;
  const bLo = b & 0xffff, bHi = b >>> 16;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const hiHi = aHi * bHi;
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + loHi;
  return (hiHi + (hiLo >>> 16) + Math.floor(cross / 0x10000)) >>> 0;
}

/**
 * Philox4x32-10: four random uint32 words for a 128-bit counter and a 64-bit key.
 *
 * @param counter Four uint32 words.
 * @param key Two uint32 words.
 * @param out Optional output array (avoids an allocation in hot loops).
 * @returns The four output words.
 */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let c0 = counter[0]! >>> 0, c1 = counter[1]! >>> 0, c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0]! >>> 0, k1 = key[1]! >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulHi32(PHILOX_M0, c0), lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulHi32(PHILOX_M1, c2), lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** A uint32 word to a float32-exact uniform in [0, 1) (top 24 bits). */
export function wordToUniform(word: number): number {
  return (word >>> 8) * 2 ** -24;
}

/**
 * Named random streams: each purpose draws from its own key so that adding a draw in one place
 * never shifts the numbers of another (e.g. data order does not depend on network width).
 */
export const STREAMS = {
  init: 1,
  dataOrder: 2,
  noise: 3,
  subset: 4,
  data: 5,
  measure: 6,
} as const;

/** Stream id: one of `STREAMS` or any other uint32. */
export type StreamId = number;

/**
 * A sequential host-side generator over one Philox stream. Its whole state is (seed, stream,
 * position), so it can be saved in a checkpoint and restored exactly.
 */
export class Random {
  readonly seed: number;
  readonly stream: StreamId;
  #position = 0;
  #block = new Uint32Array(4);
  #loadedBlock = -1;

  /**
   * @param seed Experiment seed (uint32).
   * @param stream Stream id, see `STREAMS`.
   * @param position Number of words already drawn (for restoring a saved state).
   */
  constructor(seed: number, stream: StreamId, position = 0) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`Cannot create Random: seed must be a uint32, got ${seed}`);
    }
    this.seed = seed;
    this.stream = stream >>> 0;
    this.skip(position);
  }

  /** Words drawn so far. */
  get position(): number {
    return this.#position;
  }

  /** Advance by `count` words without computing them. */
  skip(count: number): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`Cannot skip: count must be a non-negative integer, got ${count}`);
    }
    this.#position += count;
  }

  /** Next uint32 word. */
  nextUint32(): number {
    const blockNumber = Math.floor(this.#position / 4);
    if (blockNumber !== this.#loadedBlock) {
      // Counter = (block number low, high, 0, 0); key = (seed, stream).
      philox4x32(
        [blockNumber >>> 0, Math.floor(blockNumber / 2 ** 32) >>> 0, 0, 0],
        [this.seed, this.stream],
        this.#block,
      );
      this.#loadedBlock = blockNumber;
    }
    return this.#block[this.#position++ % 4]!;
  }

  /** Uniform in [0, 1), exact in float32. */
  uniform(): number {
    return wordToUniform(this.nextUint32());
  }

  /** Uniform integer in [0, n) without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Cannot draw an integer: n must be in 1..2^32, got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const w = this.nextUint32();
      if (w < limit) return w % n;
    }
  }

  /** Standard normal by Box-Muller (uses two words). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fill a Float32Array with uniforms in [low, high). */
  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  /** Fill a Float32Array with normals of the given mean and standard deviation. */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** A permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}
