import assert from "node:assert/strict";
import { blockNames, fillBlocks, markdownTable } from "../../lib/report/blocks.ts";
import { REPORT_BLOCKS } from "../../lib/report/sections.ts";
import { regeneratePaper } from "../../scripts/paper.ts";

Deno.test("fillBlocks() rewrites only the text between matching markers", () => {
  const text = [
    "intro",
    "<!-- BEGIN generated:a -->",
    "old a",
    "<!-- END generated:a -->",
    "middle",
    "<!-- BEGIN generated:b-2 -->",
    "<!-- END generated:b-2 -->",
    "end",
  ].join("\n");
  assert.deepEqual(blockNames(text), ["a", "b-2"]);
  const filled = fillBlocks(text, { a: "new a", "b-2": "B\n\n" });
  assert.equal(
    filled,
    "intro\n<!-- BEGIN generated:a -->\nnew a\n<!-- END generated:a -->\nmiddle\n" +
      "<!-- BEGIN generated:b-2 -->\nB\n<!-- END generated:b-2 -->\nend",
  );
  assert.equal(fillBlocks(filled, { a: "new a", "b-2": "B" }), filled);
  assert.throws(() => fillBlocks(text, { a: "x" }), /no generator for block\(s\) b-2/);
  assert.throws(
    () => fillBlocks(text, { a: "x", "b-2": "y", c: "z" }),
    /no marker for block\(s\) c/,
  );
});

Deno.test("markdownTable() escapes pipes and aligns header and rows", () => {
  assert.equal(
    markdownTable(["a", "b"], [["1", "x|y"]]),
    "| a | b |\n| --- | --- |\n| 1 | x\\|y |",
  );
});

Deno.test("paper.md's generated blocks are up to date with the committed figures", async () => {
  const { current, next } = await regeneratePaper();
  assert.deepEqual(blockNames(current).sort(), Object.keys(REPORT_BLOCKS).sort());
  assert.equal(current, next, "paper.md is stale: run `deno task paper` and commit the result");
});
