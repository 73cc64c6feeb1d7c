/// <reference types="@webgpu/types" />
/**
 * Where WebGPU adapters come from. The core entry registers `navigator.gpu` (browsers, Deno);
 * the Node entry adds Dawn through the `webgpu` package. Providers are tried in registration
 * order; each returns an adapter or the reason it has none.
 */

/** An adapter and how it was obtained. */
export interface AdapterChoice {
  adapter: GPUAdapter;
  /** How the adapter was found, e.g. `navigator.gpu` or `dawn (opengl, compatibility)`. */
  via: string;
  /** An object that must stay alive as long as the device (Dawn's GPU instance). */
  owner?: unknown;
}

/** A source of WebGPU adapters. */
export interface GpuProvider {
  name: string;
  /** A fresh adapter (requestDevice consumes one), or the reason there is none. */
  requestAdapter(): Promise<AdapterChoice | string>;
}

const providers: GpuProvider[] = [];

/** Add a provider, or replace the one with the same name. */
export function registerGpuProvider(provider: GpuProvider): void {
  const at = providers.findIndex((p) => p.name === provider.name);
  if (at >= 0) providers[at] = provider;
  else providers.push(provider);
}

/** The registered providers in the order they are tried. */
export function gpuProviders(): readonly GpuProvider[] {
  return providers;
}

/** The browser's WebGPU: a high-performance adapter, else a compatibility one. */
export const navigatorGpuProvider: GpuProvider = {
  name: 'navigator.gpu',
  async requestAdapter() {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) return 'navigator.gpu is absent (no WebGPU in this runtime)';
    const adapter =
      (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ??
      (await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions));
    return adapter ? { adapter, via: 'navigator.gpu' } : 'navigator.gpu returned no adapter';
  },
};
