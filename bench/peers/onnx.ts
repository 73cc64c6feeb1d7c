/**
 * A small ONNX model writer: just enough protobuf to describe a chain of Conv / Relu / Elu /
 * Gelu / Identity nodes with float32 initializers, so the onnxruntime peers run the same
 * layers as voxseg without Python. Field numbers follow onnx.proto (IR version 8, opset 17).
 *
 * Wire format: every field is a key (field number << 3 | wire type) followed by a varint
 * (type 0) or a length-delimited payload (type 2); packed repeated int64 is one payload of
 * varints. Nothing here reads protobuf back; the test decodes it with protobufjs's reader.
 */

/** ONNX TensorProto.DataType FLOAT. */
export const ONNX_FLOAT = 1;
/** ONNX TensorProto.DataType INT64 (ArgMax's output). */
export const ONNX_INT64 = 7;

/** IR version written into every model. */
export const ONNX_IR_VERSION = 8;
/** Opset of the default domain written into every model. */
export const ONNX_OPSET = 17;

/** A float32 initializer: name, dims and data (row-major, like the ONNX tensor). */
export interface OnnxInitializer {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

/** An attribute value: an int, a float, or a list of ints (the only kinds Conv needs). */
export type OnnxAttribute = number | readonly number[] | { float: number };

/** One graph node. */
export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  attributes?: Record<string, OnnxAttribute>;
}

/** A graph input or output: a tensor of the given dims (a string is a symbolic dim). */
export interface OnnxValue {
  name: string;
  dims: ReadonlyArray<number | string>;
  /** TensorProto.DataType; default ONNX_FLOAT. */
  elemType?: number;
}

/** A whole model: nodes in topological order, initializers, one or more inputs and outputs. */
export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxInitializer[];
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
}

/** Growable byte buffer with protobuf primitives. */
class ProtoWriter {
  private bytes = new Uint8Array(256);
  private length = 0;

  /** Append raw bytes. */
  raw(data: Uint8Array): this {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
    return this;
  }

  /** Append an unsigned varint (values up to 2^53; negatives are not needed here). */
  varint(value: number): this {
    if (!(Number.isInteger(value) && value >= 0)) {
      throw new RangeError(`protobuf varint must be a non-negative integer, received ${value}`);
    }
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.bytes[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[this.length++] = v;
    return this;
  }

  /** Field key for `field` with wire type `type`. */
  key(field: number, type: 0 | 2 | 5): this {
    return this.varint(field * 8 + type);
  }

  /** A varint field. */
  uint(field: number, value: number): this {
    return this.key(field, 0).varint(value);
  }

  /** A length-delimited field holding `payload`. */
  bytesField(field: number, payload: Uint8Array): this {
    return this.key(field, 2).varint(payload.length).raw(payload);
  }

  /** A UTF-8 string field. */
  string(field: number, value: string): this {
    return this.bytesField(field, new TextEncoder().encode(value));
  }

  /** An embedded message field, built by `build` on a fresh writer. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytesField(field, inner.finish());
  }

  /** A 32-bit float field (wire type 5). */
  float(field: number, value: number): this {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setFloat32(0, value, true);
    return this.key(field, 5).raw(data);
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/** AttributeProto: name = 1, f = 2, i = 3, ints = 8, type = 20 (FLOAT 1, INT 2, INTS 7). */
function writeAttribute(w: ProtoWriter, name: string, value: OnnxAttribute): void {
  w.string(1, name);
  if (typeof value === 'number') {
    w.uint(3, value).uint(20, 2);
  } else if ('float' in value) {
    w.float(2, value.float).uint(20, 1);
  } else {
    for (const item of value) w.uint(8, item);
    w.uint(20, 7);
  }
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. */
function writeNode(w: ProtoWriter, node: OnnxNode): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  if (node.name) w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, (a) => writeAttribute(a, name, value));
  }
}

/** TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian float32). */
function writeTensor(w: ProtoWriter, tensor: OnnxInitializer): void {
  const expectedLength = tensor.dims.reduce((a, b) => a * b, 1);
  if (expectedLength !== tensor.data.length) {
    throw new RangeError(
      `initializer ${tensor.name}: dims [${tensor.dims}] hold ${expectedLength} values, ` +
        `received ${tensor.data.length}`,
    );
  }
  for (const dim of tensor.dims) w.uint(1, dim);
  w.uint(2, ONNX_FLOAT);
  w.string(8, tensor.name);
  const { buffer, byteOffset, byteLength } = tensor.data;
  w.bytesField(9, new Uint8Array(buffer, byteOffset, byteLength));
}

/**
 * ValueInfoProto: name = 1, type = 2 -> TypeProto.tensor_type = 1 -> elem_type = 1,
 * shape = 2 -> TensorShapeProto.dim = 1 -> dim_value = 1 | dim_param = 2.
 */
function writeValue(w: ProtoWriter, value: OnnxValue): void {
  w.string(1, value.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.uint(1, value.elemType ?? ONNX_FLOAT);
      tensor.message(2, (shape) => {
        for (const dim of value.dims) {
          shape.message(1, (d) => (typeof dim === 'number' ? d.uint(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

/**
 * Serialise a graph as an ONNX ModelProto: ir_version = 1, producer_name = 2, graph = 7,
 * opset_import = 8; GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
 *
 * @returns the model bytes, ready for `InferenceSession.create(bytes)`.
 * @throws RangeError when an initializer's data does not match its dims.
 * @example
 * const bytes = encodeOnnxModel(conv3dGraph({ cin: 1, cout: 5, ... }));
 */
export function encodeOnnxModel(graph: OnnxGraph): Uint8Array {
  const model = new ProtoWriter();
  model.uint(1, ONNX_IR_VERSION);
  model.string(2, 'voxseg-bench');
  model.message(7, (g) => {
    for (const node of graph.nodes) g.message(1, (n) => writeNode(n, node));
    g.string(2, graph.name);
    for (const tensor of graph.initializers) g.message(5, (t) => writeTensor(t, tensor));
    for (const input of graph.inputs) g.message(11, (v) => writeValue(v, input));
    for (const output of graph.outputs) g.message(12, (v) => writeValue(v, output));
  });
  model.message(8, (opset) => opset.string(1, '').uint(2, ONNX_OPSET));
  return model.finish();
}
