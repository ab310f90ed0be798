/**
 * A minimal tar reader (POSIX ustar, GNU and pax extended headers) over bytes or a stream. It
 * only lists entries and returns their contents; it never writes files, so entry names cannot
 * escape a directory (callers choose the names they write).
 *
 * Supported: regular files, directories and links (listed), ustar `prefix` names, GNU long
 * names (`L`), pax `path` and `size` records (`x`), base-256 sizes, header checksums. Sparse
 * files and multi-volume archives are not (CIFAR-10's archive uses neither).
 *
 * Pure: no Deno APIs.
 *
 * @module
 */

/** Kind of a tar entry. */
export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

/** One archive member. */
export interface TarEntry {
  /** Full path inside the archive (after long-name and pax records). */
  name: string;
  type: TarEntryType;
  /** Content size in bytes. */
  size: number;
  /**
   * Contents (regular files; empty for other types), or null when the entry was skipped by
   * `select`.
   */
  data: Uint8Array | null;
}

/** Options of {@link readTarStream}. */
export interface ReadTarOptions {
  /**
   * Which entries to read into memory (default: all). Skipped entries are still yielded, with
   * `data: null`, and their bytes are discarded as they stream past.
   */
  select?: (entry: Omit<TarEntry, "data">) => boolean;
}

const BLOCK = 512;

/** Sequential byte access over a stream or an array. */
interface ByteSource {
  /** Exactly `n` bytes, or fewer only at the end of input. */
  read(n: number): Promise<Uint8Array>;
  /** Discards `n` bytes; returns how many were available. */
  skip(n: number): Promise<number>;
}

function arraySource(bytes: Uint8Array): ByteSource {
  let offset = 0;
  return {
    read(n) {
      const out = bytes.subarray(offset, offset + n); // no copy
      offset += out.length;
      return Promise.resolve(out);
    },
    skip(n) {
      const skipped = Math.min(n, bytes.length - offset);
      offset += skipped;
      return Promise.resolve(skipped);
    },
  };
}

function streamSource(stream: ReadableStream<Uint8Array>): ByteSource {
  const reader = stream.getReader();
  let pending: Uint8Array = new Uint8Array(0);
  let ended = false;
  async function fill(): Promise<boolean> {
    while (pending.length === 0 && !ended) {
      const { done, value } = await reader.read();
      if (done) ended = true;
      else pending = value;
    }
    return pending.length > 0;
  }
  return {
    async read(n) {
      // Fast path: the current chunk holds the whole request.
      if ((await fill()) && pending.length >= n) {
        const out = pending.subarray(0, n);
        pending = pending.subarray(n);
        return out;
      }
      const out = new Uint8Array(n);
      let filled = 0;
      while (filled < n && (await fill())) {
        const take = Math.min(n - filled, pending.length);
        out.set(pending.subarray(0, take), filled);
        pending = pending.subarray(take);
        filled += take;
      }
      return filled === n ? out : out.subarray(0, filled);
    },
    async skip(n) {
      let skipped = 0;
      while (skipped < n && (await fill())) {
        const take = Math.min(n - skipped, pending.length);
        pending = pending.subarray(take);
        skipped += take;
      }
      return skipped;
    },
  };
}

const decoder = new TextDecoder();

/** A NUL-terminated string field. */
function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

/** A numeric field: octal ASCII (NUL/space padded) or GNU base-256 (high bit set). */
function readNumber(block: Uint8Array, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if ((field[0]! & 0x80) !== 0) {
    if ((field[0]! & 0x40) !== 0) {
      throw new SyntaxError(`Cannot read tar: ${what} must be non-negative, got a negative value`);
    }
    let value = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`Cannot read tar: ${what} must be below 2^53, got ${value}`);
    }
    return value;
  }
  const text = decoder.decode(field).replace(/[\0 ]+$/, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new SyntaxError(`Cannot read tar: ${what} must be octal digits, got "${text}"`);
  }
  return parseInt(text, 8);
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Checks the header checksum (sum of all bytes with the checksum field read as spaces). */
function checkHeader(block: Uint8Array, offset: number): void {
  const stored = readNumber(block, 148, 8, "header checksum");
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  // Some old writers summed signed chars; accept either, as GNU tar does.
  if (stored !== unsigned && stored !== signed) {
    throw new SyntaxError(
      `Cannot read tar: header checksum at offset ${offset} must be ${unsigned}, got ${stored}`,
    );
  }
}

