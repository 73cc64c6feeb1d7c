/**
 * A tiny levelled logger with subsystem tags and lazy messages.
 *
 * Every setting voxseg reads, in one place (Node: environment; browsers: a global of the same
 * name). Each is read where it is used, through {@link readSetting}.
 * - `VOXSEG_LOG=debug|info|warn|error|silent` sets the level (default `info`);
 *   `VOXSEG_LOG=debug:wasm,model` enables debug only for those tags.
 * - `VOXSEG_BACKEND=auto|cuda|webgpu|wasm|reference` chooses the backend (default auto).
 * - `VOXSEG_MODELS=<dir>` is the local models directory; `VOXSEG_MODEL_BASE_URL=<url>` replaces
 *   the models' public source; `VOXSEG_CACHE=<dir>` moves the user cache (downloaded models,
 *   auto's per-machine backend decisions).
 * - `VOXSEG_WASM_THREADS=<n>` sets the wasm backend's threads (default: hardware concurrency).
 * - `VOXSEG_CUDA_ADDON=<path>` tries that addon file first; `VOXSEG_CUDA_DEVICE=<index>` picks
 *   the device (default 0); `VOXSEG_CUDA_CONV=auto|direct|implicit_gemm` forces a conv3d kernel.
 * - `VOXSEG_DUMP_KERNEL=<name>` prints that GPU kernel's shader source when it is compiled.
 * - `VOXSEG_POISON=1` fills every new output buffer with NaN / 0xA5 bytes before a kernel writes
 *   it, so tests see any element a kernel forgot (vitest sets it).
 *
 * Messages may be functions, so a disabled debug line costs one comparison.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'silent';
export type LogMessage = string | (() => string);
export type LogSink = (level: LogLevel, tag: string, text: string) => void;

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

interface LogState {
  level: LogLevel;
  debugTags: Set<string> | null;
  sink: LogSink;
}

const state: LogState = { level: 'info', debugTags: null, sink: defaultSink };
configureFromEnvironment();

/** A logger bound to one subsystem tag such as `wasm`, `io` or `model`. */
export interface Logger {
  error(message: LogMessage): void;
  warn(message: LogMessage): void;
  info(message: LogMessage): void;
  debug(message: LogMessage): void;
  enabled(level: LogLevel): boolean;
}

/**
 * Get the logger for a subsystem.
 *
 * @param tag - subsystem name, printed as `[tag]`.
 * @example
 * const log = logger('wasm');
 * log.debug(() => `packed ${n} weights`);
 */
export function logger(tag: string): Logger {
  const enabled = (level: LogLevel) => isEnabled(level, tag);
  const emit = (level: LogLevel) => (message: LogMessage) => {
    if (!enabled(level)) return;
    state.sink(level, tag, typeof message === 'function' ? message() : message);
  };
  return {
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    enabled,
  };
}

/**
 * Set the level, the debug tag filter and/or the sink (for embedding or tests).
 *
 * @param options.level - lowest level printed.
 * @param options.debugTags - when set, debug lines only for these tags.
 * @param options.sink - where lines go; default: stderr via `console.error`.
 */
export function configureLogging(options: {
  level?: LogLevel;
  debugTags?: string[] | null;
  sink?: LogSink;
}): void {
  if (options.level) state.level = options.level;
  if (options.debugTags !== undefined) {
    state.debugTags = options.debugTags ? new Set(options.debugTags) : null;
  }
  if (options.sink) state.sink = options.sink;
}

/** Current level, for code that must decide whether to show progress bars. */
export function logLevel(): LogLevel {
  return state.level;
}

function isEnabled(level: LogLevel, tag: string): boolean {
  if (RANK[level] > RANK[state.level]) return false;
  return level !== 'debug' || state.debugTags === null || state.debugTags.has(tag);
}

function defaultSink(level: LogLevel, tag: string, text: string): void {
  const prefix = level === 'info' ? '' : `${level}: `;
  console.error(`${prefix}[${tag}] ${text}`);
}

function configureFromEnvironment(): void {
  const setting = readSetting('VOXSEG_LOG');
  if (!setting) return;
  const [level, tags] = setting.split(':');
  if (level in RANK) state.level = level as LogLevel;
  if (tags) state.debugTags = new Set(tags.split(','));
}

/** Read a setting from the Node environment or from a global of the same name (browsers). */
export function readSetting(name: string): string | undefined {
  const fromGlobal = (globalThis as Record<string, unknown>)[name];
  if (typeof fromGlobal === 'string') return fromGlobal;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  return env?.[name];
}
