/**
 * Newline-delimited JSON for the run files (`metrics.ndjson`, `evals.ndjson`,
 * `measurements.ndjson`). Pure text functions; the store appends and reads the files.
 *
 * JSON has no NaN or infinities, and a diverged run's last loss is one of them, so non-finite
 * numbers are written as the strings "NaN", "Infinity" and "-Infinity" and read back as
 * numbers (no field of these files holds such a string otherwise).
 *
 * @module
 */

const NON_FINITE = new Map<string, number>([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
]);

/**
 * JSON text of one value with non-finite numbers as strings.
 *
 * @param value A JSON-like value (numbers may be non-finite).
 * @param space Indentation, as for `JSON.stringify`.
 * @returns The JSON text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJson } from "./ndjson.ts";
 *
 * assert.equal(toJson({ loss: NaN, step: 3 }), '{"loss":"NaN","step":3}');
 * ```
 */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(
    value,
    (_key, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
    space,
  );
}

/**
 * Parses JSON written by {@link toJson}, turning "NaN"/"Infinity"/"-Infinity" back into numbers.
 *
 * @param text JSON text.
 * @returns The value.
 * @throws {SyntaxError} When the text is not JSON.
 */
export function fromJson(text: string): unknown {
  return JSON.parse(
    text,
    (_key, v) => typeof v === "string" && NON_FINITE.has(v) ? NON_FINITE.get(v) : v,
  );
}

/**
 * NDJSON text of records: one {@link toJson} line each, every line ending in "\n".
 *
 * @param records The records.
 * @returns The text ("" for none).
 */
export function formatRecords(records: readonly unknown[]): string {
  return records.map((r) => toJson(r) + "\n").join("");
}

/** What {@link parseRecords} found. */
export interface ParsedRecords<T> {
  records: T[];
  /**
   * Bytes of a last line without its "\n" (a write cut short by a kill), left out of
   * `records`; 0 when the text ends cleanly.
   */
  partialBytes: number;
}

/**
 * Parses NDJSON. A last line without "\n" is a torn append (the writer was killed mid-write)
 * and is left out; a malformed complete line is an error.
 *
 * @param text File contents.
 * @param what How to name the file in messages.
 * @returns The complete records and the size of a torn last line.
 * @throws {SyntaxError} When a complete line is not JSON.
 */
export function parseRecords<T>(text: string, what = "NDJSON"): ParsedRecords<T> {
  const end = text.lastIndexOf("\n") + 1;
  const records: T[] = [];
  const lines = text.slice(0, end).split("\n");
  lines.pop(); // the empty string after the last "\n"
  lines.forEach((line, i) => {
    try {
      records.push(fromJson(line) as T);
    } catch (error) {
      throw new SyntaxError(
        `Cannot read ${what}: line ${i + 1} is not JSON (${(error as Error).message})`,
      );
    }
  });
  return { records, partialBytes: new TextEncoder().encode(text.slice(end)).length };
}
