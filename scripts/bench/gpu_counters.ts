/**
 * Counts what a stretch of webgpu work costs the host: compute dispatches, and bytes moved
 * between host and device (uploads: `queue.writeBuffer` and buffers mapped at creation, which
 * tfjs-webgpu fills and copies; downloads: buffers mapped for reading). Works by wrapping the
 * WebGPU prototypes until `stop()`; nothing is wrapped where WebGPU is absent.
 */

/** Host-side cost of some webgpu work. */
export interface GpuTraffic {
  dispatches: number;
  uploadBytes: number;
  downloadBytes: number;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Starts counting.
 *
 * @returns `stop()`, which unwraps the prototypes and returns the counts.
 */
export function countGpuTraffic(): { stop(): GpuTraffic } {
  const counts: GpuTraffic = { dispatches: 0, uploadBytes: 0, downloadBytes: 0 };
  const restore: (() => void)[] = [];
  const globals = globalThis as unknown as Record<string, { prototype: Record<string, Method> }>;
  const wrap = (type: string, name: string, count: (self: unknown, args: unknown[]) => void) => {
    const proto = globals[type]?.prototype;
    const original = proto?.[name];
    if (proto === undefined || original === undefined) return;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      count(this, args);
      return original.apply(this, args);
    };
    restore.push(() => proto[name] = original);
  };
  wrap("GPUComputePassEncoder", "dispatchWorkgroups", () => counts.dispatches++);
  wrap("GPUQueue", "writeBuffer", (_, args) => {
    counts.uploadBytes += (args[2] as ArrayBufferView | ArrayBuffer).byteLength;
  });
  wrap("GPUDevice", "createBuffer", (_, args) => {
    const descriptor = args[0] as { size: number; mappedAtCreation?: boolean };
    if (descriptor.mappedAtCreation === true) counts.uploadBytes += descriptor.size;
  });
  wrap("GPUBuffer", "mapAsync", (self, args) => {
    const read = (globalThis as { GPUMapMode?: { READ: number } }).GPUMapMode?.READ ?? 1;
    if (((args[0] as number) & read) !== 0) counts.downloadBytes += (self as GPUBuffer).size;
  });
  return {
    stop() {
      for (const undo of restore) undo();
      return { ...counts };
    },
  };
}
