/**
 * CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images") in its
 * official binary layout: parsing, known checksums, channel statistics, seeded batch order and
 * deterministic subsets.
 *
 * Pure: no Deno APIs, so it runs in a browser too. File I/O lives in `cifar10_files.ts`.
 *
 * @example
 * ```ts
 * import { batchOrder } from "./cifar10.ts";
 * import assert from "node:assert/strict";
 *
 * // The same (n, seed, epoch) gives the same order everywhere.
 * assert.deepEqual(batchOrder(10, 7, 3), batchOrder(10, 7, 3));
 * ```
 *
 * @module
 */
import { Random, STREAMS } from "../rng.ts";

/** Class names in label order (label 0 = airplane … 9 = truck), as in `batches.meta.txt`. */
export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
] as const;

/** One CIFAR-10 class name. */
export type Cifar10Class = typeof CIFAR10_CLASSES[number];

/** Image height and width in pixels. */
export const CIFAR10_IMAGE_SIZE = 32;
/** Colour channels (R, G, B). */
export const CIFAR10_CHANNELS = 3;
/** Bytes of one image: 32 * 32 * 3. */
export const CIFAR10_IMAGE_BYTES = 3072;
/** Bytes of one record in a `.bin` file: 1 label byte + 3072 pixel bytes. */
export const CIFAR10_RECORD_BYTES = 3073;
/** Records in each official `.bin` file. */
export const CIFAR10_RECORDS_PER_FILE = 10_000;
/** Size of each official `.bin` file: 10,000 records of 3073 bytes. */
export const CIFAR10_FILE_BYTES = 30_730_000;

/** Base names (without `.bin`) of the five training files, in the official order. */
export const CIFAR10_TRAIN_FILES = [
  "data_batch_1",
  "data_batch_2",
  "data_batch_3",
  "data_batch_4",
  "data_batch_5",
] as const;
/** Base name (without `.bin`) of the test file. */
export const CIFAR10_TEST_FILES = ["test_batch"] as const;

/** Base name of one official `.bin` file. */
export type Cifar10FileName =
  | typeof CIFAR10_TRAIN_FILES[number]
  | typeof CIFAR10_TEST_FILES[number];

/**
 * SHA-256 (lowercase hex) of the six uncompressed official `.bin` files. These are facts about
 * the data: the copy this project was developed with (a lossless rebuild, see data/README.md)
 * has exactly these hashes, and so do the members of the official `cifar-10-binary.tar.gz` as
 * checked by `ankane/torchvision-ruby` (`lib/torchvision/datasets/cifar10.rb` @ 9bf22501).
 */
export const CIFAR10_SHA256: Readonly<Record<Cifar10FileName, string>> = {
  data_batch_1: "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
  data_batch_2: "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
  data_batch_3: "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
  data_batch_4: "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
  data_batch_5: "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
  test_batch: "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
};

/**
 * What a set of `.bin` files must contain: which files form each split, how many records each
 * holds and their checksums. The full data set uses {@link CIFAR10_MANIFEST}; the committed
 * sample and tests use smaller manifests with the same layout.
 */
export interface Cifar10Manifest {
  /** Base names (without `.bin`) of the training files, in order. */
  trainFiles: readonly string[];
  /** Base names (without `.bin`) of the test files, in order. */
  testFiles: readonly string[];
  /** Records in every file (each file is `recordsPerFile * 3073` bytes). */
  recordsPerFile: number;
  /** SHA-256 (lowercase hex) of each uncompressed file, keyed by base name. */
  sha256: Readonly<Record<string, string>>;
}

/** The manifest of the official data set: 5 x 10,000 training and 10,000 test records. */
export const CIFAR10_MANIFEST: Cifar10Manifest = {
  trainFiles: CIFAR10_TRAIN_FILES,
  testFiles: CIFAR10_TEST_FILES,
  recordsPerFile: CIFAR10_RECORDS_PER_FILE,
  sha256: CIFAR10_SHA256,
};

/** A set of images with their labels. */
export interface Cifar10Set {
  /**
   * Pixels as uint8 in NHWC order, [count, 32, 32, 3] flattened: byte
   * `((i * 32 + y) * 32 + x) * 3 + c` is channel c (0 = R, 1 = G, 2 = B) of pixel (y, x) of
   * image i. This is the layout `tf.conv2d` expects (channels last), unlike the files' planes.
   */
  images: Uint8Array;
  /** Labels 0..9 (index into {@link CIFAR10_CLASSES}), [count]. */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
}

