/**
 * Generated blocks in a Markdown report: text between `<!-- BEGIN generated:NAME -->` and
 * `<!-- END generated:NAME -->` is owned by a generator and rewritten from the committed
 * results, so numbers in the report are never typed by hand and a stale block can be detected.
 *
 * @module
 */

const BLOCK = /<!-- BEGIN generated:([a-z0-9-]+) -->\n([\s\S]*?)<!-- END generated:\1 -->/g;

/**
 * Names of the generated blocks in a document, in order.
 *
 * @param text The document.
 * @returns Block names.
 * @example
 * ```ts
 * import { blockNames } from "./blocks.ts";
 * import assert from "node:assert/strict";
 *
 * const text = "a\n<!-- BEGIN generated:x -->\nold\n<!-- END generated:x -->\nb";
 * assert.deepEqual(blockNames(text), ["x"]);
 * ```
 */
export function blockNames(text: string): string[] {
  return [...text.matchAll(BLOCK)].map((m) => m[1]!);
}

/**
 * Replaces the body of every generated block by its generator's output.
 *
 * @param text The document.
 * @param contents Block name -> new body (Markdown, without the markers).
 * @returns The new document.
 * @throws {RangeError} When the document has a block without a generator, or a generator has
 *   no block (a renamed or deleted marker would otherwise go unnoticed).
 */
export function fillBlocks(text: string, contents: Readonly<Record<string, string>>): string {
  const names = blockNames(text);
  const missing = names.filter((n) => !(n in contents));
  if (missing.length > 0) {
    throw new RangeError(`Cannot fill report: no generator for block(s) ${missing.join(", ")}`);
  }
  const unused = Object.keys(contents).filter((n) => !names.includes(n));
  if (unused.length > 0) {
    throw new RangeError(`Cannot fill report: no marker for block(s) ${unused.join(", ")}`);
  }
  return text.replace(BLOCK, (_all, name: string) => {
    const body = contents[name]!.replace(/\n*$/, "\n");
    return `<!-- BEGIN generated:${name} -->\n${body}<!-- END generated:${name} -->`;
  });
}

/**
 * A Markdown table.
 *
 * @param header Column titles.
 * @param rows Cells (already formatted).
 * @returns The table, one line per row.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
