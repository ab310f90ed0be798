import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { jobId } from "../../lib/run/job.ts";
import { openStore, resolveRunsDir, type ResultStore } from "../../lib/store/mod.ts";
import type { TrainState } from "../../lib/train.ts";
import { tinyDlnJob } from "../experiments/_jobs.ts";

tf.enableProdMode();
await tf.setBackend("cpu");
await tf.ready();

const REPO = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

async function tempRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir();
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** The pid of a process that has ended (and been reaped). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  return child.pid;
}

Deno.test("resolveRunsDir() defaults to <repo>/data/runs and takes relative paths from the repo root", () => {
  assert.equal(resolveRunsDir(null), join(REPO, "data", "runs"));
  assert.equal(resolveRunsDir(""), join(REPO, "data", "runs"));
  assert.equal(resolveRunsDir("tmp/runs"), join(REPO, "tmp", "runs"));
  assert.equal(resolveRunsDir("/abs/runs"), "/abs/runs");
});

Deno.test("openStore() locks the store: a second writer gets an error naming the holder", async () => {
  await tempRoot(async (root) => {
    const store = await openStore(root);
    const lock = JSON.parse(await Deno.readTextFile(join(root, ".lock")));
    assert.equal(lock.pid, Deno.pid);
    assert.equal(lock.host, Deno.hostname());
    await assert.rejects(
      () => openStore(root),
      new RegExp(
        `^Error: Cannot open result store: it is locked by process ${Deno.pid} on host ` +
          `${Deno.hostname()} since ${lock.time}`,
      ),
    );
    await store.close();
    assert.deepEqual(await names(root), []);
    const again = await openStore(root);
    await again.close();
  });
});

Deno.test("openStore() takes over the lock of a dead process on this host only", async () => {
  await tempRoot(async (root) => {
    const pid = await deadPid();
    const stale = { pid, host: Deno.hostname(), time: "2020-01-01T00:00:00.000Z" };
    await Deno.writeTextFile(join(root, ".lock"), JSON.stringify(stale));
    const store = await openStore(root);
    assert.equal(JSON.parse(await Deno.readTextFile(join(root, ".lock"))).pid, Deno.pid);
    await store.close();

    const remote = { ...stale, host: "elsewhere.example" };
    await Deno.writeTextFile(join(root, ".lock"), JSON.stringify(remote));
    await assert.rejects(() => openStore(root), /locked by process \d+ on host elsewhere\.example/);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(join(root, ".lock"))), remote);
  });
});

Deno.test("openStore() on a folder that cannot be created fails clearly and changes nothing", async () => {
  await tempRoot(async (root) => {
    const file = join(root, "plain-file");
    await Deno.writeTextFile(file, "data");
    await assert.rejects(
      () => openStore(join(file, "runs")),
      /^Error: Cannot open result store: folder .*plain-file\/runs cannot be created or written/,
    );
    assert.deepEqual(await names(root), ["plain-file"]);
    assert.equal(await Deno.readTextFile(file), "data");
  });
});

Deno.test("a read-only store writes nothing and needs no lock", async () => {
  await tempRoot(async (root) => {
    const writer = await openStore(root);
    const reader = await openStore(root, { readOnly: true });
    const id = await jobId(tinyDlnJob());
    await assert.rejects(() => reader.claimRun(tinyDlnJob(), id), /open read-only/);
    await assert.rejects(() => reader.append(id, "metrics", [{ step: 0 }]), /open read-only/);
    await writer.close();
    await assert.rejects(() => writer.append(id, "metrics", [{ step: 0 }]), /store .* is closed/);
    await reader.close();
    assert.deepEqual(await names(root), []);
  });
});

function smallState(step: number): TrainState {
  return {
    step,
    params: [{ kernel: tf.fill([2, 2], step) }],
    normState: [undefined],
  };
}

async function withRun(fn: (store: ResultStore, id: string, dir: string) => Promise<void>) {
  await tempRoot(async (root) => {
    const store = await openStore(root);
    const job = tinyDlnJob();
    const id = await jobId(job);
    await store.claimRun(job, id);
    try {
      await fn(store, id, store.runDir(id));
    } finally {
      await store.close();
    }
  });
}

Deno.test("claimRun() writes job.json once and refuses a different job in the same folder", async () => {
  await withRun(async (store, id, dir) => {
    assert.equal(dir.slice(-16), id.slice(0, 16));
    const text = await Deno.readTextFile(join(dir, "job.json"));
    assert.deepEqual(JSON.parse(text), tinyDlnJob());
    await store.claimRun(tinyDlnJob(), id); // same job: fine
    await assert.rejects(
      () => store.claimRun(tinyDlnJob({ checkpointEvery: 3 }), id),
      /^Error: Cannot store run [0-9a-f]{16}: hash collision/,
    );
    assert.equal(await Deno.readTextFile(join(dir, "job.json")), text);
  });
});

