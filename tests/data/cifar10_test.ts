import assert from "node:assert/strict";
import {
  batchAt,
  batchesPerEpoch,
  batchIterator,
  batchOrder,
  channelStats,
  checkCifar10,
  CIFAR10_CLASSES,
  CIFAR10_FILE_BYTES,
  CIFAR10_RECORD_BYTES,
  CIFAR10_RECORDS_PER_FILE,
  type Cifar10Set,
  classCounts,
  concatSets,
  decodeCifar10,
  encodeCifar10,
  firstN,
  formatSha256Sums,
  gather,
  parseSha256Sums,
  perClass,
  sha256Hex,
} from "../../lib/data/cifar10.ts";
import { philox4x32, Random, STREAMS } from "../../lib/rng.ts";
import { nodeSha256, sampleRaw } from "./_helpers.ts";

/** Records with a known pattern: pixel p of record r has R = p + r, G = 3p + r, B = 255 - p. */
function patternRecords(count: number): Uint8Array {
  const bytes = new Uint8Array(count * 3073);
  for (let r = 0; r < count; r++) {
    const base = r * 3073;
    bytes[base] = r % 10;
    for (let p = 0; p < 1024; p++) {
      bytes[base + 1 + p] = (p + r) & 255;
      bytes[base + 1025 + p] = (3 * p + r) & 255;
      bytes[base + 2049 + p] = (255 - p) & 255;
    }
  }
  return bytes;
}

/** A set with the given labels and pixel values derived from the index. */
function labelledSet(labels: number[]): Cifar10Set {
  const images = new Uint8Array(labels.length * 3072);
  for (let i = 0; i < labels.length; i++) images.fill(i % 256, i * 3072, (i + 1) * 3072);
  return { images, labels: Uint8Array.from(labels), count: labels.length };
}

Deno.test("CIFAR-10 constants describe the official layout", () => {
  assert.equal(CIFAR10_RECORD_BYTES, 1 + 32 * 32 * 3);
  assert.equal(CIFAR10_FILE_BYTES, CIFAR10_RECORDS_PER_FILE * CIFAR10_RECORD_BYTES);
  assert.equal(CIFAR10_FILE_BYTES, 30_730_000);
  assert.deepEqual(
    [...CIFAR10_CLASSES],
    "airplane automobile bird cat deer dog frog horse ship truck".split(" "),
  );
});

Deno.test("decodeCifar10() interleaves R, G, B planes into NHWC", () => {
  const count = 3;
  const set = decodeCifar10(patternRecords(count));
  assert.equal(set.count, count);
  assert.equal(set.images.length, count * 32 * 32 * 3);
  assert.deepEqual([...set.labels], [0, 1, 2]);
  for (let r = 0; r < count; r++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const p = y * 32 + x; // row-major plane index
        const at = ((r * 32 + y) * 32 + x) * 3;
        assert.equal(set.images[at], (p + r) & 255);
        assert.equal(set.images[at + 1], (3 * p + r) & 255);
        assert.equal(set.images[at + 2], (255 - p) & 255);
      }
    }
  }
});

Deno.test("encodeCifar10() inverts decodeCifar10() on real records", () => {
  const raw = sampleRaw().train.subarray(0, 50 * 3073);
  const set = decodeCifar10(raw);
  assert.deepEqual(encodeCifar10(set), raw);
  assert.deepEqual(decodeCifar10(encodeCifar10(set)), set);
});

Deno.test("decodeCifar10() rejects bad input", async (t) => {
  await t.step("size not a multiple of 3073 names the file and size", () => {
    assert.throws(
      () => decodeCifar10(new Uint8Array(3074), { fileName: "x.bin" }),
      (e: unknown) =>
        e instanceof RangeError && e.message.includes("x.bin") && e.message.includes("3074") &&
        e.message.includes("multiple of 3073"),
    );
  });
  await t.step("label byte above 9 names the file, record and value", () => {
    const bytes = patternRecords(5);
    bytes[3 * 3073] = 10;
    assert.throws(
      () => decodeCifar10(bytes, { fileName: "data_batch_2.bin" }),
      (e: unknown) =>
        e instanceof RangeError &&
        e.message ===
          "Cannot decode CIFAR-10 file data_batch_2.bin: label byte of record 3 must be 0..9, got 10",
    );
    assert.throws(() => checkCifar10(bytes), RangeError);
  });
  await t.step("empty input is zero records", () => {
    assert.equal(decodeCifar10(new Uint8Array(0)).count, 0);
  });
});

