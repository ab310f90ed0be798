/**
 * Philox4x32-10 uniform fields as a WGSL compute program on tfjs's webgpu backend, so a random
 * field is made on the device with nothing uploaded per element.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGpuBackendLike, WebGpuProgramLike } from "./webgpu_program.ts";

const WORKGROUP_SIZE = 64;

/**
 * WGSL Philox4x32-10, one thread per block of four elements. WGSL has no 64-bit integers, so
 * the high word of each 32x32 product is assembled from 16-bit halves exactly as `mulHi32` in
 * `lib/rng.ts` does; u32 products and sums wrap, as the host code's `>>> 0` does.
 */
const PHILOX_WGSL = `
  fn mulHiLo(a : u32, b : u32) -> vec2<u32> {
    let aLo = a & 0xffffu;
    let aHi = a >> 16u;
    let bLo = b & 0xffffu;
    let bHi = b >> 16u;
    let loLo = aLo * bLo;
    let hiLo = aHi * bLo;
    let loHi = aLo * bHi;
    let hiHi = aHi * bHi;
    // At most 2^32 - 1: cannot overflow.
    let cross = (loLo >> 16u) + (hiLo & 0xffffu) + loHi;
    return vec2<u32>(hiHi + (hiLo >> 16u) + (cross >> 16u), a * b);
  }

  fn philox(counter : vec4<u32>, key : vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0; round < 10; round++) {
      let p0 = mulHiLo(0xd2511f53u, c.x);
      let p1 = mulHiLo(0xcd9e8d57u, c.z);
      c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
      k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
    }
    return c;
  }

  fn toUniform(word : u32) -> f32 {
    // Top 24 bits times 2^-24: exact in f32, as wordToUniform on the host.
    return ldexp(f32(word >> 8u), -24);
  }

  fn main(index : i32) {
    let first = index * 4;
    if (first < uniforms.size) {
      let words = philox(
        vec4<u32>(u32(index), uniforms.c1, uniforms.c2, uniforms.c3),
        vec2<u32>(uniforms.seed, uniforms.stream));
      for (var k = 0; k < 4; k++) {
        if (first + k < uniforms.size) {
          setOutputAtIndex(first + k, toUniform(words[k]));
        }
      }
    }
  }
`;

/**
 * Philox uniforms computed on the webgpu device: element `e` is word `e % 4` of
 * `philox4x32([floor(e / 4), c1, c2, c3], key)` through `wordToUniform` (`lib/rng.ts`),
 * bitwise the host's result. Arguments are checked by the caller (`lib/models/noise.ts`).
 *
 * @param backend The webgpu backend.
 * @param size Number of elements.
 * @param key Philox key words (seed, stream).
 * @param counterWords Counter words 1..3.
 * @returns A 1-D float32 tensor of `size` uniforms in [0, 1).
 */
export function philoxUniformWebGpu(
  backend: WebGpuBackendLike,
  size: number,
  key: readonly [number, number],
  counterWords: readonly [number, number, number],
): tf.Tensor1D {
  if (size > 2 ** 31 - 4) {
    // The shader indexes elements with i32.
    throw new RangeError(
      `Cannot build a random field on webgpu: size must be below 2^31 - 4, got ${size}`,
    );
  }
  const blocks = Math.ceil(size / 4);
  const program: WebGpuProgramLike = {
    // Always 1-D: the caller reshapes, so one compiled pipeline serves every shape.
    outputShape: [size],
    shaderKey: "philoxUniformField",
    dispatchLayout: { x: [0] },
    // The backend folds dispatches over 65535 workgroups into 2-D/3-D grids itself.
    dispatch: [Math.ceil(blocks / WORKGROUP_SIZE), 1, 1],
    variableNames: [],
    uniforms: "seed : u32, stream : u32, c1 : u32, c2 : u32, c3 : u32,",
    workgroupSize: [WORKGROUP_SIZE, 1, 1],
    size: true,
    getUserCode: () => PHILOX_WGSL,
  };
  const info = backend.runWebGPUProgram(program, [], "float32", [
    { type: "uint32", data: [key[0]] },
    { type: "uint32", data: [key[1]] },
    { type: "uint32", data: [counterWords[0]] },
    { type: "uint32", data: [counterWords[1]] },
    { type: "uint32", data: [counterWords[2]] },
  ]);
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
}
