/**
 * The result store on disk (Deno I/O): one folder per run under a root folder, named by the
 * first 16 hex digits of the job's hash, and a lock so that two processes never write the same
 * store at once.
 *
 * ```
 * <root>/.lock                 pid, host and time of the process holding the store
 * <root>/<id16>/job.json       the job (sorted keys); a different job here = hash collision
 * <root>/<id16>/metrics.ndjson one line per step: {step, loss, accuracy} (append-only)
 * <root>/<id16>/evals.ndjson   {step, accuracy}: test accuracy after `step` steps
 * <root>/<id16>/measurements.ndjson  {step, kind, values}, taken before step `step`'s update
 * <root>/<id16>/status.json    {state: running | finished | diverged, step, wallTime, ...}
 * <root>/<id16>/ckpt-<step>.bin  the last two checkpoints (see `checkpoint.ts`)
 * ```
 *
 * Every whole-file write goes to a temporary file in the same folder and is renamed over the
 * target (rename is atomic on POSIX), so a kill at any moment leaves the old or the new file,
 * never a mix. Appends can be torn by a kill; readers drop a last line without its newline.
 *
 * The root: `openStore(root)`, else `BN_RUNS_DIR`, else `<repo>/data/runs`; a relative path is
 * taken from the repository root.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import type { BackendInfo } from "../backend.ts";
import { readEnv, RUNS_DIR_ENV } from "../env.ts";
import { resolveConfiguredDir } from "../paths.ts";
import { canonicalJson, runFolderName, type TrainingJob } from "../run/job.ts";
import type { TrainState } from "../train.ts";
import { decodeCheckpoint, encodeCheckpoint, restoreState } from "./checkpoint.ts";
import { formatRecords, fromJson, parseRecords, toJson } from "./ndjson.ts";

/** The run files that grow line by line. */
export type RunLog = "metrics" | "evals" | "measurements";

/** Every run log, in the order they are truncated on resume. */
export const RUN_LOGS: readonly RunLog[] = ["metrics", "evals", "measurements"];

/** One line of `metrics.ndjson`. */
export interface MetricsLine {
  /** 0-based step whose batch gave these numbers (before its update). */
  step: number;
  loss: number;
  /** Batch accuracy; NaN for regression. */
  accuracy: number;
}

/** One line of `evals.ndjson`. */
export interface EvalLine {
  /** Steps taken when the test accuracy was measured. */
  step: number;
  accuracy: number;
}

/** One line of `measurements.ndjson`. */
export interface MeasurementLine {
  /** The step whose state and batch were measured (before its update). */
  step: number;
  kind: "ics" | "landscape" | "activations";
  values: unknown;
}

/** Where a run stands (`status.json`). */
export interface RunStatus {
  state: "running" | "finished" | "diverged";
  /** Steps taken (running: at the last checkpoint; finished: all; diverged: the bad step). */
  step: number;
  /** First step with a non-finite loss (diverged runs), else null. */
  divergedAt: number | null;
  /** Seconds spent computing, over all sessions of the run. */
  wallTime: number;
  /** Backend of the last session as one line (`formatBackend`), e.g. "cpu (no WebGPU adapter; ...)". */
  backend: string;
  /**
   * The same backend as structured fields. Absent in runs written before it was recorded and
   * where the caller gave no backend info (then `backend` is the tfjs backend's name).
   */
  backendInfo?: BackendInfo;
  /** ISO time of this write. */
  updated: string;
}

/** Who holds a store's lock (the `.lock` file's contents). */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  time: string;
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * Open for reading only: no lock is taken and nothing is written (e.g. figures reading
   * finished runs while another process computes).
   */
  readOnly?: boolean;
  /**
   * Write under the lock that this process's parent holds (a worker of `deno task jobs
   * --workers N`): the lock must name the parent's pid on this host, and `close()` leaves it
   * in place. The parent gives each worker different runs, so no run has two writers.
   */
  underParentLock?: boolean;
}

const LOCK_FILE = ".lock";
const CHECKPOINT_PATTERN = /^ckpt-(\d+)\.bin$/;
/** Checkpoints kept per run: the newest and one to fall back on if it is corrupt. */
const KEEP_CHECKPOINTS = 2;

/**
 * The store's root folder: `value` if given, else `BN_RUNS_DIR`, else `<repo>/data/runs`.
 * A relative path is taken from the repository root, so every script and test agrees.
 *
 * @param value The setting, "" or null for unset (default: the `BN_RUNS_DIR` variable).
 * @returns An absolute path.
 */
export function resolveRunsDir(
  value: string | null = readEnv(RUNS_DIR_ENV) ?? null,
): string {
  return resolveConfiguredDir(value, ["data", "runs"]);
}

