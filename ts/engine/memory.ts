/** Byte accounting that every backend shares: current and peak bytes of live tensors. */
import { readSetting } from './log.js';
import type { MemoryStats } from './backend.js';

export class MemoryTracker {
  private bytes = 0;
  private peakBytes = 0;

  /** Count an allocation of `bytes`. */
  allocate(bytes: number): void {
    this.bytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.bytes);
  }

  /** Count a release of `bytes`. */
  free(bytes: number): void {
    this.bytes -= bytes;
  }

  /** Start a new peak window at the current usage. */
  resetPeak(): void {
    this.peakBytes = this.bytes;
  }

  stats(): MemoryStats {
    return { bytes: this.bytes, peakBytes: this.peakBytes };
  }
}

/**
 * Whether backends must fill every new output with a poison pattern (NaN for floats, 0xA5 bytes
 * for integers) before a kernel writes it, so a test sees any element a kernel forgot.
 * Switch: `VOXSEG_POISON=1`.
 */
export function poisonOutputs(): boolean {
  return readSetting('VOXSEG_POISON') === '1';
}
