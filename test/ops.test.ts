/**
 * The backend-agnostic op suite: every op of the Backend contract, on every backend that
 * backendsUnderTest() reports, compared with the reference backend on seeded random data
 * (never zeros), with outputs poisoned (VOXSEG_POISON=1, set by vitest.config.ts) so an
 * element a kernel forgets to write shows up as NaN or 0xA5 bytes.
 *
 * The cases are data: each names its inputs (shape, dtype, value range) and the op to run.
 * Sizes are odd or sit on the boundaries that kernels specialise on: vector widths (4, 8,
 * 16 floats), register blocks of output channels (4, 6, 8, 16), halos, strides, dilations.
 * Nothing here knows a particular backend; a backend that cannot run skips with its reason.
 *
 * Tolerances, |got - ref| <= atol + rtol |ref|:
 * - conv3d 1e-4 / 1e-4: each output sums up to Cin K^3 <= 1029 products of values in
 *   [-1, 1]; a backend may round each product and partial sum in float32 where the reference
 *   keeps the product in float64, so partial sums of magnitude <= ~30 differ by a few float32
 *   ulps (<= ~2e-5). A missed, doubled or shifted tap changes outputs by ~0.1-1.
 * - activation, softmax 1e-6 / 1e-5: float32 exp approximations within a few ulps.
 * - instanceNorm 1e-5 / 1e-5: statistics in float64, final rounding and activation in float32.
 * - softDice 1e-6 relative: a backend may add float32 partial sums (in any order); float32
 *   keeps ~7 digits, and a voxel missed or counted twice moves a sum by ~1%.
 * - integer outputs (argmax, label counts), slice and concat: exact.
 * - distanceTransform 1e-5 / 1e-5 (mm^2): float32 storage between the passes and float32
 *   envelope arithmetic on the GPUs, a few ulps of values up to ~1e3; a wrong nearest feature
 *   moves a value by at least a fraction of a voxel step squared (>= ~0.01 mm^2 here). Every
 *   distanceTransform case is also checked against a brute-force transform (every feature
 *   tried for every voxel), and infinite values (items without features) must match exactly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type {
  Activation,
  ActivationKind,
  Backend,
  Conv3dParams,
  LabelCounts,
  SoftDiceSums,
} from '../ts/engine/backend.js';
import { conv3dParams } from '../ts/engine/backend.js';
import { disposeBackends } from '../ts/engine/registry.js';
import type { DType, HostArray, Tensor } from '../ts/engine/tensor.js';
import { backendsUnderTest, referenceBackend } from './helpers/backends.js';
import { expectClose, type Tolerance } from './helpers/compare.js';
import { randomFloats, randomLabels, rng } from './helpers/random.js';

/** How one input is made: shape, dtype and value range (labels: [0, labels)). */
interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** Float range [lo, hi), default [-1, 1). */
  range?: [number, number];
  /** Labels in [0, labels) for integer inputs. */
  labels?: number;
  /** Quantise floats to this step (to provoke ties), optional. */
  step?: number;
  /** Overwrite some elements after generation: index -> value. */
  set?: Record<number, number>;
  /** Integer masks: share of non-zero voxels (values in [1, labels)); replaces `labels`' draw. */
  density?: number;
}

type OpResult = Tensor | LabelCounts | SoftDiceSums;

interface OpCase {
  op: string;
  name: string;
  inputs: InputSpec[];
  run(backend: Backend, inputs: Tensor[]): Promise<OpResult>;
  tolerance: Tolerance;
  /** An independent host answer from the inputs' host data (brute force), when there is one. */
  oracle?(inputs: HostArray[]): ArrayLike<number>;
}

interface ErrorCase {
  op: string;
  name: string;
  inputs: InputSpec[];
  run(backend: Backend, inputs: Tensor[]): Promise<unknown>;
  /** What every backend's message must match. */
  message: RegExp;
}

const EXACT: Tolerance = { atol: 0, rtol: 0 };
const CONV: Tolerance = { atol: 1e-4, rtol: 1e-4 };
const ELEMENTWISE: Tolerance = { atol: 1e-6, rtol: 1e-5 };
const NORM: Tolerance = { atol: 1e-5, rtol: 1e-5 };
const SUMS: Tolerance = { atol: 1e-6, rtol: 1e-6 };
const ACTIVATIONS: ActivationKind[] = ['linear', 'relu', 'leakyRelu', 'elu', 'gelu', 'sigmoid'];

let seed = 1;

