/**
 * Fast CPU training on the tfjs wasm backend: missing and faster wasm kernels
 * (`wasm_conv_grads.ts`), gradients that broadcast on the device (`gradients.ts`), the threaded
 * wasm binary under Deno (`wasm_threads.ts`), and one call to install the first two
 * (`register.ts`), and the slot for native kernels (`native.ts`; the oneDNN implementation,
 * `onednn.ts`, is Deno-only and loaded by `lib/backend.ts`).
 *
 * @module
 */
export * from "./gradients.ts";
export * from "./native.ts";
export * from "./register.ts";
export * from "./wasm_conv_grads.ts";
export * from "./wasm_threads.ts";
export * from "./webgpu_conv_grads.ts";
export * from "./wasm_batchnorm.ts";
export * from "./wasm_sgd.ts";
export * from "./wasm_relu.ts";
