/**
 * Scalar definitions of the activations: the reference backend applies these, the kernels
 * (AssemblyScript, WGSL, CUDA) implement the same formulas.
 */
import type { Activation, ActivationKind } from './backend.js';
import { didYouMean, VoxsegError } from './errors.js';

export const ACTIVATION_KINDS: readonly ActivationKind[] = [
  'linear',
  'relu',
  'leakyRelu',
  'elu',
  'gelu',
  'sigmoid',
];

/** Numeric code of each activation, shared with every kernel language. */
export const ACTIVATION_CODES: Record<ActivationKind, number> = {
  linear: 0,
  relu: 1,
  leakyRelu: 2,
  elu: 3,
  gelu: 4,
  sigmoid: 5,
};

/** The activation's alpha with its default filled in (0.01 for leakyRelu, 1 for elu). */
export function activationAlpha(activation: Activation): number {
  if (activation.alpha !== undefined) return activation.alpha;
  return activation.kind === 'leakyRelu' ? 0.01 : 1;
}

/** Throw a did-you-mean error unless `kind` is a known activation. */
export function checkActivation(activation: Activation): void {
  if (!ACTIVATION_KINDS.includes(activation.kind)) {
    const hint = didYouMean(String(activation.kind), ACTIVATION_KINDS);
    throw new VoxsegError(
      `expected one of ${ACTIVATION_KINDS.join(', ')} for activation, received ` +
        `'${activation.kind}'`,
      { hint: hint || undefined },
    );
  }
}

/**
 * erf(x) by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, float32 precision).
 * Every backend uses this same approximation so GELU agrees across them.
 */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-a * a));
}

/** Apply one activation to one value. */
export function activate(kind: ActivationKind, alpha: number, x: number): number {
  switch (kind) {
    case 'linear':
      return x;
    case 'relu':
      return x > 0 ? x : 0;
    case 'leakyRelu':
      return x > 0 ? x : alpha * x;
    case 'elu':
      return x > 0 ? x : alpha * (Math.exp(x) - 1);
    case 'gelu':
      return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
  }
}
