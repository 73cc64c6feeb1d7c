/**
 * The slice view: the axial, coronal and sagittal slices of the conformed volume with the labels
 * overlaid, drawn by the same renderer as the CLI's PNG preview, with a slider per axis.
 */
import type { Volume } from '../io/volume.js';
import type { Rgb } from '../model/model.js';
import { labelCentre, previewImage } from '../pipeline/preview.js';

/** What the view shows: anatomy and labels on the conformed grid (x, y, z). */
export interface SliceScene {
  volume: Volume;
  labels: ArrayLike<number>;
  colors?: Rgb[];
}

const AXES = ['x', 'y', 'z'] as const;

/** A canvas and three sliders (x, y, z) choosing where the slices cross. */
export class SliceView {
  private scene: SliceScene | null = null;
  private readonly centre: [number, number, number] = [0, 0, 0];

  /**
   * @param canvas - where the three slices are drawn side by side.
   * @param sliders - one range input per axis x, y, z (voxel index).
   */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly sliders: Record<(typeof AXES)[number], HTMLInputElement>,
  ) {
    AXES.forEach((axis, i) => {
      sliders[axis].addEventListener('input', () => {
        this.centre[i] = Number(sliders[axis].value);
        this.draw();
      });
    });
  }

  /** Show a new result, the slices crossing at the labels' centre. */
  show(scene: SliceScene): void {
    this.scene = scene;
    const centre = labelCentre(scene.labels, scene.volume.dims);
    AXES.forEach((axis, i) => {
      const slider = this.sliders[axis];
      slider.max = String(scene.volume.dims[i] - 1);
      slider.value = String(centre[i]);
      this.centre[i] = centre[i];
    });
    this.draw();
  }

  private draw(): void {
    if (!this.scene) return;
    const { volume, labels, colors } = this.scene;
    const image = previewImage(volume, labels, { colors, centre: this.centre });
    this.canvas.width = image.width;
    this.canvas.height = image.height;
    const pixels = new Uint8ClampedArray(image.rgba.buffer as ArrayBuffer, 0, image.rgba.length);
    this.canvas.getContext('2d')!.putImageData(new ImageData(pixels, image.width), 0, 0);
  }
}
