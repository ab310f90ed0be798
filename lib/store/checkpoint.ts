/**
 * The checkpoint format: a self-describing binary holding a run's parameters, running moments
 * and step. Pure (no file I/O): `encodeCheckpoint` / `decodeCheckpoint` turn tensors into bytes
 * and back; the store writes the bytes atomically.
 *
 * Layout (all integers little-endian):
 * ```
 * bytes 0..7    magic "BNCKPT01"
 * bytes 8..11   uint32 header length H (the header is padded with spaces to a multiple of 4)
 * bytes 12..    header: UTF-8 JSON {format, step, layers, tensors: [{name, shape, dtype,
 *               offset, length}], payloadBytes, sha256}
 * then          payload: float32 values of every tensor, in header order (offset in bytes from
 *               the payload start); sha256 is the SHA-256 of the payload bytes
 * ```
 * Tensor names: `layer<i>.<kernel|bias|gamma|beta>` and `norm<i>.<mean|variance>` (1-based i).
 *
 * No RNG state or data position is stored: in this project both are functions of (seed, step)
 * (counter-based Philox streams; the batch of step s is `batchAt(seed, s)`, the noise of step s
 * is keyed by `{seed, step: s}`), so the step is enough to resume them exactly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LayerParams, NormState, Params } from "../models/types.ts";
import type { TrainState } from "../train.ts";

/** First bytes of every checkpoint. */
export const CHECKPOINT_MAGIC = "BNCKPT01";

/** One tensor's entry in the header. */
export interface CheckpointTensor {
  /** e.g. "layer3.kernel", "norm3.mean". */
  name: string;
  shape: number[];
  dtype: "float32";
  /** Byte offset from the payload start. */
  offset: number;
  /** Number of float32 values. */
  length: number;
}

/** The JSON header of a checkpoint. */
export interface CheckpointHeader {
  /** Format tag, "bn-checkpoint/1". */
  format: string;
  /** Steps taken (the state resumes at this step). */
  step: number;
  /** Number of weight layers (length of Params and NormState). */
  layers: number;
  tensors: CheckpointTensor[];
  payloadBytes: number;
  /** SHA-256 of the payload, 64 hex digits. */
  sha256: string;
  /** How RNG and data position are restored (documentation inside the file). */
  rng: string;
}

const FORMAT = "bn-checkpoint/1";
const PARAM_KEYS = ["kernel", "bias", "gamma", "beta"] as const;

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Serialises a training state. Reads every tensor back from the device (one `data()` each).
 *
 * @param state Step, parameters and running moments; left untouched.
 * @returns The checkpoint bytes.
 */
export async function encodeCheckpoint(state: TrainState): Promise<Uint8Array<ArrayBuffer>> {
  const named: { name: string; tensor: tf.Tensor }[] = [];
  state.params.forEach((layer, i) => {
    for (const key of PARAM_KEYS) {
      const t = layer[key];
      if (t !== undefined) named.push({ name: `layer${i + 1}.${key}`, tensor: t });
    }
  });
  state.normState.forEach((moments, i) => {
    if (moments === undefined) return;
    named.push({ name: `norm${i + 1}.mean`, tensor: moments.mean });
    named.push({ name: `norm${i + 1}.variance`, tensor: moments.variance });
  });
  const values = await Promise.all(named.map(({ tensor }) => tensor.data()));
  const tensors: CheckpointTensor[] = [];
  let offset = 0;
  named.forEach(({ name, tensor }) => {
    if (tensor.dtype !== "float32") {
      throw new TypeError(`Cannot write checkpoint: ${name} must be float32, got ${tensor.dtype}`);
    }
    tensors.push({ name, shape: [...tensor.shape], dtype: "float32", offset, length: tensor.size });
    offset += 4 * tensor.size;
  });
  const payload = new Uint8Array(offset);
  const view = new Float32Array(payload.buffer);
  tensors.forEach((entry, k) => view.set(values[k] as Float32Array, entry.offset / 4));
  const header: CheckpointHeader = {
    format: FORMAT,
    step: state.step,
    layers: state.params.length,
    tensors,
    payloadBytes: payload.length,
    sha256: await sha256Hex(payload),
    rng: "derived from (seeds, step): counter-based Philox streams, batch of step s = batchAt(s)",
  };
  let json = JSON.stringify(header);
  json += " ".repeat((4 - (new TextEncoder().encode(json).length % 4)) % 4);
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(12 + headerBytes.length + payload.length);
  bytes.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, headerBytes.length, true);
  bytes.set(headerBytes, 12);
  bytes.set(payload, 12 + headerBytes.length);
  return bytes;
}

/** A decoded checkpoint: header and host copies of the tensors. */
export interface DecodedCheckpoint {
  header: CheckpointHeader;
  /** float32 values by tensor name. */
  values: Map<string, Float32Array>;
}

