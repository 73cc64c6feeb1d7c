/**
 * The one error vocabulary of voxseg: "expected <what> for <parameter>, received <value>",
 * with the file (when there is one) and a remedy. Subclasses exist only where a caller branches.
 */

/** Fields of a {@link VoxsegError}; every one but `message` is optional. */
export interface ErrorDetails {
  /** File the bad value came from, if any. */
  file?: string;
  /** Field or parameter that holds the bad value (`dim[1]`, `--backend`, `datatype`). */
  field?: string;
  /** The bad value as the user would see it. */
  value?: unknown;
  /** What the user can do about it. */
  hint?: string;
  /** The underlying error, kept for `--debug` output. */
  cause?: unknown;
}

/**
 * Base class of every error voxseg throws on purpose.
 *
 * @example
 * throw new VoxsegError('expected 1..7 dims', { file: 'a.nii', field: 'dim[0]', value: 9 });
 */
export class VoxsegError extends Error {
  readonly file?: string;
  readonly field?: string;
  readonly value?: unknown;
  readonly hint?: string;

  constructor(summary: string, details: ErrorDetails = {}) {
    super(composeMessage(summary, details), { cause: details.cause });
    this.name = 'VoxsegError';
    this.file = details.file;
    this.field = details.field;
    this.value = details.value;
    this.hint = details.hint;
  }
}

/** Bad input data: a corrupt, truncated or unsupported file, or values the pipeline cannot use. */
export class InputError extends VoxsegError {
  constructor(summary: string, details: ErrorDetails = {}) {
    super(summary, details);
    this.name = 'InputError';
  }
}

/** A requested backend cannot run here; the message lists each backend's reason. */
export class BackendUnavailableError extends VoxsegError {
  constructor(summary: string, details: ErrorDetails = {}) {
    super(summary, details);
    this.name = 'BackendUnavailableError';
  }
}

/** A backend failed while running (device lost, out of memory); callers may retry elsewhere. */
export class BackendRuntimeError extends VoxsegError {
  constructor(summary: string, details: ErrorDetails = {}) {
    super(summary, details);
    this.name = 'BackendRuntimeError';
  }
}

/**
 * Build the standard sentence "expected <what> for <parameter>, received <value>".
 *
 * @param what - what was expected, e.g. `"a positive integer"`.
 * @param field - the parameter or header field.
 * @param value - what was received.
 * @param details - file and remedy.
 */
export function expected(
  what: string,
  field: string,
  value: unknown,
  details: Omit<ErrorDetails, 'field' | 'value'> = {},
): InputError {
  return new InputError(`expected ${what} for ${field}, received ${formatValue(value)}`, {
    ...details,
    field,
    value,
  });
}

/**
 * Suggest the closest option for a mistyped enum value ("did you mean 'wasm'?").
 *
 * @returns the suggestion sentence, or an empty string when nothing is close.
 */
export function didYouMean(value: string, options: readonly string[]): string {
  let best = '';
  let bestDistance = Infinity;
  for (const option of options) {
    const distance = editDistance(value.toLowerCase(), option.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [option, distance];
  }
  return bestDistance <= Math.max(2, value.length / 3) ? `did you mean '${best}'?` : '';
}

/**
 * Render a value for an error message: strings quoted, arrays compact, long values cut,
 * undefined as a missing field.
 */
export function formatValue(value: unknown): string {
  let text: string;
  if (value === undefined) return 'nothing (the field is missing)';
  if (typeof value === 'string') text = `'${value}'`;
  else if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    text = `[${Array.from(value as ArrayLike<unknown>, (v) => String(v)).join(', ')}]`;
  } else text = String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function composeMessage(summary: string, details: ErrorDetails): string {
  const where = details.file ? `${details.file}: ` : '';
  const hint = details.hint ? ` (${details.hint})` : '';
  return `${where}${summary}${hint}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}
