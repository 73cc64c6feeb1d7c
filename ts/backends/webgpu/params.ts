/**
 * Packing of a kernel's `Params` uniform struct under WGSL's layout rules (host-shareable,
 * uniform address space): each member sits at the next multiple of its alignment, and the
 * struct's size is rounded up to its largest alignment.
 *
 * | type        | align | size |
 * |-------------|-------|------|
 * | u32 i32 f32 | 4     | 4    |
 * | vec2<T>     | 8     | 8    |
 * | vec3<T>     | 16    | 12   |
 * | vec4<T>     | 16    | 16   |
 */
import { VoxsegError } from '../../engine/errors.js';

/** Scalar types a Params field may use. */
export type WgslScalar = 'u32' | 'i32' | 'f32';
/** Types a Params field may use: a scalar or a vector of one. */
export type WgslType = WgslScalar | `vec${2 | 3 | 4}<${WgslScalar}>`;

/** One member of a Params struct, in declaration order. */
export interface ParamField {
  name: string;
  type: WgslType;
}

/** Where each member lives in the packed struct, and the struct's size in bytes. */
export interface ParamsLayout {
  offsets: ReadonlyMap<string, { offset: number; type: WgslType }>;
  size: number;
}

/** Alignment and size in bytes of one WGSL type. */
export function typeLayout(type: WgslType): { align: number; size: number } {
  const width = Number(/^vec(\d)/.exec(type)?.[1] ?? 1);
  if (width === 1) return { align: 4, size: 4 };
  return { align: width === 2 ? 8 : 16, size: 4 * width };
}

/**
 * Lay out a struct's members.
 *
 * @param fields - members in declaration order.
 * @returns each member's byte offset and the struct size (a multiple of its alignment).
 * @example
 * paramsLayout([{ name: 'a', type: 'u32' }, { name: 'b', type: 'vec3<f32>' }]).size; // 32
 */
export function paramsLayout(fields: readonly ParamField[]): ParamsLayout {
  const offsets = new Map<string, { offset: number; type: WgslType }>();
  let offset = 0;
  let structAlign = 4;
  for (const field of fields) {
    const { align, size } = typeLayout(field.type);
    offset = roundUp(offset, align);
    offsets.set(field.name, { offset, type: field.type });
    offset += size;
    structAlign = Math.max(structAlign, align);
  }
  return { offsets, size: roundUp(offset, structAlign) };
}

/** A value for each Params member: a number for scalars, an array for vectors. */
export type ParamValues = Readonly<Record<string, number | readonly number[]>>;

/**
 * Write `values` into `view` at `byteOffset` following `layout`.
 *
 * @throws VoxsegError naming the member when a value is missing, extra, of the wrong width or
 *   out of range for its type (these are programming errors in an op, caught by the tests).
 */
export function packParams(
  kernel: string,
  layout: ParamsLayout,
  values: ParamValues,
  view: DataView,
  byteOffset = 0,
): void {
  for (const name of Object.keys(values)) {
    if (!layout.offsets.has(name)) throw paramError(kernel, name, 'a member of Params', 'extra');
  }
  for (const [name, { offset, type }] of layout.offsets) {
    const value = values[name];
    if (value === undefined) throw paramError(kernel, name, 'a value', 'nothing');
    const parts = typeof value === 'number' ? [value] : value;
    if (parts.length !== typeLayout(type).size / 4) {
      throw paramError(kernel, name, `${typeLayout(type).size / 4} components`, parts);
    }
    parts.forEach((part, i) =>
      writeScalar(view, byteOffset + offset + 4 * i, type, part, kernel, name),
    );
  }
}

function writeScalar(
  view: DataView,
  at: number,
  type: WgslType,
  value: number,
  kernel: string,
  name: string,
): void {
  if (type.includes('f32')) {
    view.setFloat32(at, value, true);
    return;
  }
  const signed = type.includes('i32');
  const [lo, hi] = signed ? [-(2 ** 31), 2 ** 31 - 1] : [0, 2 ** 32 - 1];
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw paramError(kernel, name, `an integer in [${lo}, ${hi}]`, value);
  }
  if (signed) view.setInt32(at, value, true);
  else view.setUint32(at, value, true);
}

function paramError(kernel: string, name: string, what: string, value: unknown): VoxsegError {
  const shown = Array.isArray(value) ? `[${value.join(', ')}]` : String(value);
  return new VoxsegError(`expected ${what} for ${kernel} Params.${name}, received ${shown}`);
}

/** Round `value` up to a multiple of `multiple`. */
export function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}
