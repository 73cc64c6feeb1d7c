/**
 * The exact Euclidean distance transform in float64 on the host, for callers that want a
 * distance map without a backend. The metrics compute their maps with the backends'
 * `distanceTransform` op (surface.ts); this float64 version is that op's oracle and lives with
 * the reference backend.
 */
export { squaredDistanceTransform } from '../backends/reference/edt.js';
