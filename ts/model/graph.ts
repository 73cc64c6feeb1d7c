/**
 * A model in the engine's own terms: a chain of layers with weights already in the engine's
 * layout. Loaders (TensorFlow.js layers today) convert to this once, at load.
 */
import type { Activation, Conv3dParams } from '../engine/backend.js';

/** A 3D convolution with its weights. */
export interface ConvLayer {
  kind: 'conv3d';
  name: string;
  /** Weights (Cout, Cin / groups, KD, KH, KW), float32. */
  weight: Float32Array;
  /** Shape of `weight`. */
  weightShape: [number, number, number, number, number];
  /** Bias (Cout), or null when the layer has none. */
  bias: Float32Array | null;
  /** Stride, padding, dilation, groups and the fused activation. */
  params: Conv3dParams;
}

/** Instance norm over the spatial axes of the whole tensor, with an optional fused activation. */
export interface InstanceNormLayer {
  kind: 'instanceNorm';
  name: string;
  eps: number;
  activation: Activation;
}

/** A stand-alone element-wise activation (one not fused into the layer before it). */
export interface ActivationLayer {
  kind: 'activation';
  name: string;
  activation: Activation;
}

export type Layer = ConvLayer | InstanceNormLayer | ActivationLayer;

/** A chain of layers from an input of `inputChannels` channels to one channel per class. */
export interface ModelGraph {
  /** Where the model came from, for messages (a directory or a catalog name). */
  source: string;
  inputChannels: number;
  outputChannels: number;
  layers: Layer[];
}

/**
 * Fold each stand-alone activation into the conv or instance norm right before it, when that
 * layer has no activation yet. The result computes the same function with fewer passes.
 */
export function fuseActivations(layers: readonly Layer[]): Layer[] {
  const fused: Layer[] = [];
  for (const layer of layers) {
    const previous = fused[fused.length - 1];
    if (layer.kind === 'activation' && previous && canTakeActivation(previous)) {
      fused[fused.length - 1] = withActivation(previous, layer.activation);
      continue;
    }
    fused.push(layer);
  }
  return fused;
}

/**
 * How many planes of context each side a layer needs along D: dilation * (KD - 1) / 2 for a
 * "same" stride-1 conv, 0 for element-wise layers.
 */
export function layerHalo(layer: Layer): number {
  if (layer.kind !== 'conv3d') return 0;
  return (layer.params.dilation[0] * (layer.weightShape[2] - 1)) / 2;
}

/** The receptive-field halo of a chain along D: the sum of its layers' halos. */
export function receptiveHalo(layers: readonly Layer[]): number {
  return layers.reduce((sum, layer) => sum + layerHalo(layer), 0);
}

function canTakeActivation(layer: Layer): layer is ConvLayer | InstanceNormLayer {
  if (layer.kind === 'conv3d') return layer.params.activation.kind === 'linear';
  return layer.kind === 'instanceNorm' && layer.activation.kind === 'linear';
}

function withActivation(layer: ConvLayer | InstanceNormLayer, activation: Activation): Layer {
  if (layer.kind === 'conv3d') return { ...layer, params: { ...layer.params, activation } };
  return { ...layer, activation };
}
