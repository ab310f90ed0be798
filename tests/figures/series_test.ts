import assert from "node:assert/strict";
import { networkOrder } from "../../lib/figures/series.ts";
import { NORMALIZATIONS } from "../../lib/models/types.ts";
import { icsFigure } from "../../lib/figures/ics.ts";
import type { IcsRow } from "../../lib/experiments/ics.ts";

Deno.test("networkOrder() lists each network once, in the order of NORMALIZATIONS", () => {
  assert.deepEqual(networkOrder(["linf", "batchnorm", "none", "batchnorm", "l1"]), [
    "none",
    "batchnorm",
    "l1",
    "linf",
  ]);
  assert.deepEqual(networkOrder([...NORMALIZATIONS].reverse()), [...NORMALIZATIONS]);
  assert.deepEqual(networkOrder([]), []);
});

Deno.test("a figure's colour domain is its experiment's networks, also where rows lack one", () => {
  const row = (normalization: IcsRow["normalization"]): IcsRow => ({
    learningRate: "lr 0.1",
    layer: "conv5",
    normalization,
    step: 0,
    l2: 1,
    l2Min: 1,
    l2Max: 1,
    cosine: 0.5,
    cosineMin: 0.5,
    cosineMax: 0.5,
    normG: 1,
    seeds: 1,
    diverged: null,
  });
  // No noisy-BatchNorm row (say its runs diverged): it keeps its legend entry and colour.
  const spec = icsFigure([row("batchnorm"), row("none")], {
    networks: ["noisy-batchnorm", "none", "batchnorm"],
  });
  const domains = new Set<string>();
  JSON.stringify(spec, (key, value) => {
    if (key === "color" && value?.scale?.domain !== undefined) {
      domains.add(JSON.stringify(value.scale.domain));
    }
    return value;
  });
  assert.deepEqual([...domains], [JSON.stringify(["none", "batchnorm", "noisy-batchnorm"])]);
});
