// Plain-text tables for terminals and logs: right-aligned numbers, left-aligned text, no colours (so output
// pasted into an issue reads the same). Cells hold folder and file names from the source: control characters
// in them are escaped (core/printable.ts), so a name cannot drive the terminal or break the table's lines.
import { printable } from '../../core/printable.js';

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  readonly align?: 'left' | 'right';
}

export function renderTable<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>): string {
  const cells = rows.map((r) => columns.map((c) => printable(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: readonly string[]): string =>
    vals
      .map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/**
 * An integer with its thousands grouped by commas: 1234567 → "1,234,567", as `toLocaleString('en-US')` writes it.
 * Not toLocaleString itself: its first call loads ICU's number formatting, ~15–30 ms CPU once per process
 * (`node -e` with process.cpuUsage() around the call), which every import paid for its summary
 * (docs/measurements.md "Start-up"). Anything but a safe integer goes to toLocaleString, unchanged.
 */
export function groupDigits(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  if (Object.is(n, -0)) return '-0';
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

/** Milliseconds for humans: 0.07, 4.5, 44, 1,234. */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1) return ms.toFixed(2);
  if (ms < 10) return ms.toFixed(1);
  return groupDigits(Math.round(ms));
}

export function fmtRate(n: number): string {
  if (n >= 100) return groupDigits(Math.round(n));
  return n.toFixed(1);
}
