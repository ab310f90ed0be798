/**
 * Shared fixtures of the data tests: the committed sample's raw records (read with `node:zlib`,
 * independently of the code under test), small data sets in the official layout, independent
 * SHA-256 (`node:crypto`), system `tar`/`gzip`, and the switch for tests that need the full
 * data set in `CIFAR10_DIR`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Cifar10Manifest } from "../../lib/data/cifar10.ts";

/** Repository root. */
export const REPO = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The full data set's folder when `CIFAR10_DIR` is set (resolved from the repo root). */
export const FULL_DIR: string | undefined = (() => {
  const value = Deno.env.get("CIFAR10_DIR");
  if (value === undefined || value === "") return undefined;
  return value.startsWith("/") ? value : join(REPO, value);
})();

/**
 * Registers a test that needs the full CIFAR-10 in `CIFAR10_DIR`; without it the test is
 * listed as ignored and its name says why.
 */
export function fullDataTest(name: string, fn: () => Promise<void>): void {
  if (FULL_DIR === undefined) {
    Deno.test({ name: `${name} (skipped: CIFAR10_DIR not set)`, ignore: true, fn });
  } else {
    Deno.test(name, fn);
  }
}

/** SHA-256 hex by node:crypto (an implementation independent of WebCrypto's use here). */
export function nodeSha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Bytes of one record. */
export const RECORD = 3073;

let sampleCache: { train: Uint8Array; test: Uint8Array } | null = null;

/** The committed sample's raw files (1,000 records each), gunzipped with node:zlib. */
export function sampleRaw(): { train: Uint8Array; test: Uint8Array } {
  if (sampleCache === null) {
    const dir = join(REPO, "data", "cifar10-sample");
    sampleCache = {
      train: new Uint8Array(gunzipSync(Deno.readFileSync(join(dir, "data_batch_1.bin.gz")))),
      test: new Uint8Array(gunzipSync(Deno.readFileSync(join(dir, "test_batch.bin.gz")))),
    };
  }
  return sampleCache;
}

/** gzip by node:zlib. */
export function nodeGzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes));
}

/** A small data set in the official layout: six files of `records` real sample records. */
export interface SmallSet {
  manifest: Cifar10Manifest;
  /** Raw (uncompressed) bytes of each file, by base name. */
  files: Map<string, Uint8Array>;
}

/**
 * Six files (data_batch_1..5, test_batch) of `records` records each, cut from the sample:
 * training file k holds sample training records [k * records, (k + 1) * records), the test
 * file the first `records` sample test records.
 */
export function smallSet(records = 20): SmallSet {
  const { train, test } = sampleRaw();
  const files = new Map<string, Uint8Array>();
  const sha256: Record<string, string> = {};
  const trainFiles = [1, 2, 3, 4, 5].map((k) => `data_batch_${k}`);
  trainFiles.forEach((name, k) => {
    files.set(name, train.slice(k * records * RECORD, (k + 1) * records * RECORD));
  });
  files.set("test_batch", test.slice(0, records * RECORD));
  for (const [name, bytes] of files) sha256[name] = nodeSha256(bytes);
  return {
    manifest: { trainFiles, testFiles: ["test_batch"], recordsPerFile: records, sha256 },
    files,
  };
}

/**
 * Writes a small set into `dir`: the files named in `gzipped` as `.bin.gz`, the rest as `.bin`.
 */
export async function writeSmallSet(
  dir: string,
  set: SmallSet,
  gzipped: readonly string[] = [],
): Promise<void> {
  for (const [name, bytes] of set.files) {
    if (gzipped.includes(name)) await Deno.writeFile(join(dir, `${name}.bin.gz`), nodeGzip(bytes));
    else await Deno.writeFile(join(dir, `${name}.bin`), bytes);
  }
}

/** Runs a command; throws with its stderr when it fails. */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Sorted names in a folder. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}
