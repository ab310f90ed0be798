/**
 * Shared helpers of the measurement tests: cpu backend, float comparison, seeded test data and
 * plain-TypeScript (float64) matrix arithmetic used as the independent oracle.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Random } from "../../lib/rng.ts";

/** Random stream of the test data (any id not used by the library). */
const TEST_STREAM = 0x7e57;

/** Selects the deterministic cpu backend. */
export async function useCpu(): Promise<void> {
  await tf.setBackend("cpu");
  await tf.ready();
}

/**
 * Asserts |actual - expected| <= abs + rel * |expected|.
 *
 * @param actual Measured value.
 * @param expected Reference value.
 * @param tolerance Relative and absolute tolerance.
 * @param what Name of the quantity, for the message.
 */
export function assertClose(
  actual: number,
  expected: number,
  tolerance: { rel?: number; abs?: number },
  what: string,
): void {
  const { rel = 0, abs = 0 } = tolerance;
  const error = Math.abs(actual - expected);
  if (!(error <= abs + rel * Math.abs(expected))) {
    throw new Error(`${what}: expected ${expected}, got ${actual} (error ${error})`);
  }
}

/** A row-major float64 matrix. */
export type Matrix = number[][];

/**
 * A rows x cols matrix of standard normals, rounded to float32 so the tensors built from it hold
 * exactly the same numbers.
 */
export function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const random = new Random(seed, TEST_STREAM);
  return Array.from(
    { length: rows },
    () => Array.from({ length: cols }, () => Math.fround(random.normal())),
  );
}

/** A tensor holding a matrix (or, with `shape`, its entries reshaped). */
export function toTensor(m: Matrix, shape?: number[]): tf.Tensor {
  return tf.tensor(m.flat(), shape ?? [m.length, m[0]?.length ?? 0], "float32");
}

/** Matrix product a b. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, aik, k) => s + aik * b[k]![j]!, 0)));
}

/** Transpose. */
export function transpose(a: Matrix): Matrix {
  return a[0]!.map((_, j) => a.map((row) => row[j]!));
}

/** Elementwise a + s * b. */
export function axpy(a: Matrix, s: number, b: Matrix): Matrix {
  return a.map((row, i) => row.map((v, j) => v + s * b[i]![j]!));
}

/** Sum over rows: [rows, cols] -> [1, cols]. */
export function columnSums(a: Matrix): Matrix {
  return [a[0]!.map((_, j) => a.reduce((s, row) => s + row[j]!, 0))];
}

/** Euclidean norm of all entries of several matrices together. */
export function norm(...ms: Matrix[]): number {
  return Math.sqrt(ms.flat(2).reduce((s, v) => s + v * v, 0));
}

/** Sum of products of matching entries. */
export function dotAll(a: Matrix, b: Matrix): number {
  const flatB = b.flat();
  return a.flat().reduce((s, v, k) => s + v * flatB[k]!, 0);
}
