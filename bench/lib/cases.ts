/**
 * The conv3d cases the benchmarks run: every distinct layer geometry of the brainchop models
 * (from the table below, which a test checks against the models' model.json files), at 64^3,
 * 128^3 and the t1_crop crop's plane, and the 3x3x3 convolutions of a 3D U-Net with a 128^3
 * patch (nnU-Net's 3d_fullres layout: 32 to 320 channels, stride-2 downsampling).
 */

/** A fused activation as the engines name it. */
export type CaseActivation = 'linear' | 'relu' | 'elu';

/** One conv3d problem, the same for every engine. */
export interface ConvCase {
  /** Unique, e.g. `30->30 k3 d4 @ 64^3`. */
  id: string;
  group: 'brainchop' | 'unet' | 'reference';
  cin: number;
  cout: number;
  /** Cubic kernel edge (3 or 1). */
  kernel: number;
  stride: number;
  dilation: number;
  /** Zero padding on every side of every axis ("same" for stride 1). */
  padding: number;
  activation: CaseActivation;
  bias: boolean;
  /** Input (D, H, W). */
  dims: [number, number, number];
  /** Output (D, H, W). */
  outDims: [number, number, number];
  /** The size label: `64^3`, `128^3`, `crop 200x200` ... */
  size: string;
  /** Models (or U-Net stages) that have this layer. */
  uses: string[];
}

/** One brainchop model's conv stack, as ../shared/data/MANIFEST.md describes it. */
export interface BrainchopModelShape {
  name: string;
  channels: number;
  /** Dilation of each 3x3x3 conv, first (1 input channel) to last. */
  dilations: number[];
  activation: CaseActivation;
  classes: number;
  /** Whether the 3x3x3 convs have a bias (the 1x1x1 output conv always has one). */
  bias: boolean;
}

const GW = [1, 2, 4, 8, 16, 8, 4, 2, 1];
const MINDGRAB = Array.from({ length: 5 }, () => [16, 8, 4, 2, 1]).flat();

/** The conv stacks of the brainchop models under ../shared/data/brainchop. */
export const BRAINCHOP_MODELS: readonly BrainchopModelShape[] = [
  { name: 'model5_gw_ae', channels: 5, dilations: GW, activation: 'relu', classes: 3, bias: true },
  {
    name: 'model11_gw_ae',
    channels: 11,
    dilations: [1, 2, 4, 8, 4, 2, 2, 1],
    activation: 'relu',
    classes: 3,
    bias: true,
  },
  {
    name: 'model20chan3cls',
    channels: 20,
    dilations: GW,
    activation: 'elu',
    classes: 3,
    bias: true,
  },
  { name: 'model18cls', channels: 21, dilations: GW, activation: 'elu', classes: 18, bias: true },
  {
    name: 'model30chan18cls',
    channels: 30,
    dilations: GW,
    activation: 'elu',
    classes: 18,
    bias: true,
  },
  {
    name: 'model30chan50cls',
    channels: 30,
    dilations: GW,
    activation: 'elu',
    classes: 50,
    bias: true,
  },
  {
    name: 'model21_104class',
    channels: 21,
    dilations: [1, 2, 2, 4, 4, 8, 8, 16],
    activation: 'relu',
    classes: 104,
    bias: true,
  },
  // mindgrab's convs are linear: an instance norm and a GELU follow each.
  {
    name: 'mindgrab',
    channels: 15,
    dilations: MINDGRAB,
    activation: 'linear',
    classes: 2,
    bias: false,
  },
  {
    name: 'model11_50class',
    channels: 11,
    dilations: GW,
    activation: 'relu',
    classes: 50,
    bias: true,
  },
  {
    name: 'model21_3class',
    channels: 21,
    dilations: GW,
    activation: 'relu',
    classes: 3,
    bias: true,
  },
  {
    name: 'mnm_tfjs_me_test',
    channels: 21,
    dilations: [1, 1, 1, 2, 4, 8, 1],
    activation: 'relu',
    classes: 3,
    bias: true,
  },
];

/** A layer geometry without a size. */
export type LayerShape = Omit<ConvCase, 'id' | 'dims' | 'outDims' | 'size'>;

/** Every conv of one brainchop model, in order: 1 -> C, C -> C ..., then the 1x1x1 C -> classes. */
export function brainchopLayers(model: BrainchopModelShape): LayerShape[] {
  const { channels, activation, bias } = model;
  const layers = model.dilations.map((dilation, i) => ({
    group: 'brainchop' as const,
    cin: i === 0 ? 1 : channels,
    cout: channels,
    kernel: 3,
    stride: 1,
    dilation,
    padding: dilation,
    activation,
    bias,
    uses: [model.name],
  }));
  const head = { ...layers[0], cin: channels, cout: model.classes, kernel: 1, dilation: 1 };
  return [...layers, { ...head, padding: 0, activation: 'linear', bias: true }];
}

/** The geometry key that makes two layers "the same shape". */
function shapeKey(s: LayerShape): string {
  return `${s.cin}->${s.cout} k${s.kernel} s${s.stride} d${s.dilation}`;
}

/**
 * Every distinct layer geometry (Cin, Cout, kernel, dilation) of the given models, each with
 * the models that use it; the first model's activation and bias stand for the others.
 */
