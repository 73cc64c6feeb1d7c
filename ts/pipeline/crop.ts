/**
 * The foreground box: voxels above a threshold, plus a margin. Cropping only limits work; the
 * labels are pasted back into the full grid afterwards.
 */

/** An axis-aligned box in voxels, inclusive start and exclusive end, ordered (x, y, z). */
export interface Box {
  start: [number, number, number];
  end: [number, number, number];
}

/**
 * The bounding box of voxels whose value exceeds `threshold`, grown by `padding` voxels on each
 * side and clipped to the volume. An empty foreground gives the whole volume.
 *
 * @param data - voxels (z, y, x) with x fastest; dims (x, y, z).
 */
export function foregroundBox(
  data: ArrayLike<number>,
  dims: readonly [number, number, number],
  threshold: number,
  padding: number,
): Box {
  const [nx, ny, nz] = dims;
  const start: [number, number, number] = [nx, ny, nz];
  const end: [number, number, number] = [0, 0, 0];
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!(data[i] > threshold)) continue;
        const at = [x, y, z];
        for (let axis = 0; axis < 3; axis++) {
          start[axis] = Math.min(start[axis], at[axis]);
          end[axis] = Math.max(end[axis], at[axis] + 1);
        }
      }
    }
  }
  if (end[0] === 0) return { start: [0, 0, 0], end: [nx, ny, nz] };
  const grow = (axis: number) => {
    start[axis] = Math.max(0, start[axis] - padding);
    end[axis] = Math.min(dims[axis], end[axis] + padding);
  };
  [0, 1, 2].forEach(grow);
  return { start, end };
}

/** Size of a box along (x, y, z). */
export function boxSize(box: Box): [number, number, number] {
  return [0, 1, 2].map((axis) => box.end[axis] - box.start[axis]) as [number, number, number];
}

/** Copy the box out of a volume (x fastest) into a new array of the same kind. */
export function cropVolume<T extends Float32Array | Int32Array | Uint8Array>(
  data: T,
  dims: readonly [number, number, number],
  box: Box,
): T {
  const [sx, sy, sz] = boxSize(box);
  const out = new (data.constructor as new (n: number) => T)(sx * sy * sz);
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      const from = box.start[0] + dims[0] * (box.start[1] + y + dims[1] * (box.start[2] + z));
      out.set(data.subarray(from, from + sx), sx * (y + sy * z));
    }
  }
  return out;
}

/** Paste a cropped array back into a volume-sized array (other voxels untouched). */
export function pasteVolume<T extends Float32Array | Int32Array | Uint8Array | Uint16Array>(
  target: T,
  dims: readonly [number, number, number],
  crop: ArrayLike<number>,
  box: Box,
): T {
  const [sx, sy, sz] = boxSize(box);
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      const to = box.start[0] + dims[0] * (box.start[1] + y + dims[1] * (box.start[2] + z));
      for (let x = 0; x < sx; x++) target[to + x] = crop[sx * (y + sy * z) + x];
    }
  }
  return target;
}