Deno.test("writeCheckpoint() keeps the newest two, atomically, and loadCheckpoint() falls back past a corrupt one", async () => {
  await withRun(async (store, id, dir) => {
    for (const step of [10, 20, 30]) {
      const state = smallState(step);
      await store.writeCheckpoint(id, state);
      tf.dispose(state.params[0]!.kernel);
    }
    assert.deepEqual(await names(dir), ["ckpt-20.bin", "ckpt-30.bin", "job.json"]);
    assert.deepEqual(await store.listCheckpoints(id), [30, 20]);

    const template = smallState(0);
    const newest = (await store.loadCheckpoint(id, template, () => assert.fail("refused")))!;
    assert.equal(newest.step, 30);
    assert.deepEqual(await newest.params[0]!.kernel.data(), new Float32Array([30, 30, 30, 30]));
    tf.dispose(newest.params[0]!.kernel);

    const path = join(dir, "ckpt-30.bin");
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1]! ^= 0x80;
    await Deno.writeFile(path, bytes);
    const messages: string[] = [];
    const previous = (await store.loadCheckpoint(id, template, (m) => messages.push(m)))!;
    assert.equal(previous.step, 20);
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /ckpt-30\.bin: checksum mismatch.*; falling back to ckpt-20\.bin$/);
    tf.dispose(previous.params[0]!.kernel);

    await Deno.writeFile(join(dir, "ckpt-20.bin"), new Uint8Array(3));
    messages.length = 0;
    assert.equal(await store.loadCheckpoint(id, template, (m) => messages.push(m)), null);
    assert.match(messages[1]!, /file is truncated.*no older checkpoint, starting from step 0$/);
    tf.dispose(template.params[0]!.kernel);
  });
});

Deno.test("append(), readLog() and truncateLog() keep the logs consistent", async () => {
  await withRun(async (store, id, dir) => {
    await store.append(id, "metrics", [0, 1, 2, 3].map((step) => ({ step, loss: step / 2 })));
    await store.append(id, "metrics", [{ step: 4, loss: NaN }]);
    assert.deepEqual((await store.readLog(id, "metrics")).map((r) => r.step), [0, 1, 2, 3, 4]);
    assert.ok(
      Number.isNaN((await store.readLog<{ step: number; loss: number }>(id, "metrics"))[4]!.loss),
    );
    const path = join(dir, "metrics.ndjson");
    await Deno.writeTextFile(path, '{"step":5,"lo', { append: true });
    assert.equal((await store.readLog(id, "metrics")).length, 5);

    const mtime = (await Deno.stat(path)).mtime!.getTime();
    assert.equal(await store.truncateLog(id, "metrics", (r) => r.step < 3), 3);
    assert.deepEqual(
      await Deno.readTextFile(path),
      '{"step":0,"loss":0}\n{"step":1,"loss":0.5}\n{"step":2,"loss":1}\n',
    );
    assert.ok((await Deno.stat(path)).mtime!.getTime() >= mtime);
    // Nothing to drop: the file is not rewritten.
    const inode = (await Deno.stat(path)).ino;
    assert.equal(await store.truncateLog(id, "metrics", () => true), 0);
    assert.equal((await Deno.stat(path)).ino, inode);
    assert.equal(await store.truncateLog(id, "evals", () => false), 0);
    assert.ok(!(await names(dir)).some((n) => n.includes(".tmp-")), "temporary files left");
  });
});

Deno.test("copyResults() copies a run's job, status and logs, never its checkpoints", async () => {
  await withRun(async (store, id, dir) => {
    const state = smallState(10);
    await store.writeCheckpoint(id, state);
    tf.dispose(state.params[0]!.kernel);
    await store.append(id, "metrics", [{ step: 0, loss: 1 }]);
    await store.writeStatus(id, {
      state: "finished",
      step: 10,
      divergedAt: null,
      wallTime: 1,
      backend: "cpu",
      updated: new Date(0).toISOString(),
    });
    await tempRoot(async (out) => {
      await store.copyResults(id, out);
      const copied = join(out, dir.slice(dir.lastIndexOf("/") + 1));
      const kept = (await names(dir)).filter((name) => !name.startsWith("ckpt-"));
      assert.deepEqual(await names(copied), kept);
      assert.ok((await names(dir)).includes("ckpt-10.bin"));
      for (const name of kept) {
        assert.deepEqual(
          await Deno.readFile(join(copied, name)),
          await Deno.readFile(join(dir, name)),
        );
      }
      // The copy is a store a reader can load the status from.
      const reader = await openStore(out, { readOnly: true });
      assert.equal((await reader.readStatus(id))?.state, "finished");
    });
  });
});
