/** Volume files on disk: reading by content, atomic writing, refusing to overwrite. */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { readVolume, volumeFormat, writeFileAtomic, writeVolume } from '../ts/io/files.js';
import type { Volume } from '../ts/io/volume.js';
import { buildMgh, buildNifti } from './fixtures/io/build.js';
import { dataPath, missingData } from './helpers/data.js';

const root = mkdtempSync(join(tmpdir(), 'voxseg-io-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh empty directory under the test's temp root. */
function freshDir(): string {
  const dir = join(root, `case-${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

const labels: Volume = {
  dims: [4, 3, 2],
  frames: 1,
  spacing: [1, 1, 2],
  affine: [-1, 0, 0, 10, 0, 0, 2, -5, 0, -1, 0, 7, 0, 0, 0, 1],
  datatype: 'uint8',
  data: Uint8Array.from({ length: 24 }, (_, i) => i % 5),
  description: 'labels',
};

describe('reading volume files', () => {
  const dir = freshDir();
  const nii = buildNifti({ dim: [3, 2, 2, 1], datatype: 4, data: [1, -2, 3, -4] });
  const mgh = buildMgh({ dims: [2, 2, 1], type: 4, data: [5, -6, 7, -8] });

  it('chooses the parser by content, whatever the extension says', async () => {
    const files: [string, Uint8Array, number[]][] = [
      ['a.nii', nii, [1, -2, 3, -4]],
      ['a.nii.gz', gzipSync(nii), [1, -2, 3, -4]],
      ['b.mgh', mgh, [5, -6, 7, -8]],
      ['b.mgz', gzipSync(mgh), [5, -6, 7, -8]],
      ['misnamed.mgz', gzipSync(nii), [1, -2, 3, -4]],
    ];
    for (const [name, bytes, values] of files) {
      writeFileSync(join(dir, name), bytes);
      expect(Array.from((await readVolume(join(dir, name))).data), name).toEqual(values);
    }
  });

  it('names a missing file and unknown content', async () => {
    await expect(readVolume(join(dir, 'none.nii'))).rejects.toThrow(
      /expected an existing file for input path, received '.*none\.nii'/,
    );
    writeFileSync(join(dir, 'text.nii'), 'hello world');
    await expect(readVolume(join(dir, 'text.nii'))).rejects.toThrow(
      "text.nii: expected a NIfTI-1, NIfTI-2 or MGH header for first bytes, received '68 65 6c 6c'",
    );
    for (const name of ['empty.nii', 'empty.nii.gz', 'empty.mgz']) {
      writeFileSync(join(dir, name), '');
      await expect(readVolume(join(dir, name))).rejects.toThrow(
        `${name}: the file is empty (0 bytes)`,
      );
    }
  });

  it.skipIf(missingData('brainchop/t1_crop.nii.gz'))('reads a real .nii.gz', async () => {
    const volume = await readVolume(dataPath('brainchop/t1_crop.nii.gz'));
    expect(volume.dims).toEqual([256, 256, 256]);
    expect(volume.datatype).toBe('uint8');
  });
});

describe('writing volume files atomically', () => {
  it('writes .nii and .nii.gz that read back the same', async () => {
    const dir = freshDir();
    for (const name of ['out.nii', 'out.nii.gz']) {
      await writeVolume(join(dir, name), labels);
      const back = await readVolume(join(dir, name));
      expect(back).toEqual({ ...labels, data: back.data });
      expect(Array.from(back.data)).toEqual(Array.from(labels.data));
    }
    expect(readdirSync(dir).sort()).toEqual(['out.nii', 'out.nii.gz']);
  });

  it('refuses to overwrite unless asked, leaving the old file intact', async () => {
    const dir = freshDir();
    const path = join(dir, 'out.nii.gz');
    writeFileSync(path, 'precious');
    await expect(writeVolume(path, labels)).rejects.toThrow(
      `expected a path with no file yet for output, received '${path}' ` +
        '(the file exists; pass overwrite',
    );
    expect(readFileSync(path, 'utf8')).toBe('precious');
    expect(readdirSync(dir)).toEqual(['out.nii.gz']);

    await writeVolume(path, labels, { overwrite: true });
    expect(Array.from((await readVolume(path)).data)).toEqual(Array.from(labels.data));
    expect(readdirSync(dir)).toEqual(['out.nii.gz']);
  });

  it('names a missing output directory and leaves no file behind', async () => {
    const dir = freshDir();
    const missing = join(dir, 'no-such-dir');
    await expect(writeVolume(join(missing, 'out.nii.gz'), labels)).rejects.toThrow(
      /expected an existing directory for output directory, received '.*no-such-dir' \(create it/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes its temp file when the final rename fails', async () => {
    const dir = freshDir();
    const blocker = join(dir, 'out.nii');
    mkdirSync(join(blocker, 'inside'), { recursive: true }); // a non-empty directory at the path
    await expect(writeVolume(blocker, labels, { overwrite: true })).rejects.toThrow(/out\.nii/);
    expect(readdirSync(dir)).toEqual(['out.nii']);
    expect(readdirSync(blocker)).toEqual(['inside']);
  });

  it('writes any bytes with the same rules (JSON, PNG)', async () => {
    const dir = freshDir();
    const path = join(dir, 'summary.json');
    await writeFileAtomic(path, new TextEncoder().encode('{"dice":0.9}'));
    await expect(writeFileAtomic(path, new Uint8Array([1]))).rejects.toThrow(/file exists/);
    await writeFileAtomic(path, new TextEncoder().encode('{}'), { overwrite: true });
    expect(readFileSync(path, 'utf8')).toBe('{}');
    expect(readdirSync(dir)).toEqual(['summary.json']);
  });

  it('writes only NIfTI, naming the extension it got', async () => {
    const dir = freshDir();
    await expect(writeVolume(join(dir, 'out.mgz'), labels)).rejects.toThrow(/MGH is read-only/);
    await expect(writeVolume(join(dir, 'out.nrrd'), labels)).rejects.toThrow(
      /expected a '\.nii' or '\.nii\.gz' extension for output path, received '.*out\.nrrd'/,
    );
    expect(readdirSync(dir)).toEqual([]);
    expect(volumeFormat('A.NII.GZ')).toBe('nii.gz');
  });
});