Deno.test("concatSets() and classCounts() agree with plain arithmetic", () => {
  const a = labelledSet([0, 1, 1]), b = labelledSet([9, 9]);
  const joined = concatSets([a, b]);
  assert.equal(joined.count, 5);
  assert.deepEqual([...joined.labels], [0, 1, 1, 9, 9]);
  assert.deepEqual(joined.images.subarray(3 * 3072), b.images);
  assert.deepEqual(classCounts(joined.labels), [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]);
});

Deno.test("channelStats() matches closed forms and a two-pass computation", async (t) => {
  await t.step("constant channels: mean = value, std = 0", () => {
    const images = new Uint8Array(4 * 3);
    for (let i = 0; i < images.length; i += 3) images.set([10, 20, 30], i);
    assert.deepEqual(channelStats(images), { mean: [10, 20, 30], std: [0, 0, 0] });
  });
  await t.step("half 0, half 255: mean 127.5, std 127.5", () => {
    const images = new Uint8Array([0, 0, 0, 255, 255, 255]);
    assert.deepEqual(channelStats(images), {
      mean: [127.5, 127.5, 127.5],
      std: [127.5, 127.5, 127.5],
    });
  });
  await t.step("random pixels vs two-pass mean and variance", () => {
    const random = new Random(11, 99);
    const images = new Uint8Array(3 * 5000);
    for (let i = 0; i < images.length; i++) images[i] = random.int(256);
    const stats = channelStats(images);
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let i = c; i < images.length; i += 3) sum += images[i]!;
      const mean = sum / 5000;
      let sq = 0;
      for (let i = c; i < images.length; i += 3) sq += (images[i]! - mean) ** 2;
      assert.ok(Math.abs(stats.mean[c]! - mean) < 1e-9);
      assert.ok(Math.abs(stats.std[c]! - Math.sqrt(sq / 5000)) < 1e-9);
    }
  });
  await t.step("empty input is refused", () => {
    assert.throws(() => channelStats(new Uint8Array(0)), RangeError);
  });
});

