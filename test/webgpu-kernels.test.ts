/**
 * The WGSL kernels against their TypeScript side, without a GPU: each descriptor matches its
 * .wgsl text (Params members, bindings, overrides, entry point, bounds guard), the Params
 * packer follows WGSL's layout rules, the generated sources are current, and conv3d's pass
 * plan binds every element it touches inside windows under the limit.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { kernelSources } from '../kernels/wgsl/generate.mjs';
import { KERNELS, type KernelName } from '../ts/backends/webgpu/kernels.js';
import {
  chooseTile,
  type ConvGeometry,
  convGeometry,
  planConvPasses,
  SLAB_CAPACITY,
  TAP_CAPACITY,
} from '../ts/backends/webgpu/ops/conv3d-plan.js';
import { packParams, paramsLayout } from '../ts/backends/webgpu/params.js';
import { conv3dParams } from '../ts/engine/backend.js';
import { ACTIVATION_CODES } from '../ts/engine/activations.js';

const WGSL_DIR = new URL('../kernels/wgsl/', import.meta.url);
const wgsl = (file: string) => readFileSync(new URL(file, WGSL_DIR), 'utf8');
const kernelFiles = readdirSync(WGSL_DIR).filter((f) => f.endsWith('.wgsl'));

/** Params members of a kernel's source, in order, as name and type. */
function structFields(source: string) {
  const body = /struct Params \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
  return body
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('//'))
    .map((line) => {
      const [, name, type] = /^(\w+): ([\w<>]+),$/.exec(line) ?? [];
      return { name, type };
    });
}

function storageBindings(source: string) {
  const pattern =
    /@group\(0\) @binding\((\d+)\) var<(storage, read|storage, read_write|uniform)> (\w+)/g;
  return [...source.matchAll(pattern)].map(([, index, space, name]) => ({
    index: Number(index),
    space,
    name,
  }));
}

function overrideDefaults(source: string): Record<string, number> {
  const pattern = /^override (\w+): u32 = (\d+)u;/gm;
  return Object.fromEntries([...source.matchAll(pattern)].map(([, name, value]) => [name, +value]));
}