export function distinctBrainchopShapes(
  models: readonly BrainchopModelShape[] = BRAINCHOP_MODELS,
): LayerShape[] {
  const shapes = new Map<string, LayerShape>();
  for (const layer of models.flatMap(brainchopLayers)) {
    const key = shapeKey(layer);
    const known = shapes.get(key);
    if (!known) shapes.set(key, { ...layer, uses: [...layer.uses] });
    else if (!known.uses.includes(layer.uses[0])) known.uses.push(layer.uses[0]);
  }
  return [...shapes.values()];
}

/** Output extent of one axis. */
export function outExtent(
  size: number,
  s: Pick<LayerShape, 'kernel' | 'stride' | 'dilation' | 'padding'>,
) {
  return Math.floor((size + 2 * s.padding - s.dilation * (s.kernel - 1) - 1) / s.stride) + 1;
}

/** A case of `shape` on an input of (D, H, W), labelled `size`. */
export function makeCase(
  shape: LayerShape,
  dims: [number, number, number],
  size: string,
): ConvCase {
  const outDims = dims.map((n) => outExtent(n, shape)) as [number, number, number];
  const stride = shape.stride > 1 ? ` s${shape.stride}` : '';
  const id = `${shape.cin}->${shape.cout} k${shape.kernel}${stride} d${shape.dilation} @ ${size}`;
  return { ...shape, id, dims, outDims, size };
}

/** Floating-point operations of a case: 2 per multiply-add, bias and activation not counted. */
export function convFlops(c: ConvCase): number {
  const out = c.outDims[0] * c.outDims[1] * c.outDims[2];
  return 2 * c.cin * c.cout * c.kernel ** 3 * out;
}

/** Bytes a case must at least move: the input read once and the output written once. */
export function convBytes(c: ConvCase): number {
  const inVoxels = c.dims[0] * c.dims[1] * c.dims[2];
  const outVoxels = c.outDims[0] * c.outDims[1] * c.outDims[2];
  return 4 * (c.cin * inVoxels + c.cout * outVoxels);
}

/**
 * The 3x3x3 convs of a 3D U-Net on a `patch`^3 input (nnU-Net 3d_fullres: two convs per
 * stage, the first of each lower stage with stride 2; decoder convs after the skip concat),
 * and the 1x1x1 head to `classes`.
 */
export function unetCases(patch = 128, classes = 4): ConvCase[] {
  const widths = [32, 64, 128, 256, 320, 320];
  const cases: ConvCase[] = [];
  const conv = (cin: number, cout: number, size: number, stride: number, use: string) => {
    const shape: LayerShape = {
      group: 'unet',
      cin,
      cout,
      kernel: 3,
      stride,
      dilation: 1,
      padding: 1,
      activation: 'linear',
      bias: true,
      uses: [use],
    };
    cases.push(makeCase(shape, [size, size, size], `${size}^3`));
  };
  let size = patch;
  widths.forEach((width, stage) => {
    const cin = stage === 0 ? 1 : widths[stage - 1];
    const stride = stage === 0 ? 1 : 2;
    conv(cin, width, size, stride, `encoder ${stage}`);
    size = stage === 0 ? size : size / 2;
    conv(width, width, size, 1, `encoder ${stage}`);
  });
  for (let stage = widths.length - 2; stage >= 0; stage--) {
    size *= 2;
    conv(2 * widths[stage], widths[stage], size, 1, `decoder ${stage}`);
  }
  const head: LayerShape = {
    group: 'unet',
    cin: widths[0],
    cout: classes,
    kernel: 1,
    stride: 1,
    dilation: 1,
    padding: 0,
    activation: 'linear',
    bias: true,
    uses: ['head'],
  };
  cases.push(makeCase(head, [patch, patch, patch], `${patch}^3`));
  return cases;
}

/**
 * The reference case of earlier measurements: 16 -> 16 channels, 3x3x3, 'same', bias, no
 * activation, at dilation 1 and 4 on a `size`^3 volume.
 */
export function referenceCases(size = 64): ConvCase[] {
  return [1, 4].map((dilation) => {
    const shape: LayerShape = {
      group: 'reference', cin: 16, cout: 16, kernel: 3, stride: 1, dilation, padding: dilation,
      activation: 'linear', bias: true, uses: ['reference'],
    }; // prettier-ignore
    return makeCase(shape, [size, size, size], `${size}^3`);
  });
}

/** The brainchop cases at one cubic size. */
export function brainchopCubeCases(size: number, shapes = distinctBrainchopShapes()): ConvCase[] {
  return shapes.map((shape) => makeCase(shape, [size, size, size], `${size}^3`));
}

/**
 * The brainchop cases on the crop's plane: (planes, H, W) with H, W the crop's and `planes`
 * output planes (the segment pipeline streams crops along D in slabs like this one).
 */
export function brainchopCropCases(
  crop: [number, number, number],
  planes: number,
  shapes = distinctBrainchopShapes(),
): ConvCase[] {
  const [d, h, w] = crop;
  const size = `crop ${d}x${h}x${w}, ${Math.min(planes, d)}-plane slab`;
  return shapes.map((shape) => makeCase(shape, [Math.min(planes, d), h, w], size));
}
