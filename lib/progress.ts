/**
 * Progress of long work: step, steps/s, ETA and the current loss. In a terminal one line is
 * rewritten in place (`\r`); elsewhere (CI logs, notebooks) plain lines are written every 10% of
 * the work or every 30 s, whichever comes first, so logs stay short but never go quiet.
 *
 * Runtime-neutral: the caller passes the writer, whether it is a terminal and (for tests) the
 * clock, e.g. `{ write: (s) => Deno.stdout.writeSync(encode(s)), isTerminal:
 * Deno.stdout.isTerminal() }`.
 *
 * @module
 */

/** Where progress goes. */
export interface ProgressOutput {
  /** Writes text as is (no newline is added). */
  write: (text: string) => void;
  /** True for an interactive terminal: one updating line; false: periodic plain lines. */
  isTerminal: boolean;
  /** Milliseconds (default `performance.now`); injectable for tests. */
  now?: () => number;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions extends ProgressOutput {
  /** The step count that means done. */
  total: number;
  /** Step the work starts at (a resumed run's checkpoint); the rate counts from here. */
  start?: number;
  /** Prefix of every line, e.g. the run's id. */
  label?: string;
  /** Plain mode: a line every this fraction of the work (default 0.1). */
  everyFraction?: number;
  /** Plain mode: a line at least this often while work goes on, in ms (default 30,000). */
  everyMs?: number;
  /** Terminal mode: at most one redraw per this many ms (default 100). */
  redrawMs?: number;
}

/** A progress display. */
export interface Progress {
  /** Reports that `step` steps are done and the latest loss. */
  update(step: number, loss: number): void;
  /** Ends the display with a final line (and a newline in terminal mode). */
  finish(message?: string): void;
}

/**
 * A duration for humans: "42s", "3m05s", "2h07m".
 *
 * @param seconds Non-negative seconds (non-finite gives "?").
 * @returns The text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./progress.ts";
 *
 * assert.equal(formatDuration(185), "3m05s");
 * assert.equal(formatDuration(7620), "2h07m");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One progress line: "label step 120/1000 (12%) 35.2 steps/s ETA 25s loss 1.234".
 *
 * @param fields What to show.
 * @returns The line, without newline.
 */
export function formatProgress(
  fields: { label?: string; step: number; total: number; rate: number; loss: number },
): string {
  const { label, step, total, rate, loss } = fields;
  const percent = total > 0 ? Math.floor((100 * step) / total) : 100;
  const eta = rate > 0 ? formatDuration((total - step) / rate) : "?";
  const speed = rate > 0 ? (rate >= 10 ? rate.toFixed(1) : rate.toPrecision(2)) : "?";
  const lossText = Number.isFinite(loss) ? loss.toPrecision(4) : String(loss);
  return `${label === undefined ? "" : label + " "}step ${step}/${total} (${percent}%) ` +
    `${speed} steps/s ETA ${eta} loss ${lossText}`;
}

/**
 * Starts a progress display.
 *
 * @param options Total, output and pacing.
 * @returns The display.
 * @throws {RangeError} When `total` is not a non-negative integer.
 */
export function createProgress(options: ProgressOptions): Progress {
  const { total, write, isTerminal } = options;
  if (!Number.isInteger(total) || total < 0) {
    throw new RangeError(
      `Cannot show progress: total must be a non-negative integer, got ${total}`,
    );
  }
  const now = options.now ?? (() => performance.now());
  const start = options.start ?? 0;
  const everyFraction = options.everyFraction ?? 0.1;
  const everyMs = options.everyMs ?? 30_000;
  const redrawMs = options.redrawMs ?? 100;
  const t0 = now();
  let lastWrite = t0;
  let lastLength = 0;
  let step = start;
  let loss = NaN;
  // Plain mode: the next step count that earns a line (multiples of everyFraction of total).
  const chunk = Math.max(1, Math.ceil(total * everyFraction));
  let nextMark = (Math.floor(start / chunk) + 1) * chunk;

  const line = (t: number) => {
    const seconds = (t - t0) / 1000;
    const rate = seconds > 0 ? (step - start) / seconds : 0;
    const fields = { step, total, rate, loss };
    return formatProgress(
      options.label === undefined ? fields : { ...fields, label: options.label },
    );
  };
  const draw = (t: number) => {
    const text = line(t);
    // Pad over the remains of a longer previous line.
    write(`\r${text}${" ".repeat(Math.max(0, lastLength - text.length))}`);
    lastLength = text.length;
    lastWrite = t;
  };

  return {
    update(newStep: number, newLoss: number) {
      step = newStep;
      loss = newLoss;
      const t = now();
      if (isTerminal) {
        if (t - lastWrite >= redrawMs || step >= total) draw(t);
      } else if (step >= nextMark || t - lastWrite >= everyMs) {
        write(line(t) + "\n");
        lastWrite = t;
        while (nextMark <= step) nextMark += chunk;
      }
    },
    finish(message?: string) {
      const t = now();
      const text = message ?? line(t);
      if (isTerminal) {
        write(`\r${text}${" ".repeat(Math.max(0, lastLength - text.length))}\n`);
      } else {
        write(text + "\n");
      }
      lastLength = 0;
    },
  };
}
