/**
 * `voxseg eval`: pairs and folders of NIfTI files written to a temp folder, every output format,
 * the options echoed in the output, and bad input (grids, non-integer labels, unmatched files).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import '../ts/index.js';
import { registerEvalCommand } from '../ts/cli/eval.js';
import { registerMergeCommand } from '../ts/cli/merge.js';
import { configureLogging } from '../ts/engine/log.js';
import { writeVolume } from '../ts/io/files.js';
import type { Volume } from '../ts/io/volume.js';
import { dataPath, missingData } from './helpers/data.js';

configureLogging({ level: 'warn' });
const dir = mkdtempSync(join(tmpdir(), 'voxseg-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Triple = [number, number, number];
const identity = (spacing: Triple, shift = 0) => [
  ...[spacing[0], 0, 0, shift],
  ...[0, spacing[1], 0, 0],
  ...[0, 0, spacing[2], 0],
  ...[0, 0, 0, 1],
];

/** A label volume whose voxel (x, y, z) holds label(x, y, z). */
function labelVolume(
  dims: Triple,
  label: (x: number, y: number, z: number) => number,
  options: { spacing?: Triple; shift?: number; data?: Uint8Array | Float32Array } = {},
): Volume {
  const spacing = options.spacing ?? [1, 1, 1];
  const data = options.data ?? new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let z = 0, i = 0; z < dims[2]; z++)
    for (let y = 0; y < dims[1]; y++)
      for (let x = 0; x < dims[0]; x++, i++) data[i] = label(x, y, z);
  const datatype = data instanceof Float32Array ? 'float32' : 'uint8';
  const affine = identity(spacing, options.shift);
  return { dims, frames: 1, spacing, affine, datatype, data, description: '' };
}

/** A cube of label 1 spanning [lo, hi] on every axis and a slab of label 2 at z = 0. */
const cubes = (lo: number, hi: number) => (x: number, y: number, z: number) => {
  if (z === 0) return 2;
  return x >= lo && x <= hi && y >= lo && y <= hi && z >= lo && z <= hi ? 1 : 0;
};

async function write(name: string, volume: Volume): Promise<string> {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  await writeVolume(path, volume, { overwrite: true });
  return path;
}