/** Make one input's host data from its spec (seeded by position, never zeros). */
function makeData(spec: InputSpec, caseSeed: number): HostArray {
  const length = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.dtype ?? 'float32';
  let data: HostArray;
  if (dtype === 'float32') {
    const [lo, hi] = spec.range ?? [-1, 1];
    data = randomFloats(length, caseSeed, lo, hi);
    if (spec.step) data = data.map((v) => Math.round(v / spec.step!) * spec.step! || spec.step!);
  } else if (spec.density !== undefined) {
    data = randomMask(length, spec.density, spec.labels ?? 2, caseSeed, dtype);
  } else {
    const labels = randomLabels(length, spec.labels ?? 4, caseSeed);
    data =
      dtype === 'int32'
        ? labels
        : dtype === 'uint8'
          ? Uint8Array.from(labels)
          : Uint16Array.from(labels);
  }
  for (const [index, value] of Object.entries(spec.set ?? {})) data[Number(index)] = value;
  return data;
}

/** A mask with about `density` non-zero voxels, each a label in [1, labels). */
function randomMask(
  length: number,
  density: number,
  labels: number,
  seed: number,
  dtype: Exclude<DType, 'float32'>,
): HostArray {
  const next = rng(seed);
  const values = Int32Array.from({ length }, () =>
    next() < density ? 1 + Math.floor(next() * Math.max(1, labels - 1)) : 0,
  );
  if (dtype === 'int32') return values;
  return dtype === 'uint8' ? Uint8Array.from(values) : Uint16Array.from(values);
}

async function uploadAll(backend: Backend, specs: InputSpec[], caseSeed: number) {
  return Promise.all(
    specs.map((spec, i) => backend.upload(makeData(spec, caseSeed * 31 + i), spec.shape)),
  );
}

/** Run a case on one backend and bring the result to the host as named arrays. */
async function runCase(backend: Backend, c: OpCase | ErrorCase, caseSeed: number) {
  const inputs = await uploadAll(backend, c.inputs, caseSeed);
  try {
    const result = await c.run(backend, inputs);
    return await toHost(backend, result as OpResult);
  } finally {
    inputs.forEach((t) => backend.release(t));
  }
}

async function toHost(backend: Backend, result: OpResult) {
  if ('handle' in result) {
    const data = await backend.download(result);
    backend.release(result);
    return { shape: [...result.shape], dtype: result.dtype, arrays: { data } };
  }
  if ('tp' in result) {
    const { tp, fp, fn, total } = result;
    return { shape: [tp.length], dtype: 'counts', arrays: { tp, fp, fn, total: [total] } };
  }
  const { intersection, predSum, targetSum } = result;
  return {
    shape: [intersection.length],
    dtype: 'sums',
    arrays: { intersection, predSum, targetSum },
  };
}

// ---------------------------------------------------------------- conv3d cases

interface ConvSpec {
  /** (N, Cin, D, H, W). */
  x: number[];
  cout: number;
  kernel: [number, number, number];
  bias?: boolean;
  params?: Partial<Conv3dParams>;
}

function convCase(name: string, spec: ConvSpec): OpCase {
  const params = conv3dParams(spec.params);
  const cinPerGroup = spec.x[1] / params.groups;
  const inputs: InputSpec[] = [
    { shape: spec.x },
    { shape: [spec.cout, cinPerGroup, ...spec.kernel] },
  ];
  if (spec.bias !== false) inputs.push({ shape: [spec.cout] });
  return {
    op: 'conv3d',
    name,
    inputs,
    tolerance: CONV,
    run: (b, [x, w, bias]) => b.conv3d(x, w, bias ?? null, params),
  };
}

const same = (k: number) => Math.floor(k / 2);

