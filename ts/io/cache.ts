/**
 * The user cache directory (Node only): downloaded models and per-machine facts such as auto's
 * backend decisions live there.
 *
 * Setting: `VOXSEG_CACHE` overrides it; otherwise `$XDG_CACHE_HOME/voxseg` or `~/.cache/voxseg`
 * on Linux, `~/Library/Caches/voxseg` on macOS, `%LOCALAPPDATA%\voxseg` on Windows.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readSetting } from '../engine/log.js';

/** The cache directory, resolved at each call so tests can move it. */
export function cacheDirectory(): string {
  const override = readSetting('VOXSEG_CACHE');
  if (override) return override;
  const env = process.env;
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'voxseg');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'voxseg');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'voxseg');
}