Deno.test("batchOrder() is a seeded permutation, reproducible per (n, seed, epoch)", async (t) => {
  await t.step("a permutation of 0..n-1", () => {
    for (const n of [1, 2, 7, 128, 50_000]) {
      const order = batchOrder(n, 3, 1);
      assert.equal(order.length, n);
      const seen = new Uint8Array(n);
      for (const i of order) seen[i]!++;
      assert.ok(seen.every((s) => s === 1), `n=${n}`);
    }
  });
  await t.step("same arguments, same order; other epoch or seed, other order", () => {
    const a = batchOrder(1000, 42, 7);
    assert.deepEqual(batchOrder(1000, 42, 7), a);
    assert.notDeepEqual(batchOrder(1000, 42, 8), a);
    assert.notDeepEqual(batchOrder(1000, 43, 7), a);
  });
  await t.step("epoch e is Fisher-Yates on words e * 2^32.. of the dataOrder stream", () => {
    // Independent of Random: Philox blocks addressed by hand, rejection sampling as specified.
    const reference = (n: number, seed: number, epoch: number): number[] => {
      let word = epoch * 2 ** 32;
      const next = (): number => {
        const block = Math.floor(word / 4);
        const out = philox4x32([block >>> 0, Math.floor(block / 2 ** 32), 0, 0], [
          seed,
          STREAMS.dataOrder,
        ]);
        return out[word++ % 4]!;
      };
      const p = [...Array(n).keys()];
      for (let i = n - 1; i > 0; i--) {
        const limit = 2 ** 32 - (2 ** 32 % (i + 1));
        let w = next();
        while (w >= limit) w = next();
        const j = w % (i + 1);
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      return p;
    };
    for (const epoch of [0, 1, 37, 2 ** 21 - 1]) {
      assert.deepEqual([...batchOrder(100, 1234, epoch)], reference(100, 1234, epoch));
    }
  });
  await t.step("uniform over the 6 permutations of 3 items (chi-square, 5 dof)", () => {
    const counts = new Map<string, number>();
    const epochs = 6000;
    for (let e = 0; e < epochs; e++) {
      const key = batchOrder(3, 5, e).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(counts.size, 6);
    const expected = epochs / 6;
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - expected) ** 2 / expected;
    assert.ok(chi2 < 20.5, `chi2 = ${chi2}`); // p = 0.001 for 5 degrees of freedom
  });
  await t.step("out-of-range arguments are refused", () => {
    assert.throws(() => batchOrder(0, 1, 0), RangeError);
    assert.throws(() => batchOrder(10, 1, -1), RangeError);
    assert.throws(() => batchOrder(10, 1, 2 ** 21), RangeError);
    assert.throws(() => batchOrder(10, 1.5, 0), RangeError);
  });
});

Deno.test("batchAt() and batchIterator() agree and resume at any step", () => {
  const n = 10, options = { seed: 9, batchSize: 3 };
  assert.equal(batchesPerEpoch(n, 3), 3); // the 10th item of each epoch is dropped
  const all = [...batchIterator(n, { ...options, steps: 12 })];
  assert.deepEqual(all.map((b) => b.step), [...Array(12).keys()]);
  for (const b of all) {
    const direct = batchAt(n, b.step, options);
    assert.deepEqual(direct, b);
    assert.equal(b.epoch, Math.floor(b.step / 3));
    assert.equal(b.batch, b.step % 3);
    const order = batchOrder(n, 9, b.epoch);
    assert.deepEqual([...b.indices], [...order.slice(b.batch * 3, b.batch * 3 + 3)]);
  }
  // Each epoch's batches are disjoint: 9 distinct items.
  for (let e = 0; e < 4; e++) {
    const items = all.filter((b) => b.epoch === e).flatMap((b) => [...b.indices]);
    assert.equal(new Set(items).size, 9);
  }
  const resumed = [...batchIterator(n, { ...options, startStep: 5, steps: 7 })];
  assert.deepEqual(resumed, all.slice(5));
  assert.throws(() => batchesPerEpoch(10, 11), RangeError);
  assert.throws(() => batchAt(10, -1, options), RangeError);
});

Deno.test("gather(), firstN() and perClass() select in file order", async (t) => {
  const labels = [3, 1, 3, 0, 1, 2, 3, 0, 4, 5, 6, 7, 8, 9, 2, 4, 5, 6, 7, 8, 9, 1, 0];
  const set = labelledSet(labels);
  await t.step("gather copies the requested images", () => {
    const picked = gather(set, [4, 0, 4]);
    assert.deepEqual([...picked.labels], [1, 3, 1]);
    assert.deepEqual([...picked.images.subarray(0, 2)], [4, 4]);
    assert.deepEqual([...picked.images.subarray(3072, 3074)], [0, 0]);
    assert.throws(() => gather(set, [labels.length]), RangeError);
  });
  await t.step("firstN keeps the head", () => {
    const head = firstN(set, 4);
    assert.equal(head.count, 4);
    assert.deepEqual([...head.labels], [3, 1, 3, 0]);
    assert.deepEqual(head.images, set.images.subarray(0, 4 * 3072));
    assert.throws(() => firstN(set, labels.length + 1), RangeError);
  });
  await t.step("perClass takes the first n of each class, in file order", () => {
    const subset = perClass(set, 2);
    // Oracle: walk the labels, keep an index while its class has fewer than 2.
    const taken = new Array(10).fill(0);
    const expected = labels.flatMap((l, i) => taken[l]++ < 2 ? [i] : []);
    assert.equal(subset.count, 20);
    assert.deepEqual([...subset.labels], expected.map((i) => labels[i]));
    assert.deepEqual([...subset.images].filter((_, k) => k % 3072 === 0), expected);
    assert.deepEqual(classCounts(subset.labels), new Array(10).fill(2));
  });
  await t.step("perClass refuses when a class is short", () => {
    assert.throws(() => perClass(set, 3), /class 2 \(bird\) has only 2/);
  });
});

Deno.test("sha256Hex() matches FIPS 180-2 vectors and node:crypto", async () => {
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(
    await sha256Hex(text("")),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    await sha256Hex(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  const bytes = sampleRaw().test.subarray(1, 100_001); // an unaligned view
  assert.equal(await sha256Hex(bytes), nodeSha256(bytes));
});

Deno.test("parseSha256Sums() reads sha256sum output and formatSha256Sums() writes it", () => {
  const a = "a".repeat(64), b = "B".repeat(64);
  const sums = parseSha256Sums(`${a}  data_batch_1.bin\n\n${b} *test_batch.bin\n`);
  assert.deepEqual([...sums], [["data_batch_1.bin", a], ["test_batch.bin", "b".repeat(64)]]);
  assert.equal(
    formatSha256Sums(sums),
    `${a}  data_batch_1.bin\n${"b".repeat(64)}  test_batch.bin\n`,
  );
  assert.deepEqual(parseSha256Sums(formatSha256Sums(sums)), sums);
  assert.throws(() => parseSha256Sums(`${a}  ok.bin\nnot a hash line`), /line 2/);
});
