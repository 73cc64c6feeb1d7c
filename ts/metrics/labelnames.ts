/**
 * Label names from the formats this field uses: JSON maps, ITK-SNAP label descriptions and
 * FreeSurfer colour look-up tables. Parses text only; reading the file is the caller's job.
 */
import { InputError, didYouMean, expected } from '../engine/errors.js';

/** Label value -> name. */
export type LabelNames = Record<number, string>;

/**
 * Parse label names, recognising the format from the text.
 *
 * - JSON: `{"1": "liver", ...}`, an array of names indexed by label, an object with such an
 *   array under `labels`, or groups of maps (`{"total": {"1": ...}}`) chosen by `group`.
 * - ITK-SNAP label description: `IDX R G B A VIS MSH "name"` lines, `#` comments.
 * - FreeSurfer LUT: `value name R G B A` lines, `#` comments.
 *
 * @param text - the file's content.
 * @param file - file name for errors.
 * @param group - the group of a grouped JSON file (needed when it has more than one).
 * @returns the names by label value.
 * @throws InputError naming the file and the first line or key that does not parse.
 * @example
 * parseLabelNames('{"1": "WM", "2": "GM"}', 'names.json'); // { 1: 'WM', 2: 'GM' }
 */
export function parseLabelNames(text: string, file: string, group?: string): LabelNames {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJsonNames(text, file, group);
  return parseTableNames(text, file);
}

function parseJsonNames(text: string, file: string, group?: string): LabelNames {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InputError(`label names are not valid JSON: ${(error as Error).message}`, { file });
  }
  if (Array.isArray(parsed)) return namesFromArray(parsed, file);
  const object = parsed as Record<string, unknown>;
  if (Array.isArray(object.labels)) return namesFromArray(object.labels, file);
  if (Object.values(object).some((v) => v !== null && typeof v === 'object')) {
    return namesFromMap(pickGroup(object, file, group), file);
  }
  return namesFromMap(object, file);
}

function pickGroup(
  object: Record<string, unknown>,
  file: string,
  group?: string,
): Record<string, unknown> {
  const groups = Object.keys(object);
  if (group && group in object) return object[group] as Record<string, unknown>;
  if (!group && groups.length === 1) return object[groups[0]] as Record<string, unknown>;
  const hint = group
    ? didYouMean(group, groups)
    : 'name the group after the file, as file.json#group';
  throw expected(`one of the groups ${groups.join(', ')}`, 'label-names group', group ?? '', {
    file,
    hint: hint || undefined,
  });
}

function namesFromArray(names: unknown[], file: string): LabelNames {
  const out: LabelNames = {};
  names.forEach((name, label) => {
    if (typeof name !== 'string')
      throw expected('a string name', `labels[${label}]`, name, { file });
    out[label] = name;
  });
  return out;
}

function namesFromMap(map: Record<string, unknown>, file: string): LabelNames {
  const out: LabelNames = {};
  for (const [key, name] of Object.entries(map)) {
    const label = Number(key);
    if (!Number.isInteger(label)) throw expected('an integer label value', 'key', key, { file });
    if (typeof name !== 'string') throw expected('a string name', `"${key}"`, name, { file });
    out[label] = name;
  }
  return out;
}

/** ITK-SNAP (quoted name last) and FreeSurfer LUT (name second) lines. */
function parseTableNames(text: string, file: string): LabelNames {
  const out: LabelNames = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const quoted = /^(-?\d+)\s.*"(.*)"\s*$/.exec(line);
    const plain = /^(-?\d+)\s+(\S+)/.exec(line);
    const match = quoted ?? plain;
    if (!match) {
      throw expected('"<value> <name> ..." or an ITK-SNAP label line', `line ${i + 1}`, line, {
        file,
      });
    }
    out[Number(match[1])] = match[2];
  });
  return out;
}
