// Streams a registry CSV (one row per table) into a validated draft: the regions, centres and tables it
// describes, or every problem it has with its line number. Memory grows with the registry's size,
// never with the raw file (the national 2024 registry holds about 10 MB).
import type { Readable } from 'node:stream';
import { type CsvRow, type LineErrors, readCsv } from '../../infra/csv.js';

export const REQUIRED_COLUMNS = [
  'state_code',
  'state_name',
  'municipality_code',
  'municipality_name',
  'parish_code',
  'parish_name',
  'centre_code',
  'centre_name',
  'table_number',
  'registered_voters',
] as const;
export const OPTIONAL_COLUMNS = ['latitude', 'longitude', 'address'] as const;

export type Level = 'state' | 'municipality' | 'parish';
export interface DraftRegion {
  code: string;
  name: string;
  level: Level;
  parentCode: string | null;
  line: number;
}
export interface DraftCentre {
  code: string;
  name: string;
  parishCode: string;
  municipalityCode: string;
  stateCode: string;
  address: string | null;
  latitude: number | null;
  longitude: number | null;
  line: number;
}
export interface DraftTable {
  centreCode: string;
  number: number;
  registeredVoters: number;
  line: number;
}

export interface RegistryDraft {
  rows: number;
  regions: Map<string, DraftRegion>;
  centres: Map<string, DraftCentre>;
  tables: DraftTable[];
  hasAddress: boolean;
  hasCoordinates: boolean;
}

const MAX_NAME = { region: 200, centre: 300, address: 500 };
const MAX_TABLE_NUMBER = 100_000;
const MAX_VOTERS_PER_TABLE = 1_000_000;

/** Parses and checks a registry CSV; every problem lands in `errors`, I/O errors propagate. */
export async function parseRegistryCsv(input: Readable, errors: LineErrors): Promise<RegistryDraft> {
  const draft: RegistryDraft = {
    rows: 0,
    regions: new Map(),
    centres: new Map(),
    tables: [],
    hasAddress: false,
    hasCoordinates: false,
  };
  const tableLines = new Map<string, number>();
  const result = await readCsv(input, { required: REQUIRED_COLUMNS, optional: OPTIONAL_COLUMNS }, errors, (row) =>
    readRow(row, draft, tableLines, errors),
  );
  draft.rows = result.rows;
  draft.hasAddress = result.columns.has('address');
  draft.hasCoordinates = result.columns.has('latitude') || result.columns.has('longitude');
  if (result.columns.has('latitude') !== result.columns.has('longitude'))
    errors.add(result.headerLine, 'latitude and longitude go together');
  return draft;
}

function readRow(row: CsvRow, draft: RegistryDraft, tableLines: Map<string, number>, errors: LineErrors): void {
  const before = errors.total;
  const line = row.line;
  const state = { code: row.code('state_code'), name: row.text('state_name', MAX_NAME.region, true) ?? '' };
  const municipality = {
    code: row.code('municipality_code'),
    name: row.text('municipality_name', MAX_NAME.region, true) ?? '',
  };
  const parish = { code: row.code('parish_code'), name: row.text('parish_name', MAX_NAME.region, true) ?? '' };
  const centreCode = row.code('centre_code');
  const centreName = row.text('centre_name', MAX_NAME.centre, true) ?? '';
  const tableNumber = row.uint('table_number', 1, MAX_TABLE_NUMBER);
  const voters = row.uint('registered_voters', 0, MAX_VOTERS_PER_TABLE);
  const latitude = row.coordinate('latitude', 90);
  const longitude = row.coordinate('longitude', 180);
  if ((latitude === null) !== (longitude === null)) row.error('Give both latitude and longitude, or neither');
  const address = row.text('address', MAX_NAME.address, false);
  if (errors.total > before) return;

  addRegion(draft, { ...state, level: 'state', parentCode: null, line }, errors);
  addRegion(draft, { ...municipality, level: 'municipality', parentCode: state.code, line }, errors);
  addRegion(draft, { ...parish, level: 'parish', parentCode: municipality.code, line }, errors);

  const centre: DraftCentre = {
    code: centreCode,
    name: centreName,
    parishCode: parish.code,
    municipalityCode: municipality.code,
    stateCode: state.code,
    address,
    latitude,
    longitude,
    line,
  };
  if (draft.regions.has(centreCode)) row.error(`Centre code ${centreCode} is already used by a region`, 'centre_code');
  const known = draft.centres.get(centreCode);
  if (!known) {
    draft.centres.set(centreCode, centre);
  } else if (known.parishCode !== centre.parishCode) {
    row.error(
      `Centre ${centreCode} changes parent: parish ${known.parishCode} on line ${known.line}, ${centre.parishCode} here`,
      'parish_code',
    );
  } else if (
    known.name !== centre.name ||
    known.address !== centre.address ||
    known.latitude !== centre.latitude ||
    known.longitude !== centre.longitude
  ) {
    row.error(
      `Centre ${centreCode} has other details than on line ${known.line} (name, address or coordinates)`,
      'centre_name',
    );
  }

  const tableKey = `${centreCode}\u0000${tableNumber}`;
  const firstLine = tableLines.get(tableKey);
  if (firstLine !== undefined) {
    row.error(`Duplicate table ${tableNumber} of centre ${centreCode} (first on line ${firstLine})`, 'table_number');
    return;
  }
  tableLines.set(tableKey, line);
  draft.tables.push({ centreCode, number: tableNumber, registeredVoters: voters, line });
}

function addRegion(draft: RegistryDraft, region: DraftRegion, errors: LineErrors): void {
  const column = `${region.level}_code`;
  const known = draft.regions.get(region.code);
  if (!known) {
    if (draft.centres.has(region.code))
      errors.add(region.line, `Region code ${region.code} is already used by a centre`, column);
    draft.regions.set(region.code, region);
    return;
  }
  if (known.level !== region.level) {
    errors.add(
      region.line,
      `Code ${region.code} is a ${known.level} on line ${known.line} and a ${region.level} here; codes are unique across levels`,
      column,
    );
  } else if (known.parentCode !== region.parentCode) {
    errors.add(
      region.line,
      `${region.level} ${region.code} changes parent: ${known.parentCode} on line ${known.line}, ${region.parentCode} here`,
      column,
    );
  } else if (known.name !== region.name) {
    errors.add(
      region.line,
      `${region.level} ${region.code} is named "${known.name}" on line ${known.line} and "${region.name}" here`,
      `${region.level}_name`,
    );
  }
}