/** Run `voxseg eval ...` with the reference backend, quietly; stdout is returned. */
async function runEval(...args: string[]): Promise<string> {
  const program = new Command('voxseg').exitOverride().configureOutput({ writeErr: () => {} });
  registerEvalCommand(program);
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['eval', ...args, '-b', 'reference', '-q'], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

describe('voxseg eval on a pair of files', async () => {
  const pred = await write('pair/pred.nii.gz', labelVolume([8, 8, 8], cubes(2, 5)));
  const ref = await write('pair/ref.nii', labelVolume([8, 8, 8], cubes(2, 6)));

  it('writes JSON with the conventions once and every metric per label value', async () => {
    const names = join(dir, 'pair/names.txt');
    writeFileSync(names, '# ITK-SNAP\n    1   255  0  0  1  1  1    "Tumour core"\n');
    const out = join(dir, 'pair/out.json');
    await runEval(pred, ref, '--json', '-o', out, '--label-names', names);
    const json = JSON.parse(readFileSync(out, 'utf8'));

    expect(json.conventions).toMatchObject({
      nsdToleranceMm: 1,
      percentile: 95,
      percentileRule: 'per-direction',
      emptyDistance: 'inf',
      background: 'excluded',
      ignoreLabel: null,
    });
    const label1 = json.cases[0].labels['1'];
    for (const key of [
      'tp',
      'fp',
      'fn',
      'tn',
      'dice',
      'iou',
      'hd',
      'hd95',
      'assd',
      'masd',
      'nsd',
    ]) {
      expect(label1, key).toHaveProperty(key);
    }
    for (const key of ['sensitivity', 'specificity', 'precision', 'mcc', 'kappa', 'fBeta']) {
      expect(label1, key).toHaveProperty(key);
    }
    // pred cube 4^3 = 64 inside ref cube 5^3 = 125: Dice = 128 / 189.
    expect([label1.tp, label1.fp, label1.fn]).toEqual([64, 0, 61]);
    expect(label1.dice).toBeCloseTo(128 / 189, 12);
    expect(label1.name).toBe('Tumour core');
    expect(json.cases[0].labels['2'].dice).toBe(1);
    expect(json.cases[0].labels['0']).toBeUndefined();
    expect(json.summary.labels['1'].dice.n).toBe(1);
    expect(json.summary.foreground.dice.n).toBe(2);
  });

  it('echoes every option it is given', async () => {
    const out = await runEval(
      ...[pred, ref, '--json', '--percentile', '90', '--percentile-rule', 'pooled'],
      ...['--nsd-tolerance', '2.5', '--empty-distance', 'diagonal', '--include-background'],
      ...['--spacing', '0.5,0.5,2', '--ignore-label', '7'],
    );
    const json = JSON.parse(out);
    expect(json.conventions).toMatchObject({
      percentile: 90,
      percentileRule: 'pooled',
      nsdToleranceMm: 2.5,
      emptyDistance: 'diagonal',
      background: 'included',
      spacingSource: 'option',
      ignoreLabel: 7,
    });
    expect(json.cases[0].spacingMm).toEqual([0.5, 0.5, 2]);
    expect(json.cases[0].labels['1']).toHaveProperty('hd90');
    expect(json.cases[0].labels['0']).toBeDefined();
  });

  it('writes CSV with convention lines, one row per label and summary rows', async () => {
    const csv = await runEval(pred, ref, '--csv', '--labels', '1,2,3');
    const lines = csv.trim().split('\n');
    const header = lines.find((line) => line.startsWith('case,'))!;
    expect(header.split(',').slice(0, 5)).toEqual(['case', 'label', 'name', 'tp', 'fp']);
    expect(header).toContain(',hd95,');
    expect(lines.filter((line) => line.startsWith('# ')).length).toBeGreaterThan(10);
    expect(lines.filter((line) => line.startsWith('pred,'))).toHaveLength(3);
    expect(lines.filter((line) => line.startsWith('(mean),'))).toHaveLength(4); // 3 + foreground
    const label3 = lines.find((line) => line.startsWith('pred,3,'))!.split(',');
    expect(label3[header.split(',').indexOf('dice')]).toBe('NaN'); // absent from both
  });

  it('prints a table by default and leaves distances out with --no-distances', async () => {
    const table = await runEval(pred, ref);
    expect(table).toContain('summary over 1 case(s)');
    expect(table).toMatch(/^case\s+label\s+dice\s+iou\s+hd\s+hd95/m);
    const names = join(dir, 'pair/names.txt');
    writeFileSync(names, '# ITK-SNAP\n    1   255  0  0  1  1  1    "Tumour core"\n');
    const named = await runEval(pred, ref, '--label-names', names);
    expect(named).toMatch(/^case\s+label\s+name\s+dice\s+iou\s+hd\s+hd95/m);
    expect(named).toMatch(/^pred\s+1\s+Tumour core\s+0\.\d+/m);
    const json = JSON.parse(await runEval(pred, ref, '--json', '--no-distances'));
    expect(json.cases[0].labels['1']).not.toHaveProperty('hd');
    expect(json.conventions.distances).toBe(false);
  });

  it('relabels the prediction with --map-pred and says so in the conventions', async () => {
    const swap = (x: number, y: number, z: number) => [0, 2, 1][cubes(2, 5)(x, y, z)];
    const swapped = await write('pair/swapped.nii.gz', labelVolume([8, 8, 8], swap));
    const plain = JSON.parse(await runEval(pred, ref, '--json'));
    const mapped = JSON.parse(await runEval(swapped, ref, '--json', '--map-pred', '1:2, 2:1'));
    expect(mapped.cases[0].labels).toEqual(
      expect.objectContaining({ '1': plain.cases[0].labels['1'], '2': plain.cases[0].labels['2'] }),
    );
    expect(mapped.conventions.predLabelMap).toBe('1->2, 2->1');
    expect(plain.conventions).not.toHaveProperty('predLabelMap');
    const unmapped = JSON.parse(await runEval(swapped, ref, '--json'));
    expect(unmapped.cases[0].labels['1'].dice).toBe(0);
    await expect(runEval(swapped, ref, '--map-pred', '1:x')).rejects.toThrow(
      /from:to pairs.*'1:x'/,
    );
    await expect(runEval(swapped, ref, '--map-pred', '1:300')).rejects.toThrow(
      /swapped\.nii\.gz: expected a label that fits the prediction's datatype \(<= 255\) for --map-pred, received 300/,
    );
  });

  it('replaces an existing output only with --overwrite', async () => {
    const out = join(dir, 'pair/exists.csv');
    writeFileSync(out, 'old');
    await expect(runEval(pred, ref, '--csv', '-o', out)).rejects.toThrow(/exists/);
    expect(readFileSync(out, 'utf8')).toBe('old');
    await runEval(pred, ref, '--csv', '-o', out, '--overwrite');
    expect(readFileSync(out, 'utf8')).toContain('case,label');
  });
});

describe('voxseg eval on folders', async () => {
  const predDir = join(dir, 'folders/pred');
  const refDir = join(dir, 'folders/ref');
  await write('folders/pred/a.nii.gz', labelVolume([6, 6, 6], cubes(1, 3)));
  await write('folders/pred/b.nii', labelVolume([6, 6, 6], cubes(1, 4)));
  await write('folders/pred/c.nii.gz', labelVolume([6, 6, 6], cubes(1, 4)));
  await write('folders/ref/a.nii.gz', labelVolume([6, 6, 6], cubes(1, 4)));
  await write('folders/ref/b.nii.gz', labelVolume([6, 6, 6], cubes(1, 4)));
  await write('folders/ref/d.nii.gz', labelVolume([6, 6, 6], cubes(1, 4)));
  writeFileSync(join(predDir, 'plans.json'), '{}');

  it('matches cases by name, summarises them, and fails naming the unmatched files', async () => {
    const out = join(dir, 'folders/report.json');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await expect(runEval(predDir, refDir, '--json', '-o', out, '-j', '2')).rejects.toThrow(
        /2 unmatched file\(s\)/,
      );
      const printed = errors.mock.calls.map((call) => String(call[0])).join('\n');
      expect(printed).toContain(`no reference for ${join(predDir, 'c.nii.gz')}`);
      expect(printed).toContain(`no prediction for ${join(refDir, 'd.nii.gz')}`);
    } finally {
      errors.mockRestore();
    }

    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.cases.map((c: { name: string }) => c.name)).toEqual(['a', 'b']);
    expect(json.problems.unmatched).toEqual({
      pred: [join(predDir, 'c.nii.gz')],
      ref: [join(refDir, 'd.nii.gz')],
    });
    const dice = json.summary.labels['1'].dice;
    expect(dice.n).toBe(2);
    expect(dice.mean).toBeCloseTo((2 * 27) / (27 + 64) / 2 + 0.5, 12); // a: 54/91, b: 1
    expect(dice.median).toBeCloseTo(dice.mean, 12);
  });
});

