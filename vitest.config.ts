import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    env: { VOXSEG_POISON: '1' },
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['kernels/wgsl/generate.mjs'],
    reporters: ['default'],
  },
});
