import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  CIFAR10_CLASSES,
  CIFAR10_FILE_BYTES,
  CIFAR10_MANIFEST,
  decodeCifar10,
  parseSha256Sums,
} from "../../lib/data/cifar10.ts";
import { loadCifar10, verifyCifar10Dir } from "../../lib/data/cifar10_files.ts";
import { downloadCifar10, ensureCifar10, installFromArchive } from "../../lib/data/download.ts";
import {
  FULL_DIR,
  fullDataTest,
  listDir,
  nodeSha256,
  RECORD,
  run,
  type SmallSet,
  smallSet,
} from "./_helpers.ts";

const META = CIFAR10_CLASSES.join("\n") + "\n";

interface ArchiveOptions {
  /** Members to leave out (base names without .bin). */
  omit?: string[];
  /** Replacement contents by base name. */
  replace?: Record<string, Uint8Array>;
}

/**
 * A `.tar.gz` laid out like the official archive (`cifar-10-batches-bin/<name>.bin`,
 * `batches.meta.txt`, `readme.html`), built by GNU tar and gzip from the set's files.
 */
async function buildArchive(set: SmallSet, options: ArchiveOptions = {}): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "cifar10-archive-" });
  try {
    const folder = join(dir, "cifar-10-batches-bin");
    await Deno.mkdir(folder);
    for (const [name, bytes] of set.files) {
      if (options.omit?.includes(name)) continue;
      await Deno.writeFile(join(folder, `${name}.bin`), options.replace?.[name] ?? bytes);
    }
    await Deno.writeTextFile(join(folder, "batches.meta.txt"), META);
    await Deno.writeTextFile(join(folder, "readme.html"), "<p>not installed</p>");
    const result = await run("tar", ["-czf", "a.tar.gz", "cifar-10-batches-bin"], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    return await Deno.readFile(join(dir, "a.tar.gz"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A fresh parent folder for install targets, removed after `fn`. */
async function withParent(fn: (parent: string) => Promise<void>): Promise<void> {
  const parent = await Deno.makeTempDir({ prefix: "cifar10-install-test-" });
  try {
    await fn(parent);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
}

/** Checks a folder holds exactly the set's files, the meta file and SHA256SUMS. */
async function checkInstalled(dir: string, set: SmallSet): Promise<void> {
  const expected = [...set.files.keys()].map((n) => `${n}.bin`);
  assert.deepEqual(await listDir(dir), [...expected, "SHA256SUMS", "batches.meta.txt"].sort());
  for (const [name, bytes] of set.files) {
    assert.deepEqual(await Deno.readFile(join(dir, `${name}.bin`)), bytes, name);
  }
  assert.equal(await Deno.readTextFile(join(dir, "batches.meta.txt")), META);
  const sums = parseSha256Sums(await Deno.readTextFile(join(dir, "SHA256SUMS")));
  for (const [name, bytes] of set.files) assert.equal(sums.get(`${name}.bin`), nodeSha256(bytes));
}

Deno.test("installFromArchive() extracts, verifies and installs plain .bin files", async () => {
  const set = smallSet();
  const archive = await buildArchive(set);
  await withParent(async (parent) => {
    const target = join(parent, "cifar10");
    const lines: string[] = [];
    const result = await installFromArchive(archive, target, {
      manifest: set.manifest,
      onProgress: (line) => lines.push(line),
    });
    assert.equal(result.dir, target);
    assert.deepEqual(result.files.map((f) => f.sha256), [...set.files.values()].map(nodeSha256));
    await checkInstalled(target, set);
    assert.deepEqual(await listDir(parent), ["cifar10"]); // no temporary folder left
    assert.ok(lines.some((l) => l.startsWith("verified data_batch_1.bin")));
    // The installed folder loads.
    const data = await loadCifar10({ dir: target, manifest: set.manifest });
    assert.deepEqual(data.test, decodeCifar10(set.files.get("test_batch")!));
  });
});

Deno.test("installFromArchive() reads a stream and fills an existing empty folder", async () => {
  const set = smallSet();
  const archive = await buildArchive(set);
  await withParent(async (parent) => {
    const path = join(parent, "a.tar.gz");
    await Deno.writeFile(path, archive);
    const target = join(parent, "empty");
    await Deno.mkdir(target);
    const file = await Deno.open(path);
    await installFromArchive(file.readable, target, { manifest: set.manifest });
    await checkInstalled(target, set);
  });
});

Deno.test("installFromArchive() refuses bad archives and writes nothing", async (t) => {
  const set = smallSet();
  const refused = async (archive: Uint8Array, check: (e: unknown) => boolean) => {
    await withParent(async (parent) => {
      await assert.rejects(
        installFromArchive(archive, join(parent, "sub", "cifar10"), { manifest: set.manifest }),
        check,
      );
      assert.deepEqual(await listDir(parent), []); // not even the parent "sub"
    });
  };
  const good = await buildArchive(set);

  await t.step("a member with the wrong checksum", async () => {
    const bad = set.files.get("data_batch_3")!.slice();
    bad[4000] = bad[4000]! ^ 0x10;
    await refused(
      await buildArchive(set, { replace: { data_batch_3: bad } }),
      (e) =>
        e instanceof Error && e.message.includes("checksum mismatch for data_batch_3.bin") &&
        e.message.includes(set.manifest.sha256["data_batch_3"]!) &&
        e.message.includes(nodeSha256(bad)),
    );
  });
  await t.step("a missing member", async () => {
    await refused(
      await buildArchive(set, { omit: ["test_batch"] }),
      (e) => e instanceof Error && e.message.includes("lacks cifar-10-batches-bin/test_batch.bin"),
    );
  });
  await t.step("a member of the wrong size", async () => {
    const short = set.files.get("data_batch_2")!.subarray(0, 10 * RECORD);
    await refused(
      await buildArchive(set, { replace: { data_batch_2: short } }),
      (e) =>
        e instanceof RangeError && e.message.includes("data_batch_2.bin") &&
        e.message.includes(`got ${10 * RECORD}`),
    );
  });
  await t.step("a label byte above 9 (with a matching checksum)", async () => {
    const bad = set.files.get("data_batch_1")!.slice();
    bad[3 * RECORD] = 42;
    const manifest = {
      ...set.manifest,
      sha256: { ...set.manifest.sha256, data_batch_1: nodeSha256(bad) },
    };
    const archive = await buildArchive(set, { replace: { data_batch_1: bad } });
    await withParent(async (parent) => {
      await assert.rejects(
        installFromArchive(archive, join(parent, "cifar10"), { manifest }),
        /data_batch_1\.bin: label byte of record 3 must be 0\.\.9, got 42/,
      );
      assert.deepEqual(await listDir(parent), []);
    });
  });
  await t.step("a truncated archive", async () => {
    await refused(
      good.subarray(0, Math.floor(good.length * 0.6)),
      (e) => e instanceof Error && e.message.includes("corrupt or ends early"),
    );
  });
  await t.step("bytes that are not gzip", async () => {
    await refused(
      set.files.get("data_batch_1")!,
      (e) => e instanceof Error && e.message.includes("corrupt or ends early"),
    );
  });
  await t.step("a target folder that is not empty", async () => {
    await withParent(async (parent) => {
      await Deno.writeTextFile(join(parent, "keep.txt"), "mine");
      await assert.rejects(
        installFromArchive(good, parent, { manifest: set.manifest }),
        Deno.errors.AlreadyExists,
      );
      assert.deepEqual(await listDir(parent), ["keep.txt"]);
    });
  });
});

/** Serves `archive` at /cifar.tar.gz (404 elsewhere) on a free local port during `fn`. */
async function withServer(
  archive: Uint8Array,
  fn: (base: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/cifar.tar.gz"
        ? new Response(archive as Uint8Array<ArrayBuffer>, {
          headers: { "content-length": String(archive.length) },
        })
        : new Response("no", { status: 404, statusText: "Not Found" }),
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("downloadCifar10() fetches, reports progress and installs", async () => {
  const set = smallSet();
  const archive = await buildArchive(set);
  await withServer(archive, async (base) => {
    await withParent(async (parent) => {
      const lines: string[] = [];
      const target = join(parent, "cifar10");
      await downloadCifar10(target, {
        url: `${base}/cifar.tar.gz`,
        manifest: set.manifest,
        onProgress: (line) => lines.push(line),
      });
      await checkInstalled(target, set);
      assert.ok(lines.some((l) => /^downloaded [\d.]+ \/ [\d.]+ MB$/.test(l)), lines.join("\n"));
      assert.ok(lines.some((l) => l.includes(`archive sha256 ${nodeSha256(archive)}`)));
    });
    await withParent(async (parent) => {
      await assert.rejects(
        downloadCifar10(join(parent, "c"), { url: `${base}/missing`, manifest: set.manifest }),
        /GET .*\/missing answered 404/,
      );
      assert.deepEqual(await listDir(parent), []);
    });
  });
});

Deno.test("ensureCifar10() installs when missing and verifies when present", async () => {
  const set = smallSet();
  const archive = await buildArchive(set);
  await withServer(archive, async (base) => {
    await withParent(async (parent) => {
      const dir = join(parent, "cifar10");
      const options = { dir, url: `${base}/cifar.tar.gz`, manifest: set.manifest };
      const first: string[] = [];
      assert.equal(await ensureCifar10({ ...options, onProgress: (l) => first.push(l) }), dir);
      assert.ok(first.some((l) => l.includes("not found")));
      await checkInstalled(dir, set);
      const second: string[] = [];
      await ensureCifar10({ ...options, onProgress: (l) => second.push(l) });
      assert.ok(second[0]!.startsWith("verifying"));
      assert.equal(second.filter((l) => l.startsWith("verified")).length, 6);
      // A damaged installed file is caught, not silently replaced.
      await Deno.writeFile(join(dir, "data_batch_4.bin"), new Uint8Array(20 * RECORD));
      await assert.rejects(ensureCifar10(options), /data_batch_4\.bin: checksum mismatch/);
    });
  });
});

fullDataTest(
  "installFromArchive() installs the full data set from an official-layout archive",
  async () => {
    await withParent(async (parent) => {
      // cifar-10-batches-bin/*.bin from CIFAR10_DIR, archived by GNU tar; gzip level 0 (stored
      // blocks) keeps the test fast while still going through a real gzip stream.
      const folder = join(parent, "src", "cifar-10-batches-bin");
      await Deno.mkdir(folder, { recursive: true });
      for (const name of [...CIFAR10_MANIFEST.trainFiles, ...CIFAR10_MANIFEST.testFiles]) {
        const plain = join(FULL_DIR!, `${name}.bin`);
        const bytes = await Deno.readFile(plain).catch(async () =>
          gunzipSync(await Deno.readFile(`${plain}.gz`))
        );
        await Deno.writeFile(join(folder, `${name}.bin`), bytes);
      }
      const tar = await run("tar", [
        "-C",
        join(parent, "src"),
        "-cf",
        "../a.tar",
        "cifar-10-batches-bin",
      ], {
        cwd: join(parent, "src"),
      });
      assert.equal(tar.code, 0, tar.stderr);
      await Deno.remove(join(parent, "src"), { recursive: true });
      const archive = gzipSync(await Deno.readFile(join(parent, "a.tar")), { level: 0 });
      await Deno.remove(join(parent, "a.tar"));
      const target = join(parent, "cifar10");
      const result = await installFromArchive(archive, target); // the official manifest
      assert.equal(result.files.length, 6);
      const verified = await verifyCifar10Dir({ dir: target });
      assert.equal(verified.length, 6);
      assert.ok(verified.every((f) => !f.gzipped && f.diskBytes === CIFAR10_FILE_BYTES));
    });
  },
);
