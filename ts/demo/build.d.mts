/** Types of build.mjs: building the demo page with esbuild. */

/**
 * Bundle the demo page (app.js) and copy index.html and style.css.
 *
 * @param outdir - output directory, created when missing; default dist/demo.
 * @returns the directory and app.js's size in bytes.
 */
export function buildDemo(outdir?: string): Promise<{ outdir: string; bytes: number }>;
