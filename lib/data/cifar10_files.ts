/**
 * CIFAR-10 from disk (Deno I/O; the pure parsing is in `cifar10.ts`). Files are read as plain
 * `.bin` or gzipped `.bin.gz`, and each one is checked for its exact size and SHA-256 before
 * it is decoded.
 *
 * Where the data lives: `CIFAR10_DIR` when set (relative paths are taken from the repository
 * root), else `<repo>/data/cifar10` (what `deno task data` fills). The committed sample is in
 * `<repo>/data/cifar10-sample`.
 *
 * @module
 */
import { join } from "node:path";
import {
  CIFAR10_MANIFEST,
  CIFAR10_RECORD_BYTES,
  type Cifar10Manifest,
  type Cifar10Set,
  concatSets,
  decodeCifar10,
  parseSha256Sums,
  sha256Hex,
} from "./cifar10.ts";
import { CIFAR10_DIR_ENV, readEnv } from "../env.ts";
import { repoPath, resolveConfiguredDir } from "../paths.ts";
import { gunzip } from "./gzip.ts";

/** Records in each file of the committed sample. */
export const CIFAR10_SAMPLE_RECORDS = 1000;

/**
 * The CIFAR-10 folder: `CIFAR10_DIR` if set (a relative path is taken from the repository
 * root, not the working directory, so every script and test agrees), else `<repo>/data/cifar10`.
 *
 * @param cifar10Dir The setting to resolve, null or "" for unset (default: the `CIFAR10_DIR`
 *   environment variable; tests pass values here instead of changing the environment).
 * @returns An absolute path (which may not exist yet).
 */
export function resolveCifar10Dir(
  cifar10Dir: string | null = readEnv(CIFAR10_DIR_ENV) ?? null,
): string {
  return resolveConfiguredDir(cifar10Dir, ["data", "cifar10"]);
}

/**
 * The committed sample's folder, `<repo>/data/cifar10-sample`.
 *
 * @returns An absolute path.
 */
export function sampleDir(): string {
  return repoPath("data", "cifar10-sample");
}

/** Which part of the data set to load. */
export type Cifar10Split = "train" | "test" | "both";

/** What {@link loadCifar10} returns for each split. */
export type Cifar10Splits<S extends Cifar10Split> = S extends "train" ? { train: Cifar10Set }
  : S extends "test" ? { test: Cifar10Set }
  : { train: Cifar10Set; test: Cifar10Set };

/** Options shared by the readers. */
export interface ReadOptions {
  /** Folder to read (default: {@link resolveCifar10Dir}). */
  dir?: string;
  /** Check each file's SHA-256 against the manifest (default true). Sizes are always checked. */
  verify?: boolean;
  /** What the files must contain (default: the official {@link CIFAR10_MANIFEST}). */
  manifest?: Cifar10Manifest;
  /** Receives one line per file read (default: silent). */
  onProgress?: (line: string) => void;
}

/** Options of {@link loadCifar10}. */
export interface LoadCifar10Options<S extends Cifar10Split> extends ReadOptions {
  /** Which split(s) to load (default "both"). */
  split?: S;
}

