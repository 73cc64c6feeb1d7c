/**
 * WebGPU in Node: Dawn through the optional `webgpu` package, and auto's decision cache as a
 * JSON file in the user's cache directory. Only the Node entry imports this module.
 *
 * Dawn is tried on its default backend first (Vulkan, Metal, D3D12); when that has no adapter,
 * on OpenGL at feature level `compatibility` with `EGL_PLATFORM=surfaceless` (Mesa's llvmpipe
 * on machines without a GPU).
 *
 * The decisions live in the user cache directory (see ts/io/cache.ts, `VOXSEG_CACHE`).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheDirectory } from '../../io/cache.js';
import type { AutoDecision, DecisionStore } from './calibration.js';
import { setDecisionStore } from './factory.js';
import { type GpuProvider, registerGpuProvider } from './providers.js';

/** Dawn via the `webgpu` package. */
export const dawnGpuProvider: GpuProvider = {
  name: 'dawn',
  async requestAdapter() {
    let dawn: typeof import('webgpu');
    try {
      dawn = await import('webgpu');
    } catch (error) {
      return `the optional 'webgpu' package did not load (${(error as Error).message})`;
    }
    const native = dawn.create([]);
    const adapter = await native.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return { adapter, via: 'dawn (default backend)', owner: native };

    process.env.EGL_PLATFORM ??= 'surfaceless';
    const gl = dawn.create(['backend=opengl']);
    const options = { featureLevel: 'compatibility' } as GPURequestAdapterOptions;
    const glAdapter = await gl.requestAdapter(options);
    if (glAdapter) return { adapter: glAdapter, via: 'dawn (opengl, compatibility)', owner: gl };
    return 'Dawn found no adapter on its default backend nor on OpenGL';
  },
};

/**
 * Decisions in `<directory>/webgpu-auto.json`, written atomically (temp file, rename).
 *
 * @param directory - default: cacheDirectory(), resolved at each access.
 */
export function fileDecisionStore(directory?: string): DecisionStore {
  const file = () => join(directory ?? cacheDirectory(), 'webgpu-auto.json');
  const read = async (): Promise<Record<string, AutoDecision>> => {
    try {
      return JSON.parse(await readFile(file(), 'utf8'));
    } catch {
      return {};
    }
  };
  return {
    get location() {
      return file();
    },
    load: async (key) => (await read())[key],
    save: async (key, decision) => {
      const all = { ...(await read()), [key]: decision };
      await mkdir(dirname(file()), { recursive: true });
      const temp = `${file()}.${process.pid}.tmp`;
      await writeFile(temp, `${JSON.stringify(all, null, 2)}\n`);
      await rename(temp, file());
    },
  };
}

/** Register Dawn as a WebGPU provider and keep auto's decisions in the cache directory. */
export function registerWebGpuNode(): void {
  registerGpuProvider(dawnGpuProvider);
  setDecisionStore(fileDecisionStore());
}
