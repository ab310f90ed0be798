/**
 * One compute dispatch with several float32 outputs on the tfjs webgpu backend.
 *
 * tfjs-webgpu's `runWebGPUProgram` binds one output per program, so a kernel with k outputs
 * (BatchNorm's output, mean and variance; an SGD update of two tensors) costs k dispatches, and
 * every dispatch costs the host ~50 us of encoding on a real GPU. {@link runMultiOutput}
 * records one WGSL program whose bindings are
 *
 *   0 .. k-1        the outputs   (`var<storage, read_write>`, fresh buffers)
 *   k .. k+n-1      the inputs    (`var<storage, read>`)
 *   k+n             the uniforms  (`var<uniform>`, a struct of 4-byte scalars)
 *
 * into the backend's own command encoder and compute pass, exactly as `runWebGPUProgram` does
 * (the same buffer ownership, batching of submits and read-back ordering), with its own
 * explicitly laid out pipeline, compiled once per key. WebGPU's default limit of 8 storage
 * buffers per shader stage bounds k + n.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import * as tfc from "@tensorflow/tfjs";

/** A uniform scalar (the program's `Uniforms` struct holds them in this order). */
export interface UniformScalar {
  type: "float32" | "int32" | "uint32";
  value: number;
}

/** A program with several outputs. */
export interface MultiOutputProgram {
  /** Identifies the WGSL code (pipelines are cached by it). */
  key: string;
  /** Complete WGSL with entry point `main` and the bindings of the module doc. */
  code: string;
  /** Output shapes, each float32. */
  outputs: number[][];
  /** Inputs, bound in this order. */
  inputs: tf.TensorInfo[];
  /** At least one scalar. */
  uniforms: UniformScalar[];
  /** Workgroups in x, y, z. */
  workgroups: [number, number, number];
}

/** The parts of tfjs-webgpu's `WebGPUBackend` that recording a program touches. */
interface RecordingBackend {
  device: GPUDevice;
  tensorMap: { get(dataId: tf.DataId): { resource?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: "float32"): tf.TensorInfo;
  uploadToGPU(dataId: tf.DataId): void;
  tensorToBinding(info: tf.TensorInfo): GPUBindingResource;
  makeUniforms(uniforms: { type: string; data: number[] }[]): GPUBindingResource;
  commandQueueOwnedIds: WeakSet<object>;
  ensureCommandEncoderReady(): void;
  commandEncoder: GPUCommandEncoder;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  endComputePassEncoder(): void;
  submitQueue(): void;
  activeTimers?: unknown[] | null;
}

function recorderOf(backend: unknown): RecordingBackend {
  const b = backend as Partial<RecordingBackend> | null;
  if (
    b?.device === undefined || typeof b.makeUniforms !== "function" ||
    typeof b.ensureCommandEncoderReady !== "function" || typeof b.submitQueue !== "function"
  ) {
    throw new TypeError(
      "Cannot record a multi-output WebGPU program: the backend is not tfjs-webgpu 4.x " +
        "(no device, makeUniforms or command encoder)",
    );
  }
  return b as RecordingBackend;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipelineFor(device: GPUDevice, program: MultiOutputProgram): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (cache === undefined) pipelines.set(device, cache = new Map());
  const key = `${program.key}:${program.outputs.length}:${program.inputs.length}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const k = program.outputs.length;
  const n = program.inputs.length;
  const entries: GPUBindGroupLayoutEntry[] = [];
  for (let i = 0; i < k + n; i++) {
    entries.push({
      binding: i,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: i < k ? "storage" : "read-only-storage" },
    });
  }
  entries.push({ binding: k + n, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } });
  const layout = device.createBindGroupLayout({ entries });
  const pipeline = device.createComputePipeline({
    label: program.key,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: device.createShaderModule({ code: program.code }), entryPoint: "main" },
  });
  cache.set(key, pipeline);
  return pipeline;
}

/**
 * Records one dispatch of `program` and returns its outputs (owned by the caller's kernel, as
 * the outputs of `runWebGPUProgram` are).
 *
 * @param backend The kernel's `args.backend` (tfjs-webgpu).
 * @param program Code, shapes, inputs, uniforms and workgroup counts.
 * @returns One TensorInfo per output shape.
 * @throws {TypeError} When the backend is not tfjs-webgpu or an output is empty.
 */
export function runMultiOutput(backend: unknown, program: MultiOutputProgram): tf.TensorInfo[] {
  const b = recorderOf(backend);
  const outputs = program.outputs.map((shape) => {
    if (tfc.util.sizeFromShape(shape) === 0) {
      throw new TypeError(
        `Cannot run ${program.key} on webgpu: outputs must not be empty, got [${shape}]`,
      );
    }
    const info = b.makeTensorInfo(shape, "float32");
    b.uploadToGPU(info.dataId);
    return info;
  });
  for (const input of program.inputs) b.uploadToGPU(input.dataId);
  const pipeline = pipelineFor(b.device, program);
  const resources = [
    ...outputs.map((t) => b.tensorToBinding(t)),
    ...program.inputs.map((t) => b.tensorToBinding(t)),
    b.makeUniforms(program.uniforms.map((u) => ({ type: u.type, data: [u.value] }))),
  ];
  for (const t of [...program.inputs, ...outputs]) b.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = b.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: resources.map((resource, binding) => ({ binding, resource })),
  });
  b.ensureCommandEncoderReady();
  const timing = b.activeTimers != null;
  if (timing) b.endComputePassEncoder(); // a profiled program gets a pass of its own
  if (b.computePassEncoder === null || b.computePassEncoder === undefined) {
    b.computePassEncoder = b.commandEncoder.beginComputePass({});
  }
  const pass = b.computePassEncoder;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...program.workgroups);
  b.dispatchCountInPass++;
  const batch = tfc.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number;
  if (timing || batch <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  return outputs;
}

/** Most workgroups per dimension that WebGPU guarantees. */
const MAX_WORKGROUPS = 65535;

/**
 * Workgroup counts covering `count` workgroups of a flat index space (2D past 65,535); the
 * shader recovers the flat workgroup index as `wid.y * nwg.x + wid.x` and bounds-checks it.
 *
 * @param count Workgroups needed.
 * @returns [x, y, 1].
 */
export function flatWorkgroups(count: number): [number, number, number] {
  const x = Math.min(Math.max(count, 1), MAX_WORKGROUPS);
  return [x, Math.ceil(Math.max(count, 1) / x), 1];
}
