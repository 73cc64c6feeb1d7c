/**
 * WebGPU in Node: Dawn through the optional `webgpu` package, and auto's decision cache as a
 * JSON file in the user's cache directory. Only the Node entry imports this module.
 *
 * Dawn is tried on its default backend first (Vulkan, Metal, D3D12); when that has no adapter,
 * on OpenGL at feature level `compatibility` with `EGL_PLATFORM=surfaceless` (Mesa's llvmpipe
 * on machines without a GPU). One instance of each per process (see `dawn()`).
 *
 * The decisions live in the user cache directory (see ts/io/cache.ts, `VOXSEG_CACHE`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheDirectory } from '../../io/cache.js';
import type { AutoDecision, DecisionStore } from './calibration.js';
import { setDecisionStore } from './factory.js';
import { type GpuProvider, registerGpuProvider } from './providers.js';

/**
 * Dawn's instances, made once per process and never dropped. Instances on OpenGL share Mesa's
 * one EGL display per process: when a dropped instance is collected, Dawn tears the display
 * down under the instances still alive, which crashes the process at some later call. Adapters
 * and devices are requested from these as often as needed.
 */
let dawnInstances: Promise<DawnInstances | string> | undefined;

interface DawnInstances {
  /** Dawn's default backend, or null on Linux without the Vulkan loader (its only backend). */
  native: GPU | null;
  /** Dawn on OpenGL, made on first use. */
  gl: () => GPU;
}

function dawn(): Promise<DawnInstances | string> {
  dawnInstances ??= import('webgpu').then(
    (module) => {
      let gl: GPU | undefined;
      return {
        native: vulkanLoaderMissing() ? null : module.create([]),
        gl: () => {
          process.env.EGL_PLATFORM ??= 'surfaceless';
          gl ??= module.create(['backend=opengl']);
          return gl;
        },
      };
    },
    (error: Error) => `the optional 'webgpu' package did not load (${error.message})`,
  );
  return dawnInstances;
}

/**
 * True on Linux when no libvulkan.so.1 is on the library path or in the loader's cache: Dawn's
 * default backend there is Vulkan, and asking it for an adapter would only print a warning.
 */
function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((dir) => existsSync(join(dir, 'libvulkan.so.1')))) return false;
  try {
    return !readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

/** Dawn via the `webgpu` package. */
export const dawnGpuProvider: GpuProvider = {
  name: 'dawn',
  async requestAdapter() {
    const instances = await dawn();
    if (typeof instances === 'string') return instances;
    const { native, gl } = instances;
    const adapter = await native?.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return { adapter, via: 'dawn (default backend)', owner: native };

    const options = { featureLevel: 'compatibility' } as GPURequestAdapterOptions;
    const glAdapter = await gl().requestAdapter(options);
    if (glAdapter) return { adapter: glAdapter, via: 'dawn (opengl, compatibility)', owner: gl() };
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
