/**
 * Volume I/O that runs anywhere (no Node built-ins): NIfTI-1/2 and MGH parsing, NIfTI writing,
 * gzip, voxel types and grid geometry. File access (`readVolume`, `writeVolume`,
 * `writeFileAtomic`) lives in `./files.js`, exported from voxseg's Node entry.
 */
export * from './affine.js';
export { crc32, gunzip, gzip, isGzip } from './gzip.js';
export { MGH_HEADER_BYTES, parseMgh } from './mgh.js';
export { parseNifti, serializeNifti, type NiftiWriteOptions } from './nifti.js';
export * from './volume.js';
export {
  MAX_DATA_BYTES,
  VOXEL_TYPES,
  countNonFinite,
  voxelTypeByName,
  voxelTypeOfArray,
  voxelTypeOfNiftiCode,
  type VoxelTypeInfo,
} from './voxels.js';