/** Run `voxseg merge ...`; stdout is returned. */
async function runMerge(...args: string[]): Promise<string> {
  const program = new Command('voxseg').exitOverride().configureOutput({ writeErr: () => {} });
  registerMergeCommand(program);
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['merge', ...args], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

describe('voxseg eval --part and voxseg merge', async () => {
  const predDir = join(dir, 'parts/pred');
  const refDir = join(dir, 'parts/ref');
  for (const [i, name] of ['e', 'a', 'd', 'b', 'c'].entries()) {
    await write(`parts/pred/${name}.nii.gz`, labelVolume([7, 6, 5], cubes(1, 2 + (i % 3))));
    await write(`parts/ref/${name}.nii.gz`, labelVolume([7, 6, 5], cubes(1, 3)));
  }
  const partFile = (i: number) => join(dir, `parts/part-${i}.json`);
  for (const i of [1, 2, 3]) {
    await runEval(predDir, refDir, '--json', '--part', `${i}/3`, '-o', partFile(i), '--overwrite');
  }

  it('splits the cases into disjoint parts that merge into the single run, byte for byte', async () => {
    const names = [1, 2, 3].map((i) =>
      JSON.parse(readFileSync(partFile(i), 'utf8')).cases.map((c: { name: string }) => c.name),
    );
    expect(names).toEqual([['a', 'd'], ['b', 'e'], ['c']]);
    expect(JSON.parse(readFileSync(partFile(2), 'utf8')).part).toBe('2/3');

    const single = await runEval(predDir, refDir, '--json');
    const merged = await runMerge(partFile(3), partFile(1), partFile(2), '--json');
    expect(merged).toBe(single);
    expect(await runMerge(partFile(1), partFile(2), partFile(3))).toBe(
      await runEval(predDir, refDir),
    );
  });

  it('refuses a missing part, a part given twice and parts of different runs', async () => {
    await expect(runMerge(partFile(1), partFile(3))).rejects.toThrow(/parts missing: 2\/3/);
    await expect(runMerge(partFile(1), partFile(1), partFile(3))).rejects.toThrow(
      /part-1\.json: expected a distinct part of 3 for part, received '1\/3'/,
    );
    const other = join(dir, 'parts/other-2.json');
    await runEval(predDir, refDir, '--json', '--part', '2/3', '--percentile', '90', '-o', other);
    await expect(runMerge(partFile(1), other, partFile(3))).rejects.toThrow(
      /other-2\.json: conventions differ from those of .*part-1\.json/,
    );
    await expect(runMerge(join(dir, 'parts/none.json'))).rejects.toThrow(/none\.json.*ENOENT/);
    await expect(runEval(predDir, refDir, '--part', '4/3')).rejects.toThrow(/1 <= I <= N/);
  });
});

describe('voxseg eval on folders with a bad case', async () => {
  await write('mixed/pred/good.nii.gz', labelVolume([6, 6, 6], cubes(1, 3)));
  await write('mixed/pred/bad.nii.gz', labelVolume([6, 6, 5], cubes(1, 3)));
  await write('mixed/ref/good.nii.gz', labelVolume([6, 6, 6], cubes(1, 3)));
  await write('mixed/ref/bad.nii.gz', labelVolume([6, 6, 6], cubes(1, 3)));

  it('evaluates the other cases, lists the failure in the report and fails', async () => {
    const out = join(dir, 'mixed/report.json');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const [predDir, refDir] = [join(dir, 'mixed/pred'), join(dir, 'mixed/ref')];
      await expect(runEval(predDir, refDir, '--json', '-o', out)).rejects.toThrow(
        /1 case\(s\) failed/,
      );
      expect(errors.mock.calls.map((call) => String(call[0])).join('\n')).toMatch(
        /bad\.nii\.gz has dims/,
      );
    } finally {
      errors.mockRestore();
    }
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.cases.map((c: { name: string }) => c.name)).toEqual(['good']);
    expect(json.problems.failed).toHaveLength(1);
    expect(json.problems.failed[0].name).toBe('bad');
    expect(json.problems.failed[0].error).toMatch(/dims \[6, 6, 5\] but .* dims \[6, 6, 6\]/);
  });
});

