import assert from "node:assert/strict";
import { createNetwork, type NetworkSpec } from "../../lib/models/mod.ts";

Deno.test("createNetwork() dispatches on arch", () => {
  const vgg = createNetwork({ arch: "vgg", normalization: "batchnorm", width: 0.25 });
  assert.equal(vgg.name, "vgg");
  assert.equal(vgg.normalization, "batchnorm");
  assert.equal(vgg.layerNames.length, 11);
  const dln = createNetwork({ arch: "dln", normalization: "l1", depth: 5 });
  assert.equal(dln.name, "dln");
  assert.equal(dln.layerNames.length, 5);
  const mlp = createNetwork({ arch: "mlp", normalization: "none", hidden: [256] });
  assert.equal(mlp.name, "mlp");
  assert.deepEqual(mlp.layerNames, ["dense1", "dense2"]);
});

Deno.test("createNetwork() rejects an unknown arch", () => {
  const spec = { arch: "resnet", normalization: "none" } as unknown as NetworkSpec;
  assert.throws(
    () => createNetwork(spec),
    (e: unknown) => e instanceof TypeError && /resnet/.test(e.message),
  );
  assert.throws(
    () => createNetwork({ arch: "vgg", normalization: "weird" as never }),
    TypeError,
  );
});