const convCases: OpCase[] = [
  // Kernel sizes 1..7 per axis, odd W, 'same' padding.
  ...[1, 2, 3, 4, 5, 6, 7].map((k) =>
    convCase(`kernel ${k}^3, 3->5, W 11`, {
      x: [1, 3, k + 3, k + 2, 11],
      cout: 5,
      kernel: [k, k, k],
      params: { padding: [same(k), same(k), same(k)] },
    }),
  ),
  convCase('asymmetric kernel 1x3x5', { x: [1, 2, 6, 7, 9], cout: 4, kernel: [1, 3, 5] }),
  convCase('asymmetric kernel 7x1x2', { x: [1, 2, 9, 5, 6], cout: 3, kernel: [7, 1, 2] }),
  convCase('asymmetric kernel 2x5x1, padding 1x2x0', {
    x: [1, 3, 5, 6, 7],
    cout: 7,
    kernel: [2, 5, 1],
    params: { padding: [1, 2, 0] },
  }),
  convCase('stride 2, kernel 3, padding 1', {
    x: [1, 4, 9, 10, 13],
    cout: 6,
    kernel: [3, 3, 3],
    params: { stride: [2, 2, 2], padding: [1, 1, 1] },
  }),
  convCase('stride 1x2x3, kernel 3x3x4', {
    x: [1, 3, 7, 9, 25],
    cout: 5,
    kernel: [3, 3, 4],
    params: { stride: [1, 2, 3], padding: [0, 1, 2] },
  }),
  convCase('stride 2 with dilation 3 along W', {
    x: [1, 2, 5, 5, 30],
    cout: 4,
    kernel: [1, 1, 3],
    params: { stride: [1, 1, 2], dilation: [1, 1, 3], padding: [0, 0, 1] },
  }),
  convCase('padding wider than the kernel reach', {
    x: [1, 2, 4, 5, 6],
    cout: 3,
    kernel: [3, 3, 3],
    params: { padding: [3, 2, 4], activation: { kind: 'sigmoid' } },
  }),
  convCase('dilation 2, padding 2', {
    x: [1, 3, 8, 9, 10],
    cout: 6,
    kernel: [3, 3, 3],
    params: { dilation: [2, 2, 2], padding: [2, 2, 2] },
  }),
  convCase('dilation 1x2x4, kernel 2x3x3', {
    x: [1, 2, 7, 9, 17],
    cout: 5,
    kernel: [2, 3, 3],
    params: { dilation: [1, 2, 4], padding: [0, 1, 4] },
  }),
  convCase('dilation 16 along D', {
    x: [1, 2, 35, 4, 9],
    cout: 3,
    kernel: [3, 1, 3],
    params: { dilation: [16, 1, 1], padding: [0, 0, 1] },
  }),
  convCase('dilation 16 along W with padding 16', {
    x: [1, 2, 3, 4, 21],
    cout: 4,
    kernel: [1, 3, 3],
    params: { dilation: [1, 2, 16], padding: [0, 2, 16] },
  }),
  convCase('dilation 8 in all axes, kernel 3', {
    x: [1, 3, 18, 19, 20],
    cout: 7,
    kernel: [3, 3, 3],
    params: { dilation: [8, 8, 8], padding: [8, 8, 8] },
  }),
  convCase('groups 2', {
    x: [1, 4, 6, 7, 9],
    cout: 6,
    kernel: [3, 3, 3],
    params: { groups: 2, padding: [1, 1, 1] },
  }),
  convCase('groups 3, Cout/group 5', {
    x: [1, 9, 5, 6, 7],
    cout: 15,
    kernel: [3, 1, 3],
    params: { groups: 3, padding: [1, 0, 1] },
  }),
  convCase('depthwise (groups = Cin = Cout)', {
    x: [1, 5, 6, 6, 13],
    cout: 5,
    kernel: [3, 3, 3],
    params: { groups: 5, padding: [1, 1, 1] },
  }),
  convCase('no bias', { x: [1, 3, 5, 6, 7], cout: 4, kernel: [3, 3, 3], bias: false }),
  ...ACTIVATIONS.map((kind) =>
    convCase(`fused ${kind}`, {
      x: [1, 3, 6, 7, 10],
      cout: 5,
      kernel: [3, 3, 3],
      params: { padding: [1, 1, 1], activation: { kind } },
    }),
  ),
  convCase('fused leakyRelu alpha 0.3, elu-free bias', {
    x: [1, 2, 4, 5, 9],
    cout: 3,
    kernel: [3, 3, 3],
    params: { padding: [1, 1, 1], activation: { kind: 'leakyRelu', alpha: 0.3 } },
  }),
  convCase('fused elu alpha 0.5', {
    x: [1, 2, 4, 5, 9],
    cout: 3,
    kernel: [3, 3, 3],
    params: { padding: [1, 1, 1], activation: { kind: 'elu', alpha: 0.5 } },
  }),
  // Channel counts around register-block sizes.
  ...[1, 4, 5, 6, 7, 8, 12, 13, 16, 17].map((cout) =>
    convCase(`Cout ${cout}`, {
      x: [1, 3, 4, 5, 10],
      cout,
      kernel: [3, 3, 3],
      params: { padding: [1, 1, 1] },
    }),
  ),
  ...[1, 2, 7].map((cin) =>
    convCase(`Cin ${cin}`, {
      x: [1, cin, 4, 5, 9],
      cout: 6,
      kernel: [3, 3, 3],
      params: { padding: [1, 1, 1] },
    }),
  ),
  // Output widths around vector widths: W smaller than a vector, on and off multiples.
  ...[1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 33].map((ow) =>
    convCase(`output W ${ow}`, {
      x: [1, 2, 3, 4, ow],
      cout: 7,
      kernel: [3, 3, 3],
      params: { padding: [1, 1, 1] },
    }),
  ),
  convCase('1x1x1 kernel, W 3', { x: [1, 4, 2, 3, 3], cout: 5, kernel: [1, 1, 1] }),
  convCase('batch 2', {
    x: [2, 3, 5, 6, 11],
    cout: 6,
    kernel: [3, 3, 3],
    params: { padding: [1, 1, 1] },
  }),
  convCase('16->16, 3^3, 12x13x20', {
    x: [1, 16, 12, 13, 20],
    cout: 16,
    kernel: [3, 3, 3],
    params: { padding: [1, 1, 1], activation: { kind: 'relu' } },
  }),
];