/**
 * Parses and verifies checkpoint bytes: magic, header, sizes and the payload's SHA-256.
 *
 * @param bytes The file's contents.
 * @param what How to name the file in messages (e.g. its path).
 * @returns Header and values.
 * @throws {Error} When the file is truncated, malformed, or its checksum does not match.
 */
export async function decodeCheckpoint(
  bytes: Uint8Array,
  what = "checkpoint",
): Promise<DecodedCheckpoint> {
  const refuse = (reason: string): never => {
    throw new Error(`Cannot use ${what}: ${reason}`);
  };
  if (bytes.length < 12) refuse(`file is truncated, got ${bytes.length} bytes`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== CHECKPOINT_MAGIC) {
    refuse(
      `not a checkpoint (magic ${JSON.stringify(CHECKPOINT_MAGIC)}), got ${JSON.stringify(magic)}`,
    );
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .getUint32(8, true);
  if (12 + headerLength > bytes.length) {
    refuse(`header of ${headerLength} bytes runs past the end of a ${bytes.length}-byte file`);
  }
  let header: CheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(12, 12 + headerLength),
    ));
  } catch (error) {
    return refuse(`header is not valid JSON (${(error as Error).message})`);
  }
  if (header.format !== FORMAT) refuse(`unknown format, got ${JSON.stringify(header.format)}`);
  const payload = bytes.slice(12 + headerLength);
  if (payload.length !== header.payloadBytes) {
    refuse(`payload must be ${header.payloadBytes} bytes, got ${payload.length}`);
  }
  const actual = await sha256Hex(payload);
  if (actual !== header.sha256) {
    refuse(`checksum mismatch (header says sha256 ${header.sha256}, payload has ${actual})`);
  }
  const values = new Map<string, Float32Array>();
  const floats = new Float32Array(payload.buffer);
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (
      t.dtype !== "float32" || size !== t.length || t.offset % 4 !== 0 ||
      t.offset + 4 * t.length > payload.length
    ) {
      refuse(`tensor ${t.name} has an inconsistent entry, got ${JSON.stringify(t)}`);
    }
    values.set(t.name, floats.slice(t.offset / 4, t.offset / 4 + t.length));
  }
  return { header, values };
}

/**
 * Builds a training state from a decoded checkpoint, checking every tensor against the
 * network's structure (a fresh state of the same network: its `params`/`normState` shapes).
 *
 * @param checkpoint A decoded checkpoint.
 * @param template A state of the same network (only its shapes are read; not disposed).
 * @param what How to name the file in messages.
 * @returns A new state (owned by the caller).
 * @throws {Error} When a tensor is missing, extra, or has another shape.
 */
export function restoreState(
  checkpoint: DecodedCheckpoint,
  template: TrainState,
  what = "checkpoint",
): TrainState {
  const { header, values } = checkpoint;
  const shapes = new Map(header.tensors.map((t) => [t.name, t.shape]));
  const expected: { name: string; shape: number[] }[] = [];
  template.params.forEach((layer, i) => {
    for (const key of PARAM_KEYS) {
      const t = layer[key];
      if (t !== undefined) expected.push({ name: `layer${i + 1}.${key}`, shape: t.shape });
    }
  });
  template.normState.forEach((m, i) => {
    if (m === undefined) return;
    expected.push({ name: `norm${i + 1}.mean`, shape: m.mean.shape });
    expected.push({ name: `norm${i + 1}.variance`, shape: m.variance.shape });
  });
  const names = expected.map((e) => e.name);
  const stored = header.tensors.map((t) => t.name);
  for (const { name, shape } of expected) {
    const got = shapes.get(name);
    if (got === undefined || got.join(",") !== shape.join(",")) {
      throw new Error(
        `Cannot use ${what}: it does not match the network (${name} has shape [${shape}]), ` +
          `got ${got === undefined ? "no such tensor" : `[${got}]`}`,
      );
    }
  }
  const extra = stored.filter((n) => !names.includes(n));
  if (extra.length > 0 || header.layers !== template.params.length) {
    throw new Error(
      `Cannot use ${what}: it does not match the network, got extra tensors [${extra}] or ` +
        `${header.layers} layers for ${template.params.length}`,
    );
  }
  const tensor = (name: string) => tf.tensor(values.get(name)!, shapes.get(name)!, "float32");
  const params: Params = template.params.map((layer, i) => {
    const restored: Partial<LayerParams> = {};
    for (const key of PARAM_KEYS) {
      if (layer[key] !== undefined) restored[key] = tensor(`layer${i + 1}.${key}`);
    }
    return restored as LayerParams;
  });
  const normState: NormState = template.normState.map((m, i) =>
    m === undefined ? undefined : {
      mean: tensor(`norm${i + 1}.mean`) as tf.Tensor1D,
      variance: tensor(`norm${i + 1}.variance`) as tf.Tensor1D,
    }
  );
  return { step: header.step, params, normState };
}
