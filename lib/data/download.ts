/**
 * Installing CIFAR-10 (Deno I/O): download the official archive, gunzip, untar, verify every
 * member BEFORE writing anything, then write atomically (a temporary folder beside the target,
 * renamed into place), so a failed or interrupted install leaves nothing behind.
 *
 * The installed folder holds plain (uncompressed) `.bin` files: 184 MB instead of 170 MB
 * gzipped (CIFAR-10 barely compresses), and loading skips the gunzip stage, the slowest one.
 * `batches.meta.txt` and a `SHA256SUMS` are written beside them.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import {
  checkCifar10,
  CIFAR10_MANIFEST,
  CIFAR10_RECORD_BYTES,
  type Cifar10Manifest,
  formatSha256Sums,
  sha256Hex,
} from "./cifar10.ts";
import { resolveCifar10Dir, verifyCifar10Dir } from "./cifar10_files.ts";
import { bytesToStream, joinChunks } from "./gzip.ts";
import { readTarStream } from "./tar.ts";

/**
 * The official binary release. Its size, MD5 (published on the CIFAR-10 page) and SHA-256 are
 * informational: the six members are what is verified, against {@link CIFAR10_MANIFEST}.
 */
export const CIFAR10_ARCHIVE = {
  /** Where the authors publish it. */
  url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
  /** Size in bytes. */
  bytes: 170_052_171,
  /** MD5 from https://www.cs.toronto.edu/~kriz/cifar.html. */
  md5: "c32a1d4ab5d03f1284b67883e8d87530",
  /** SHA-256 (as checked by ankane/torchvision-ruby's CIFAR10 loader). */
  sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
  /** Folder of the members inside the archive. */
  folder: "cifar-10-batches-bin",
} as const;

/** Options of {@link installFromArchive}. */
export interface InstallOptions {
  /** What the archive must contain (default: the official {@link CIFAR10_MANIFEST}). */
  manifest?: Cifar10Manifest;
  /** Receives progress lines (default: silent). */
  onProgress?: (line: string) => void;
}

/** One installed file. */
export interface InstalledFile {
  /** File name in the target folder, e.g. "data_batch_1.bin". */
  name: string;
  bytes: number;
  sha256: string;
}