/** One file as read from disk. */
export interface Cifar10File {
  /** Base name, e.g. "data_batch_1". */
  name: string;
  /** The path read (`.bin` or `.bin.gz`). */
  path: string;
  /** Whether the file on disk is gzipped. */
  gzipped: boolean;
  /** Bytes on disk. */
  diskBytes: number;
  /** Uncompressed contents (official binary layout). */
  bytes: Uint8Array;
  /** SHA-256 of the contents, when verified. */
  sha256: string | null;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function missingFolderMessage(dir: string): string {
  const fromEnv = readEnv(CIFAR10_DIR_ENV);
  const origin = fromEnv === undefined || fromEnv === ""
    ? "CIFAR10_DIR is not set, so the default folder is used"
    : `from CIFAR10_DIR=${fromEnv}`;
  return `Cannot load CIFAR-10: folder ${dir} does not exist (${origin}); run \`deno task data\` ` +
    `to download it there, or set CIFAR10_DIR to a folder holding data_batch_1..5 and ` +
    `test_batch as .bin or .bin.gz`;
}

/**
 * Reads one file of the data set (`<name>.bin`, else `<name>.bin.gz`), checking its
 * uncompressed size and, unless `verify` is false, its SHA-256 against the manifest.
 *
 * @param name Base name, e.g. "data_batch_1".
 * @param options Folder, manifest and verification.
 * @returns The file's contents and what was checked.
 * @throws {Deno.errors.NotFound} If the folder or the file is missing.
 * @throws {RangeError} If the file is truncated or oversized.
 * @throws {Error} If the checksum differs or the gzip stream is corrupt or ends early.
 */
export async function readCifar10File(
  name: string,
  options: ReadOptions = {},
): Promise<Cifar10File> {
  const dir = options.dir ?? resolveCifar10Dir();
  const manifest = options.manifest ?? CIFAR10_MANIFEST;
  const expectedBytes = manifest.recordsPerFile * CIFAR10_RECORD_BYTES;
  const sizeRule = `${expectedBytes} bytes (${manifest.recordsPerFile} records of ` +
    `${CIFAR10_RECORD_BYTES} bytes)`;
  const folder = await statOrNull(dir);
  if (folder === null || !folder.isDirectory) {
    throw new Deno.errors.NotFound(missingFolderMessage(dir));
  }

  const plainPath = join(dir, `${name}.bin`);
  const gzipPath = `${plainPath}.gz`;
  const plain = await statOrNull(plainPath);
  let bytes: Uint8Array;
  let path: string;
  let diskBytes: number;
  if (plain !== null) {
    path = plainPath;
    diskBytes = plain.size;
    // The size is known before reading: refuse a wrong file without loading it.
    if (plain.size !== expectedBytes) {
      throw new RangeError(
        `Cannot load ${name}.bin: size must be ${sizeRule}, got ${plain.size} bytes ` +
          `(${plain.size < expectedBytes ? "truncated" : "oversized"} file)`,
      );
    }
    bytes = await Deno.readFile(plainPath);
  } else {
    const gz = await statOrNull(gzipPath);
    if (gz === null) {
      throw new Deno.errors.NotFound(
        `Cannot load CIFAR-10: ${name}.bin (or ${name}.bin.gz) is missing in ${dir}`,
      );
    }
    path = gzipPath;
    diskBytes = gz.size;
    const compressed = await Deno.readFile(gzipPath);
    try {
      bytes = await gunzip(compressed, { name: `${name}.bin.gz`, maxBytes: expectedBytes });
    } catch (error) {
      if (error instanceof RangeError) {
        throw new RangeError(
          `Cannot load ${name}.bin.gz: uncompressed size must be ${sizeRule}, got more ` +
            `(oversized file)`,
          { cause: error },
        );
      }
      throw error;
    }
    if (bytes.length !== expectedBytes) {
      throw new RangeError(
        `Cannot load ${name}.bin.gz: uncompressed size must be ${sizeRule}, got ` +
          `${bytes.length} bytes (truncated file)`,
      );
    }
  }

  let sha256: string | null = null;
  if (options.verify ?? true) {
    const expected = manifest.sha256[name];
    if (expected === undefined) {
      throw new RangeError(`Cannot verify ${name}.bin: the manifest has no SHA-256 for it`);
    }
    sha256 = await sha256Hex(bytes);
    if (sha256 !== expected) {
      throw new Error(
        `Cannot load ${name}.bin${path === gzipPath ? ".gz" : ""}: checksum mismatch, ` +
          `SHA-256 of the uncompressed file must be ${expected}, got ${sha256}`,
      );
    }
  }
  return { name, path, gzipped: path === gzipPath, diskBytes, bytes, sha256 };
}

async function loadFiles(names: readonly string[], options: ReadOptions): Promise<Cifar10Set> {
  const sets: Cifar10Set[] = [];
  for (const name of names) {
    const file = await readCifar10File(name, options);
    sets.push(decodeCifar10(file.bytes, { fileName: file.path }));
    options.onProgress?.(`${file.sha256 === null ? "read" : "verified"} ${file.path}`);
  }
  return sets.length === 1 ? sets[0]! : concatSets(sets);
}

/**
 * Loads CIFAR-10 from disk: the training files (`data_batch_1..5`, joined in order: 50,000
 * images) and/or the test file (`test_batch`: 10,000 images), each checked for size and, by
 * default, SHA-256 before decoding to NHWC.
 *
 * @param options Folder, split, verification and manifest.
 * @returns The requested split(s).
 * @throws {Deno.errors.NotFound} If the folder (the message names `CIFAR10_DIR` and
 *   `deno task data`) or a file is missing.
 * @throws {RangeError} If a file is truncated or oversized or holds a label byte above 9.
 * @throws {Error} If a checksum differs or a gzip stream is corrupt or ends early.
 */
export async function loadCifar10<S extends Cifar10Split = "both">(
  options: LoadCifar10Options<S> = {},
): Promise<Cifar10Splits<S>> {
  const split: Cifar10Split = options.split ?? "both";
  const manifest = options.manifest ?? CIFAR10_MANIFEST;
  const result: { train?: Cifar10Set; test?: Cifar10Set } = {};
  if (split === "train" || split === "both") {
    result.train = await loadFiles(manifest.trainFiles, options);
  }
  if (split === "test" || split === "both") {
    result.test = await loadFiles(manifest.testFiles, options);
  }
  return result as Cifar10Splits<S>;
}

/**
 * Checks every file of a folder (size and SHA-256) without decoding.
 *
 * @param options Folder, manifest and progress lines.
 * @returns The files read (contents included).
 * @throws Like {@link readCifar10File}.
 */
export async function verifyCifar10Dir(options: ReadOptions = {}): Promise<Cifar10File[]> {
  const manifest = options.manifest ?? CIFAR10_MANIFEST;
  const files: Cifar10File[] = [];
  for (const name of [...manifest.trainFiles, ...manifest.testFiles]) {
    const file = await readCifar10File(name, { ...options, verify: true });
    options.onProgress?.(`verified ${file.path} (sha256 ${file.sha256})`);
    // Keep only the metadata: holding 180 MB of contents here would serve no caller.
    files.push({ ...file, bytes: new Uint8Array(0) });
  }
  return files;
}

/**
 * The manifest of the committed sample: `data_batch_1` (train) and `test_batch` (test),
 * 1,000 records each, with the hashes listed in the folder's `SHA256SUMS`.
 *
 * @param dir The sample folder (default {@link sampleDir}).
 * @returns The manifest.
 * @throws {SyntaxError} If `SHA256SUMS` is malformed.
 */
export async function readSampleManifest(dir: string = sampleDir()): Promise<Cifar10Manifest> {
  const sums = parseSha256Sums(await Deno.readTextFile(join(dir, "SHA256SUMS")));
  const sha256: Record<string, string> = {};
  for (const [file, hash] of sums) sha256[file.replace(/\.bin$/, "")] = hash;
  return {
    trainFiles: ["data_batch_1"],
    testFiles: ["test_batch"],
    recordsPerFile: CIFAR10_SAMPLE_RECORDS,
    sha256,
  };
}

/** Options of {@link loadCifar10Sample}. */
export interface LoadSampleOptions {
  /** The sample folder (default {@link sampleDir}). */
  dir?: string;
}

/**
 * Loads the committed sample (the first 1,000 records of `data_batch_1` and of `test_batch`),
 * verified against its own `SHA256SUMS`.
 *
 * @param options The sample folder.
 * @returns 1,000 training and 1,000 test images.
 */
export async function loadCifar10Sample(
  options: LoadSampleOptions = {},
): Promise<{ train: Cifar10Set; test: Cifar10Set }> {
  const dir = options.dir ?? sampleDir();
  return await loadCifar10({ dir, manifest: await readSampleManifest(dir), split: "both" });
}
