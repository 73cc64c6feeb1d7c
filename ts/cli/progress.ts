/**
 * Progress on stderr: a bar for long stages when stderr is a terminal, otherwise a line at
 * each quarter of stages that take more than two seconds, so logs of batch jobs stay short.
 */
import { SingleBar } from 'cli-progress';

export interface StageProgress {
  update(stage: string, fraction: number): void;
  stop(): void;
}

/** A progress reporter; `quiet` prints nothing. */
export function stageProgress(quiet: boolean): StageProgress {
  if (quiet) return { update: () => {}, stop: () => {} };
  return process.stderr.isTTY ? barProgress() : lineProgress();
}

function barProgress(): StageProgress {
  let bar: SingleBar | null = null;
  let current = '';
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    update(stage, fraction) {
      if (stage !== current) {
        stop();
        current = stage;
        bar = new SingleBar({
          format: `${stage.padEnd(12)} [{bar}] {percentage}% | {duration_formatted}`,
          stream: process.stderr,
          hideCursor: true,
        });
        bar.start(100, 0);
      }
      bar?.update(Math.round(fraction * 100));
    },
    stop,
  };
}

function lineProgress(): StageProgress {
  let current = '';
  let started = 0;
  let nextMark = 0.25;
  return {
    update(stage, fraction) {
      if (stage !== current) [current, started, nextMark] = [stage, performance.now(), 0.25];
      // Quarter marks, and only for stages that take a while: fast ones stay silent.
      if (fraction < nextMark || performance.now() - started < 2000) return;
      process.stderr.write(`${stage}: ${Math.floor(fraction * 100)}%\n`);
      nextMark = Math.floor(fraction * 4 + 1) / 4;
    },
    stop: () => {},
  };
}
