// Streaming CSV reading for imports: a header checked against known columns, rows handed over one by one
// with typed cell readers, and every problem collected with its line number (the file is then rejected
// whole by the caller). A UTF-8 BOM, CRLF line ends and RFC 4180 quoting are accepted.
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { AppError, type ProblemCode, type ProblemDetailItem } from './errors.js';
import { isUnsafeText, UNSAFE_MESSAGE } from './http/validation.js';

export const MAX_REPORTED_ERRORS = 100;

/** Collects line-numbered problems, keeping the first MAX_REPORTED_ERRORS and counting the rest. */
export class LineErrors {
  readonly items: ProblemDetailItem[] = [];
  total = 0;
  add(line: number, message: string, column?: string): void {
    this.total += 1;
    if (this.items.length < MAX_REPORTED_ERRORS)
      this.items.push({ in: 'body', line, ...(column ? { path: column } : {}), message });
  }

  /** The problem that rejects the whole file (`code`: the feature's CSV problem): the count, the first, the list. */
  problem(code: ProblemCode): AppError {
    const first = this.items[0];
    const more = this.total > 1 ? ` (and ${this.total - 1} more)` : '';
    const count = `${this.total} problem${this.total > 1 ? 's' : ''}`;
    return new AppError(
      code,
      `${count} in the file; nothing was imported. Line ${first?.line}: ${first?.message}${more}`,
      {
        errors: this.items,
        errorCount: this.total,
      },
    );
  }
}

export const CODE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const UINT = /^\d{1,9}$/;

/** One data row, with readers that record a problem (and return a neutral value) when a cell is bad. */
export class CsvRow {
  constructor(
    readonly line: number,
    private readonly record: string[],
    private readonly index: Record<string, number>,
    private readonly errors: LineErrors,
  ) {}

  has(column: string): boolean {
    return column in this.index;
  }

  cell(column: string): string {
    const position = this.index[column];
    return position === undefined ? '' : (this.record[position] ?? '').trim();
  }

  error(message: string, column?: string): void {
    this.errors.add(this.line, message, column);
  }

  code(column: string, required = true): string {
    const value = this.cell(column);
    if (!value && !required) return '';
    if (!CODE_PATTERN.test(value))
      this.error(
        value ? `"${value}" is not a valid code (letters, digits, . _ -, at most 32)` : 'A code is required',
        column,
      );
    return value;
  }

  text(column: string, max: number, required: boolean): string | null {
    const value = this.cell(column);
    if (!value) {
      if (required) this.error('A value is required', column);
      return null;
    }
    if (value.length > max) this.error(`At most ${max} characters`, column);
    if (isUnsafeText(value)) this.error(`The value ${UNSAFE_MESSAGE}`, column);
    return value;
  }

  uint(column: string, min: number, max: number): number {
    const value = this.cell(column);
    if (!UINT.test(value) || Number(value) < min || Number(value) > max) {
      this.error(`"${value}" is not a whole number from ${min} to ${max}`, column);
      return 0;
    }
    return Number(value);
  }

  coordinate(column: string, limit: number): number | null {
    const value = this.cell(column);
    if (!value) return null;
    if (!/^-?\d+(\.\d+)?$/.test(value) || Math.abs(Number(value)) > limit) {
      this.error(`"${value}" is not a coordinate from -${limit} to ${limit}`, column);
      return null;
    }
    return Number(value);
  }
}

export interface CsvColumns {
  required: readonly string[];
  optional: readonly string[];
}

/**
 * Reads `input` as CSV with a header naming `columns` (any order; unknown, repeated or missing columns
 * are problems), calling `onRow` for each data row of the right width. Returns the columns present and
 * the number of data rows. CSV syntax errors end the reading with a problem; I/O errors propagate.
 */
export async function readCsv(
  input: Readable,
  columns: CsvColumns,
  errors: LineErrors,
  onRow: (row: CsvRow) => void,
): Promise<{ columns: Set<string>; rows: number; headerLine: number }> {
  const known = new Set([...columns.required, ...columns.optional]);
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    max_record_size: 64 * 1024,
    info: true,
  });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);

  let index: Record<string, number> | undefined;
  let rows = 0;
  let headerLine = 1;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!index) {
        headerLine = line;
        index = readHeader(record, line, known, columns.required, errors);
        if (!index) break;
        continue;
      }
      rows += 1;
      // relax_column_count lets a short or long row be reported while the rest of the file is still checked.
      const width = Object.keys(index).length;
      if (record.length !== width) errors.add(line, `Expected ${width} fields, found ${record.length}`);
      else onRow(new CsvRow(line, record, index, errors));
    }
  } catch (error) {
    const csvError = error as { code?: string; lines?: number; message: string };
    if (!(typeof csvError.code === 'string' && csvError.code.startsWith('CSV_'))) throw error;
    errors.add(csvError.lines ?? 0, `The file is not valid CSV: ${csvError.message}`);
  }
  if (!index && errors.total === 0) errors.add(1, 'The file is empty; it needs a header line');
  else if (index && rows === 0 && errors.total === 0) errors.add(headerLine, 'The file has a header but no rows');
  return { columns: new Set(Object.keys(index ?? {})), rows, headerLine };
}

function readHeader(
  record: string[],
  line: number,
  known: Set<string>,
  required: readonly string[],
  errors: LineErrors,
): Record<string, number> | undefined {
  const before = errors.total;
  const index: Record<string, number> = {};
  record.forEach((raw, position) => {
    const name = raw.trim().toLowerCase();
    if (!known.has(name)) errors.add(line, `Unknown column "${raw}"`, raw);
    else if (name in index) errors.add(line, `Column "${name}" appears twice`, name);
    else index[name] = position;
  });
  const missing = required.filter((name) => !(name in index));
  if (missing.length > 0) errors.add(line, `Missing column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  return errors.total === before ? index : undefined;
}

/**
 * One CSV line (RFC 4180 quoting), CRLF-terminated; null and undefined are empty cells. Text that a
 * spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) gets a leading
 * apostrophe: exports carry observers' free text. Numbers are written as they are.
 */
export function csvLine(values: readonly unknown[]): string {
  return `${values
    .map((value) => {
      if (value === null || value === undefined) return '';
      let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
      if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
      return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
    })
    .join(',')}\r\n`;
}
