import assert from "node:assert/strict";
import { createDln } from "../../lib/models/dln.ts";
import {
  DLN_ICS_LAYERS,
  VGG_ACTIVATION_LAYERS,
  VGG_ICS_LAYERS,
} from "../../lib/models/layer_map.ts";
import { createVgg } from "../../lib/models/vgg.ts";

Deno.test("layer maps name the layers the networks have", () => {
  const vgg = createVgg({ normalization: "none" }).layerNames;
  const dln = createDln({ normalization: "none" }).layerNames;
  for (const m of [...VGG_ICS_LAYERS, ...VGG_ACTIVATION_LAYERS]) {
    assert.equal(vgg[m.ours - 1], m.name);
  }
  for (const m of DLN_ICS_LAYERS) assert.equal(dln[m.ours - 1], m.name);
  // PROTOCOL.md: ICS #5 -> conv5, #10 -> dense10; activations #2, #9, #13 -> conv2, conv6, dense10.
  assert.deepEqual(VGG_ICS_LAYERS.map((m) => [m.paper, m.name]), [[5, "conv5"], [10, "dense10"]]);
  assert.deepEqual(
    VGG_ACTIVATION_LAYERS.map((m) => [m.paper, m.name]),
    [[2, "conv2"], [9, "conv6"], [13, "dense10"]],
  );
  assert.deepEqual(DLN_ICS_LAYERS.map((m) => m.ours), [9, 17]);
});
