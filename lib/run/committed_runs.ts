/**
 * The committed runs (`data/results/<scale>/`: job, status and logs, no checkpoints) as a
 * read-only source of finished runs, so that replotting a committed figure computes nothing
 * even when the result store (`data/runs/`) is empty, as on a fresh clone.
 *
 * @module
 */
import { join } from "node:path";
import { repoPath } from "../paths.ts";
import { KEPT_SCALES, type Scale } from "../scale.ts";
import { openStore, type ResultStore } from "../store/mod.ts";
import { jobId, type TrainingJob } from "./job.ts";
import { loadRun, type RunRecord } from "./run_job.ts";

/** Where the committed runs of every kept scale live: `data/results/` in the repository. */
export function committedResultsDir(): string {
  return repoPath("data", "results");
}

/**
 * The folders to look in for a run of `scale`: its own scale's first, then the other kept
 * scales' (runs that two scales share are committed once, e.g. the DLN of `lp-norms` at
 * `schedule` is the `paper` DLN).
 *
 * @param scale The figure's scale.
 * @param root The folder holding one sub-folder per kept scale.
 * @returns Absolute folder paths, which need not exist.
 */
export function committedRunFolders(scale: Scale, root: string = committedResultsDir()): string[] {
  const order = [scale, ...KEPT_SCALES.filter((s) => s !== scale)];
  return [...new Set(order)].map((s) => join(root, s));
}

/** Whether a store holds the run `id` finished or diverged (not cut, not absent). */
async function hasFinished(store: ResultStore, id: string): Promise<boolean> {
  const state = (await store.readStatus(id))?.state;
  return state === "finished" || state === "diverged";
}

/** Read-only stores over committed run folders; a folder that is not there holds no run. */
export class CommittedRuns {
  readonly #stores: ResultStore[];

  private constructor(stores: ResultStore[]) {
    this.#stores = stores;
  }

  /**
   * Opens the committed runs a figure of `scale` may use (see {@link committedRunFolders}).
   *
   * @param folders The folders, searched in order.
   * @returns The read-only source.
   */
  static async open(folders: readonly string[]): Promise<CommittedRuns> {
    const stores: ResultStore[] = [];
    for (const folder of folders) stores.push(await openStore(folder, { readOnly: true }));
    return new CommittedRuns(stores);
  }

  /**
   * The finished (or diverged) run of `job` from the first folder that holds it, else null
   * (a run cut before its end is never committed as finished, so it is not used). A run that
   * the result store `own` has finished comes first: then this returns null and the caller
   * loads that one.
   *
   * @param job The training job.
   * @param own The result store the run would be computed into, if any.
   * @returns The run's record, or null when no folder holds it finished (or `own` does).
   * @throws {Error} When a folder holds another job under the same hash, or a finished run's
   *   files cannot be read: a committed run that is there but broken is an error, not a rerun.
   */
  async find(
    job: TrainingJob,
    own?: ResultStore,
  ): Promise<{ record: RunRecord; folder: string } | null> {
    const store = await this.#storeOf(job, own);
    return store === null ? null : { record: await loadRun(job, store), folder: store.root };
  }

  /**
   * The folder holding `job`'s finished (or diverged) run, else null: {@link find} without
   * reading the run's logs (its status only).
   *
   * @param job The training job.
   * @param own The result store the run would be computed into, if any (see {@link find}).
   * @returns The folder, or null.
   */
  async folderOf(job: TrainingJob, own?: ResultStore): Promise<string | null> {
    return (await this.#storeOf(job, own))?.root ?? null;
  }

  async #storeOf(job: TrainingJob, own: ResultStore | undefined): Promise<ResultStore | null> {
    const id = await jobId(job);
    if (own !== undefined && await hasFinished(own, id)) return null;
    for (const store of this.#stores) if (await hasFinished(store, id)) return store;
    return null;
  }
}
