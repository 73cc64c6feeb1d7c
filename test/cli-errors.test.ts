/**
 * Bad input through the CLI: each case exits non-zero with one sentence naming the file, the
 * field and the value, and leaves no output file behind.
 */
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzip } from '../ts/io/gzip.js';
import { serializeNifti } from '../ts/io/nifti.js';
import type { Volume } from '../ts/io/volume.js';
import { runCli } from './helpers/cli.js';
import { dataPath, missingData } from './helpers/data.js';
import { randomFloats } from './helpers/random.js';

const MODEL_DIR = dataPath('brainchop/models/model5_gw_ae');
const skip = missingData('brainchop/models/model5_gw_ae/model.json');

function smallVolume(frames = 1, data?: Float32Array): Volume {
  return {
    dims: [9, 8, 7],
    frames,
    spacing: [1, 1, 1],
    affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    datatype: 'float32',
    data: data ?? randomFloats(9 * 8 * 7 * frames, 5, 0, 100),
    description: '',
  };
}

describe.skipIf(skip)('CLI errors on bad input', () => {
  let dir: string;
  const path = (name: string) => join(dir, name);
  const segment = (input: string, extra: string[] = []) =>
    runCli([
      'segment',
      input,
      '--model',
      MODEL_DIR,
      '-o',
      path('out.nii.gz'),
      '--backend',
      'reference',
      ...extra,
    ]);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'voxseg-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const expectFailure = (result: ReturnType<typeof runCli>, pattern: RegExp) => {
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
    expect(existsSync(path('out.nii.gz'))).toBe(false);
    expect(
      readdirSync(dir).filter((name) => name.includes('.tmp') || name.includes('.part')),
    ).toEqual([]);
  };

  it('rejects a truncated .nii.gz', () => {
    const bytes = serializeNifti(smallVolume(), { gzip: true });
    writeFileSync(path('truncated.nii.gz'), bytes.subarray(0, bytes.length - 200));
    expectFailure(
      segment(path('truncated.nii.gz')),
      /truncated\.nii\.gz: .*(truncated|corrupt|short|end)/i,
    );
  });

  it('rejects a zero dim and a negative dim, naming the field and value', () => {
    const bytes = serializeNifti(smallVolume(), { gzip: false });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setInt16(44, 0, true); // dim[2]
    writeFileSync(path('zero.nii'), bytes);
    expectFailure(segment(path('zero.nii')), /zero\.nii: .*dim\[2\].*0/);
    view.setInt16(44, -8, true);
    writeFileSync(path('negative.nii'), bytes);
    expectFailure(segment(path('negative.nii')), /negative\.nii: .*dim\[2\].*-8/);
  });

  it('rejects an unknown datatype code, naming it', () => {
    const bytes = serializeNifti(smallVolume(), { gzip: false });
    new DataView(bytes.buffer, bytes.byteOffset).setInt16(70, 1234, true); // datatype
    writeFileSync(path('datatype.nii'), bytes);
    expectFailure(segment(path('datatype.nii')), /datatype\.nii: .*datatype.*1234/);
  });

  it('rejects NaN voxels, naming the voxel', () => {
    const data = randomFloats(9 * 8 * 7, 6, 0, 100);
    data[9 * 8 * 3 + 2] = NaN;
    writeFileSync(path('nan.nii.gz'), serializeNifti(smallVolume(1, data), { gzip: true }));
    expectFailure(segment(path('nan.nii.gz')), /nan\.nii\.gz: .*voxel \(2, 0, 3\).*NaN/);
  });

  it('rejects a volume whose channels do not match the model', () => {
    writeFileSync(path('frames.nii.gz'), serializeNifti(smallVolume(2), { gzip: true }));
    expectFailure(segment(path('frames.nii.gz')), /frames\.nii\.gz: .*expects 1 channel.*2 frame/);
  });

  it('rejects a model whose weight shard is missing or short', () => {
    writeFileSync(path('ok.nii.gz'), serializeNifti(smallVolume(), { gzip: true }));
    const missing = path('model-missing');
    cpSync(MODEL_DIR, missing, { recursive: true });
    rmSync(join(missing, 'group1-shard1of1.bin'));
    const noShard = runCli([
      'segment',
      path('ok.nii.gz'),
      '--model',
      missing,
      '-o',
      path('out.nii.gz'),
    ]);
    expectFailure(noShard, /model-missing\/group1-shard1of1\.bin: model file is missing/);

    const short = path('model-short');
    cpSync(MODEL_DIR, short, { recursive: true });
    const shard = join(short, 'group1-shard1of1.bin');
    writeFileSync(shard, readFileSync(shard).subarray(0, 4000));
    const shortShard = runCli([
      'segment',
      path('ok.nii.gz'),
      '--model',
      short,
      '-o',
      path('out.nii.gz'),
    ]);
    expectFailure(shortShard, /group1-shard1of1\.bin: weight shard is short.*4000 bytes/);
  });

  it('rejects an output path in a missing directory before any work', () => {
    writeFileSync(path('ok.nii.gz'), serializeNifti(smallVolume(), { gzip: true }));
    const result = runCli([
      'segment',
      path('ok.nii.gz'),
      '--model',
      MODEL_DIR,
      '-o',
      path('nowhere/out.nii.gz'),
    ]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /nowhere\/out\.nii\.gz: expected an existing directory for the directory of --output, received '.*nowhere'/,
    );
    expect(existsSync(path('nowhere'))).toBe(false);
  });

  it('rejects a missing input file and a mistyped backend', () => {
    expectFailure(segment(path('absent.nii.gz')), /absent\.nii\.gz/);
    const backend = runCli([
      'segment',
      path('ok.nii.gz'),
      '--model',
      MODEL_DIR,
      '-o',
      path('out.nii.gz'),
      '--backend',
      'wasn',
    ]);
    expect(backend.status).toBe(2); // a usage error
    expect(backend.stderr).toMatch(/received 'wasn'.*did you mean 'wasm'/);
  });

  it('refuses an output that is the input or the other output, even with --overwrite', () => {
    const input = path('keep.nii.gz');
    writeFileSync(input, serializeNifti(smallVolume(), { gzip: true }));
    const before = readFileSync(input);
    const same = runCli([
      'segment',
      input,
      '--model',
      MODEL_DIR,
      '-o',
      join(dir, '.', 'keep.nii.gz'),
      '--overwrite',
    ]);
    expect(same.status).toBe(1);
    expect(same.stderr).toMatch(/keep\.nii\.gz: --output is the same file as the input/);
    expect(readFileSync(input).equals(before)).toBe(true);

    const both = runCli([
      'segment',
      input,
      '--model',
      MODEL_DIR,
      '-o',
      path('x.nii.gz'),
      '--preview',
      path('x.nii.gz'),
    ]);
    expect(both.stderr).toMatch(/--preview is the same file as --output/);
    const jpeg = runCli([
      'segment',
      input,
      '--model',
      MODEL_DIR,
      '-o',
      path('x.nii.gz'),
      '--preview',
      path('x.jpg'),
    ]);
    expect(jpeg.stderr).toMatch(/expected a file name ending in \.png for --preview/);
    expect(existsSync(path('x.nii.gz'))).toBe(false);
  });

  it('rejects a corrupt gzip stream', () => {
    const bytes = gzip(new Uint8Array(400).fill(7));
    bytes[20] ^= 0xff;
    bytes[30] ^= 0xff;
    writeFileSync(path('corrupt.nii.gz'), bytes);
    expectFailure(segment(path('corrupt.nii.gz')), /corrupt\.nii\.gz: /);
  });
});