/** Is a process with this id running here? (Linux: /proc; zombies count as dead.) */
function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name in parentheses: "<state> <ppid> ..."; Z = zombie, X = dead.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      try {
        Deno.statSync("/proc/self");
        return false; // /proc works, and the pid is not in it
      } catch {
        return true; // no /proc (not Linux): cannot tell, so assume the holder is alive
      }
    }
    return true;
  }
}

/** Writes a file through a temporary file and a rename, so readers see old or new, whole. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${Deno.pid}`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** A text file's content, or null when it does not exist (other errors are thrown). */
export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function lockMessage(holder: LockHolder, path: string): string {
  return `Cannot open result store: it is locked by process ${holder.pid} on host ` +
    `${holder.host} since ${holder.time} (lock file ${path}; wait for that process to end, or ` +
    `delete the lock file if no such process runs)`;
}

/**
 * A result store: run folders under one root. Open it with {@link openStore}; `close()` frees
 * the lock.
 */
export class ResultStore {
  /** Absolute root folder. */
  readonly root: string;
  /** True when opened without the lock: every write method throws. */
  readonly readOnly: boolean;
  #lock: LockHolder | null;
  /** False when the lock is the parent process's (`underParentLock`): close() keeps it. */
  readonly #ownsLock: boolean;

  /** Use {@link openStore}. */
  constructor(root: string, readOnly: boolean, lock: LockHolder | null, ownsLock = true) {
    this.root = root;
    this.readOnly = readOnly;
    this.#lock = lock;
    this.#ownsLock = ownsLock;
  }

  /** True while this store holds its lock. */
  get locked(): boolean {
    return this.#lock !== null;
  }

  /** Frees the lock (when it is still this process's). Safe to call twice. */
  async close(): Promise<void> {
    const held = this.#lock;
    this.#lock = null;
    if (held === null || !this.#ownsLock) return;
    const path = join(this.root, LOCK_FILE);
    const text = await readTextOrNull(path);
    if (text !== null && text === toJson(held)) await Deno.remove(path).catch(() => {});
  }

  #writable(action: string): void {
    if (this.readOnly) {
      throw new Error(`Cannot ${action}: the result store ${this.root} is open read-only`);
    }
    if (this.#lock === null) {
      throw new Error(`Cannot ${action}: the result store ${this.root} is closed`);
    }
  }

  /**
   * The folder of a run.
   *
   * @param id The job's full hash (`jobId`).
   * @returns `<root>/<first 16 hex digits>`.
   */
  runDir(id: string): string {
    return join(this.root, runFolderName(id));
  }

  /**
   * The job stored for an id, or null where the run folder has none.
   *
   * @param id The job's full hash.
   * @returns The stored job.
   */
  async readJob(id: string): Promise<TrainingJob | null> {
    const text = await readTextOrNull(join(this.runDir(id), "job.json"));
    return text === null ? null : JSON.parse(text) as TrainingJob;
  }

  /**
   * Checks that the run folder of `id` holds this job (or none yet) without writing.
   *
   * @param job The job.
   * @param id Its hash.
   * @throws {Error} On a hash collision: the folder holds a different job.
   */
  async checkJob(job: TrainingJob, id: string): Promise<void> {
    const stored = await this.readJob(id);
    if (stored !== null && canonicalJson(stored) !== canonicalJson(job)) {
      throw new Error(
        `Cannot store run ${runFolderName(id)}: hash collision, its folder ` +
          `${this.runDir(id)} holds a different job (stored ${canonicalJson(stored)}, new ` +
          `${canonicalJson(job)})`,
      );
    }
  }

  /**
   * Creates the run folder and writes `job.json` (sorted keys) if it is not there yet.
   *
   * @param job The job.
   * @param id Its hash.
   * @throws {Error} On a hash collision (see {@link checkJob}); nothing is written then.
   */
  async claimRun(job: TrainingJob, id: string): Promise<void> {
    this.#writable("store a run");
    await this.checkJob(job, id);
    const dir = this.runDir(id);
    await Deno.mkdir(dir, { recursive: true });
    if (await readTextOrNull(join(dir, "job.json")) === null) {
      await writeAtomic(
        join(dir, "job.json"),
        JSON.stringify(JSON.parse(canonicalJson(job)), null, 2) + "\n",
      );
    }
  }

  /**
   * Deletes a run's results (status first, so a half-cleared run never looks finished), keeping
   * `job.json`: the start of a forced recomputation.
   *
   * @param id The job's hash.
   */
  async clearRun(id: string): Promise<void> {
    this.#writable("clear a run");
    const dir = this.runDir(id);
    await Deno.remove(join(dir, "status.json")).catch(ignoreNotFound);
    for (const log of RUN_LOGS) await Deno.remove(join(dir, `${log}.ndjson`)).catch(ignoreNotFound);
    for (const step of await this.listCheckpoints(id)) {
      await Deno.remove(join(dir, `ckpt-${step}.bin`)).catch(ignoreNotFound);
    }
  }

