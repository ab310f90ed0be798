import assert from "node:assert/strict";
import { join } from "node:path";
import {
  figureStem,
  NOTEBOOK_FILE,
  notebookModule,
  parseNotebook,
} from "../../lib/notebook/notebook.ts";

const NOTEBOOKS = new URL("../../notebooks/", import.meta.url).pathname;

Deno.test("figureStem() takes the stem from NN-stem.ipynb and rejects other names", () => {
  assert.equal(figureStem("01-training.ipynb"), "training");
  assert.equal(figureStem("12-ics-definitions.ipynb"), "ics-definitions");
  for (const name of ["training.ipynb", "1-training.ipynb", "01-Training.ipynb", "01-x.py"]) {
    assert.equal(figureStem(name), null, name);
  }
});

Deno.test("parseNotebook() rejects text that is not a notebook, naming the file", () => {
  assert.throws(
    () => parseNotebook("{", "a.ipynb"),
    (e: unknown) =>
      e instanceof SyntaxError && e.message.startsWith("Cannot parse notebook a.ipynb:"),
  );
  assert.throws(() => parseNotebook("{}", "b.ipynb"), /expected a "cells" list, got undefined/);
  assert.throws(
    () => parseNotebook('{"cells":[{"cell_type":"code","source":3}]}', "c.ipynb"),
    /cell 0 lacks a cell_type string or a source/,
  );
});

Deno.test("notebookModule() runs code cells in order, as one module, skipping markdown", async () => {
  // Cell 1 ends without a semicolon and cell 2 starts with "(": joined naively they would parse
  // as one call `x(...)`. The module must behave like the kernel, which runs them separately.
  const text = notebookModule({
    cells: [
      { cell_type: "code", source: ["const log: number[] = [];\n", "let x = 1\n", "x"] },
      { cell_type: "markdown", source: "log.push(99);" },
      {
        cell_type: "code",
        source: "(globalThis as { __nb?: number[] }).__nb = log;\nlog.push(x + 1);",
      },
      { cell_type: "code", source: "" },
      { cell_type: "code", source: "log.push(await Promise.resolve(3));" },
    ],
  }, "00-t.ipynb");
  assert.match(text, /\/\/ ---- 00-t\.ipynb, cell 2 ----/);
  const url = `data:application/typescript;base64,${btoa(text)}`;
  await import(url);
  const state = globalThis as { __nb?: number[] };
  assert.deepEqual(state.__nb, [2, 3]);
  delete state.__nb;
});

Deno.test("notebookModule() refuses import.meta, which the Jupyter kernel cannot run", () => {
  assert.throws(
    () =>
      notebookModule(
        { cells: [{ cell_type: "code", source: "const u = import.meta.url;" }] },
        "01-x.ipynb",
      ),
    /cell 0 uses import\.meta/,
  );
});

Deno.test("every notebook in notebooks/ is a named, Deno-kernel notebook that converts to a module", async () => {
  let count = 0;
  for await (const entry of Deno.readDir(NOTEBOOKS)) {
    if (!entry.name.endsWith(".ipynb")) continue;
    count++;
    assert.match(entry.name, NOTEBOOK_FILE, `${entry.name} must be named NN-stem.ipynb`);
    const text = await Deno.readTextFile(join(NOTEBOOKS, entry.name));
    const notebook = parseNotebook(text, entry.name);
    const kernel = (JSON.parse(text) as { metadata?: { kernelspec?: { name?: string } } })
      .metadata?.kernelspec?.name;
    assert.equal(kernel, "deno", `${entry.name} must use the Deno kernel`);
    assert.ok(notebook.cells.some((c) => c.cell_type === "code"), `${entry.name} has no code`);
    notebookModule(notebook, entry.name);
  }
  assert.ok(count >= 1, "notebooks/ holds at least the example notebook");
});

Deno.test("every notebook's code type-checks against the library, as one module", async () => {
  // The kernel and the headless run both skip type checking, so check here: write each
  // notebook's module to a temporary folder, with its relative imports made absolute.
  const dir = await Deno.makeTempDir();
  try {
    const files: string[] = [];
    for await (const entry of Deno.readDir(NOTEBOOKS)) {
      if (figureStem(entry.name) === null) continue;
      const text = notebookModule(
        parseNotebook(await Deno.readTextFile(join(NOTEBOOKS, entry.name)), entry.name),
        entry.name,
      ).replace(
        /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']+)\2/g,
        (_, head: string, quote: string, path: string) =>
          `${head}${quote}${new URL(path, `file://${NOTEBOOKS}`).href}${quote}`,
      );
      const file = join(dir, entry.name.replace(/\.ipynb$/, ".ts"));
      await Deno.writeTextFile(file, text);
      files.push(file);
    }
    if (files.length === 0) return;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", join(NOTEBOOKS, "..", "deno.json"), ...files],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
