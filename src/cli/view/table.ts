// Tables as kubectl prints them: a header in capitals, left-aligned columns three spaces apart,
// no borders. Written here because the table libraries draw boxes, which kubectl users do not
// expect and scripts cannot cut. Widths ignore colour escapes.
import { stripVTControlCharacters } from 'node:util';

const width = (text: string) => stripVTControlCharacters(text).length;

export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => width(row[i] ?? ''))));
  const lines = all.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell) + 3)))
      .join('')
      .trimEnd(),
  );
  return lines.join('\n') + '\n';
}