// ---------------------------------------------------------------- other ops

function unaryCase(
  op: string,
  name: string,
  input: InputSpec,
  tolerance: Tolerance,
  run: OpCase['run'],
): OpCase {
  return { op, name, inputs: [input], tolerance, run };
}

const activationCases: OpCase[] = [
  ...ACTIVATIONS.map((kind) =>
    unaryCase(
      'activation',
      `${kind}, 1003 elements`,
      { shape: [1, 1, 1, 17, 59], range: [-6, 6] },
      ELEMENTWISE,
      (b, [x]) => b.activation(x, { kind }),
    ),
  ),
  ...(
    [
      { kind: 'leakyRelu', alpha: 0.2 },
      { kind: 'elu', alpha: 2 },
    ] as Activation[]
  ).map((activation) =>
    unaryCase(
      'activation',
      `${activation.kind} alpha ${activation.alpha}`,
      { shape: [3, 5, 7] },
      ELEMENTWISE,
      (b, [x]) => b.activation(x, activation),
    ),
  ),
  ...[1, 2, 3, 5].map((length) =>
    unaryCase(
      'activation',
      `gelu on ${length} elements`,
      { shape: [length], range: [-3, 3] },
      ELEMENTWISE,
      (b, [x]) => b.activation(x, { kind: 'gelu' }),
    ),
  ),
];

const normCases: OpCase[] = [
  unaryCase('instanceNorm', 'plain, S = 3 * 5 * 7', { shape: [2, 3, 3, 5, 7] }, NORM, (b, [x]) =>
    b.instanceNorm(x, { eps: 1e-5 }),
  ),
  unaryCase(
    'instanceNorm',
    'offset 1000, spread 100 (CT-like intensities)',
    { shape: [1, 2, 4, 6, 9], range: [1000, 1100] },
    NORM,
    (b, [x]) => b.instanceNorm(x, { eps: 1e-5 }),
  ),
  ...(['relu', 'gelu', 'elu'] as ActivationKind[]).map((kind): OpCase => ({
    op: 'instanceNorm',
    name: `scale, shift and ${kind}, S = 1 * 3 * 5`,
    inputs: [{ shape: [2, 5, 1, 3, 5] }, { shape: [5], range: [0.5, 2] }, { shape: [5] }],
    tolerance: NORM,
    run: (b, [x, scale, shift]) =>
      b.instanceNorm(x, { eps: 1e-3, scale, shift, activation: { kind } }),
  })),
];

const channelCases: OpCase[] = [
  ...[1, 2, 3, 7].map((c) =>
    unaryCase(
      'softmax',
      `C ${c}, S 3 * 4 * 5`,
      { shape: [2, c, 3, 4, 5], range: [-30, 30] },
      ELEMENTWISE,
      (b, [x]) => b.softmax(x),
    ),
  ),
  unaryCase(
    'softmax',
    'C 5, S 2 (less than a vector)',
    { shape: [1, 5, 1, 1, 2], range: [-5, 5] },
    ELEMENTWISE,
    (b, [x]) => b.softmax(x),
  ),
  ...[1, 2, 5, 9].map((c) =>
    unaryCase(
      'argmax',
      `C ${c} with ties, S 3 * 5 * 7`,
      { shape: [2, c, 3, 5, 7], step: 0.5 },
      EXACT,
      (b, [x]) => b.argmax(x),
    ),
  ),
  unaryCase(
    'argmax',
    'C 4, S 3 (less than a vector)',
    { shape: [1, 4, 1, 1, 3] },
    EXACT,
    (b, [x]) => b.argmax(x),
  ),
];

const LABEL_DTYPES: Array<Exclude<DType, 'float32'>> = ['uint8', 'uint16', 'int32'];

function confusionCase(
  name: string,
  pred: InputSpec,
  ref: InputSpec,
  numLabels: number,
  ignore?: number,
): OpCase {
  return {
    op: 'labelConfusion',
    name,
    inputs: [pred, ref],
    tolerance: EXACT,
    run: (b, [p, r]) => b.labelConfusion(p, r, numLabels, ignore),
  };
}

