/**
 * Volume files on disk (Node only): reading NIfTI / MGH by content, and writing atomically.
 *
 * Nothing is half-written: bytes go to a temp file in the output's directory (same file
 * system), are flushed, and the temp file is then renamed onto the output. An existing output
 * is replaced only when the caller says so; without `overwrite` the final step is a hard link,
 * which fails rather than replace a file that appeared meanwhile. On every failure the temp file
 * is removed.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError, expected } from '../engine/errors.js';
import { gunzip, isGzip } from './gzip.js';
import { parseMgh } from './mgh.js';
import { parseNifti, serializeNifti } from './nifti.js';
import type { Volume } from './volume.js';

/** Options of {@link writeFileAtomic} and {@link writeVolume}. */
export interface WriteOptions {
  /** Replace an existing file (default false: an existing output is an error). */
  overwrite?: boolean;
}

/** File formats by extension. */
export type VolumeFormat = 'nii' | 'nii.gz' | 'mgh' | 'mgz';

const FORMATS: readonly VolumeFormat[] = ['nii.gz', 'nii', 'mgz', 'mgh'];
/** Filesystem errors after which linking is impossible and a plain rename is used instead. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

/**
 * The volume format a path names by its extension (case-insensitive), or undefined.
 *
 * @example
 * volumeFormat('sub-01_T1w.nii.gz'); // 'nii.gz'
 */
export function volumeFormat(path: string): VolumeFormat | undefined {
  const name = path.toLowerCase();
  return FORMATS.find((format) => name.endsWith(`.${format}`));
}

/**
 * Read a volume file: NIfTI-1/2 (`.nii`, `.nii.gz`) or FreeSurfer MGH (`.mgh`, `.mgz`). The
 * parser is chosen by the content (gzip magic, then the NIfTI `sizeof_hdr` or the MGH version),
 * so a misnamed file still reads; the extension only shapes the error message.
 *
 * @param path - the file.
 * @returns the volume, scaling applied (see {@link parseNifti}, {@link parseMgh}).
 * @throws InputError for a missing or unreadable file, an unknown format, or bad content.
 * @example
 * const volume = await readVolume('../shared/data/brainchop/t1_crop.nii.gz');
 */
export async function readVolume(path: string): Promise<Volume> {
  const bytes = await readInput(path);
  if (bytes.length === 0) {
    throw new InputError('the file is empty (0 bytes)', { file: path, field: 'size', value: 0 });
  }
  const raw = isGzip(bytes) ? gunzip(bytes, path) : bytes;
  const kind = sniffFormat(raw);
  if (kind === 'nifti') return parseNifti(raw, path);
  if (kind === 'mgh') return parseMgh(raw, path);
  throw unknownFormat(path, raw);
}

/**
 * Write a volume atomically as NIfTI-1: `.nii`, or `.nii.gz` (gzip). The datatype is that of
 * `volume.data`'s typed array.
 *
 * @param path - output file; its directory must exist.
 * @param options.overwrite - replace an existing file (default false).
 * @throws InputError for an unsupported extension (MGH is read-only), a missing directory, an
 *   existing output without `overwrite`, or a volume NIfTI-1 cannot hold.
 * @example
 * await writeVolume('labels.nii.gz', labels, { overwrite: true });
 */
export async function writeVolume(
  path: string,
  volume: Volume,
  options: WriteOptions = {},
): Promise<void> {
  const format = volumeFormat(path);
  if (format !== 'nii' && format !== 'nii.gz') {
    const hint = format
      ? 'MGH is read-only in voxseg; write .nii or .nii.gz'
      : 'name the file .nii or .nii.gz';
    throw expected("a '.nii' or '.nii.gz' extension", 'output path', path, { hint });
  }
  const bytes = serializeNifti(volume, { gzip: format === 'nii.gz' });
  await writeFileAtomic(path, bytes, options);
}

/**
 * Write bytes to `path` atomically: a temp file in the same directory, flushed, then renamed
 * (or hard-linked, without `overwrite`) onto `path`. Readers see the old file or the complete
 * new one, never a partial one; on failure no temp file is left behind.
 *
 * @param path - output file; its directory must exist.
 * @param bytes - the content (PNG, JSON as UTF-8, a volume...).
 * @param options.overwrite - replace an existing file (default false).
 * @throws InputError when the directory is missing, the output exists and `overwrite` is not
 *   set, or the file system refuses the write (the message names the path and the reason).
 * @example
 * await writeFileAtomic('summary.json', new TextEncoder().encode(json), { overwrite: true });
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  const overwrite = options.overwrite ?? false;
  await requireDirectory(dirname(path));
  if (!overwrite && (await exists(path))) throw existingOutput(path);

  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeDurably(temp, bytes);
    await (overwrite ? rename(temp, path) : linkWithoutReplacing(temp, path));
  } catch (error) {
    await rm(temp, { force: true });
    throw asInputError(error, path, 'write');
  }
  await rm(temp, { force: true });
  await syncDirectory(dirname(path));
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw asInputError(error, path, 'read');
  }
}

/** What the first bytes of an uncompressed file are: a NIfTI or an MGH header, or neither. */
function sniffFormat(bytes: Uint8Array): 'nifti' | 'mgh' | undefined {
  if (bytes.length < 4) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizes = [view.getInt32(0, true), view.getInt32(0, false)];
  if (sizes.some((size) => size === 348 || size === 540)) return 'nifti';
  if (sizes[1] === 1) return 'mgh';
  return undefined;
}

function unknownFormat(path: string, bytes: Uint8Array): InputError {
  const first = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const name = path.toLowerCase();
  const hint =
    name.endsWith('.hdr') || name.endsWith('.img')
      ? 'Analyze/NIfTI .hdr/.img pairs are not supported; convert to .nii'
      : volumeFormat(path)
        ? 'the file does not match its extension; it may be damaged'
        : 'voxseg reads .nii, .nii.gz, .mgh and .mgz';
  return expected('a NIfTI-1, NIfTI-2 or MGH header', 'first bytes', first, { file: path, hint });
}

async function requireDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info?.isDirectory()) return;
  throw expected('an existing directory', 'output directory', dir, {
    hint: 'create it first or choose another output path',
  });
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

function existingOutput(path: string): InputError {
  return expected('a path with no file yet', 'output', path, {
    hint: 'the file exists; pass overwrite (--overwrite) to replace it',
  });
}

/** Create `temp` (which must not exist), write all bytes and flush them to disk. */
async function writeDurably(temp: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Give `temp` the name `path` unless `path` exists (then EEXIST), by linking then unlinking. */
async function linkWithoutReplacing(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!NO_HARD_LINKS.has(code)) throw error;
    // No hard links on this file system: check again, then rename (a small race remains).
    if (await exists(path)) throw existingOutput(path);
    await rename(temp, path);
  }
}

/** Flush the directory entry of a rename; not possible on every platform, so best effort. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}

function asInputError(error: unknown, path: string, role: 'read' | 'write'): InputError {
  if (error instanceof InputError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return existingOutput(path);
  if (code === 'ENOENT' && role === 'read') {
    return expected('an existing file', 'input path', path, { cause: error });
  }
  if (code === 'ENOENT') {
    return expected('an existing directory', 'output directory', dirname(path), { cause: error });
  }
  // Node's message is "CODE: description, syscall 'path'"; keep the code and description.
  const reason = (error as Error).message.split(',')[0];
  return new InputError(`cannot ${role} the file (${reason})`, { file: path, cause: error });
}
