/** Option parsers shared by the commands; a bad value is a usage error (exit status 2). */
import { InvalidArgumentError } from 'commander';
import { parseBackendRequest } from '../engine/registry.js';

/** `--backend`: auto or a backend name, with a did-you-mean for a typo. */
export function backendOption(value: string): string {
  try {
    return parseBackendRequest(value, '--backend');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}