  /**
   * A run's status, or null when it has none (never started, or cleared).
   *
   * @param id The job's hash.
   * @returns The status.
   */
  async readStatus(id: string): Promise<RunStatus | null> {
    const text = await readTextOrNull(join(this.runDir(id), "status.json"));
    return text === null ? null : fromJson(text) as RunStatus;
  }

  /**
   * Writes `status.json` atomically.
   *
   * @param id The job's hash.
   * @param status The new status.
   */
  async writeStatus(id: string, status: RunStatus): Promise<void> {
    this.#writable("write a run status");
    await writeAtomic(join(this.runDir(id), "status.json"), toJson(status, 2) + "\n");
  }

  /**
   * Appends records to a run log in one write (one block of steps at a time).
   *
   * @param id The job's hash.
   * @param log Which file.
   * @param records The lines to add.
   */
  async append(id: string, log: RunLog, records: readonly unknown[]): Promise<void> {
    this.#writable("append to a run log");
    if (records.length === 0) return;
    await Deno.writeTextFile(join(this.runDir(id), `${log}.ndjson`), formatRecords(records), {
      append: true,
    });
  }

  /**
   * The complete lines of a run log ([] when the file does not exist); a torn last line is
   * left out.
   *
   * @param id The job's hash.
   * @param log Which file.
   * @returns The records.
   */
  async readLog<T extends { step: number }>(id: string, log: RunLog): Promise<T[]> {
    const path = join(this.runDir(id), `${log}.ndjson`);
    const text = await readTextOrNull(path);
    return text === null ? [] : parseRecords<T>(text, path).records;
  }

  /**
   * Rewrites a run log keeping only the lines `keep` accepts, atomically (temporary file and
   * rename), and drops a torn last line. Nothing is written when nothing changes.
   *
   * @param id The job's hash.
   * @param log Which file.
   * @param keep Which records stay.
   * @returns How many lines (a torn one included) were dropped.
   */
  async truncateLog(
    id: string,
    log: RunLog,
    keep: (record: { step: number }) => boolean,
  ): Promise<number> {
    this.#writable("truncate a run log");
    const path = join(this.runDir(id), `${log}.ndjson`);
    const text = await readTextOrNull(path);
    if (text === null) return 0;
    const { records, partialBytes } = parseRecords<{ step: number }>(text, path);
    const kept = records.filter(keep);
    const dropped = records.length - kept.length + (partialBytes > 0 ? 1 : 0);
    if (dropped > 0) await writeAtomic(path, formatRecords(kept));
    return dropped;
  }

