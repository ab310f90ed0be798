/**
 * Reading Jupyter notebooks (nbformat 4) so `deno task figures` can run their code cells
 * headless, as one module, without Jupyter: the notebooks are the single source of each
 * figure's code, and the task cannot drift from them.
 *
 * Pure: parsing and text only (the subprocess lives in `scripts/figures.ts`).
 *
 * @module
 */

/** A notebook file name: two digits, a dash, the figure stem, `.ipynb` (e.g. `01-training.ipynb`). */
export const NOTEBOOK_FILE = /^(\d{2})-([a-z0-9][a-z0-9-]*)\.ipynb$/;

/** The parts of an nbformat 4 notebook read here. */
export interface Notebook {
  /** Cells in order. */
  cells: NotebookCell[];
}

/** One cell; `source` is a string or a list of lines, as nbformat allows. */
export interface NotebookCell {
  /** `code`, `markdown` or `raw`. */
  cell_type: string;
  /** The cell's text. */
  source: string | string[];
}

/**
 * The figure stem a notebook file makes.
 *
 * @param fileName A file name (no folder), e.g. `01-training.ipynb`.
 * @returns The stem (`training`), or null when the name does not follow `NN-stem.ipynb`.
 *
 * @example
 * ```ts
 * import { figureStem } from "./notebook.ts";
 * import assert from "node:assert/strict";
 * assert.equal(figureStem("03-loss-variation.ipynb"), "loss-variation");
 * assert.equal(figureStem("scratch.ipynb"), null);
 * ```
 */
export function figureStem(fileName: string): string | null {
  return NOTEBOOK_FILE.exec(fileName)?.[2] ?? null;
}

/**
 * Parses notebook JSON and checks the parts used here.
 *
 * @param text The `.ipynb` file's text.
 * @param name The file's name, for messages.
 * @returns The notebook.
 * @throws {SyntaxError} If the text is not JSON.
 * @throws {TypeError} If it has no `cells` list or a cell lacks `cell_type`/`source`.
 *
 * @example
 * ```ts
 * import { parseNotebook } from "./notebook.ts";
 * import assert from "node:assert/strict";
 * const nb = parseNotebook('{"cells":[{"cell_type":"code","source":["1 + 1"]}]}', "x.ipynb");
 * assert.equal(nb.cells.length, 1);
 * ```
 */
export function parseNotebook(text: string, name: string): Notebook {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot parse notebook ${name}: ${(error as Error).message}`);
  }
  const cells = (value as { cells?: unknown } | null)?.cells;
  if (!Array.isArray(cells)) {
    throw new TypeError(
      `Cannot parse notebook ${name}: expected a "cells" list, got ${typeof cells}`,
    );
  }
  cells.forEach((cell: unknown, i) => {
    const c = cell as Partial<NotebookCell> | null;
    const sourceOk = typeof c?.source === "string" ||
      (Array.isArray(c?.source) && c.source.every((line) => typeof line === "string"));
    if (typeof c?.cell_type !== "string" || !sourceOk) {
      throw new TypeError(
        `Cannot parse notebook ${name}: cell ${i} lacks a cell_type string or a source, got ${
          JSON.stringify(cell)?.slice(0, 80)
        }`,
      );
    }
  });
  return { cells: cells as NotebookCell[] };
}

/**
 * A cell's source as one string.
 *
 * @param cell A notebook cell.
 * @returns The text.
 */
export function cellSource(cell: NotebookCell): string {
  return typeof cell.source === "string" ? cell.source : cell.source.join("");
}

/**
 * Joins a notebook's code cells into one module, each preceded by a comment naming its cell so
 * error locations can be traced back and followed by a line holding `;`.
 *
 * Code that works in a module but not in the Deno Jupyter kernel is refused here, so a notebook
 * cannot pass headless and fail in Jupyter: `import.meta` (the kernel's cells are scripts).
 *
 * @param notebook The parsed notebook.
 * @param name The file's name, for comments and messages.
 * @returns TypeScript module text.
 * @throws {SyntaxError} If a code cell uses `import.meta`.
 *
 * @example
 * ```ts
 * import { notebookModule } from "./notebook.ts";
 * import assert from "node:assert/strict";
 * const text = notebookModule({
 *   cells: [
 *     { cell_type: "markdown", source: "# Title" },
 *     { cell_type: "code", source: ["const a = 1;\n", "console.log(a);"] },
 *   ],
 * }, "00-x.ipynb");
 * assert.match(text, /const a = 1;\nconsole.log\(a\);/);
 * assert.doesNotMatch(text, /# Title/);
 * ```
 */
export function notebookModule(notebook: Notebook, name: string): string {
  const parts: string[] = [`// Code cells of ${name}, run headless by scripts/figures.ts.`];
  notebook.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const source = cellSource(cell);
    if (/\bimport\.meta\b/.test(source)) {
      throw new SyntaxError(
        `Cannot run notebook ${name} headless: cell ${i} uses import.meta, which the Deno ` +
          "Jupyter kernel does not support (paths: resolve them from Deno.cwd(), the notebook's " +
          "folder, or use the library's path helpers)",
      );
    }
    // The lone ";" ends the cell's last statement, as the kernel does: without it, a cell ending
    // in `f()` followed by one starting with `(` would parse as one call.
    parts.push(`// ---- ${name}, cell ${i} ----`, source.trimEnd(), ";");
  });
  return parts.join("\n");
}
