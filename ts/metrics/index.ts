/**
 * Segmentation metrics: confusion counts to overlap metrics, surface distances from exact EDTs on
 * anisotropic grids, cohort summaries and reports. Browser-safe: no Node built-ins.
 */
export * from './confusion.js';
export * from './conventions.js';
export * from './distance.js';
export * from './edt.js';
export * from './evaluate.js';
export * from './geometry.js';
export * from './labelnames.js';
export * from './labels.js';
export * from './overlap.js';
export * from './report.js';
export * from './stats.js';
export * from './summary.js';
export * from './surface.js';
