/** Plain-text tables and number formats for the CLI. */

/** Render rows as an aligned table; the first row is the header. Numbers (and numerals) align right. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map((cell) => String(cell)));
  const widths = cells[0].map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[], source: (string | number)[]) =>
    row
      .map((cell, column) =>
        typeof source[column] === 'number' || /^-?\d+(\.\d+)?$/.test(cell)
          ? cell.padStart(widths[column])
          : cell.padEnd(widths[column]),
      )
      .join('  ')
      .trimEnd();
  const header = line(cells[0], rows[0]);
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [header, rule, ...cells.slice(1).map((row, i) => line(row, rows[i + 1]))].join('\n');
}

/** Milliseconds as "1.23 s" or "456 ms". */
export function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/** Bytes as MiB with one decimal. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
