import assert from "node:assert/strict";
import { join } from "node:path";
import { readTar, readTarStream, type TarEntry } from "../../lib/data/tar.ts";
import { run, sampleRaw } from "./_helpers.ts";

const LONG_DIR = "a-folder-name-that-is-long/".repeat(3) + "and-longer"; // 91 characters

/** Files of the test tree, by path (contents cut from real CIFAR-10 records). */
function treeFiles(): Map<string, Uint8Array> {
  const raw = sampleRaw().train;
  return new Map([
    ["top/data_batch_1.bin", raw.subarray(0, 3 * 3073)], // not a multiple of 512
    ["top/exact.bin", raw.subarray(5, 5 + 1024)], // a multiple of 512: no padding
    ["top/empty.txt", new Uint8Array(0)],
    [`top/${LONG_DIR}/file-with-a-long-name.bin`, raw.subarray(9, 700)], // > 100 characters
  ]);
}

/** Names that GNU tar lists for an archive (`tar -tf`), in archive order. */
async function systemList(archive: Uint8Array): Promise<string[]> {
  const path = await Deno.makeTempFile({ suffix: ".tar" });
  try {
    await Deno.writeFile(path, archive);
    const result = await run("tar", ["-tf", path]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.split("\n").filter((line) => line !== "");
  } finally {
    await Deno.remove(path);
  }
}

/** Writes the tree into a temp dir and archives it with GNU tar in the given format. */
async function systemTar(format: "ustar" | "gnu" | "pax"): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [path, bytes] of treeFiles()) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeFile(join(dir, path), bytes);
    }
    await Deno.symlink("exact.bin", join(dir, "top/link"));
    const result = await run(
      "tar",
      [`--format=${format}`, "--sort=name", "-cf", "out.tar", "top"],
      {
        cwd: dir,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    return await Deno.readFile(join(dir, "out.tar"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A stream of the bytes in small odd-sized chunks (headers and data straddle chunks). */
function choppedStream(bytes: Uint8Array, chunk = 333): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

function checkEntries(entries: TarEntry[]): void {
  const files = treeFiles();
  const byName = new Map(entries.map((e) => [e.name.replace(/\/$/, ""), e]));
  for (const [path, bytes] of files) {
    const entry = byName.get(path);
    assert.ok(entry !== undefined, `missing ${path}`);
    assert.equal(entry.type, "file");
    assert.equal(entry.size, bytes.length);
    assert.deepEqual(entry.data, bytes, path);
  }
  assert.equal(byName.get("top")?.type, "directory");
  assert.equal(byName.get("top/link")?.type, "symlink");
}

for (const format of ["ustar", "gnu", "pax"] as const) {
  Deno.test(`readTar() lists a GNU tar --format=${format} archive`, async () => {
    const archive = await systemTar(format);
    const entries = await readTar(archive);
    checkEntries(entries);
    assert.deepEqual(entries.map((e) => e.name), await systemList(archive));
    const streamed: TarEntry[] = [];
    for await (const entry of readTarStream(choppedStream(archive))) streamed.push(entry);
    checkEntries(streamed);
    assert.deepEqual(streamed.map((e) => e.name), entries.map((e) => e.name));
  });
}

Deno.test("readTarStream() skips unselected entries without reading them", async () => {
  const archive = await systemTar("gnu");
  const entries: TarEntry[] = [];
  for await (
    const entry of readTarStream(choppedStream(archive, 4096), {
      select: (e) => e.name.endsWith("data_batch_1.bin"),
    })
  ) entries.push(entry);
  const selected = entries.filter((e) => e.data !== null);
  assert.deepEqual(selected.map((e) => e.name), ["top/data_batch_1.bin"]);
  assert.deepEqual(selected[0]!.data, treeFiles().get("top/data_batch_1.bin"));
  // The others are listed, with no contents.
  assert.deepEqual(entries.map((e) => e.name), await systemList(archive));
  assert.equal(entries.filter((e) => e.data === null).length, entries.length - 1);
});

Deno.test("readTar() reads a base-256 size field", async () => {
  const archive = (await systemTar("ustar")).slice();
  const entries = await readTar(archive);
  // Find the header of top/data_batch_1.bin and rewrite its size in GNU base-256 form.
  let offset = 0;
  for (const entry of entries) {
    if (entry.name === "top/data_batch_1.bin") break;
    offset += 512 + Math.ceil(entry.size / 512) * 512;
  }
  const header = archive.subarray(offset, offset + 512);
  const size = 3 * 3073;
  header.fill(0, 124, 136);
  header[124] = 0x80;
  header[134] = size >> 8;
  header[135] = size & 0xff;
  header.fill(0x20, 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  header.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  checkEntries(await readTar(archive));
});

Deno.test("readTar() refuses damaged archives", async (t) => {
  const archive = await systemTar("gnu");
  await t.step("bad header checksum", async () => {
    const bad = archive.slice();
    bad[10] = bad[10]! ^ 1; // inside the first entry's name
    await assert.rejects(
      readTar(bad),
      (e: unknown) => e instanceof SyntaxError && e.message.includes("header checksum at offset 0"),
    );
  });
  await t.step("archive that ends inside an entry", async () => {
    const entries = await readTar(archive);
    const firstFile = entries.findIndex((e) => e.size > 0);
    assert.ok(firstFile >= 0);
    await assert.rejects(readTar(archive.subarray(0, 512 * (firstFile + 1) + 100)), /ends early/);
    await assert.rejects(async () => {
      for await (const _ of readTarStream(choppedStream(archive.subarray(0, 2000)))) {
        // drain
      }
    }, /ends early/);
  });
  await t.step("archive that ends inside a header", async () => {
    await assert.rejects(readTar(archive.subarray(0, 300)), /ends early, inside the header/);
  });
  await t.step("an empty archive has no entries", async () => {
    assert.deepEqual(await readTar(new Uint8Array(1024)), []);
  });
});
