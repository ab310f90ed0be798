import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import {
  CHECKPOINT_MAGIC,
  decodeCheckpoint,
  encodeCheckpoint,
  restoreState,
} from "../../lib/store/checkpoint.ts";
import type { TrainState } from "../../lib/train.ts";

tf.enableProdMode();
await tf.setBackend("cpu");
await tf.ready();

/** Two layers: a kernel+bias+gamma+beta layer with running moments, and a bare kernel. */
function exampleState(): TrainState {
  return {
    step: 42,
    params: [
      {
        kernel: tf.tensor2d([[1.5, -2], [3.25, 1e-30]]),
        bias: tf.tensor1d([0.1, -0.2]),
        gamma: tf.tensor1d([1, 2]),
        beta: tf.tensor1d([-1, 0]),
      },
      { kernel: tf.tensor2d([[Math.fround(Math.PI)], [-7]]) },
    ],
    normState: [{ mean: tf.tensor1d([0.5, 0.25]), variance: tf.tensor1d([2, 3]) }, undefined],
  };
}

function disposeAll(state: TrainState): void {
  tf.dispose(state.params.flatMap((p) => Object.values(p) as tf.Tensor[]));
  for (const m of state.normState) if (m !== undefined) tf.dispose([m.mean, m.variance]);
}

Deno.test("encodeCheckpoint() writes magic, an aligned JSON header and a payload with its SHA-256", async () => {
  const state = exampleState();
  const bytes = await encodeCheckpoint(state);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), CHECKPOINT_MAGIC);
  const headerLength = new DataView(bytes.buffer).getUint32(8, true);
  assert.equal(headerLength % 4, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  assert.equal(header.step, 42);
  assert.deepEqual(
    header.tensors.map((t: { name: string; offset: number }) => [t.name, t.offset]),
    [
      ["layer1.kernel", 0],
      ["layer1.bias", 16],
      ["layer1.gamma", 24],
      ["layer1.beta", 32],
      ["layer2.kernel", 40],
      ["norm1.mean", 48],
      ["norm1.variance", 56],
    ],
  );
  const payload = bytes.subarray(12 + headerLength);
  assert.equal(payload.length, 64);
  assert.equal(header.sha256, createHash("sha256").update(payload).digest("hex"));
  // The payload holds the float32 values in header order.
  const floats = new Float32Array(payload.slice().buffer);
  assert.deepEqual(Array.from(floats.subarray(0, 4)), [1.5, -2, 3.25, Math.fround(1e-30)]);
  assert.deepEqual(Array.from(floats.subarray(14, 16)), [2, 3]);
  disposeAll(state);
});

Deno.test("decodeCheckpoint() and restoreState() give back the exact state", async () => {
  const state = exampleState();
  const decoded = await decodeCheckpoint(await encodeCheckpoint(state));
  const restored = restoreState(decoded, state);
  assert.equal(restored.step, 42);
  assert.deepEqual(await restored.params[0]!.kernel.array(), await state.params[0]!.kernel.array());
  assert.deepEqual(await restored.params[1]!.kernel.data(), await state.params[1]!.kernel.data());
  assert.equal(restored.params[1]!.bias, undefined);
  assert.deepEqual(await restored.normState[0]!.variance.data(), new Float32Array([2, 3]));
  assert.equal(restored.normState[1], undefined);
  disposeAll(restored);
  disposeAll(state);
});

Deno.test("decodeCheckpoint() refuses corrupt, truncated and foreign files with clear messages", async () => {
  const state = exampleState();
  const bytes = await encodeCheckpoint(state);
  const flipped = bytes.slice();
  flipped[flipped.length - 1]! ^= 1;
  await assert.rejects(
    () => decodeCheckpoint(flipped, "ckpt-42.bin"),
    /^Error: Cannot use ckpt-42\.bin: checksum mismatch \(header says sha256 [0-9a-f]{64}, payload has [0-9a-f]{64}\)$/,
  );
  await assert.rejects(
    () => decodeCheckpoint(bytes.slice(0, bytes.length - 4)),
    /payload must be 64 bytes, got 60/,
  );
  await assert.rejects(() => decodeCheckpoint(bytes.slice(0, 6)), /file is truncated, got 6 bytes/);
  const foreign = bytes.slice();
  foreign[0] = 0x58;
  await assert.rejects(() => decodeCheckpoint(foreign), /not a checkpoint/);
  disposeAll(state);
});

Deno.test("restoreState() refuses a checkpoint of another network", async () => {
  const state = exampleState();
  const decoded = await decodeCheckpoint(await encodeCheckpoint(state));
  const other = exampleState();
  other.params[1]!.kernel.dispose();
  other.params[1]!.kernel = tf.zeros([3, 1]);
  assert.throws(
    () => restoreState(decoded, other, "ckpt"),
    /Cannot use ckpt: it does not match the network \(layer2\.kernel has shape \[3,1\]\), got \[2,1\]/,
  );
  disposeAll(state);
  disposeAll(other);
});
