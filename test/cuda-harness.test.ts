/**
 * The CUDA harness (native/harness), checked from the TypeScript side:
 * - its CPU reference (`voxseg_harness --cpu`), the oracle the GPU kernels are judged by,
 *   against the TypeScript reference backend on seeded random data;
 * - the CUDA kernel sources run on the CPU emulator (`voxseg_harness_emulated`) against the
 *   same reference, and the emulated build's own validation run.
 * Each case is written to a temporary directory (case.txt + raw tensors), the harness writes
 * result.txt + raw outputs, and the outputs are compared with |got - ref| <= atol + rtol |ref|.
 *
 * Tolerances: the TypeScript reference rounds each conv3d partial sum to float32, the C++
 * reference sums in double: 1e-4 / 1e-4 covers up to ~1000 taps of values in [-1, 1]. The
 * implicit-GEMM kernel multiplies in TF32 (10-bit mantissa): 3e-3 / 3e-3. Integer outputs and
 * copies are exact.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import type { Activation, Backend, Conv3dParams } from '../ts/engine/backend.js';
import { conv3dParams } from '../ts/engine/backend.js';
import { dtypeOf, type HostArray, type Tensor } from '../ts/engine/tensor.js';
import { expectClose, type Tolerance } from './helpers/compare.js';
import { randomFloats, randomLabels } from './helpers/random.js';

const BUILD = resolve(__dirname, '../build/harness');
const CPU = join(BUILD, 'voxseg_harness');
const EMULATED = join(BUILD, 'voxseg_harness_emulated');
const missing = (path: string) =>
  existsSync(path) ? '' : `(skipped: ${path} not built; run npm run build:native)`;

const FP32: Tolerance = { atol: 1e-4, rtol: 1e-4 };
const TF32: Tolerance = { atol: 3e-3, rtol: 3e-3 };
const EXACT: Tolerance = { atol: 0, rtol: 0 };

const reference = new ReferenceBackend();
// Made on first use, so a run where every test skips leaves nothing behind.
let scratchDir: string | undefined;
const scratch = () => (scratchDir ??= mkdtempSync(join(tmpdir(), 'voxseg-harness-')));
afterAll(() => scratchDir && rmSync(scratchDir, { recursive: true, force: true }));

// ------------------------------------------------------------------ the case directory format

interface Input {
  data: HostArray;
  shape: number[];
}
type Outputs = Record<string, ArrayLike<number>>;

/** Write case.txt and one .bin per tensor into a fresh directory. */
function writeCase(op: string, params: Record<string, number[]>, tensors: Record<string, Input>) {
  const dir = mkdtempSync(join(scratch(), `${op}-`));
  const lines = [`op ${op}`];
  for (const [name, values] of Object.entries(params))
    lines.push(`param ${name} ${values.join(' ')}`);
  for (const [name, { data, shape }] of Object.entries(tensors)) {
    lines.push(`tensor ${name} ${dtypeOf(data)} ${shape.join(' ')}`);
    writeFileSync(
      join(dir, `${name}.bin`),
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  }
  writeFileSync(join(dir, 'case.txt'), `${lines.join('\n')}\n`);
  return dir;
}

/** Parse result.txt and its tensors (float64 and int64 come back as numbers). */
function readResults(dir: string): Outputs {
  const outputs: Outputs = {};
  for (const line of readFileSync(join(dir, 'result.txt'), 'utf8').trim().split('\n')) {
    const [, name, dtype] = line.split(' ');
    const bytes = readFileSync(join(dir, `${name}.bin`));
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const arrays: Record<string, (b: ArrayBuffer) => ArrayLike<number>> = {
      float32: (b) => new Float32Array(b),
      float64: (b) => new Float64Array(b),
      int32: (b) => new Int32Array(b),
      uint8: (b) => new Uint8Array(b),
      uint16: (b) => new Uint16Array(b),
      int64: (b) => Array.from(new BigInt64Array(b), Number),
    };
    outputs[name] = arrays[dtype](buffer);
  }
  return outputs;
}

/** Run one harness binary on a case directory and read its results. */
function runHarness(binary: string, args: string[], dir: string): Outputs {
  const run = spawnSync(binary, [...args, '--op', dir], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`${binary} exited ${run.status}: ${run.stderr}`);
  return readResults(dir);
}

// ------------------------------------------------------------------ cases

interface HarnessCase {
  name: string;
  op: string;
  params: Record<string, number[]>;
  inputs: Record<string, Input>;
  /** The TypeScript reference's outputs, named as the harness names them. */
  expected(b: Backend, t: Record<string, Tensor>): Promise<Outputs>;
  tolerance: Tolerance;
  /** Tolerance for the emulated kernels when it differs (TF32 conv3d). */
  kernelTolerance?: Tolerance;
}

let seed = 100;
const floats = (shape: number[], lo = -1, hi = 1): Input => ({
  data: randomFloats(
    shape.reduce((a, b) => a * b, 1),
    seed++,
    lo,
    hi,
  ),
  shape,
});
const labels = (
  shape: number[],
  n: number,
  type: 'uint8' | 'uint16' | 'int32' = 'int32',
): Input => {
  const values = randomLabels(
    shape.reduce((a, b) => a * b, 1),
    n,
    seed++,
  );
  const data =
    type === 'uint8'
      ? Uint8Array.from(values)
      : type === 'uint16'
        ? Uint16Array.from(values)
        : values;
  return { data, shape };
};
const download = async (b: Backend, t: Tensor) => b.download(t);
const CODES = { linear: 0, relu: 1, leakyRelu: 2, elu: 3, gelu: 4, sigmoid: 5 } as const;

function convCase(
  name: string,
  x: number[],
  cout: number,
  kernel: number[],
  partial: Partial<Conv3dParams>,
) {
  const p = conv3dParams(partial);
  const fanIn = (x[1] / p.groups) * kernel[0] * kernel[1] * kernel[2];
  const scale = 1 / Math.sqrt(fanIn);
  const wide = cout / p.groups >= 32 && x[1] / p.groups >= 16;
  const act = p.activation;
  return {
    name: `conv3d ${name}`,
    op: 'conv3d',
    params: {
      stride: p.stride,
      padding: p.padding,
      dilation: p.dilation,
      groups: [p.groups],
      activation: [CODES[act.kind]],
      ...(act.alpha !== undefined ? { alpha: [act.alpha] } : {}),
    },
    inputs: {
      x: floats(x),
      weight: floats([cout, x[1] / p.groups, ...kernel], -scale, scale),
      bias: floats([cout], -0.5, 0.5),
    },
    expected: async (b, t) => ({
      out: await download(b, await b.conv3d(t.x, t.weight, t.bias, p)),
    }),
    tolerance: FP32,
    kernelTolerance: wide ? TF32 : FP32,
  } satisfies HarnessCase;
}

const convCases: HarnessCase[] = [
  convCase('3->5 k3 pad 1 relu', [1, 3, 6, 7, 9], 5, [3, 3, 3], {
    padding: [1, 1, 1],
    activation: { kind: 'relu' },
  }),
  convCase('mixed kernel, stride, dilation, groups 2, gelu', [2, 4, 5, 6, 7], 6, [2, 3, 1], {
    stride: [1, 2, 1],
    padding: [0, 1, 2],
    dilation: [2, 1, 3],
    groups: 2,
    activation: { kind: 'gelu' },
  }),
  convCase('dilation 2, elu alpha 0.5', [1, 2, 9, 8, 10], 3, [3, 3, 3], {
    padding: [2, 2, 2],
    dilation: [2, 2, 2],
    activation: { kind: 'elu', alpha: 0.5 },
  }),
  convCase('dilation 16 lattice, sigmoid', [1, 2, 21, 20, 35], 3, [3, 3, 3], {
    padding: [16, 16, 16],
    dilation: [16, 16, 16],
    activation: { kind: 'sigmoid' },
  }),
  convCase('32->33 wide (implicit GEMM), leakyRelu', [1, 32, 5, 6, 7], 33, [3, 3, 3], {
    padding: [1, 1, 1],
    activation: { kind: 'leakyRelu', alpha: 0.1 },
  }),
  convCase('20->40 stride 2 (implicit GEMM)', [1, 20, 7, 8, 9], 40, [3, 3, 3], {
    stride: [2, 2, 2],
    padding: [1, 1, 1],
  }),
];

const activationCases: HarnessCase[] = (Object.keys(CODES) as (keyof typeof CODES)[]).map(
  (kind) => {
    const activation: Activation = {
      kind,
      alpha: kind === 'leakyRelu' || kind === 'elu' ? 0.2 : undefined,
    };
    return {
      name: `activation ${kind}`,
      op: 'activation',
      params: {
        activation: [CODES[kind]],
        ...(activation.alpha ? { alpha: [activation.alpha] } : {}),
      },
      inputs: { x: floats([2, 3, 5, 6, 7], -4, 4) },
      expected: async (b, t) => ({ out: await download(b, await b.activation(t.x, activation)) }),
      tolerance: { atol: 1e-6, rtol: 1e-5 },
    };
  },
);

const reductionCases: HarnessCase[] = [
  {
    name: 'instanceNorm scale, shift, gelu',
    op: 'instance_norm',
    params: { eps: [1e-5], activation: [4] },
    inputs: { x: floats([2, 3, 6, 7, 8], -3, 5), scale: floats([3]), shift: floats([3]) },
    expected: async (b, t) => ({
      out: await download(
        b,
        await b.instanceNorm(t.x, {
          eps: 1e-5,
          scale: t.scale,
          shift: t.shift,
          activation: { kind: 'gelu' },
        }),
      ),
    }),
    tolerance: { atol: 1e-5, rtol: 1e-5 },
  },
  {
    name: 'instanceNorm offset data, 15 channels',
    op: 'instance_norm',
    params: { eps: [1e-5] },
    inputs: { x: floats([1, 15, 9, 8, 7], 9, 11) },
    expected: async (b, t) => ({
      out: await download(b, await b.instanceNorm(t.x, { eps: 1e-5 })),
    }),
    tolerance: { atol: 2e-5, rtol: 2e-5 },
  },
  {
    name: 'softmax 7 channels',
    op: 'softmax',
    params: {},
    inputs: { x: floats([2, 7, 4, 5, 6], -5, 5) },
    expected: async (b, t) => ({ out: await download(b, await b.softmax(t.x)) }),
    tolerance: { atol: 1e-6, rtol: 1e-5 },
  },
  {
    name: 'argmax with ties',
    op: 'argmax',
    params: {},
    inputs: {
      x: {
        ...floats([2, 5, 4, 5, 6]),
        data: randomFloats(1200, 7).map((v) => Math.round(v * 2) / 2),
      },
    },
    expected: async (b, t) => ({ out: await download(b, await b.argmax(t.x)) }),
    tolerance: EXACT,
  },
];

function confusionCase(
  name: string,
  type: 'uint8' | 'uint16' | 'int32',
  n: number,
  ignore?: number,
): HarnessCase {
  return {
    name: `labelConfusion ${name}`,
    op: 'label_confusion',
    params: { num_labels: [n], ...(ignore !== undefined ? { ignore_label: [ignore] } : {}) },
    inputs: { pred: labels([1, 7, 8, 9], n, type), ref: labels([1, 7, 8, 9], n, type) },
    expected: async (b, t) => {
      const c = await b.labelConfusion(t.pred, t.ref, n, ignore);
      return { tp: c.tp, fp: c.fp, fn: c.fn, total: [c.total] };
    },
    tolerance: EXACT,
  };
}

const metricCases: HarnessCase[] = [
  confusionCase('uint8, 6 labels', 'uint8', 6),
  confusionCase('uint16, ignore label 2', 'uint16', 5, 2),
  confusionCase('int32, 5000 labels', 'int32', 5000),
  {
    name: 'softDice int32 target',
    op: 'soft_dice',
    params: {},
    inputs: { probs: floats([2, 4, 5, 6, 7], 0, 1), target: labels([2, 5, 6, 7], 4) },
    expected: async (b, t) => {
      const s = await b.softDice(t.probs, t.target);
      return { intersection: s.intersection, pred_sum: s.predSum, target_sum: s.targetSum };
    },
    tolerance: { atol: 1e-6, rtol: 1e-6 },
  },
];

const copyCases: HarnessCase[] = [
  {
    name: 'slice float32 along channels',
    op: 'slice',
    params: { axis: [1], start: [2], size: [3] },
    inputs: { x: floats([2, 6, 3, 4, 5]) },
    expected: async (b, t) => ({ out: await download(b, await b.slice(t.x, 1, 2, 3)) }),
    tolerance: EXACT,
  },
  {
    name: 'slice uint16 along W (odd width)',
    op: 'slice',
    params: { axis: [3], start: [1], size: [5] },
    inputs: { x: labels([2, 3, 4, 9], 9000, 'uint16') },
    expected: async (b, t) => ({ out: await download(b, await b.slice(t.x, 3, 1, 5)) }),
    tolerance: EXACT,
  },
  {
    name: 'concat float32 along channels, three inputs',
    op: 'concat',
    params: { axis: [1] },
    inputs: {
      x0: floats([1, 2, 3, 4, 5]),
      x1: floats([1, 5, 3, 4, 5]),
      x2: floats([1, 1, 3, 4, 5]),
    },
    expected: async (b, t) => ({ out: await download(b, await b.concat([t.x0, t.x1, t.x2], 1)) }),
    tolerance: EXACT,
  },
  {
    name: 'concat uint8 along W',
    op: 'concat',
    params: { axis: [3] },
    inputs: { x0: labels([1, 4, 5, 3], 200, 'uint8'), x1: labels([1, 4, 5, 6], 200, 'uint8') },
    expected: async (b, t) => ({ out: await download(b, await b.concat([t.x0, t.x1], 3)) }),
    tolerance: EXACT,
  },
];

const allCases = [
  ...convCases,
  ...activationCases,
  ...reductionCases,
  ...metricCases,
  ...copyCases,
];

/** The harness's label counts in the contract's form: fp = pred - tp, fn = ref - tp. */
function contractForm(op: string, got: Outputs): Outputs {
  if (op !== 'label_confusion') return got;
  const tp = Array.from(got.tp);
  return {
    tp,
    fp: Array.from(got.pred_count, (count, l) => count - tp[l]),
    fn: Array.from(got.ref_count, (count, l) => count - tp[l]),
    total: [Array.from(got.ref_count).reduce((a, b) => a + b, 0)],
  };
}

async function compareWithReference(
  binary: string,
  args: string[],
  c: HarnessCase,
  tolerance: Tolerance,
) {
  const tensors: Record<string, Tensor> = {};
  for (const [name, input] of Object.entries(c.inputs))
    tensors[name] = await reference.upload(input.data, input.shape);
  const expected = await c.expected(reference, tensors);
  const got = contractForm(c.op, runHarness(binary, args, writeCase(c.op, c.params, c.inputs)));
  for (const [name, values] of Object.entries(expected)) {
    expect(got[name], `${c.name}: output ${name}`).toBeDefined();
    expectClose(got[name], values, tolerance, `${c.name}: ${name}`);
  }
}

// ------------------------------------------------------------------ suites

describe.skipIf(missing(CPU))(
  `harness CPU reference against the TypeScript reference ${missing(CPU)}`,
  () => {
    it('passes its own known-answer checks (--cpu)', () => {
      const run = spawnSync(CPU, ['--cpu'], { encoding: 'utf8', timeout: 60_000 });
      expect(run.stdout).toMatch(/^8 passed, 0 failed$/m);
      expect(run.status).toBe(0);
    });

    for (const c of allCases) {
      it(c.name, () => compareWithReference(CPU, ['--cpu'], c, c.tolerance));
    }

    it('reports the first invalid label as the reference does', async () => {
      const pred = Int32Array.from([0, 1, 2, 1, 7, 1, 9]);
      const ref = Int32Array.from([0, 1, 2, 1, 1, 3, 1]);
      const dir = writeCase(
        'label_confusion',
        { num_labels: [4] },
        {
          pred: { data: pred, shape: [1, 1, 1, 7] },
          ref: { data: ref, shape: [1, 1, 1, 7] },
        },
      );
      const got = runHarness(CPU, ['--cpu'], dir);
      const [p, r] = [await reference.upload(pred, [7]), await reference.upload(ref, [7])];
      await expect(reference.labelConfusion(p, r, 4)).rejects.toThrow(
        /for voxel 4, received pred 7/,
      );
      expect(Array.from(got.first_invalid)).toEqual([4]);
    });

    it('names the file, line and field of a bad case', () => {
      const dir = mkdtempSync(join(scratch(), 'bad-'));
      writeFileSync(join(dir, 'case.txt'), 'op softmax\ntensor x float16 1 2 3\n');
      const run = spawnSync(CPU, ['--cpu', '--op', dir], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(
        /case\.txt:2: expected a dtype .* for tensor x, received 'float16'/,
      );
    });
  },
);

describe.skipIf(missing(EMULATED))(`CUDA kernels on the CPU emulator ${missing(EMULATED)}`, () => {
  it('pass the harness validation (every kernel variant, odd sizes)', () => {
    const run = spawnSync(EMULATED, [], { encoding: 'utf8', timeout: 120_000 });
    expect(run.stdout).not.toMatch(/^FAIL/m);
    expect(run.stdout).toMatch(/^\d+ passed, 0 failed$/m);
    expect(run.status).toBe(0);
  });

  for (const c of allCases) {
    it(`${c.name} matches the TypeScript reference`, () =>
      compareWithReference(EMULATED, [], c, c.kernelTolerance ?? c.tolerance));
  }
});
