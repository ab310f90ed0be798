/**
 * Names of the fused loss kernels (the WGSL ones are in `webgpu_loss.ts`; backends without them
 * use the stock ops), apart so that models can test for them without loading a backend.
 *
 * @module
 */

/** Mean softmax cross-entropy of logits [N, K] against int32 labels [N]: a scalar. */
export const SOFTMAX_CROSS_ENTROPY = "SoftmaxCrossEntropy";
/** Its gradient: inputs logits, labels and dy (scalar); output [N, K]. */
export const SOFTMAX_CROSS_ENTROPY_GRAD = "SoftmaxCrossEntropyGrad";
/** Fraction of rows of logits [N, K] whose first maximum is at the int32 label: a scalar. */
export const BATCH_ACCURACY = "BatchAccuracy";
