import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { bytesToStream, gunzip, gzip } from "../../lib/data/gzip.ts";
import { nodeGzip, sampleRaw } from "./_helpers.ts";

const data = sampleRaw().train.subarray(0, 200 * 3073);

Deno.test("gunzip() inverts node:zlib gzip, from bytes and from a stream", async () => {
  const compressed = nodeGzip(data);
  assert.deepEqual(await gunzip(compressed), data);
  assert.deepEqual(await gunzip(bytesToStream(compressed)), data);
});

Deno.test("gzip() output is read back by node:zlib and is deterministic", async () => {
  const a = await gzip(data);
  const b = await gzip(data.slice()); // another buffer, same bytes
  assert.deepEqual(new Uint8Array(gunzipSync(a)), data);
  assert.deepEqual(a, b);
  // Fixed header: magic, deflate, no flags, mtime 0 (RFC 1952), so no date leaks into files.
  assert.deepEqual([...a.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
});

Deno.test("gunzip() reports damaged input clearly", async (t) => {
  const compressed = nodeGzip(data);
  await t.step("a stream that ends early", async () => {
    await assert.rejects(
      gunzip(compressed.subarray(0, compressed.length - 1000), { name: "part.bin.gz" }),
      (e: unknown) =>
        e instanceof Error && e.message.startsWith("Cannot gunzip part.bin.gz:") &&
        e.message.includes("ends early"),
    );
  });
  await t.step("not gzip at all", async () => {
    await assert.rejects(gunzip(data.subarray(0, 5000)), /corrupt or ends early/);
  });
  await t.step("output above maxBytes stops with a RangeError", async () => {
    await assert.rejects(
      gunzip(compressed, { name: "big.bin.gz", maxBytes: data.length - 1 }),
      (e: unknown) => e instanceof RangeError && e.message.includes(`${data.length - 1} bytes`),
    );
  });
  await t.step("exactly maxBytes is accepted", async () => {
    assert.equal((await gunzip(compressed, { maxBytes: data.length })).length, data.length);
  });
});
