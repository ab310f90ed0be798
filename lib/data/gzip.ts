/**
 * gzip and gunzip with the Web Compression Streams API (no Deno APIs: runs in a browser too).
 *
 * `CompressionStream("gzip")` writes a fixed header (mtime 0, no file name), so its output is
 * a deterministic function of the input for a given runtime; `tests/data/gzip_test.ts` checks
 * this, and `scripts/make_sample.ts` relies on it.
 *
 * @module
 */

/** Options of {@link gunzip}. */
export interface GunzipOptions {
  /** Name used in error messages (e.g. the file name). */
  name?: string;
  /**
   * Stop and fail once the output exceeds this many bytes (guards against oversized or
   * hostile files before they fill memory). Default: no limit.
   */
  maxBytes?: number;
}

/**
 * Decompresses one gzip member.
 *
 * @param input Compressed bytes or a stream of them.
 * @param options Name for errors and an output size limit.
 * @returns The uncompressed bytes.
 * @throws {RangeError} If the output exceeds `maxBytes`.
 * @throws {Error} If the stream is corrupt or ends early (a truncated file), with the runtime's
 *   message as `cause`.
 *
 * @example
 * ```ts
 * import { gunzip, gzip } from "./gzip.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("hello");
 * assert.deepEqual(await gunzip(await gzip(bytes)), bytes);
 * ```
 */
export async function gunzip(
  input: Uint8Array | ReadableStream<Uint8Array>,
  options: GunzipOptions = {},
): Promise<Uint8Array> {
  const name = options.name ?? "<bytes>";
  const maxBytes = options.maxBytes ?? Infinity;
  const source = input instanceof Uint8Array ? bytesToStream(input) : input;
  const reader = asBufferStream(source).pipeThrough(new DecompressionStream("gzip")).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw new RangeError(
          `Cannot gunzip ${name}: output must be at most ${maxBytes} bytes, got more`,
        );
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof RangeError) throw error;
    // Deno reports a truncated member as a checksum error at flush and bad data as a corrupt
    // deflate stream; both mean the file is damaged, so one message covers them.
    throw new Error(
      `Cannot gunzip ${name}: the gzip stream is corrupt or ends early (${messageOf(error)})`,
      { cause: error },
    );
  }
  return joinChunks(chunks, total);
}

/**
 * Compresses bytes as one gzip member (header mtime 0, no name: deterministic).
 *
 * @param bytes Data to compress.
 * @returns The gzip file's bytes.
 */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = asBufferStream(bytesToStream(bytes)).pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A stream that yields the bytes in chunks of at most 1 MiB (as a file read would), without
 * copying.
 *
 * @param bytes The data.
 * @returns A byte stream.
 */
export function bytesToStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  const chunkBytes = 1 << 20;
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.subarray(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

/**
 * Copies chunks into one array.
 *
 * @param chunks The pieces, in order.
 * @param total Their summed length.
 * @returns One contiguous array.
 */
export function joinChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.length === total) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * The DOM typings want ArrayBuffer-backed chunks for (De)CompressionStream; our chunks are
 * views of ordinary (non-shared) buffers, which is what that type means.
 */
function asBufferStream(
  stream: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  return stream as ReadableStream<Uint8Array<ArrayBuffer>>;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
