/**
 * Runs that survive a kill, tested across processes: a child running a job is killed with
 * SIGKILL after its first checkpoints, a second writer meanwhile gets the lock error, and a
 * restarted child finishes the run with files byte-identical to an uninterrupted run (cpu
 * backend). Also the command line's exit status on bad input.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { jobId, runFolderName, type TrainingJob } from "../../lib/run/job.ts";
import { runJob } from "../../lib/run/run_job.ts";
import { openStore } from "../../lib/store/mod.ts";
import { tinyMlpJob } from "../experiments/_jobs.ts";

await initBackend({ backend: "cpu" });

const CLI = new URL("./_run_job_cli.ts", import.meta.url).pathname;

function command(jobPath: string, runs: string, piped: boolean, backend = "cpu"): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--job", jobPath, "--runs", runs, "--backend", backend],
    stdout: piped ? "piped" : "null",
    stderr: piped ? "piped" : "null",
  });
}

async function runCli(jobPath: string, runs: string, backend = "cpu") {
  const output = await command(jobPath, runs, true, backend).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function checkpoints(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (/^ckpt-\d+\.bin$/.test(e.name)) names.push(e.name);
  } catch { /* not created yet */ }
  return names;
}

Deno.test("runJob() killed with SIGKILL and restarted writes exactly the files of an uninterrupted run", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    // Long enough (about 3 s) that the kill lands mid-run.
    const job: TrainingJob = tinyMlpJob({
      sgd: { steps: 180, learningRate: 0.05, bnMomentum: 0.1 },
    });
    const jobPath = join(tmp, "job.json");
    await Deno.writeTextFile(jobPath, JSON.stringify(job));
    const killedRuns = join(tmp, "killed");
    const runDir = join(killedRuns, runFolderName(await jobId(job)));

    const child = command(jobPath, killedRuns, false).spawn();
    const deadline = Date.now() + 60_000;
    while ((await checkpoints(runDir)).length < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // A second writer while the child runs: refused, naming the holder.
    await assert.rejects(
      () => openStore(killedRuns),
      (e: Error) => e.message.includes(`locked by process ${child.pid} on host ${Deno.hostname()}`),
    );
    child.kill("SIGKILL");
    const killed = await child.status;
    assert.equal(killed.signal, "SIGKILL");
    const status = JSON.parse(await Deno.readTextFile(join(runDir, "status.json")));
    assert.equal(status.state, "running", "the child finished before it was killed");
    assert.ok(await exists(join(killedRuns, ".lock")), "a killed process leaves its lock behind");

    // Restart: the dead process's lock is taken over and the run resumes from a checkpoint.
    const resumed = await runCli(jobPath, killedRuns);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Resuming run [0-9a-f]{16} from its checkpoint at step [1-9]\d*/);
    const summary = JSON.parse(resumed.stdout);
    assert.equal(summary.state, "finished");
    assert.ok(summary.computedSteps < 180, `resumed run recomputed ${summary.computedSteps} steps`);
    assert.ok(!(await exists(join(killedRuns, ".lock"))), "the lock is freed at the end");

    // Reference: the same job uninterrupted, in this process.
    const referenceRuns = join(tmp, "reference");
    const store = await openStore(referenceRuns);
    await runJob(job, store);
    await store.close();
    const referenceDir = join(referenceRuns, runFolderName(await jobId(job)));
    for (const file of ["metrics.ndjson", "evals.ndjson", "measurements.ndjson", "ckpt-180.bin"]) {
      const a = await Deno.readFile(join(runDir, file));
      const b = await Deno.readFile(join(referenceDir, file));
      assert.ok(a.length > 0, `${file} is empty`);
      assert.deepEqual(a, b, `${file} differs from the uninterrupted run`);
    }
    assert.equal((await Deno.readTextFile(join(runDir, "metrics.ndjson"))).split("\n").length, 181);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the runJob command line exits non-zero on bad input and writes nothing", async (t) => {
  const tmp = await Deno.makeTempDir();
  try {
    const cases: [string, unknown, RegExp][] = [
      [
        "zero learning rate",
        { ...tinyMlpJob(), sgd: { steps: 10, learningRate: 0, bnMomentum: 0.1 } },
        /sgd\.learningRate must be a positive finite number, got 0/,
      ],
      [
        "unknown normalization",
        { ...tinyMlpJob(), network: { arch: "mlp", normalization: "groupnorm", hidden: [4] } },
        /unknown network\.normalization "groupnorm", expected one of none, batchnorm/,
      ],
    ];
    for (const [name, job, message] of cases) {
      await t.step(name, async () => {
        const jobPath = join(tmp, "job.json");
        await Deno.writeTextFile(jobPath, JSON.stringify(job));
        const runs = join(tmp, "runs");
        const result = await runCli(jobPath, runs);
        assert.equal(result.code, 1);
        assert.match(result.stderr, message);
        assert.ok(!(await exists(runs)), "the results folder was created");
      });
    }
    await t.step("unknown backend", async () => {
      const jobPath = join(tmp, "job.json");
      await Deno.writeTextFile(jobPath, JSON.stringify(tinyMlpJob()));
      const runs = join(tmp, "runs");
      const result = await runCli(jobPath, runs, "tpu");
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /unknown --backend value "tpu", expected one of auto, webgpu, wasm, cpu/,
      );
      assert.ok(!(await exists(runs)), "the results folder was created");
    });
    await t.step("results folder under a regular file", async () => {
      const jobPath = join(tmp, "job.json");
      await Deno.writeTextFile(jobPath, JSON.stringify(tinyMlpJob()));
      const file = join(tmp, "a-file");
      await Deno.writeTextFile(file, "x");
      const result = await runCli(jobPath, join(file, "runs"));
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /Cannot open result store: folder .*a-file\/runs cannot be created/,
      );
      assert.equal(await Deno.readTextFile(file), "x");
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