/** Per-channel statistics in 0..255 units, channels in R, G, B order. */
export interface ChannelStats {
  mean: [number, number, number];
  /** Population standard deviation (divides by the number of values). */
  std: [number, number, number];
}

/**
 * Channel statistics of the 50,000 training images, rounded to 3 decimals (the usual
 * (0.4914, 0.4822, 0.4465) / (0.2470, 0.2435, 0.2616) times 255). A test recomputes them with
 * {@link channelStats} when the full data set is present. Normalising the sample with these
 * keeps it on the same scale as full runs.
 */
export const CIFAR10_TRAIN_STATS: Readonly<ChannelStats> = {
  mean: [125.307, 122.95, 113.865],
  std: [62.993, 62.089, 66.705],
};

/** Options of {@link decodeCifar10} and {@link checkCifar10}. */
export interface DecodeOptions {
  /** File name used in error messages. */
  fileName?: string;
}

/**
 * Checks the official binary layout without decoding: the size is a whole number of 3073-byte
 * records and every label byte is 0..9.
 *
 * @param bytes The uncompressed contents of one or more `.bin` files.
 * @param options File name for error messages.
 * @returns The number of records.
 * @throws {RangeError} If the size is not a multiple of 3073 bytes or a label byte exceeds 9.
 */
export function checkCifar10(bytes: Uint8Array, options: DecodeOptions = {}): number {
  const fileName = options.fileName ?? "<bytes>";
  if (bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    throw new RangeError(
      `Cannot decode CIFAR-10 file ${fileName}: size must be a multiple of ` +
        `${CIFAR10_RECORD_BYTES} bytes, got ${bytes.length} bytes`,
    );
  }
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  for (let r = 0; r < count; r++) {
    const label = bytes[r * CIFAR10_RECORD_BYTES]!;
    if (label > 9) {
      throw new RangeError(
        `Cannot decode CIFAR-10 file ${fileName}: label byte of record ${r} must be 0..9, ` +
          `got ${label}`,
      );
    }
  }
  return count;
}

/**
 * Parses the official binary layout: records of 3073 bytes, each a label byte (0..9) followed
 * by the 1024-byte R, G and B planes of a 32x32 image (rows top to bottom). The planes are
 * interleaved into NHWC.
 *
 * @param bytes The uncompressed contents of one or more `.bin` files.
 * @param options File name for error messages.
 * @returns The decoded images (NHWC, see {@link Cifar10Set}) and labels.
 * @throws {RangeError} If the size is not a multiple of 3073 bytes or a label byte exceeds 9
 *   (the message names the file, the record and the value).
 *
 * @example
 * ```ts
 * import { decodeCifar10 } from "./cifar10.ts";
 * import assert from "node:assert/strict";
 *
 * const record = new Uint8Array(3073);
 * record[0] = 4; // label: deer
 * record[1] = 10; // R of pixel (0, 0)
 * record[1 + 1024] = 20; // G of pixel (0, 0)
 * record[1 + 2048] = 30; // B of pixel (0, 0)
 * const set = decodeCifar10(record);
 * assert.deepEqual([...set.images.subarray(0, 3)], [10, 20, 30]);
 * assert.equal(set.labels[0], 4);
 * ```
 */
export function decodeCifar10(bytes: Uint8Array, options: DecodeOptions = {}): Cifar10Set {
  const count = checkCifar10(bytes, options);
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES); // [count, 32, 32, 3]
  const labels = new Uint8Array(count); // [count]
  for (let r = 0; r < count; r++) {
    const src = r * CIFAR10_RECORD_BYTES;
    labels[r] = bytes[src]!;
    // Planes [3, 1024] -> pixels [1024, 3]. Reading the three planes in step keeps the writes
    // sequential.
    const red = src + 1, green = red + 1024, blue = green + 1024;
    let dst = r * CIFAR10_IMAGE_BYTES;
    for (let p = 0; p < 1024; p++) {
      images[dst++] = bytes[red + p]!;
      images[dst++] = bytes[green + p]!;
      images[dst++] = bytes[blue + p]!;
    }
  }
  return { images, labels, count };
}

