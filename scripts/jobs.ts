/**
 * `deno task jobs [--scale S] [--only FIGURE ...] [--backend B] [--minutes M] [--workers N]
 * [--list] [--export DIR]`: computes the training runs behind the figures into the result store
 * (`data/runs/`, or `BN_RUNS_DIR`) without running the notebooks. Runs are checkpointed, so a
 * session stopped by `--minutes` (or killed) resumes where it stopped; afterwards
 * `deno task figures --scale S` only replots. `--export` copies finished runs without their
 * checkpoints (the compact results committed in `data/results/`). Made for GPU sessions:
 * `deno bundle` turns this file into one script that needs no npm download.
 */
import { parseArgs } from "node:util";
import { BACKEND_CHOICES, formatBackend, initBackend, parseBackendChoice } from "../lib/backend.ts";
import { ensureCifar10 } from "../lib/data/download.ts";
import { type FigureStem, jobsFiledUnder, jobsFor, STORED_FIGURES } from "../lib/registry.ts";
import { committedRunFolders, CommittedRuns } from "../lib/run/committed_runs.ts";
import { jobId, runFolderName, type TrainingJob } from "../lib/run/job.ts";
import { runJob } from "../lib/run/run_job.ts";
import { workOrder } from "../lib/run/work_order.ts";
import { parseScale, type Scale, SCALES } from "../lib/scale.ts";
import { openStore, type ResultStore } from "../lib/store/mod.ts";

const USAGE = `Usage: deno task jobs [options]
  --scale S       ${SCALES.join(", ")} (default quick)
  --only FIGURE   one of ${STORED_FIGURES.join(", ")}; repeatable (default: all)
  --backend B     ${BACKEND_CHOICES.join(", ")} (default: BN_BACKEND, else auto)
  --minutes M     start no new run after M minutes (runs in progress finish their checkpoint)
  --workers N     compute N runs at once, each in its own single-threaded process (default 1:
                  one process; on a 2-core CPU, 2 workers give ~2x the runs per hour of one
                  2-thread process, see deno task bench)
  --recompute     compute runs that data/results/ holds finished (default: they are read, not
                  computed again)
  --list          print the jobs and their state, compute nothing
  --export DIR    copy the finished runs of the selection, without checkpoints, into DIR (e.g.
                  data/results/<scale>, committed: jobs and figures read runs committed there
                  and do not compute them again), compute nothing; runs that another kept
                  scale's folder holds or that belong to another scale are left out`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      scale: { type: "string", default: "quick" },
      only: { type: "string", multiple: true },
      backend: { type: "string" },
      minutes: { type: "string" },
      workers: { type: "string", default: "1" },
      run: { type: "string" },
      list: { type: "boolean", default: false },
      recompute: { type: "boolean", default: false },
      export: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const scale = parseScale(values.scale, "--scale");
  const figures = (values.only ?? [...STORED_FIGURES]).map((name) => {
    if (!(STORED_FIGURES as readonly string[]).includes(name)) {
      throw new RangeError(
        `Cannot run jobs: unknown figure "${name}", expected one of ${STORED_FIGURES.join(", ")}`,
      );
    }
    return name as FigureStem;
  });
  const minutes = values.minutes === undefined ? Infinity : Number(values.minutes);
  if (!(minutes > 0)) {
    throw new RangeError(
      `Cannot run jobs: --minutes must be a positive number, got "${values.minutes}"`,
    );
  }
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(
      `Cannot run jobs: --workers must be a positive integer, got "${values.workers}"`,
    );
  }
  const jobs = jobsFor(scale, figures);
  if (values.run !== undefined) {
    await runAsWorker(jobs, values.run, values.backend);
    return;
  }
  const readOnly = values.list || values.export !== undefined;
  const store = await openStore(undefined, readOnly ? { readOnly: true } : {});
  try {
    if (values.export !== undefined) {
      const own = await runsToExport(jobs, scale);
      const copied = await exportRuns(store, own, values.export);
      const left = jobs.length - own.length;
      console.log(
        `jobs: exported ${copied} finished runs to ${values.export}` +
          (left > 0
            ? `; left out ${left} runs that other scales' folders hold or are filed under`
            : ""),
      );
      return;
    }
    const committed = values.recompute
      ? new Map<string, string>()
      : await committedOnly(store, jobs, scale);
    if (values.list) {
      const counts = new Map<string, number>();
      for (const { job, figures } of jobs) {
        const id = await jobId(job);
        const state = (await store.readStatus(id))?.state ??
          (committed.has(id) ? "committed" : "new");
        counts.set(state, (counts.get(state) ?? 0) + 1);
        console.log(`${runFolderName(id)}  ${state}  ${figures.join(", ")}`);
      }
      const summary = [...counts].map(([state, count]) => `${count} ${state}`).join(", ");
      console.log(`jobs: scale ${scale}, ${jobs.length} runs: ${summary}`);
      return;
    }
    if (jobs.some(({ job }) => job.data.kind === "cifar10" && job.data.source === "full")) {
      await ensureCifar10({ onProgress: (line) => console.log(`cifar10: ${line}`) });
    }
    if (committed.size > 0) {
      console.log(
        `jobs: ${committed.size} of ${jobs.length} runs are committed in ` +
          `${[...new Set(committed.values())].join(", ")}: not computed again`,
      );
    }
    const toRun: typeof jobs = [];
    for (const entry of jobs) if (!committed.has(await jobId(entry.job))) toRun.push(entry);
    if (workers > 1) {
      await runWorkers(store, toRun, { workers, minutes, args: Deno.args });
      return;
    }
    const backend = await initBackend(
      values.backend === undefined
        ? {}
        : { backend: parseBackendChoice(values.backend, "--backend") },
    );
    console.log(`jobs: scale ${scale}, ${toRun.length} runs; backend ${formatBackend(backend)}`);
    const started = performance.now();
    let done = 0;
    for (const { job, figures } of toRun) {
      if ((performance.now() - started) / 60_000 >= minutes) {
        console.log(
          `jobs: --minutes ${minutes} reached; ${toRun.length - done} runs left for later`,
        );
        break;
      }
      const record = await runJob(job, store, {
        backendInfo: backend,
        progress: {
          write: (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
          isTerminal: Deno.stdout.isTerminal(),
        },
      });
      done++;
      console.log(
        `[${done}/${toRun.length}] ${runFolderName(record.id)} ${record.status.state} ` +
          `(${figures.join(", ")}), ${record.wallTime.toFixed(1)} s`,
      );
    }
  } finally {
    await store.close();
  }
}

