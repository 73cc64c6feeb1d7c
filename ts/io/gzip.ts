/**
 * gzip for volume files, with the checks fflate leaves out: every member's CRC-32 and length
 * are verified, so a truncated or corrupt `.nii.gz` / `.mgz` is an error rather than a volume
 * with missing voxels. Multi-member streams (as written by `bgzip` or concatenation) are read
 * whole. Core module: no Node built-ins.
 */
import { Gunzip, gzipSync } from 'fflate';
import { expected } from '../engine/errors.js';

/** One gzip member as found while inflating: where it starts in the input and the output. */
interface Member {
  inputStart: number;
  outputStart: number;
}

const TRUNCATED_HINT = 'the file is truncated or damaged; copy or download it again';
let crcTable: Uint32Array | undefined;

/**
 * Whether `bytes` start with the gzip magic number (1f 8b).
 *
 * @example
 * if (isGzip(bytes)) bytes = gunzip(bytes, 'scan.nii.gz');
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompress a whole gzip stream (all members) and verify each member's CRC-32 and size.
 *
 * @param bytes - the compressed file.
 * @param file - file name for error messages.
 * @returns the decompressed bytes.
 * @throws InputError naming the file when the stream ends early, is corrupt, or fails its
 *   CRC-32 or size check.
 * @example
 * const raw = gunzip(new Uint8Array(await readFile(path)), path);
 */
export function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  const members: Member[] = [{ inputStart: 0, outputStart: 0 }];
  let produced = 0;
  const stream = new Gunzip((chunk) => {
    chunks.push(chunk);
    produced += chunk.length;
  });
  stream.onmember = (inputStart) => members.push({ inputStart, outputStart: produced });
  inflateAll(stream, bytes, file);

  const out = concat(chunks, produced);
  members.forEach((member, i) => verifyMember(bytes, out, member, members[i + 1], file));
  return out;
}

/**
 * Compress bytes as one gzip member.
 *
 * @param level - deflate level 0..9 (default 6; 1 is several times faster, a little larger).
 * @example
 * const nii = gzip(serializeNifti(volume, { gzip: false }));
 */
export function gzip(
  bytes: Uint8Array,
  level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 6,
): Uint8Array {
  return gzipSync(bytes, { level });
}

/**
 * CRC-32 (IEEE, as in gzip and PNG) of `bytes`.
 *
 * @example
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 */
export function crc32(bytes: Uint8Array): number {
  const table = (crcTable ??= makeCrcTable());
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function inflateAll(stream: Gunzip, bytes: Uint8Array, file: string): void {
  try {
    stream.push(bytes, true);
  } catch (error) {
    const message = (error as Error).message;
    const truncated = message.includes('unexpected EOF');
    const what = truncated
      ? `${bytes.length} bytes that end mid-stream`
      : `corrupt data (${message})`;
    throw expected('a complete gzip stream', 'compressed data', what, {
      file,
      hint: TRUNCATED_HINT,
      cause: error,
    });
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteOffset === 0) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Check a member's trailer: CRC-32 and length mod 2^32 of its output, little-endian. */
function verifyMember(
  input: Uint8Array,
  output: Uint8Array,
  member: Member,
  next: Member | undefined,
  file: string,
): void {
  const inputEnd = next ? next.inputStart : input.length;
  const outputEnd = next ? next.outputStart : output.length;
  if (inputEnd - member.inputStart < 18) {
    throw expected('a gzip trailer (CRC-32 and size)', 'compressed data', `${input.length} bytes`, {
      file,
      hint: TRUNCATED_HINT,
    });
  }
  const trailer = new DataView(input.buffer, input.byteOffset + inputEnd - 8, 8);
  const body = output.subarray(member.outputStart, outputEnd);
  const size = trailer.getUint32(4, true);
  if (size !== body.length % 2 ** 32) {
    throw expected(`${body.length} (the inflated size)`, 'gzip trailer size', size, {
      file,
      hint: TRUNCATED_HINT,
    });
  }
  if (trailer.getUint32(0, true) !== crc32(body)) {
    throw expected('a matching CRC-32', 'gzip trailer', 'a mismatch', {
      file,
      hint: TRUNCATED_HINT,
    });
  }
}

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