/**
 * The inverse of {@link decodeCifar10}: a set in the official binary layout (used to write
 * samples and test files).
 *
 * @param set Images (NHWC) and labels.
 * @returns `set.count` records of 3073 bytes.
 */
export function encodeCifar10(set: Cifar10Set): Uint8Array {
  const out = new Uint8Array(set.count * CIFAR10_RECORD_BYTES);
  for (let r = 0; r < set.count; r++) {
    const dst = r * CIFAR10_RECORD_BYTES;
    out[dst] = set.labels[r]!;
    let src = r * CIFAR10_IMAGE_BYTES;
    for (let p = 0; p < 1024; p++) {
      out[dst + 1 + p] = set.images[src++]!;
      out[dst + 1025 + p] = set.images[src++]!;
      out[dst + 2049 + p] = set.images[src++]!;
    }
  }
  return out;
}

/**
 * Joins sets end to end (e.g. the five training files into one training set).
 *
 * @param sets The sets, in order.
 * @returns A new set holding copies of all images and labels.
 */
export function concatSets(sets: readonly Cifar10Set[]): Cifar10Set {
  const count = sets.reduce((total, set) => total + set.count, 0);
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let offset = 0;
  for (const set of sets) {
    images.set(
      set.images.subarray(0, set.count * CIFAR10_IMAGE_BYTES),
      offset * CIFAR10_IMAGE_BYTES,
    );
    labels.set(set.labels.subarray(0, set.count), offset);
    offset += set.count;
  }
  return { images, labels, count };
}

/**
 * Counts the images of each class.
 *
 * @param labels Labels 0..9.
 * @returns Ten counts, indexed by label.
 */
export function classCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(CIFAR10_CLASSES.length).fill(0);
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

/**
 * Per-channel mean and population standard deviation over every pixel of a set, in 0..255
 * units. Sums are exact integers in float64 (below 2^53 for up to 10^9 images), so the result
 * does not depend on summation order.
 *
 * @param images NHWC uint8 pixels, as in {@link Cifar10Set.images}.
 * @returns Mean and standard deviation of R, G and B.
 * @throws {RangeError} If `images` is empty or its length is not a multiple of 3.
 */
export function channelStats(images: Uint8Array): ChannelStats {
  if (images.length === 0 || images.length % CIFAR10_CHANNELS !== 0) {
    throw new RangeError(
      `Cannot compute channel statistics: length must be a positive multiple of 3, got ${images.length}`,
    );
  }
  let sumR = 0, sumG = 0, sumB = 0, sqR = 0, sqG = 0, sqB = 0;
  for (let i = 0; i < images.length; i += 3) {
    const r = images[i]!, g = images[i + 1]!, b = images[i + 2]!;
    sumR += r;
    sumG += g;
    sumB += b;
    sqR += r * r;
    sqG += g * g;
    sqB += b * b;
  }
  const n = images.length / CIFAR10_CHANNELS;
  const stat = (sum: number, sq: number): [number, number] => {
    const mean = sum / n;
    return [mean, Math.sqrt(Math.max(0, sq / n - mean * mean))];
  };
  const [mr, sr] = stat(sumR, sqR), [mg, sg] = stat(sumG, sqG), [mb, sb] = stat(sumB, sqB);
  return { mean: [mr, mg, mb], std: [sr, sg, sb] };
}

/**
 * Words of the data-order stream reserved for each epoch. Epoch e's permutation starts at word
 * e * 2^32, so it can be computed directly without replaying earlier epochs. A permutation of n
 * items uses n - 1 words plus rare rejections, far below 2^32 for n <= 2^28.
 */
const EPOCH_WORDS = 2 ** 32;
/** Largest set size {@link batchOrder} accepts. */
const MAX_ORDER_SIZE = 2 ** 28;
/** Largest epoch: 2^21 * 2^32 words keeps the stream position exact in float64 (2^53). */
const MAX_EPOCH = 2 ** 21 - 1;

