// Streams a registry CSV (one row per table) into a validated draft: the regions, centres and tables it
// describes, or every problem it has with its line number. Memory grows with the registry's size,
// never with the raw file (a 30,000-table file holds about 15,000 centres and 1,500 regions).
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { ProblemDetailItem } from '../../infra/errors.js';

export const REQUIRED_COLUMNS = [
  'state_code', 'state_name', 'municipality_code', 'municipality_name', 'parish_code', 'parish_name',
  'centre_code', 'centre_name', 'table_number', 'registered_voters',
] as const;
export const OPTIONAL_COLUMNS = ['latitude', 'longitude', 'address'] as const;
const KNOWN_COLUMNS = new Set<string>([...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]);

export type Level = 'state' | 'municipality' | 'parish';
export interface DraftRegion { code: string; name: string; level: Level; parentCode: string | null; line: number }
export interface DraftCentre {
  code: string; name: string; parishCode: string; municipalityCode: string; stateCode: string;
  address: string | null; latitude: number | null; longitude: number | null; line: number;
}
export interface DraftTable { centreCode: string; number: number; registeredVoters: number; line: number }

export interface RegistryDraft {
  rows: number;
  regions: Map<string, DraftRegion>;
  centres: Map<string, DraftCentre>;
  tables: DraftTable[];
  hasAddress: boolean;
  hasCoordinates: boolean;
}

export const MAX_REPORTED_ERRORS = 100;

/** Collects line-numbered problems, keeping the first MAX_REPORTED_ERRORS and counting the rest. */
export class LineErrors {
  readonly items: ProblemDetailItem[] = [];
  total = 0;
  add(line: number, message: string, column?: string): void {
    this.total += 1;
    if (this.items.length < MAX_REPORTED_ERRORS) this.items.push({ in: 'body', line, ...(column ? { path: column } : {}), message });
  }
}

const CODE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const UINT = /^\d{1,9}$/;
const MAX_NAME = { region: 200, centre: 300, address: 500 };
const MAX_TABLE_NUMBER = 100_000;
const MAX_VOTERS_PER_TABLE = 1_000_000;

/**
 * Parses and checks a registry CSV. A UTF-8 BOM and CRLF line ends are accepted.
 * Throws nothing for bad content: every problem lands in `errors`; I/O errors (a body too large,
 * a dropped connection) propagate.
 */
export async function parseRegistryCsv(input: Readable, errors: LineErrors): Promise<RegistryDraft> {
  const draft: RegistryDraft = { rows: 0, regions: new Map(), centres: new Map(), tables: [], hasAddress: false, hasCoordinates: false };
  const tableLines = new Map<string, number>();
  const parser = parse({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, max_record_size: 64 * 1024, info: true });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);

  let index: Record<string, number> | undefined;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!index) {
        index = readHeader(record, line, errors);
        if (!index) break;
        draft.hasAddress = 'address' in index;
        draft.hasCoordinates = 'latitude' in index || 'longitude' in index;
        if (('latitude' in index) !== ('longitude' in index)) errors.add(line, 'latitude and longitude go together');
        continue;
      }
      draft.rows += 1;
      readRow(record, index, line, draft, tableLines, errors);
    }
  } catch (error) {
    const csvError = error as { code?: string; lines?: number; message: string };
    if (typeof csvError.code === 'string' && csvError.code.startsWith('CSV_')) {
      errors.add(csvError.lines ?? 0, `The file is not valid CSV: ${csvError.message}`);
    } else {
      throw error;
    }
  }
  if (!index && errors.total === 0) errors.add(1, 'The file is empty; it needs a header line');
  else if (index && draft.rows === 0 && errors.total === 0) errors.add(1, 'The file has a header but no rows');
  return draft;
}