/** What an install wrote. */
export interface InstallResult {
  /** Absolute path of the target folder. */
  dir: string;
  /** The verified data files. */
  files: InstalledFile[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/**
 * Installs CIFAR-10 from a `.tar.gz` archive into `targetDir`: reads the members
 * `<folder>/<name>.bin` of the manifest (and `batches.meta.txt` when present), checks each
 * one's size, SHA-256 and label bytes, and only then writes them (plain `.bin`) into a
 * temporary folder beside the target and renames it into place.
 *
 * @param archive The gzipped tar, as bytes or a stream.
 * @param targetDir Folder to create; it must not exist or be empty.
 * @param options Expected contents (tests pass a small manifest) and progress lines.
 * @returns The folder and the files written.
 * @throws {Deno.errors.AlreadyExists} If `targetDir` exists and is not empty.
 * @throws {Error} If the archive is corrupt, lacks a member or a member fails verification;
 *   nothing is written then.
 */
export async function installFromArchive(
  archive: Uint8Array | ReadableStream<Uint8Array>,
  targetDir: string,
  options: InstallOptions = {},
): Promise<InstallResult> {
  const manifest = options.manifest ?? CIFAR10_MANIFEST;
  const progress = options.onProgress ?? (() => {});
  const dir = resolve(targetDir);
  if ((await exists(dir)) && !(await isEmptyDir(dir))) {
    throw new Deno.errors.AlreadyExists(
      `Cannot install CIFAR-10: target folder ${dir} exists and is not empty`,
    );
  }

  // 1. Read the members we need (everything else streams past).
  const wanted = new Set([
    ...[...manifest.trainFiles, ...manifest.testFiles].map((name) => `${name}.bin`),
    "batches.meta.txt",
  ]);
  const found = new Map<string, Uint8Array>();
  const duplicates: string[] = [];
  const source = archive instanceof Uint8Array ? bytesToStream(archive) : archive;
  const tar = (source as ReadableStream<Uint8Array<ArrayBuffer>>).pipeThrough(
    new DecompressionStream("gzip"),
  );
  const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);
  try {
    for await (
      const entry of readTarStream(tar, {
        select: (e) => e.type === "file" && wanted.has(baseName(e.name)),
      })
    ) {
      if (entry.data === null) continue;
      const name = baseName(entry.name);
      if (found.has(name)) duplicates.push(name);
      found.set(name, entry.data.slice()); // own copy: the view may share a large chunk
      progress(`extracted ${entry.name} (${entry.size} bytes)`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Cannot install CIFAR-10: the archive is corrupt or ends early (${message})`,
      { cause: error },
    );
  }
  if (duplicates.length > 0) {
    throw new Error(`Cannot install CIFAR-10: archive holds ${duplicates[0]} more than once`);
  }

  // 2. Verify everything before writing anything.
  const expectedBytes = manifest.recordsPerFile * CIFAR10_RECORD_BYTES;
  const files: InstalledFile[] = [];
  for (const name of [...manifest.trainFiles, ...manifest.testFiles]) {
    const fileName = `${name}.bin`;
    const bytes = found.get(fileName);
    if (bytes === undefined) {
      throw new Error(
        `Cannot install CIFAR-10: archive lacks ${CIFAR10_ARCHIVE.folder}/${fileName}`,
      );
    }
    if (bytes.length !== expectedBytes) {
      throw new RangeError(
        `Cannot install CIFAR-10: ${fileName} must be ${expectedBytes} bytes, got ${bytes.length}`,
      );
    }
    const sha256 = await sha256Hex(bytes);
    const expected = manifest.sha256[name];
    if (sha256 !== expected) {
      throw new Error(
        `Cannot install CIFAR-10: checksum mismatch for ${fileName}, SHA-256 must be ` +
          `${expected ?? "(missing from the manifest)"}, got ${sha256}`,
      );
    }
    checkCifar10(bytes, { fileName });
    files.push({ name: fileName, bytes: bytes.length, sha256 });
    progress(`verified ${fileName} (sha256 ${sha256})`);
  }

  // 3. Write into a temporary folder beside the target, then rename: the target appears
  // complete or not at all.
  const parent = dirname(dir);
  await Deno.mkdir(parent, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: parent, prefix: ".cifar10-install-" });
  try {
    for (const file of files) await Deno.writeFile(join(temp, file.name), found.get(file.name)!);
    const meta = found.get("batches.meta.txt");
    if (meta !== undefined) await Deno.writeFile(join(temp, "batches.meta.txt"), meta);
    const sums = new Map(files.map((f) => [f.name, f.sha256]));
    await Deno.writeTextFile(join(temp, "SHA256SUMS"), formatSha256Sums(sums));
    // rename(2) cannot replace a non-empty folder; ours was checked empty above.
    if (await exists(dir)) await Deno.remove(dir);
    await Deno.rename(temp, dir);
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  }
  progress(`installed CIFAR-10 in ${dir}`);
  return { dir, files };
}

/** Options of {@link downloadCifar10}. */
export interface DownloadOptions extends InstallOptions {
  /** Archive URL (default {@link CIFAR10_ARCHIVE}.url). */
  url?: string;
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/**
 * Downloads the archive and installs it with {@link installFromArchive}, printing progress
 * (about every 10%) through `onProgress`.
 *
 * @param targetDir Folder to create.
 * @param options URL, expected contents and progress lines.
 * @returns The folder and the files written.
 * @throws {Error} If the server answers an error status, or as {@link installFromArchive}.
 */
export async function downloadCifar10(
  targetDir: string,
  options: DownloadOptions = {},
): Promise<InstallResult> {
  const url = options.url ?? CIFAR10_ARCHIVE.url;
  const progress = options.onProgress ?? (() => {});
  progress(`downloading ${url}`);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(
      `Cannot download CIFAR-10 from ${url}: ${(error as Error).message}. Without network ` +
        "access, copy the official binary files (data_batch_1..5 and test_batch, .bin or " +
        ".bin.gz) into data/cifar10/, or set CIFAR10_DIR to the folder that holds them, or run " +
        "`deno task data --archive cifar-10-binary.tar.gz` with a downloaded archive",
    );
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new Error(
      `Cannot download CIFAR-10: GET ${url} answered ${response.status} ${response.statusText}`,
    );
  }
  const total = Number(response.headers.get("content-length") ?? NaN);
  const chunks: Uint8Array[] = [];
  let received = 0, nextReport = 0.1;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    received += chunk.length;
    if (Number.isFinite(total) && total > 0 && received / total >= nextReport) {
      progress(`downloaded ${megabytes(received)} / ${megabytes(total)} MB`);
      nextReport = Math.floor((received / total) * 10 + 1) / 10;
    }
  }
  const archive = joinChunks(chunks, received);
  const sha256 = await sha256Hex(archive);
  progress(
    sha256 === CIFAR10_ARCHIVE.sha256
      ? `archive sha256 ${sha256} (the known release)`
      : `archive sha256 ${sha256} differs from the known release ${CIFAR10_ARCHIVE.sha256}; ` +
        `its members are verified one by one`,
  );
  return await installFromArchive(archive, targetDir, options);
}

/** Options of {@link ensureCifar10}. */
export interface EnsureOptions extends DownloadOptions {
  /** Data folder (default {@link resolveCifar10Dir}). */
  dir?: string;
}

/**
 * Makes sure CIFAR-10 is present and intact: when the folder is missing (or empty), downloads
 * and installs it; when present, verifies every file's size and SHA-256.
 *
 * @param options Folder, URL, expected contents and progress lines.
 * @returns The data folder.
 * @throws As {@link downloadCifar10} or {@link verifyCifar10Dir}.
 */
export async function ensureCifar10(options: EnsureOptions = {}): Promise<string> {
  const dir = resolve(options.dir ?? resolveCifar10Dir());
  const progress = options.onProgress ?? (() => {});
  if ((await exists(dir)) && !(await isEmptyDir(dir))) {
    progress(`verifying CIFAR-10 in ${dir}`);
    await verifyCifar10Dir({
      dir,
      onProgress: progress,
      ...(options.manifest === undefined ? {} : { manifest: options.manifest }),
    });
    return dir;
  }
  progress(`CIFAR-10 not found in ${dir}: installing it`);
  await downloadCifar10(dir, options);
  return dir;
}