/**
 * The order in which epoch `epoch` visits a set of `n` items: a uniform permutation of 0..n-1
 * from the `STREAMS.dataOrder` stream of `seed`. Each epoch owns a fixed slice of the stream,
 * so any epoch is reached directly (used to resume runs) and the order is the same on every
 * platform and backend.
 *
 * @param n Number of items (1..2^28).
 * @param seed Data-order seed (uint32).
 * @param epoch 0-based epoch (0..2^21-1).
 * @returns A permutation of 0..n-1.
 * @throws {RangeError} If an argument is out of range.
 */
export function batchOrder(n: number, seed: number, epoch: number): Uint32Array<ArrayBuffer> {
  if (!Number.isInteger(n) || n < 1 || n > MAX_ORDER_SIZE) {
    throw new RangeError(`Cannot compute batch order: n must be an integer in 1..2^28, got ${n}`);
  }
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new RangeError(
      `Cannot compute batch order: epoch must be an integer in 0..${MAX_EPOCH}, got ${epoch}`,
    );
  }
  const start = epoch * EPOCH_WORDS;
  const random = new Random(seed, STREAMS.dataOrder, start);
  const order = random.permutation(n);
  if (random.position - start > EPOCH_WORDS) {
    // Unreachable in practice (probability far below 2^-1000); guards the independence claim.
    throw new RangeError(`Cannot compute batch order: epoch ${epoch} overran its stream slice`);
  }
  // permutation() allocates a fresh (non-shared) array.
  return order as Uint32Array<ArrayBuffer>;
}

/** How a set is cut into batches. */
export interface BatchOptions {
  /** Data-order seed (uint32). */
  seed: number;
  /** Images per batch. */
  batchSize: number;
}

/** One batch of a seeded epoch schedule. */
export interface BatchIndices {
  /** Global 0-based step: epoch * batchesPerEpoch + batch. */
  step: number;
  /** 0-based epoch. */
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** Indices into the set, [batchSize]. */
  indices: Uint32Array;
}

/**
 * Full batches per epoch: the last partial batch is dropped, so every step sees exactly
 * `batchSize` images (50,000 / 128: 390 batches, 80 images left out, different ones each epoch).
 *
 * @param n Set size.
 * @param batchSize Images per batch.
 * @returns floor(n / batchSize).
 * @throws {RangeError} If batchSize is not in 1..n.
 */
export function batchesPerEpoch(n: number, batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) {
    throw new RangeError(
      `Cannot cut batches: batch size must be an integer in 1..${n}, got ${batchSize}`,
    );
  }
  return Math.floor(n / batchSize);
}

/**
 * The indices of global step `step` (epoch = floor(step / batchesPerEpoch)), computed directly
 * from the step: a resumed run gets exactly the batch an uninterrupted run would.
 *
 * @param n Set size.
 * @param step 0-based global step.
 * @param options Seed and batch size.
 * @returns The batch's position and indices.
 */
export function batchAt(n: number, step: number, options: BatchOptions): BatchIndices {
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`Cannot find batch: step must be a non-negative integer, got ${step}`);
  }
  const perEpoch = batchesPerEpoch(n, options.batchSize);
  const epoch = Math.floor(step / perEpoch), batch = step % perEpoch;
  const order = batchOrder(n, options.seed, epoch);
  const indices = order.slice(batch * options.batchSize, (batch + 1) * options.batchSize);
  return { step, epoch, batch, indices };
}

/** Options of {@link batchIterator}. */
export interface BatchIteratorOptions extends BatchOptions {
  /** First global step to yield (default 0): resume point. */
  startStep?: number;
  /** Number of batches to yield (default: endless). */
  steps?: number;
}

/**
 * Yields the batches of consecutive steps, the same as {@link batchAt} for each step, computing
 * each epoch's permutation once.
 *
 * @param n Set size.
 * @param options Seed, batch size, start step and count.
 * @returns A generator of batches.
 */
export function* batchIterator(
  n: number,
  options: BatchIteratorOptions,
): Generator<BatchIndices, void, undefined> {
  const perEpoch = batchesPerEpoch(n, options.batchSize);
  const start = options.startStep ?? 0;
  if (!Number.isInteger(start) || start < 0) {
    throw new RangeError(
      `Cannot iterate batches: start step must be a non-negative integer, got ${start}`,
    );
  }
  const end = options.steps === undefined ? Infinity : start + options.steps;
  let order: Uint32Array | null = null;
  let orderEpoch = -1;
  for (let step = start; step < end; step++) {
    const epoch = Math.floor(step / perEpoch), batch = step % perEpoch;
    if (epoch !== orderEpoch || order === null) {
      order = batchOrder(n, options.seed, epoch);
      orderEpoch = epoch;
    }
    const indices = order.slice(batch * options.batchSize, (batch + 1) * options.batchSize);
    yield { step, epoch, batch, indices };
  }
}

