/**
 * Connected components of a label map's foreground (all labels > 0 together), 26-connected.
 */

/** What {@link keepLargestComponent} found. */
export interface ComponentSummary {
  /** Number of 26-connected foreground components. */
  components: number;
  /** Voxels of the largest component, which is kept. */
  kept: number;
  /** Foreground voxels of every other component, now zero. */
  dropped: number;
}

/**
 * Keep the largest 26-connected component of voxels with a label > 0 and set every other
 * foreground voxel to 0, in place.
 *
 * @param labels - label map (x fastest), dims (x, y, z).
 * @returns the number of components found, the voxels kept and the voxels dropped.
 */
export function keepLargestComponent(
  labels: Int32Array | Uint8Array | Uint16Array,
  dims: readonly [number, number, number],
): ComponentSummary {
  const component = new Int32Array(labels.length);
  const sizes = [0];
  const queue = new Int32Array(labels.length);
  for (let seed = 0; seed < labels.length; seed++) {
    if (labels[seed] === 0 || component[seed] !== 0) continue;
    sizes.push(floodFill(labels, dims, seed, sizes.length, component, queue));
  }

  let best = 0;
  for (let id = 1; id < sizes.length; id++) if (sizes[id] > sizes[best]) best = id;
  for (let i = 0; i < labels.length; i++) {
    if (component[i] !== best) labels[i] = 0;
  }
  const foreground = sizes.reduce((sum, size) => sum + size, 0);
  return { components: sizes.length - 1, kept: sizes[best], dropped: foreground - sizes[best] };
}

/** Breadth-first fill of one component with `id`; returns its voxel count. */
function floodFill(
  labels: ArrayLike<number>,
  dims: readonly [number, number, number],
  seed: number,
  id: number,
  component: Int32Array,
  queue: Int32Array,
): number {
  const [nx, ny, nz] = dims;
  let head = 0;
  let tail = 0;
  queue[tail++] = seed;
  component[seed] = id;
  while (head < tail) {
    const index = queue[head++];
    const x = index % nx;
    const y = Math.floor(index / nx) % ny;
    const z = Math.floor(index / (nx * ny));
    for (let dz = -1; dz <= 1; dz++) {
      const zz = z + dz;
      if (zz < 0 || zz >= nz) continue;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= ny) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= nx) continue;
          const neighbour = xx + nx * (yy + ny * zz);
          if (labels[neighbour] === 0 || component[neighbour] !== 0) continue;
          component[neighbour] = id;
          queue[tail++] = neighbour;
        }
      }
    }
  }
  return tail;
}