/** Parses pax extended header records ("<len> <key>=<value>\n"). */
function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = space === -1 ? NaN : parseInt(decoder.decode(data.subarray(offset, space)), 10);
    if (!Number.isInteger(length) || length <= 0 || offset + length > data.length) {
      throw new SyntaxError(`Cannot read tar: malformed pax record at byte ${offset}`);
    }
    const record = decoder.decode(data.subarray(space + 1, offset + length - 1)); // drop "\n"
    const equals = record.indexOf("=");
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    offset += length;
  }
  return records;
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case "0":
    case "\0":
    case "":
    case "7": // contiguous file: a regular file for readers
      return "file";
    case "5":
      return "directory";
    case "2":
      return "symlink";
    case "1":
      return "hardlink";
    default:
      return "other";
  }
}

async function* readEntries(
  source: ByteSource,
  options: ReadTarOptions,
): AsyncGenerator<TarEntry, void, undefined> {
  let offset = 0; // byte offset of the current header, for messages
  let longName: string | null = null;
  let pax = new Map<string, string>();
  for (;;) {
    const block = await source.read(BLOCK);
    if (block.length === 0) return; // end of input at a block boundary: accept a missing trailer
    if (block.length < BLOCK) {
      throw new SyntaxError(
        `Cannot read tar: archive ends early, inside the header at offset ${offset}`,
      );
    }
    if (isZeroBlock(block)) return; // end-of-archive marker
    checkHeader(block, offset);
    const flag = String.fromCharCode(block[156]!);
    const headerSize = readNumber(block, 124, 12, "entry size");
    const size = pax.has("size") ? Number(pax.get("size")) : headerSize;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new SyntaxError(
        `Cannot read tar: entry size must be a non-negative integer, got ${size}`,
      );
    }
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const dataOffset = offset + BLOCK;
    offset = dataOffset + padded;
    const readData = async (): Promise<Uint8Array> => {
      const data = await source.read(size);
      const padding = await source.skip(padded - size);
      if (data.length < size || padding < padded - size) {
        throw new SyntaxError(
          `Cannot read tar: archive ends early, inside the ${size}-byte entry at offset ${dataOffset}`,
        );
      }
      return data;
    };
    if (flag === "L" || flag === "x" || flag === "g") {
      // Metadata for the next entry (GNU long name, pax per-entry) or for all (pax global,
      // ignored: the CIFAR-10 archive has none that matter).
      const data = await readData();
      if (flag === "L") longName = readString(data, 0, data.length);
      else if (flag === "x") pax = parsePax(data);
      continue;
    }
    let name = readString(block, 0, 100);
    const magic = readString(block, 257, 6);
    const prefix = magic === "ustar" && block[262] === 0 ? readString(block, 345, 155) : "";
    if (prefix !== "") name = `${prefix}/${name}`;
    name = pax.get("path") ?? longName ?? name;
    longName = null;
    pax = new Map();
    const type = entryType(flag);
    const header = { name, type, size };
    if (options.select !== undefined && !options.select(header)) {
      if ((await source.skip(padded)) < padded) {
        throw new SyntaxError(
          `Cannot read tar: archive ends early, inside the ${size}-byte entry at offset ${dataOffset}`,
        );
      }
      yield { ...header, data: null };
      continue;
    }
    const data = await readData();
    yield { ...header, data: type === "file" ? data : new Uint8Array(0) };
  }
}

/**
 * Lists the entries of a tar archive held in memory, with their contents (views into `bytes`,
 * not copies).
 *
 * @param bytes The uncompressed archive.
 * @returns The entries in archive order.
 * @throws {SyntaxError} On a bad header checksum, a malformed field or a truncated archive.
 *
 * @example
 * ```ts
 * import { readTar } from "./tar.ts";
 * import assert from "node:assert/strict";
 *
 * // An empty archive is two zero blocks.
 * assert.deepEqual(await readTar(new Uint8Array(1024)), []);
 * ```
 */
export async function readTar(bytes: Uint8Array): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  for await (const entry of readEntries(arraySource(bytes), {})) entries.push(entry);
  return entries;
}

/**
 * Reads a tar archive from a stream, yielding each entry once its contents have arrived.
 * Memory holds one selected entry at a time (plus what the caller keeps).
 *
 * @param stream The uncompressed archive (pipe a `.tar.gz` through `DecompressionStream`).
 * @param options Which entries to read into memory.
 * @returns An async generator of entries in archive order.
 * @throws {SyntaxError} On a bad header checksum, a malformed field or a truncated archive.
 */
export function readTarStream(
  stream: ReadableStream<Uint8Array>,
  options: ReadTarOptions = {},
): AsyncGenerator<TarEntry, void, undefined> {
  return readEntries(streamSource(stream), options);
}
