/**
 * Reference 3D convolution: direct summation, written to be read. It loops over output
 * channel, input channel and kernel tap, and adds one weighted input row to one output row at a
 * time, which keeps the inner loop contiguous without obscuring the definition.
 */
import { activate, activationAlpha } from '../../engine/activations.js';
import type { Conv3dParams } from '../../engine/backend.js';

export interface Conv3dShapes {
  /** x: (N, Cin, D, H, W). */
  input: readonly number[];
  /** weight: (Cout, Cin / groups, KD, KH, KW). */
  weight: readonly number[];
  /** output: (N, Cout, D', H', W'). */
  output: readonly number[];
}

/**
 * out = act(conv3d(x, weight) + bias).
 *
 * @param x - (N, Cin, D, H, W).
 * @param weight - (Cout, Cin / groups, KD, KH, KW).
 * @param bias - (Cout) or null.
 * @returns (N, Cout, D', H', W').
 */
export function conv3dReference(
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  shapes: Conv3dShapes,
  params: Conv3dParams,
): Float32Array {
  const [n, cin, d, h, w] = shapes.input;
  const [cout, cinPerGroup, kd, kh, kw] = shapes.weight;
  const [, , od, oh, ow] = shapes.output;
  const coutPerGroup = cout / params.groups;
  const out = new Float32Array(n * cout * od * oh * ow);
  const outChannel = od * oh * ow;
  const inChannel = d * h * w;

  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < cout; oc++) {
      const outBase = (b * cout + oc) * outChannel;
      out.fill(bias ? bias[oc] : 0, outBase, outBase + outChannel);
      const group = Math.floor(oc / coutPerGroup);

      for (let icg = 0; icg < cinPerGroup; icg++) {
        const ic = group * cinPerGroup + icg;
        const inBase = (b * cin + ic) * inChannel;
        const wBase = (oc * cinPerGroup + icg) * kd * kh * kw;
        for (let tap = 0; tap < kd * kh * kw; tap++) {
          const weightValue = weight[wBase + tap];
          const kz = Math.floor(tap / (kh * kw));
          const ky = Math.floor(tap / kw) % kh;
          const kx = tap % kw;
          addTap(out, outBase, x, inBase, weightValue, [kz, ky, kx], shapes, params);
        }
      }
    }
  }
  applyActivation(out, params);
  return out;
}

/** Add weight * x(shifted by one kernel tap) to every output voxel of one channel pair. */
function addTap(
  out: Float32Array,
  outBase: number,
  x: Float32Array,
  inBase: number,
  weightValue: number,
  tap: [number, number, number],
  shapes: Conv3dShapes,
  params: Conv3dParams,
): void {
  const [, , d, h, w] = shapes.input;
  const [, , od, oh, ow] = shapes.output;
  const { stride, padding, dilation } = params;

  for (let z = 0; z < od; z++) {
    const iz = z * stride[0] - padding[0] + tap[0] * dilation[0];
    if (iz < 0 || iz >= d) continue;
    for (let y = 0; y < oh; y++) {
      const iy = y * stride[1] - padding[1] + tap[1] * dilation[1];
      if (iy < 0 || iy >= h) continue;
      const inRow = inBase + (iz * h + iy) * w;
      const outRow = outBase + (z * oh + y) * ow;
      for (let xo = 0; xo < ow; xo++) {
        const ix = xo * stride[2] - padding[2] + tap[2] * dilation[2];
        if (ix >= 0 && ix < w) out[outRow + xo] += weightValue * x[inRow + ix];
      }
    }
  }
}

function applyActivation(out: Float32Array, params: Conv3dParams): void {
  const { kind } = params.activation;
  if (kind === 'linear') return;
  const alpha = activationAlpha(params.activation);
  for (let i = 0; i < out.length; i++) out[i] = activate(kind, alpha, out[i]);
}