/**
 * Copies the given images and labels, in the given order.
 *
 * @param set Source set.
 * @param indices Indices into the set.
 * @returns A new set of `indices.length` images.
 * @throws {RangeError} If an index is outside 0..count-1.
 */
export function gather(set: Cifar10Set, indices: ArrayLike<number>): Cifar10Set {
  const count = indices.length;
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= set.count) {
      throw new RangeError(`Cannot gather images: index must be in 0..${set.count - 1}, got ${i}`);
    }
    images.set(
      set.images.subarray(i * CIFAR10_IMAGE_BYTES, (i + 1) * CIFAR10_IMAGE_BYTES),
      k * CIFAR10_IMAGE_BYTES,
    );
    labels[k] = set.labels[i]!;
  }
  return { images, labels, count };
}

/**
 * The first `n` images of a set, in file order (a copy).
 *
 * @param set Source set.
 * @param n Number of images (0..count).
 * @returns The subset.
 * @throws {RangeError} If n is not an integer in 0..count.
 */
export function firstN(set: Cifar10Set, n: number): Cifar10Set {
  if (!Number.isInteger(n) || n < 0 || n > set.count) {
    throw new RangeError(`Cannot take first images: n must be in 0..${set.count}, got ${n}`);
  }
  return {
    images: set.images.slice(0, n * CIFAR10_IMAGE_BYTES),
    labels: set.labels.slice(0, n),
    count: n,
  };
}

/**
 * A class-balanced subset: the first `nPerClass` images of each class, kept in file order
 * (deterministic, no randomness).
 *
 * @param set Source set.
 * @param nPerClass Images per class.
 * @returns The subset of 10 * nPerClass images.
 * @throws {RangeError} If a class has fewer than `nPerClass` images.
 */
export function perClass(set: Cifar10Set, nPerClass: number): Cifar10Set {
  if (!Number.isInteger(nPerClass) || nPerClass < 0) {
    throw new RangeError(
      `Cannot select images per class: count must be a non-negative integer, got ${nPerClass}`,
    );
  }
  const taken = new Array<number>(CIFAR10_CLASSES.length).fill(0);
  const indices: number[] = [];
  for (let i = 0; i < set.count && indices.length < nPerClass * taken.length; i++) {
    const label = set.labels[i]!;
    if (taken[label]! < nPerClass) {
      taken[label]!++;
      indices.push(i);
    }
  }
  const short = taken.findIndex((t) => t < nPerClass);
  if (short !== -1) {
    throw new RangeError(
      `Cannot select ${nPerClass} images per class: class ${short} (${CIFAR10_CLASSES[short]}) ` +
        `has only ${taken[short]}`,
    );
  }
  return gather(set, indices);
}

/**
 * SHA-256 of some bytes as lowercase hex, via WebCrypto.
 *
 * @param bytes Data to hash.
 * @returns 64 hex digits.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./cifar10.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   await sha256Hex(new TextEncoder().encode("abc")),
 *   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * );
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Parses `sha256sum` output ("<64 hex>  <name>" per line; a `*` before the name marks binary
 * mode and is dropped). Blank lines are skipped.
 *
 * @param text The file's contents.
 * @returns Hash (lowercase hex) by file name.
 * @throws {SyntaxError} On a malformed line.
 */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (match === null) {
      throw new SyntaxError(
        `Cannot parse SHA256SUMS: line ${i + 1} must be "<64 hex digits>  <name>", got "${line}"`,
      );
    }
    sums.set(match[2]!, match[1]!.toLowerCase());
  }
  return sums;
}

/**
 * Formats hashes as `sha256sum` output, one "<hex>  <name>" line each, in the given order.
 *
 * @param sums Hash by file name.
 * @returns The file's contents (ends with a newline).
 */
export function formatSha256Sums(sums: ReadonlyMap<string, string>): string {
  return [...sums].map(([name, hash]) => `${hash}  ${name}\n`).join("");
}