const labelShape = [2, 5, 6, 7];
const metricCases: OpCase[] = [
  ...LABEL_DTYPES.map((dtype) =>
    confusionCase(
      `${dtype}, 6 labels`,
      { shape: labelShape, dtype, labels: 6 },
      { shape: labelShape, dtype, labels: 6 },
      6,
    ),
  ),
  ...LABEL_DTYPES.map((dtype) =>
    confusionCase(
      `${dtype}, ignore label 2`,
      { shape: labelShape, dtype, labels: 5 },
      { shape: labelShape, dtype, labels: 5 },
      5,
      2,
    ),
  ),
  ...LABEL_DTYPES.map((dtype) =>
    // Ignored voxels are never range-checked: their pred may be anything.
    confusionCase(
      `${dtype}, ignore label 255 outside the range`,
      { shape: labelShape, dtype, labels: 4, set: { 3: 200, 77: 9 } },
      { shape: labelShape, dtype, labels: 4, set: { 3: 255, 77: 255, 100: 255 } },
      4,
      255,
    ),
  ),
  confusionCase(
    'uint8 pred vs int32 ref',
    { shape: labelShape, dtype: 'uint8', labels: 3 },
    { shape: labelShape, dtype: 'int32', labels: 3 },
    3,
  ),
  confusionCase(
    'uint16 pred vs uint8 ref, ignore 0',
    { shape: [1, 3, 3, 3], dtype: 'uint16', labels: 3 },
    { shape: [1, 3, 3, 3], dtype: 'uint8', labels: 3 },
    3,
    0,
  ),
  ...(['int32', 'uint8', 'uint16'] as const).map((dtype): OpCase => ({
    op: 'softDice',
    name: `${dtype} target, C 4, S 3 * 5 * 7`,
    inputs: [
      { shape: [2, 4, 3, 5, 7], range: [0, 1] },
      { shape: [2, 3, 5, 7], dtype, labels: 4 },
    ],
    tolerance: SUMS,
    run: (b, [p, t]) => b.softDice(p, t),
  })),
];

// ---------------------------------------------------------------- distanceTransform

const DISTANCE: Tolerance = { atol: 1e-5, rtol: 1e-5 };
type Triple = [number, number, number];