  /**
   * Steps of a run's checkpoint files, newest first.
   *
   * @param id The job's hash.
   * @returns Steps, descending.
   */
  async listCheckpoints(id: string): Promise<number[]> {
    const steps: number[] = [];
    try {
      for await (const entry of Deno.readDir(this.runDir(id))) {
        const match = entry.isFile ? CHECKPOINT_PATTERN.exec(entry.name) : null;
        if (match !== null) steps.push(Number(match[1]));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return steps.sort((a, b) => b - a);
  }

  /**
   * Copies a run's results (job, status, logs), not its checkpoints, into `<dir>/<run folder>`:
   * the compact form committed for figures (`data/results/`), which a store reads back as a
   * finished run once copied into its root.
   *
   * @param id The job's hash.
   * @param dir The destination root (created if needed).
   */
  async copyResults(id: string, dir: string): Promise<void> {
    const target = join(dir, runFolderName(id));
    await Deno.mkdir(target, { recursive: true });
    for await (const entry of Deno.readDir(this.runDir(id))) {
      if (!entry.isFile || CHECKPOINT_PATTERN.test(entry.name)) continue;
      await Deno.copyFile(join(this.runDir(id), entry.name), join(target, entry.name));
    }
  }

  /**
   * The path of a run's checkpoint at a step.
   *
   * @param id The job's hash.
   * @param step The checkpoint's step.
   * @returns `<run>/ckpt-<step>.bin`.
   */
  checkpointPath(id: string, step: number): string {
    return join(this.runDir(id), `ckpt-${step}.bin`);
  }

  /**
   * Writes a checkpoint of `state` atomically as `ckpt-<step>.bin`, then deletes all but the
   * newest two.
   *
   * @param id The job's hash.
   * @param state The state to save (read, not changed).
   */
  async writeCheckpoint(id: string, state: TrainState): Promise<void> {
    this.#writable("write a checkpoint");
    await writeAtomic(this.checkpointPath(id, state.step), await encodeCheckpoint(state));
    const steps = await this.listCheckpoints(id);
    for (const step of steps.slice(KEEP_CHECKPOINTS)) {
      await Deno.remove(this.checkpointPath(id, step)).catch(ignoreNotFound);
    }
  }

  /**
   * Restores the newest checkpoint that verifies. A corrupt or mismatched one is refused with
   * a message to `onRefused` and the previous one is tried.
   *
   * @param id The job's hash.
   * @param template A state of the run's network (for the structure; not disposed).
   * @param onRefused Called with a message for each refused checkpoint.
   * @returns The restored state (owned by the caller), or null when none verifies.
   */
  async loadCheckpoint(
    id: string,
    template: TrainState,
    onRefused: (message: string) => void,
  ): Promise<TrainState | null> {
    const steps = await this.listCheckpoints(id);
    for (const [k, step] of steps.entries()) {
      const path = this.checkpointPath(id, step);
      try {
        const decoded = await decodeCheckpoint(await Deno.readFile(path), `checkpoint ${path}`);
        if (decoded.header.step !== step) {
          throw new Error(
            `Cannot use checkpoint ${path}: its header says step ${decoded.header.step}`,
          );
        }
        return restoreState(decoded, template, `checkpoint ${path}`);
      } catch (error) {
        const next = steps[k + 1];
        onRefused(
          `${(error as Error).message}; ${
            next === undefined
              ? "no older checkpoint, starting from step 0"
              : `falling back to ckpt-${next}.bin`
          }`,
        );
      }
    }
    return null;
  }
}

/** The store under the lock of this process's parent ({@link OpenStoreOptions.underParentLock}). */
async function joinParentLock(root: string, path: string, host: string): Promise<ResultStore> {
  const text = await readTextOrNull(path);
  let holder: LockHolder | null = null;
  try {
    holder = text === null ? null : JSON.parse(text) as LockHolder;
  } catch {
    // reported below
  }
  if (holder === null || holder.pid !== Deno.ppid || holder.host !== host) {
    throw new Error(
      `Cannot open result store as a worker: lock file ${path} must name the parent process ` +
        `${Deno.ppid} on host ${host}, got ${text === null ? "no lock file" : text.trim()} ` +
        "(workers are started by `deno task jobs --workers N`, not by hand)",
    );
  }
  return new ResultStore(root, false, holder, false);
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

/**
 * Opens (creating if needed) a result store and takes its lock: a `.lock` file created with
 * `createNew` (atomic: exactly one process succeeds) holding this process's pid, host and the
 * time. A lock whose holder is a dead process on this host (a killed run) is taken over; a live
 * holder, or one on another host, gives a clear error naming it.
 *
 * @param root The root folder (default {@link resolveRunsDir}).
 * @param options `readOnly` to read without locking or writing.
 * @returns The open store; call `close()` when done.
 * @throws {Error} When the folder cannot be created or written, or another process holds it.
 */
export async function openStore(
  root: string = resolveRunsDir(),
  options: OpenStoreOptions = {},
): Promise<ResultStore> {
  const absolute = resolve(root);
  if (options.readOnly === true) return new ResultStore(absolute, true, null);
  try {
    await Deno.mkdir(absolute, { recursive: true });
  } catch (error) {
    throw new Error(
      `Cannot open result store: folder ${absolute} cannot be created or written (${
        (error as Error).message
      })`,
      { cause: error },
    );
  }
  const path = join(absolute, LOCK_FILE);
  const host = Deno.hostname();
  if (options.underParentLock === true) return joinParentLock(absolute, path, host);
  for (let attempt = 0; attempt < 2; attempt++) {
    const holder: LockHolder = { pid: Deno.pid, host, time: new Date().toISOString() };
    try {
      await Deno.writeTextFile(path, toJson(holder), { createNew: true });
      return new ResultStore(absolute, false, holder);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) {
        throw new Error(
          `Cannot open result store: folder ${absolute} is not writable (${
            (error as Error).message
          })`,
          { cause: error },
        );
      }
    }
    const text = await readTextOrNull(path);
    if (text === null) continue; // freed in between: try again
    let current: LockHolder;
    try {
      current = JSON.parse(text) as LockHolder;
    } catch {
      throw new Error(
        `Cannot open result store: lock file ${path} is unreadable, got ${JSON.stringify(text)} ` +
          "(delete it if no other process uses the store)",
      );
    }
    const stale = current.host === host && current.pid !== Deno.pid && !processAlive(current.pid);
    if (!stale) throw new Error(lockMessage(current, path));
    // Take over a dead process's lock: remove it (only if it is still that one), then race for
    // createNew like anyone else.
    if (await readTextOrNull(path) === text) await Deno.remove(path).catch(ignoreNotFound);
  }
  throw new Error(`Cannot open result store: lock file ${path} keeps changing`);
}