/** Ends a worker whose parent has gone (killed): its runs resume from their checkpoints. */
function exitWithParent(): void {
  const parent = Deno.ppid;
  const timer = setInterval(() => {
    if (Deno.ppid !== parent) Deno.exit(3);
  }, 2_000);
  Deno.unrefTimer(timer);
}

/** `--run ID` (started by {@link runWorkers}): computes one run under the parent's lock. */
async function runAsWorker(
  jobs: readonly { job: TrainingJob; figures: FigureStem[] }[],
  folder: string,
  backendFlag: string | undefined,
): Promise<void> {
  exitWithParent();
  let chosen: { job: TrainingJob; figures: FigureStem[] } | undefined;
  for (const entry of jobs) {
    if (runFolderName(await jobId(entry.job)) === folder) chosen = entry;
  }
  if (chosen === undefined) {
    throw new RangeError(`Cannot run job: no job of this selection has run folder "${folder}"`);
  }
  const store = await openStore(undefined, { underParentLock: true });
  try {
    if (chosen.job.data.kind === "cifar10" && chosen.job.data.source === "full") {
      await ensureCifar10({});
    }
    const backend = await initBackend(
      backendFlag === undefined ? {} : { backend: parseBackendChoice(backendFlag, "--backend") },
    );
    const record = await runJob(chosen.job, store, {
      backendInfo: backend,
      progress: {
        write: (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
        isTerminal: false,
      },
    });
    console.log(
      `${runFolderName(record.id)} ${record.status.state} (${chosen.figures.join(", ")}), ` +
        `${record.wallTime.toFixed(1)} s, backend ${formatBackend(backend)}`,
    );
  } finally {
    await store.close();
  }
}

/**
 * The runs finished in `data/results/` (committed) that the store has not finished: id -> the
 * folder that holds each. `deno task figures` reads them from there, so they are not computed.
 */
async function committedOnly(
  store: ResultStore,
  jobs: readonly { job: TrainingJob }[],
  scale: Scale,
): Promise<Map<string, string>> {
  const committed = await CommittedRuns.open(committedRunFolders(scale));
  const found = new Map<string, string>();
  for (const { job } of jobs) {
    const folder = await committed.folderOf(job, store);
    if (folder !== null) found.set(await jobId(job), folder);
  }
  return found;
}

/**
 * `--workers N`: this process keeps the store's lock and hands each unfinished run to a child
 * process (`--run ID`, OMP_NUM_THREADS=1 unless set), at most N at a time; the children's lines
 * are printed prefixed by their worker number. SIGINT/SIGTERM end the children too.
 */
async function runWorkers(
  store: ResultStore,
  jobs: readonly { job: TrainingJob; figures: FigureStem[] }[],
  options: { workers: number; minutes: number; args: readonly string[] },
): Promise<void> {
  const pending: { folder: string; figures: FigureStem[] }[] = [];
  for (const { job, figures } of workOrder(jobs)) {
    const id = await jobId(job);
    const state = (await store.readStatus(id))?.state;
    if (state !== "finished" && state !== "diverged") {
      pending.push({ folder: runFolderName(id), figures });
    }
  }
  console.log(
    `jobs: ${jobs.length} runs, ${pending.length} to compute by ${options.workers} workers`,
  );
  const started = performance.now();
  const children = new Set<Deno.ChildProcess>();
  let next = 0;
  let failed = 0;
  let stopped = false;
  let signalled = false;
  // A signal ends the children and starts nothing more: their runs resume from their last
  // checkpoint next time.
  const stop = () => {
    signalled = stopped = true;
    for (const child of children) child.kill("SIGTERM");
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const baseArgs = withoutOptions(options.args, ["--workers", "--minutes", "--run"]);
  const env = Deno.env.get("OMP_NUM_THREADS") === undefined ? { OMP_NUM_THREADS: "1" } : {};
  const worker = async (number: number) => {
    while (next < pending.length && !stopped) {
      if ((performance.now() - started) / 60_000 >= options.minutes) {
        stopped = true;
        break;
      }
      const run = pending[next++]!;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, ...baseArgs, "--run", run.folder],
        env,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      children.add(child);
      const prefix = `w${number} `;
      await Promise.all([prefixLines(child.stdout, prefix), prefixLines(child.stderr, prefix)]);
      const status = await child.status;
      children.delete(child);
      if (!status.success && !signalled) {
        failed++;
        console.log(
          `${prefix}failed (exit ${status.code}${status.signal ? `, ${status.signal}` : ""})`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, (_, k) => worker(k + 1)));
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  const left = pending.length - next;
  if (signalled) {
    console.log(
      `jobs: stopped by a signal; the runs in progress resume from their last checkpoint, ` +
        `${left} more not started`,
    );
    return;
  }
  console.log(
    `jobs: ${next - failed} of ${pending.length} runs computed, ${failed} failed` +
      (left > 0 ? `; --minutes ${options.minutes} reached, ${left} left for later` : ""),
  );
  if (failed > 0) throw new Error(`Cannot finish jobs: ${failed} runs failed (see above)`);
}

/** `args` without the named options and their values (`--name value` or `--name=value`). */
function withoutOptions(args: readonly string[], names: readonly string[]): string[] {
  const kept: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const arg = args[k]!;
    if (names.includes(arg)) k++;
    else if (!names.some((name) => arg.startsWith(`${name}=`))) kept.push(arg);
  }
  return kept;
}

/** Copies a stream's lines to stdout, each with `prefix` (progress redraws become lines). */
async function prefixLines(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  prefix: string,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split(/\r?\n|\r/);
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") console.log(prefix + line);
  }
  if (rest.trim() !== "") console.log(prefix + rest);
}

/**
 * The runs that belong in this scale's export: those filed under `scale` (a run only borrowed
 * here, e.g. the DLN's paper runs at schedule, belongs to its own scale's folder) and not already
 * committed in another kept scale's folder (runs two scales share are committed once).
 */
async function runsToExport(
  jobs: readonly { job: TrainingJob; figures: FigureStem[] }[],
  scale: Scale,
): Promise<TrainingJob[]> {
  const elsewhere = await CommittedRuns.open(committedRunFolders(scale).slice(1));
  const own: TrainingJob[] = [];
  for (const { job } of jobsFiledUnder(scale, jobs)) {
    if (await elsewhere.folderOf(job) === null) own.push(job);
  }
  return own;
}

/**
 * Copies every finished (or diverged) run among `jobs` into `dir` without its checkpoints
 * (`ResultStore.copyResults`); runs not finished are skipped.
 *
 * @returns How many runs were copied.
 */
async function exportRuns(
  store: ResultStore,
  jobs: readonly TrainingJob[],
  dir: string,
): Promise<number> {
  let copied = 0;
  for (const job of jobs) {
    const id = await jobId(job);
    const state = (await store.readStatus(id))?.state;
    if (state !== "finished" && state !== "diverged") continue;
    await store.copyResults(id, dir);
    copied++;
  }
  return copied;
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(error instanceof RangeError || error instanceof TypeError ? 2 : 1);
  }
}
