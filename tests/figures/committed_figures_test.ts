import assert from "node:assert/strict";
import { join } from "node:path";
import { renderSvg, validateSpec } from "../../lib/figures/render.ts";
import { type VegaLiteSpec } from "../../lib/figures/spec.ts";
import { provenanceProblems } from "../../lib/figures/spec_provenance.ts";
import { figureStem } from "../../lib/notebook/notebook.ts";
import { resultsFileName } from "../../lib/registry.ts";
import { isKeptScale, isScale } from "../../lib/scale.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIGURES = join(ROOT, "figures");

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) found.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort();
}

async function subfolders(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isDirectory) found.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort();
}

const specs = (await names(FIGURES)).filter((name) => name.endsWith(".vl.json"));
const notebookStems = (await names(join(ROOT, "notebooks"))).map(figureStem);

if (specs.length === 0) {
  Deno.test("committed figures: none in figures/ yet, so nothing to check (vacuous pass)", () => {
    console.log("figures/ holds no *.vl.json: no committed figure was checked");
    assert.equal(specs.length, 0);
  });
}

for (const name of specs) {
  const stem = name.slice(0, -".vl.json".length);
  Deno.test(`committed figure ${stem}: compiles, renders, has provenance, siblings and a notebook`, async () => {
    const spec = JSON.parse(await Deno.readTextFile(join(FIGURES, name))) as VegaLiteSpec;
    validateSpec(spec);
    assert.match(await renderSvg(spec), /^<svg/);
    assert.deepEqual(provenanceProblems(spec), [], `${name}: provenance`);
    const figure = (spec.usermeta as { provenance: { figure: string } }).provenance.figure;
    assert.equal(figure, stem, `${name}: usermeta.provenance.figure`);
    const files = await names(FIGURES);
    assert.ok(files.includes(`${stem}.svg`), `${stem}.svg is missing`);
    const results = resultsFileName(stem);
    assert.ok(files.includes(results), `${results} is missing`);
    JSON.parse(await Deno.readTextFile(join(FIGURES, results)));
    assert.ok(notebookStems.includes(stem), `no notebooks/NN-${stem}.ipynb makes ${name}`);
  });
}

// Per-scale copies (figures/scales/<scale>/): the same files, of exactly that scale.
for (const scale of await subfolders(join(FIGURES, "scales"))) {
  const dir = join(FIGURES, "scales", scale);
  for (const name of (await names(dir)).filter((n) => n.endsWith(".vl.json"))) {
    const stem = name.slice(0, -".vl.json".length);
    Deno.test(`kept figure scales/${scale}/${stem}: compiles, has provenance of scale ${scale} and siblings`, async () => {
      // A kept scale's copy, or (quick) a figure a larger scale replaced in figures/.
      assert.ok(
        isScale(scale) && (isKeptScale(scale) || scale === "quick"),
        `figures/scales/${scale}: not a kept scale nor quick`,
      );
      const spec = JSON.parse(await Deno.readTextFile(join(dir, name))) as VegaLiteSpec;
      validateSpec(spec);
      assert.deepEqual(provenanceProblems(spec), [], `${name}: provenance`);
      const provenance = (spec.usermeta as { provenance: { figure: string; scale: string } })
        .provenance;
      assert.equal(provenance.figure, stem);
      assert.equal(provenance.scale, scale);
      const files = await names(dir);
      assert.ok(files.includes(`${stem}.svg`), `scales/${scale}/${stem}.svg is missing`);
      assert.ok(files.includes(resultsFileName(stem)), `scales/${scale}: results missing`);
    });
  }
}