describe('voxseg eval rejects bad input', async () => {
  const ref = await write('bad/ref.nii.gz', labelVolume([6, 6, 6], cubes(1, 3)));

  it('names both files and both dims when the grids differ', async () => {
    const pred = await write('bad/dims.nii.gz', labelVolume([6, 6, 7], cubes(1, 3)));
    await expect(runEval(pred, ref)).rejects.toThrow(
      /dims\.nii\.gz has dims \[6, 6, 7\] but .*ref\.nii\.gz has dims \[6, 6, 6\]/,
    );
  });

  it('names both affines, and accepts them with --resample nearest', async () => {
    const pred = await write(
      'bad/shift.nii.gz',
      labelVolume([6, 6, 6], cubes(1, 3), { shift: 0.2 }),
    );
    await expect(runEval(pred, ref)).rejects.toThrow(
      /shift\.nii\.gz \[1 0 0 0\.2; .*ref\.nii\.gz \[1 0 0 0; .*0\.200 mm.*--resample nearest/,
    );
    const json = JSON.parse(await runEval(pred, ref, '--json', '--resample', 'nearest'));
    expect(json.cases[0].labels['1'].dice).toBe(1);
    expect(json.conventions.resample).toBe('nearest');
  });

  it('names the file and the first voxel of a non-integer label volume', async () => {
    const data = new Float32Array(216);
    const volume = labelVolume([6, 6, 6], (x, y, z) => (x === 2 && y === 3 && z === 4 ? 1.25 : 0), {
      data,
    });
    const pred = await write('bad/float.nii.gz', volume);
    await expect(runEval(pred, ref)).rejects.toThrow(
      /float\.nii\.gz: expected a whole-number label value for voxel \(2, 3, 4\).*1\.25/,
    );
  });

  it('warns that a map of 200 consecutive values looks like probabilities, not labels', async () => {
    const warn = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const dims: Triple = [10, 10, 6];
      const prob = await write(
        'bad/prob.nii.gz',
        labelVolume(dims, (x, y, z) => (x + 10 * y + 100 * z) % 201),
      );
      await runEval(prob, prob, '--no-distances');
      const said = warn.mock.calls.map((call) => String(call[0]));
      expect(
        said.filter((line) => /prob\.nii\.gz holds 200 distinct values 1\.\.200/.test(line)),
      ).toHaveLength(2);
      warn.mockClear();
      const sparse = await write(
        'bad/sparse.nii.gz',
        labelVolume(dims, (x, y) => ((x + 10 * y) % 2 ? 3 : 9)),
      );
      await runEval(sparse, sparse, '--no-distances');
      expect(warn.mock.calls.map((call) => String(call[0])).join('\n')).not.toMatch(/distinct/);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses a file against a folder and an unknown option value', async () => {
    await expect(runEval(ref, dir)).rejects.toThrow(/two files or two folders/);
    await expect(runEval(ref, ref, '--percentile-rule', 'poold')).rejects.toThrow(/poold/);
    await expect(runEval(ref, ref, '--labels', '1,x')).rejects.toThrow(/integer label values/);
  });
});

const TOTALSEG = [
  'totalsegmentator/example_seg_fast.nii.gz',
  'totalsegmentator/example_seg.nii.gz',
];
const CLASS_MAP = 'derived/totalsegmentator_class_map.json';
const skipReal = missingData(...TOTALSEG, CLASS_MAP);

describe.skipIf(skipReal)(`voxseg eval on TotalSegmentator outputs ${skipReal}`, () => {
  it('names the labels from the class map and reports all 41', async () => {
    const [pred, ref] = TOTALSEG.map(dataPath);
    const json = JSON.parse(
      await runEval(pred, ref, '--json', '--label-names', `${dataPath(CLASS_MAP)}#total`),
    );
    const labels = json.cases[0].labels;
    expect(Object.keys(labels)).toHaveLength(41);
    expect(labels['5'].name).toBe('liver');
    expect(labels['5'].dice).toBeGreaterThan(0.95);
    expect(json.summary.foreground.dice.n).toBe(41);
    expect(existsSync(pred)).toBe(true);
  });
});
