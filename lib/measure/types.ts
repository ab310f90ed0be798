/**
 * The interface every measurement of the paper is written against: a loss closure over the
 * parameters, so the measurements work on any network (VGG, DLN, MLP, or a test's toy model).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Params } from "../models/types.ts";

/**
 * The training loss on one fixed batch (and fixed noise sample) as a function of the parameters.
 *
 * Measurements evaluate it at the current parameters and at perturbed ones (W - eta * g, or
 * with some layers updated), so it must be deterministic: the same parameters must give the
 * same loss. For the noisy BatchNorm variants, hold the noise sample fixed (close over one
 * `NoiseKey`); otherwise a difference between two evaluations measures the noise, not the
 * parameters. It may allocate freely: the callers run it inside `tf.tidy`/gradient scopes.
 */
export type LossFn = (params: Params) => tf.Scalar;
