/**
 * The paper's layer numbers mapped to ours (PROTOCOL.md, "The two models"). The paper's VGG is
 * deeper than ours and unspecified, so its layers are mapped by position: early, middle, last.
 * Our DLN has the paper's 25 layers, so its numbers map to themselves.
 *
 * @module
 */

/** One paper layer and the layer of ours that stands for it. */
export interface LayerMapping {
  /** The paper's layer number (its figure labels). */
  readonly paper: number;
  /** Our 1-based weight-layer number (`params[ours - 1]`). */
  readonly ours: number;
  /** Our layer's name (`Network.layerNames[ours - 1]`). */
  readonly name: string;
}

/**
 * VGG layers of the gradient-view ICS plots (Figure 2 of the paper): #5 -> conv5, #10 -> our
 * layer 10, the second dense layer (dense10).
 */
export const VGG_ICS_LAYERS: readonly LayerMapping[] = Object.freeze([
  { paper: 5, ours: 5, name: "conv5" },
  { paper: 10, ours: 10, name: "dense10" },
]);

/**
 * VGG layers of the activation-distribution plots (Figure 8 of the paper): #2 -> conv2 (early),
 * #9 -> conv6 (middle), #13 -> dense10 (last hidden layer).
 */
export const VGG_ACTIVATION_LAYERS: readonly LayerMapping[] = Object.freeze([
  { paper: 2, ours: 2, name: "conv2" },
  { paper: 9, ours: 6, name: "conv6" },
  { paper: 13, ours: 10, name: "dense10" },
]);

/** DLN layers of the gradient-view ICS plots: #9 and #17, the same in our 25-layer DLN. */
export const DLN_ICS_LAYERS: readonly LayerMapping[] = Object.freeze([
  { paper: 9, ours: 9, name: "dense9" },
  { paper: 17, ours: 17, name: "dense17" },
]);