describe('kernel descriptors match their WGSL', () => {
  it('has one descriptor per kernel file and one compute entry point per file', () => {
    expect(kernelFiles.map((f) => f.slice(0, -5)).sort()).toEqual(Object.keys(KERNELS).sort());
    for (const file of kernelFiles) {
      const entries = [...wgsl(file).matchAll(/@compute[\s\S]*?\nfn (\w+)\(/g)];
      expect(
        entries.map((m) => m[1]),
        file,
      ).toEqual([file.slice(0, -5)]);
    }
  });

  it.each(Object.keys(KERNELS) as KernelName[])('%s: Params, bindings and overrides', (name) => {
    const source = wgsl(`${name}.wgsl`);
    const descriptor = KERNELS[name];
    expect(structFields(source)).toEqual(
      descriptor.params.map(({ name, type }) => ({ name, type })),
    );

    const bindings = storageBindings(source);
    const storage = descriptor.bindings.map((b, index) => ({
      index,
      space: b.access === 'read' ? 'storage, read' : 'storage, read_write',
      name: b.name,
    }));
    expect(bindings).toEqual([
      ...storage,
      { index: storage.length, space: 'uniform', name: 'params' },
    ]);
    expect(overrideDefaults(source)).toEqual(descriptor.overrides);
  });

  it.each(kernelFiles)('%s opens with the standard bounds guard', (file) => {
    const body = new RegExp(`fn ${file.slice(0, -5)}\\([\\s\\S]*?\\) \\{\\n([\\s\\S]*)`).exec(
      wgsl(file),
    )?.[1];
    const guard = [
      '  let tile = wid.x + wid.y * grid.x;',
      '  if (tile >= params.tile_count) {',
      '    return;',
      '  }',
      '',
    ].join('\n');
    expect(body?.startsWith(guard), file).toBe(true);
  });

  it('lists every member comment-first in Params', () => {
    for (const file of kernelFiles) {
      const body = /struct Params \{\n([\s\S]*?)\n\}/.exec(wgsl(file))![1].split('\n');
      body.forEach((line, i) => {
        if (!line.trim().startsWith('//'))
          expect(body[i - 1]?.trim(), `${file}: ${line}`).toMatch(/^\/\//);
      });
    }
  });

  it('keeps the conv3d plan in step with the kernel capacities', () => {
    expect(KERNELS.conv3d_direct.overrides.SLAB_CAPACITY).toBe(SLAB_CAPACITY);
    expect(KERNELS.conv3d_direct.overrides.TAP_CAPACITY).toBe(TAP_CAPACITY);
  });

  it('generated sources are current (else run node kernels/wgsl/generate.mjs)', async () => {
    const { WGSL_SOURCES } = await import('../ts/backends/webgpu/generated/wgsl-sources.js');
    expect(WGSL_SOURCES).toEqual(kernelSources());
  });
});

describe('shared WGSL helpers', () => {
  it('numbers activations as ACTIVATION_CODES and uses the same erf constants', () => {
    const lib = wgsl('lib/activate.wgsl');
    const cases = [...lib.matchAll(/case (\d+)u: \{\n\s+return ([^;]+);/g)];
    const codes = Object.fromEntries(cases.map(([, code, expr]) => [expr, Number(code)]));
    expect(codes['select(0.0, x, x > 0.0)']).toBe(ACTIVATION_CODES.relu);
    expect(codes['select(alpha * x, x, x > 0.0)']).toBe(ACTIVATION_CODES.leakyRelu);
    expect(codes['select(alpha * (exp(x) - 1.0), x, x > 0.0)']).toBe(ACTIVATION_CODES.elu);
    expect(codes['0.5 * x * (1.0 + erf_as(x * 0.70710678118654752))']).toBe(ACTIVATION_CODES.gelu);
    expect(codes['1.0 / (1.0 + exp(-x))']).toBe(ACTIVATION_CODES.sigmoid);

    const constants = (text: string) =>
      text.match(/-?\d\.\d{6,}/g)!.filter((c) => !c.startsWith('0.7071'));
    const tsErf = /export function erf[\s\S]*?\n\}/.exec(
      readFileSync(new URL('../ts/engine/activations.ts', import.meta.url), 'utf8'),
    )![0];
    expect(constants(/fn erf_as[\s\S]*?\n\}/.exec(lib)![0])).toEqual(constants(tsErf));
  });
});

describe('Params packing under WGSL layout rules', () => {
  it('aligns vectors and rounds the struct to its alignment', () => {
    const layout = paramsLayout([
      { name: 'a', type: 'u32' },
      { name: 'b', type: 'vec3<f32>' },
      { name: 'c', type: 'f32' },
      { name: 'd', type: 'vec2<i32>' },
    ]);
    const offsets = Object.fromEntries([...layout.offsets].map(([k, v]) => [k, v.offset]));
    expect(offsets).toEqual({ a: 0, b: 16, c: 28, d: 32 });
    expect(layout.size).toBe(48);
    const scalars = paramsLayout([
      { name: 'a', type: 'f32' },
      { name: 'b', type: 'u32' },
      { name: 'c', type: 'i32' },
    ]);
    expect(scalars.size).toBe(12);
  });

  it('writes each member little-endian at its offset and rejects bad values', () => {
    const layout = paramsLayout([
      { name: 'n', type: 'u32' },
      { name: 'v', type: 'vec4<f32>' },
      { name: 's', type: 'i32' },
    ]);
    const view = new DataView(new ArrayBuffer(layout.size));
    packParams('t', layout, { n: 7, v: [1, 2, 3, 4], s: -5 }, view);
    expect(view.getUint32(0, true)).toBe(7);
    expect([4, 8, 12, 16].map((_, i) => view.getFloat32(16 + 4 * i, true))).toEqual([1, 2, 3, 4]);
    expect(view.getInt32(32, true)).toBe(-5);
    expect(() => packParams('t', layout, { n: 7, v: [1, 2, 3, 4] }, view)).toThrow(/t Params\.s/);
    expect(() => packParams('t', layout, { n: -1, v: [1, 2, 3, 4], s: 0 }, view)).toThrow(
      /Params\.n/,
    );
    expect(() => packParams('t', layout, { n: 1, v: [1, 2, 3, 4], s: 0, z: 1 }, view)).toThrow(
      /Params\.z/,
    );
  });

  it('packs every descriptor within one 256-byte uniform slot', () => {
    for (const descriptor of Object.values(KERNELS))
      expect(descriptor.layout.size).toBeLessThanOrEqual(256);
  });
});

/** Check that each pass's windows hold every element it reads and writes, and fit `limit`. */
function checkPlan(g: ConvGeometry, limit: number) {
  const passes = planConvPasses(g, limit);
  const [d, h, w] = g.input;
  const [od, oh, ow] = g.output;
  const cinPG = g.cin / g.groups;
  const coutPG = g.cout / g.groups;
  const sums = new Int32Array(g.n * g.cout * od * oh * ow);
  for (const p of passes) {
    expect(p.x[1] - p.x[0]).toBeLessThanOrEqual(limit);
    expect(p.out[1] - p.out[0]).toBeLessThanOrEqual(limit);
    for (let n = p.nBegin; n < p.nBegin + p.nCount; n++)
      for (let grp = p.gBegin; grp < p.gBegin + p.gCount; grp++)
        for (let ocg = p.ocgBegin; ocg < p.ocgBegin + p.ocgCount; ocg++)
          for (let oz = p.ozBegin; oz < p.ozBegin + p.ozCount; oz++) {
            const oc = grp * coutPG + ocg;
            const row = ((n * g.cout + oc) * od + oz) * oh * ow;
            expect(row).toBeGreaterThanOrEqual(p.out[0]);
            expect(row + oh * ow).toBeLessThanOrEqual(p.out[1]);
            for (let icg = p.icgBegin; icg < p.icgBegin + p.icgCount; icg++) {
              for (let kz = 0; kz < g.kernel[0]; kz++) {
                const iz = oz * g.stride[0] - g.padding[0] + kz * g.dilation[0];
                if (iz < 0 || iz >= d) continue;
                const plane = ((n * g.cin + grp * cinPG + icg) * d + iz) * h * w;
                expect(plane).toBeGreaterThanOrEqual(p.x[0]);
                expect(plane + h * w).toBeLessThanOrEqual(p.x[1]);
              }
              for (let i = 0; i < oh * ow; i++) sums[row + i]++;
            }
          }
  }
  expect(new Set(sums)).toEqual(new Set([cinPG]));
  return passes;
}

describe('conv3d pass planning', () => {
  const geometry = (x: number[], wt: number[], partial: Parameters<typeof conv3dParams>[0]) =>
    convGeometry(x, wt, conv3dParams(partial));

  it('uses one pass when everything fits', () => {
    const g = geometry([1, 3, 8, 8, 8], [4, 3, 3, 3, 3], { padding: [1, 1, 1] });
    expect(checkPlan(g, 1 << 20)).toHaveLength(1);
  });

  it('splits channels when a tensor is over the limit but a channel plane fits', () => {
    const g = geometry([2, 4, 6, 10, 10], [6, 2, 3, 3, 3], { padding: [1, 1, 1], groups: 2 });
    const passes = checkPlan(g, 960);
    expect(passes.length).toBeGreaterThan(4);
    expect(passes.some((p) => !p.firstPass)).toBe(true);
  });

  it('splits depth with halos when one channel plane is over the limit', () => {
    const g = geometry([1, 2, 14, 10, 10], [3, 2, 3, 3, 3], {
      padding: [2, 1, 1],
      dilation: [2, 1, 1],
      stride: [2, 1, 1],
    });
    const passes = checkPlan(g, 960);
    expect(passes.some((p) => p.ozCount < g.output[0])).toBe(true);
  });

  it('picks the runs layout when the dilation outgrows the tile, within workgroup memory', () => {
    const g = geometry([1, 1, 40, 40, 40], [1, 1, 3, 3, 3], {
      padding: [16, 16, 16],
      dilation: [16, 16, 16],
    });
    const tile = chooseTile(g, 256);
    expect(tile.dense).toEqual([false, false, false]);
    expect(tile.ext).toEqual([3 * tile.tile[0], 3 * tile.tile[1], 3 * tile.tile[2] * tile.voxelsW]);
    expect(tile.ext[0] * tile.ext[1] * tile.ext[2]).toBeLessThanOrEqual(SLAB_CAPACITY);
    const narrow = chooseTile(geometry([1, 1, 8, 8, 8], [1, 1, 3, 3, 3], {}), 256);
    expect(narrow).toMatchObject({
      tile: [4, 8, 8],
      voxelsW: 1,
      dense: [true, true, true],
      ext: [6, 10, 10],
    });
    const wide = chooseTile(
      geometry([1, 1, 8, 8, 32], [1, 1, 3, 3, 3], { padding: [1, 1, 1] }),
      256,
    );
    expect(wide).toMatchObject({ tile: [4, 8, 8], voxelsW: 4, ext: [6, 10, 34] });
  });

  it('keeps the workgroup memory within the WebGPU default of 16 KiB', () => {
    expect(4 * (SLAB_CAPACITY + TAP_CAPACITY)).toBeLessThanOrEqual(16384);
  });
});