/** Squared distance from every voxel to the nearest non-zero voxel of its item, by trying all. */
function bruteForceDistances(mask: HostArray, shape: number[], spacing: Triple): Float64Array {
  const [n, d, h, w] = shape;
  const out = new Float64Array(mask.length);
  for (let b = 0; b < n; b++) {
    const base = b * d * h * w;
    const sites: Triple[] = [];
    for (let i = 0; i < d * h * w; i++) {
      if (mask[base + i] !== 0) sites.push([Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w]);
    }
    for (let i = 0; i < d * h * w; i++) {
      const p = [Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
      let best = Infinity;
      for (const s of sites) {
        const squared = [0, 1, 2].reduce((sum, a) => sum + ((p[a] - s[a]) * spacing[a]) ** 2, 0);
        best = Math.min(best, squared);
      }
      out[base + i] = best;
    }
  }
  return out;
}

function distanceCase(name: string, mask: InputSpec, spacing: Triple): OpCase {
  return {
    op: 'distanceTransform',
    name,
    inputs: [{ dtype: 'uint8', ...mask }],
    tolerance: DISTANCE,
    run: (b, [m]) => b.distanceTransform(m, spacing),
    oracle: ([m]) => bruteForceDistances(m, mask.shape, spacing),
  };
}

const distanceCases: OpCase[] = [
  distanceCase(
    'odd sizes, anisotropic, sparse, batch 2',
    { shape: [2, 7, 9, 11], density: 0.02, set: { 40: 1, 700: 1 } },
    [0.7, 1.3, 2.9],
  ),
  distanceCase(
    'one feature among 390 voxels, D spacing 3',
    { shape: [1, 13, 6, 5], density: 0, set: { 217: 1 } },
    [3, 0.5, 1],
  ),
  distanceCase(
    'single row (W only)',
    { shape: [1, 1, 1, 17], density: 0.1, set: { 8: 1 } },
    [1, 1, 0.4],
  ),
  distanceCase(
    'W 1, H 1 (D only)',
    { shape: [1, 12, 1, 1], density: 0, set: { 3: 1, 9: 1 } },
    [2.5, 1, 1],
  ),
  distanceCase('dense, isotropic 10^3', { shape: [1, 10, 10, 10], density: 0.3 }, [1, 1, 1]),
  distanceCase(
    'uint16 labels, every non-zero value a feature',
    { shape: [1, 5, 8, 7], dtype: 'uint16', labels: 900, density: 0.05, set: { 100: 1 } },
    [1.2, 0.9, 0.9],
  ),
  distanceCase(
    'int32 labels, negative values are features too',
    { shape: [1, 6, 5, 9], dtype: 'int32', labels: 7, density: 0.03, set: { 33: -3 } },
    [1, 2, 1],
  ),
  distanceCase(
    'empty mask: Infinity in every voxel',
    { shape: [2, 3, 4, 5], density: 0 },
    [1, 1, 1],
  ),
  distanceCase(
    'one empty item next to one with a feature',
    {
      shape: [2, 4, 5, 6],
      density: 0,
      set: { [120 + 61]: 1 },
    },
    [0.5, 2, 1],
  ),
  distanceCase('full mask: 0 everywhere', { shape: [1, 3, 4, 5], density: 1 }, [1, 1, 1]),
  distanceCase(
    'single voxel in a corner',
    { shape: [1, 9, 8, 7], density: 0, set: { 0: 1 } },
    [0.9, 1.1, 4],
  ),
  distanceCase(
    'single voxel at the far corner',
    { shape: [1, 9, 8, 7], density: 0, set: { [9 * 8 * 7 - 1]: 7 } },
    [2, 1, 0.5],
  ),
  distanceCase(
    'lines split over threads, 33 x 40 x 37',
    { shape: [1, 33, 40, 37], density: 0.001, set: { 5000: 1 } },
    [1.5, 0.8, 0.8],
  ),
];

const copyShape = [2, 3, 4, 5, 7];
const copyCases: OpCase[] = [
  ...[0, 1, 2, 3, 4].map((axis): OpCase => ({
    op: 'slice',
    name: `float32 axis ${axis}`,
    inputs: [{ shape: copyShape }],
    tolerance: EXACT,
    run: (b, [x]) => b.slice(x, axis, 1, copyShape[axis] - 1),
  })),
  {
    op: 'slice',
    name: 'uint8 labels axis 2, one plane',
    inputs: [{ shape: [1, 4, 5, 7], dtype: 'uint8', labels: 9 }],
    tolerance: EXACT,
    run: (b, [x]) => b.slice(x, 2, 4, 1),
  },
  {
    op: 'slice',
    name: 'empty range',
    inputs: [{ shape: [2, 3, 4] }],
    tolerance: EXACT,
    run: (b, [x]) => b.slice(x, 1, 2, 0),
  },
  ...[0, 1, 2, 3, 4].map((axis): OpCase => ({
    op: 'concat',
    name: `float32 axis ${axis}, three parts`,
    inputs: [1, 2, 3].map((extent) => ({
      shape: copyShape.map((d, i) => (i === axis ? extent : d)),
    })),
    tolerance: EXACT,
    run: (b, xs) => b.concat(xs, axis),
  })),
  {
    op: 'concat',
    name: 'uint16 labels axis 3',
    inputs: [
      { shape: [1, 2, 3, 5], dtype: 'uint16', labels: 900 },
      { shape: [1, 2, 3, 2], dtype: 'uint16', labels: 900 },
    ],
    tolerance: EXACT,
    run: (b, xs) => b.concat(xs, 3),
  },
];

const cases: OpCase[] = [
  ...convCases,
  ...activationCases,
  ...normCases,
  ...channelCases,
  ...metricCases,
  ...copyCases,
  ...distanceCases,
];

// ---------------------------------------------------------------- error cases

const errorCases: ErrorCase[] = [
  {
    op: 'conv3d',
    name: 'channel mismatch names both shapes',
    inputs: [{ shape: [1, 3, 4, 4, 4] }, { shape: [2, 4, 3, 3, 3] }],
    run: (b, [x, w]) => b.conv3d(x, w, null, conv3dParams()),
    message: /\(1, 3, 4, 4, 4\).*\(2, 4, 3, 3, 3\)/,
  },
  {
    op: 'conv3d',
    name: 'kernel larger than the padded input',
    inputs: [{ shape: [1, 1, 2, 4, 4] }, { shape: [1, 1, 3, 3, 3] }],
    run: (b, [x, w]) => b.conv3d(x, w, null, conv3dParams()),
    message: /kernel does not fit/,
  },
  {
    op: 'conv3d',
    name: 'groups not dividing the channels',
    inputs: [{ shape: [1, 3, 4, 4, 4] }, { shape: [4, 1, 1, 1, 1] }],
    run: (b, [x, w]) => b.conv3d(x, w, null, conv3dParams({ groups: 2 })),
    message: /groups/,
  },
  {
    op: 'conv3d',
    name: 'bias of the wrong length',
    inputs: [{ shape: [1, 2, 3, 3, 3] }, { shape: [4, 2, 1, 1, 1] }, { shape: [3] }],
    run: (b, [x, w, bias]) => b.conv3d(x, w, bias, conv3dParams()),
    message: /bias/,
  },
  {
    op: 'conv3d',
    name: 'unknown activation',
    inputs: [{ shape: [1, 1, 2, 2, 2] }, { shape: [1, 1, 1, 1, 1] }],
    run: (b, [x, w]) =>
      b.conv3d(x, w, null, conv3dParams({ activation: { kind: 'rleu' as ActivationKind } })),
    message: /did you mean 'relu'/,
  },
  {
    op: 'instanceNorm',
    name: 'rank 4 input',
    inputs: [{ shape: [1, 2, 3, 4] }],
    run: (b, [x]) => b.instanceNorm(x, { eps: 1e-5 }),
    message: /rank-5/,
  },
  {
    op: 'labelConfusion',
    name: 'shape mismatch names both shapes',
    inputs: [
      { shape: [1, 2, 3, 4], dtype: 'int32' },
      { shape: [1, 2, 4, 3], dtype: 'int32' },
    ],
    run: (b, [p, r]) => b.labelConfusion(p, r, 4),
    message: /\(1, 2, 3, 4\).*\(1, 2, 4, 3\)/,
  },
  {
    op: 'labelConfusion',
    name: 'pred label out of range names the first voxel',
    inputs: [
      { shape: [1, 4, 5, 6], dtype: 'uint8', labels: 3, set: { 37: 7, 90: 9 } },
      { shape: [1, 4, 5, 6], dtype: 'uint8', labels: 3 },
    ],
    run: (b, [p, r]) => b.labelConfusion(p, r, 3),
    message: /voxel 37, received pred 7/,
  },
  {
    op: 'labelConfusion',
    name: 'negative ref label names the voxel',
    inputs: [
      { shape: [2, 3, 5, 7], dtype: 'int32', labels: 3 },
      { shape: [2, 3, 5, 7], dtype: 'int32', labels: 3, set: { 150: -1 } },
    ],
    run: (b, [p, r]) => b.labelConfusion(p, r, 3),
    message: /voxel 150,.*ref -1/,
  },
  {
    op: 'labelConfusion',
    name: 'uint16 label equal to numLabels',
    inputs: [
      { shape: [1, 3, 3, 3], dtype: 'uint16', labels: 5, set: { 26: 5 } },
      { shape: [1, 3, 3, 3], dtype: 'uint16', labels: 5 },
    ],
    run: (b, [p, r]) => b.labelConfusion(p, r, 5),
    message: /voxel 26/,
  },
  {
    op: 'labelConfusion',
    name: 'float32 labels',
    inputs: [{ shape: [1, 2, 2, 2] }, { shape: [1, 2, 2, 2] }],
    run: (b, [p, r]) => b.labelConfusion(p, r, 2),
    message: /integer label map/,
  },
  {
    op: 'slice',
    name: 'range past the end',
    inputs: [{ shape: [2, 3, 4] }],
    run: (b, [x]) => b.slice(x, 2, 3, 2),
    message: /exceeds axis 2/,
  },
  {
    op: 'concat',
    name: 'mismatched dimensions',
    inputs: [{ shape: [1, 2, 3] }, { shape: [1, 3, 3] }],
    run: (b, xs) => b.concat(xs, 2),
    message: /does not match/,
  },
  {
    op: 'distanceTransform',
    name: 'zero spacing names the field and the value',
    inputs: [{ shape: [1, 2, 3, 4], dtype: 'uint8', labels: 2 }],
    run: (b, [m]) => b.distanceTransform(m, [1, 0, 1]),
    message: /for distanceTransform spacing, received \[1, 0, 1\]/,
  },
  {
    op: 'distanceTransform',
    name: 'rank 5 mask',
    inputs: [{ shape: [1, 1, 2, 3, 4], dtype: 'uint8', labels: 2 }],
    run: (b, [m]) => b.distanceTransform(m, [1, 1, 1]),
    message: /rank-4 tensor for distanceTransform mask/,
  },
  {
    op: 'distanceTransform',
    name: 'float32 mask',
    inputs: [{ shape: [1, 2, 3, 4] }],
    run: (b, [m]) => b.distanceTransform(m, [1, 1, 1]),
    message: /integer label map for distanceTransform mask/,
  },
];

// ---------------------------------------------------------------- the suite

const backends = await backendsUnderTest();
const reference = await referenceBackend();

afterAll(async () => {
  await disposeBackends();
});

it('outputs are poisoned before kernels write them', () => {
  expect(process.env.VOXSEG_POISON).toBe('1');
});

/**
 * expectClose where the reference's infinities must come back as the same infinity (an item
 * without features); NaN (a poisoned element never written) still fails.
 */
function expectCloseOrInfinite(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  tolerance: Tolerance,
  what: string,
): void {
  const same = (i: number) => !Number.isFinite(ref[i]) && got[i] === ref[i];
  const finite = (values: ArrayLike<number>) =>
    Array.from(values, (value, i) => (i < ref.length && same(i) ? 0 : value));
  expectClose(finite(got), finite(ref), tolerance, what);
}

describe('the reference backend against independent answers', () => {
  for (const c of cases.filter((entry) => entry.oracle)) {
    const caseSeed = 10_000 + cases.indexOf(c);
    it(`${c.op}: ${c.name} matches brute force`, async () => {
      const want = await runCase(reference, c, caseSeed);
      const oracle = c.oracle!(c.inputs.map((spec, i) => makeData(spec, caseSeed * 31 + i)));
      expectCloseOrInfinite(want.arrays.data!, oracle, c.tolerance, 'brute force');
    });
  }
});

for (const entry of backends) {
  describe(`ops on ${entry.name}`, () => {
    if (!entry.backend) {
      it.skip(`${entry.name} unavailable: ${entry.skipReason}`, () => {});
      return;
    }
    const backend = entry.backend;
    for (const c of cases) {
      const caseSeed = seed++;
      it(`${c.op}: ${c.name}`, async () => {
        const before = backend.memory().bytes;
        const got = await runCase(backend, c, caseSeed);
        const want = await runCase(reference, c, caseSeed);
        expect(got.shape, 'shape').toEqual(want.shape);
        expect(got.dtype, 'dtype').toBe(want.dtype);
        for (const [key, values] of Object.entries(want.arrays)) {
          expectCloseOrInfinite(
            got.arrays[key as keyof typeof got.arrays],
            values,
            c.tolerance,
            key,
          );
        }
        if (c.oracle) {
          const oracle = c.oracle(c.inputs.map((spec, i) => makeData(spec, caseSeed * 31 + i)));
          expectCloseOrInfinite(got.arrays.data!, oracle, c.tolerance, 'brute force');
        }
        expect(backend.memory().bytes, 'bytes held after releasing every tensor').toBe(before);
      });
    }
    for (const c of errorCases) {
      const caseSeed = seed++;
      it(`${c.op} rejects: ${c.name}`, async () => {
        await expect(runCase(reference, c, caseSeed), 'reference').rejects.toThrow(c.message);
        await expect(runCase(backend, c, caseSeed), entry.name).rejects.toThrow(c.message);
      });
    }
  });
}

/** download(tensor, into): the caller's array is filled in place, or rejected by name. */
for (const entry of [{ name: 'reference', backend: reference, skipReason: '' }, ...backends]) {
  describe(`download into a caller's array on ${entry.name}`, () => {
    if (!entry.backend) {
      it.skip(`${entry.name} unavailable: ${entry.skipReason}`, () => {});
      return;
    }
    const backend = entry.backend;
    const make: Record<DType, (n: number) => HostArray> = {
      float32: (n) => randomFloats(n, 71),
      int32: (n) => Int32Array.from(randomLabels(n, 1000, 72), (v, i) => v - (i % 500)),
      uint8: (n) => Uint8Array.from(randomLabels(n, 255, 73)),
      uint16: (n) => Uint16Array.from(randomLabels(n, 255, 74), (v, i) => v * 251 + (i % 7)),
    };
    for (const dtype of ['float32', 'int32', 'uint8', 'uint16'] as const) {
      it(`${dtype}: 3x7x59 into a poisoned array at an odd element offset`, async () => {
        const data = make[dtype](3 * 7 * 59);
        const tensor = await backend.upload(data, [3, 7, 59]);
        try {
          const Ctor = data.constructor as new (b: ArrayBuffer, o: number, n: number) => HostArray;
          const bytes = data.BYTES_PER_ELEMENT;
          const backing = new ArrayBuffer((data.length + 6) * bytes);
          new Uint8Array(backing).fill(0xa5);
          const into = new Ctor(backing, 3 * bytes, data.length);
          const got = await backend.download(tensor, into);
          expect(got, 'the array written is the one given').toBe(into);
          expect(Array.from(into)).toEqual(Array.from(data));
          const guard = new Uint8Array(backing);
          const outside = [
            ...guard.subarray(0, 3 * bytes),
            ...guard.subarray((data.length + 3) * bytes),
          ];
          expect(
            outside.every((b) => b === 0xa5),
            'bytes outside the view untouched',
          ).toBe(true);
        } finally {
          backend.release(tensor);
        }
      });
    }
    it('rejects an array of another dtype or length, naming into', async () => {
      const tensor = await backend.upload(randomFloats(30, 75), [2, 15]);
      try {
        await expect(backend.download(tensor, new Int32Array(30))).rejects.toThrow(
          /expected a float32 array for download's into .*received int32/,
        );
        await expect(backend.download(tensor, new Float32Array(29))).rejects.toThrow(
          /expected 30 elements in download's into \(shape \[2,15\]\), received 29/,
        );
      } finally {
        backend.release(tensor);
      }
    });
  });
}
