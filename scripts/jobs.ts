/**
 * `deno task jobs [--scale S] [--only FIGURE ...] [--backend B] [--minutes M] [--list]
 * [--export DIR]`: computes the training runs behind the figures into the result store
 * (`data/runs/`, or `BN_RUNS_DIR`) without running the notebooks. Runs are checkpointed, so a
 * session stopped by `--minutes` (or killed) resumes where it stopped; afterwards
 * `deno task figures --scale S` only replots. `--export` copies finished runs without their
 * checkpoints (the compact results committed in `data/results/`). Made for GPU sessions:
 * `deno bundle` turns this file into one script that needs no npm download.
 */
import { parseArgs } from "node:util";
import { BACKEND_CHOICES, formatBackend, initBackend, parseBackendChoice } from "../lib/backend.ts";
import { ensureCifar10 } from "../lib/data/download.ts";
import { jobsFor, STORED_FIGURES, type StoredFigure } from "../lib/experiments/all_jobs.ts";
import { jobId, runFolderName, type TrainingJob } from "../lib/experiments/job.ts";
import { runJob } from "../lib/experiments/run_job.ts";
import { parseScale, SCALES } from "../lib/figures/scale.ts";
import { openStore, type ResultStore } from "../lib/store/mod.ts";

const USAGE = `Usage: deno task jobs [options]
  --scale S       ${SCALES.join(", ")} (default quick)
  --only FIGURE   one of ${STORED_FIGURES.join(", ")}; repeatable (default: all)
  --backend B     ${BACKEND_CHOICES.join(", ")} (default: BN_BACKEND, else auto)
  --minutes M     start no new run after M minutes (runs in progress finish their checkpoint)
  --list          print the jobs and their state, compute nothing
  --export DIR    copy the finished runs of the selection, without checkpoints, into DIR (e.g.
                  data/results/<scale>, committed; cp -r DIR/* data/runs/ brings them back),
                  compute nothing`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      scale: { type: "string", default: "quick" },
      only: { type: "string", multiple: true },
      backend: { type: "string" },
      minutes: { type: "string" },
      list: { type: "boolean", default: false },
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
    return name as StoredFigure;
  });
  const minutes = values.minutes === undefined ? Infinity : Number(values.minutes);
  if (!(minutes > 0)) {
    throw new RangeError(
      `Cannot run jobs: --minutes must be a positive number, got "${values.minutes}"`,
    );
  }
  const jobs = jobsFor(scale, figures);
  const readOnly = values.list || values.export !== undefined;
  const store = await openStore(undefined, readOnly ? { readOnly: true } : {});
  try {
    if (values.export !== undefined) {
      const copied = await exportRuns(store, jobs.map((j) => j.job), values.export);
      console.log(`jobs: exported ${copied} finished runs to ${values.export}`);
      return;
    }
    if (values.list) {
      for (const { job, figures } of jobs) {
        const id = await jobId(job);
        const status = await store.readStatus(id);
        console.log(`${runFolderName(id)}  ${status?.state ?? "new"}  ${figures.join(", ")}`);
      }
      return;
    }
    if (jobs.some(({ job }) => job.data.kind === "cifar10" && job.data.source === "full")) {
      await ensureCifar10({ onProgress: (line) => console.log(`cifar10: ${line}`) });
    }
    const backend = await initBackend(
      values.backend === undefined
        ? {}
        : { backend: parseBackendChoice(values.backend, "--backend") },
    );
    console.log(`jobs: scale ${scale}, ${jobs.length} runs; backend ${formatBackend(backend)}`);
    const started = performance.now();
    let done = 0;
    for (const { job, figures } of jobs) {
      if ((performance.now() - started) / 60_000 >= minutes) {
        console.log(
          `jobs: --minutes ${minutes} reached; ${jobs.length - done} runs left for later`,
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
        `[${done}/${jobs.length}] ${runFolderName(record.id)} ${record.status.state} ` +
          `(${figures.join(", ")}), ${record.wallTime.toFixed(1)} s`,
      );
    }
  } finally {
    await store.close();
  }
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
