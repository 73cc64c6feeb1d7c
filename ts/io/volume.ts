/**
 * A Volume: voxel data plus geometry. Memory order is NIfTI's, x fastest:
 * index = x + dims[0] * (y + dims[1] * z) (+ dims[0] dims[1] dims[2] * t for 4D).
 */

/** Source datatypes voxseg reads and writes (NIfTI names). */
export type VoxelType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'float32' | 'float64';

export type VoxelArray =
  Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Float32Array | Float64Array;

export interface Volume {
  /** Voxel counts (x, y, z); a 4D file keeps its frames in `frames`. */
  dims: [number, number, number];
  /** Number of 3D frames (1 for a 3D volume); data holds them one after another. */
  frames: number;
  /** Voxel size in mm along (x, y, z), always positive. */
  spacing: [number, number, number];
  /**
   * Voxel-to-world (RAS+, mm) affine, row-major 4x4: world = affine * [i, j, k, 1].
   * From the sform when its code is > 0, else the qform, else the spacing alone.
   */
  affine: number[];
  /** Datatype of the data as stored in the source file. */
  datatype: VoxelType;
  /**
   * Voxel values with scl_slope / scl_inter already applied: the source's typed array when
   * the scaling is the identity, else a Float32Array (Float64Array for float64 sources).
   */
  data: VoxelArray;
  /** Free-text description from the header (`descrip`), may be empty. */
  description: string;
}

/** Number of voxels in one frame. */
export function voxelCount(volume: Pick<Volume, 'dims'>): number {
  return volume.dims[0] * volume.dims[1] * volume.dims[2];
}
