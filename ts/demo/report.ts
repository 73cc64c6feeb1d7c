/**
 * The demo's result tables: stage timings, label volumes and Dice scores. Cells are set as
 * text (never HTML), so names from model files cannot inject markup.
 */
import type { DemoRun, DiceByLabel } from './state.js';

type Cell = string | number;

/**
 * Replace a table's content with a header row and body rows.
 *
 * @param table - the table element.
 * @param header - column titles.
 * @param rows - cell values, numbers shown as given.
 */
export function fillTable(table: HTMLTableElement, header: Cell[], rows: Cell[][]): void {
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const title of header)
    head.appendChild(document.createElement('th')).textContent = `${title}`;
  const body = table.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    for (const cell of row) line.insertCell().textContent = `${cell}`;
  }
}

/** Rows of the timings table: stage and seconds. */
export function timingRows(run: DemoRun): Cell[][] {
  return Object.entries(run.timingsMs).map(([stage, ms]) => [stage, `${(ms / 1000).toFixed(2)} s`]);
}

/**
 * Rows of the labels table: value, name, voxels, volume in mL, and the Dice columns the run has.
 *
 * @param labelNames - name of each label value.
 * @param voxelMl - volume of one voxel of the input grid in mL.
 */
export function labelRows(run: DemoRun, labelNames: string[], voxelMl: number): Cell[][] {
  const dice = (scores: DiceByLabel | undefined, label: number) =>
    scores && label in scores ? scores[label].toFixed(4) : '-';
  const rows: Cell[][] = [];
  run.labelVoxels.forEach((voxels, label) => {
    if (label === 0) return;
    const row: Cell[] = [label, labelNames[label] ?? '', voxels, (voxels * voxelMl).toFixed(1)];
    if (run.referenceDice) row.push(dice(run.referenceDice, label));
    if (run.agreement) row.push(dice(run.agreement.dice, label));
    rows.push(row);
  });
  return rows;
}

/** Header of the labels table, matching {@link labelRows}. */
export function labelHeader(run: DemoRun): string[] {
  const header = ['label', 'name', 'voxels', 'mL'];
  if (run.referenceDice) header.push('Dice vs reference');
  if (run.agreement) header.push(`Dice vs run ${run.agreement.run + 1} (${run.agreement.backend})`);
  return header;
}