function readHeader(record: string[], line: number, errors: LineErrors): Record<string, number> | undefined {
  const index: Record<string, number> = {};
  record.forEach((raw, position) => {
    const name = raw.trim().toLowerCase();
    if (!KNOWN_COLUMNS.has(name)) errors.add(line, `Unknown column "${raw}"`, raw);
    else if (name in index) errors.add(line, `Column "${name}" appears twice`, name);
    else index[name] = position;
  });
  const missing = REQUIRED_COLUMNS.filter((name) => !(name in index));
  if (missing.length > 0) errors.add(line, `Missing column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  return errors.total === 0 ? index : undefined;
}

function readRow(
  record: string[],
  index: Record<string, number>,
  line: number,
  draft: RegistryDraft,
  tableLines: Map<string, number>,
  errors: LineErrors,
): void {
  // relax_column_count lets a short or long row be reported while the rest of the file is still checked.
  const width = Object.keys(index).length;
  if (record.length !== width) {
    errors.add(line, `Expected ${width} fields, found ${record.length}`);
    return;
  }
  const before = errors.total;
  const cell = (name: string): string => {
    const position = index[name];
    return position === undefined ? '' : (record[position] ?? '').trim();
  };
  const code = (name: string): string => {
    const value = cell(name);
    if (!CODE.test(value)) errors.add(line, value ? `"${value}" is not a valid code (letters, digits, . _ -, at most 32)` : 'A code is required', name);
    return value;
  };
  const text = (name: string, max: number, required: boolean): string | null => {
    const value = cell(name);
    if (!value) {
      if (required) errors.add(line, 'A value is required', name);
      return null;
    }
    if (value.length > max) errors.add(line, `At most ${max} characters`, name);
    return value;
  };
  const uint = (name: string, min: number, max: number): number => {
    const value = cell(name);
    if (!UINT.test(value) || Number(value) < min || Number(value) > max) {
      errors.add(line, `"${value}" is not a whole number from ${min} to ${max}`, name);
      return 0;
    }
    return Number(value);
  };
  const coordinate = (name: string, limit: number): number | null => {
    const value = cell(name);
    if (!value) return null;
    const parsed = Number(value);
    if (!/^-?\d+(\.\d+)?$/.test(value) || Math.abs(parsed) > limit) {
      errors.add(line, `"${value}" is not a coordinate from -${limit} to ${limit}`, name);
      return null;
    }
    return parsed;
  };

  const state = { code: code('state_code'), name: text('state_name', MAX_NAME.region, true) ?? '' };
  const municipality = { code: code('municipality_code'), name: text('municipality_name', MAX_NAME.region, true) ?? '' };
  const parish = { code: code('parish_code'), name: text('parish_name', MAX_NAME.region, true) ?? '' };
  const centreCode = code('centre_code');
  const centreName = text('centre_name', MAX_NAME.centre, true) ?? '';
  const tableNumber = uint('table_number', 1, MAX_TABLE_NUMBER);
  const voters = uint('registered_voters', 0, MAX_VOTERS_PER_TABLE);
  const latitude = coordinate('latitude', 90);
  const longitude = coordinate('longitude', 180);
  if ((latitude === null) !== (longitude === null)) errors.add(line, 'Give both latitude and longitude, or neither');
  const address = text('address', MAX_NAME.address, false);
  if (errors.total > before) return;

  addRegion(draft, { ...state, level: 'state', parentCode: null, line }, errors);
  addRegion(draft, { ...municipality, level: 'municipality', parentCode: state.code, line }, errors);
  addRegion(draft, { ...parish, level: 'parish', parentCode: municipality.code, line }, errors);

  const centre: DraftCentre = {
    code: centreCode, name: centreName, parishCode: parish.code, municipalityCode: municipality.code, stateCode: state.code,
    address, latitude, longitude, line,
  };
  if (draft.regions.has(centreCode)) errors.add(line, `Centre code ${centreCode} is already used by a region`, 'centre_code');
  const known = draft.centres.get(centreCode);
  if (!known) {
    draft.centres.set(centreCode, centre);
  } else if (known.parishCode !== centre.parishCode) {
    errors.add(line, `Centre ${centreCode} changes parent: parish ${known.parishCode} on line ${known.line}, ${centre.parishCode} here`, 'parish_code');
  } else if (known.name !== centre.name || known.address !== centre.address || known.latitude !== centre.latitude || known.longitude !== centre.longitude) {
    errors.add(line, `Centre ${centreCode} has other details than on line ${known.line} (name, address or coordinates)`, 'centre_name');
  }

  const tableKey = `${centreCode}\u0000${tableNumber}`;
  const firstLine = tableLines.get(tableKey);
  if (firstLine !== undefined) {
    errors.add(line, `Duplicate table ${tableNumber} of centre ${centreCode} (first on line ${firstLine})`, 'table_number');
    return;
  }
  tableLines.set(tableKey, line);
  draft.tables.push({ centreCode, number: tableNumber, registeredVoters: voters, line });
}

function addRegion(draft: RegistryDraft, region: DraftRegion, errors: LineErrors): void {
  const column = `${region.level}_code`;
  const known = draft.regions.get(region.code);
  if (!known) {
    if (draft.centres.has(region.code)) errors.add(region.line, `Region code ${region.code} is already used by a centre`, column);
    draft.regions.set(region.code, region);
    return;
  }
  if (known.level !== region.level) {
    errors.add(region.line, `Code ${region.code} is a ${known.level} on line ${known.line} and a ${region.level} here; codes are unique across levels`, column);
  } else if (known.parentCode !== region.parentCode) {
    errors.add(region.line, `${region.level} ${region.code} changes parent: ${known.parentCode} on line ${known.line}, ${region.parentCode} here`, column);
  } else if (known.name !== region.name) {
    errors.add(region.line, `${region.level} ${region.code} is named "${known.name}" on line ${known.line} and "${region.name}" here`, `${region.level}_name`);
  }
}
