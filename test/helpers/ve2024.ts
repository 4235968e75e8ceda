// The 24,532 real tally sheets of Venezuela's 2024 election (../shared/data/ve2024/actas-2024-v1.csv, or
// $VE2024_DIR), read and turned into results reports, for the tests that load the real national outcome.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT } from './server-process.js';

export const VE2024_DIR = process.env.VE2024_DIR || resolve(ROOT, '../shared/data/ve2024');
export const ACTAS = resolve(VE2024_DIR, 'actas-2024-v1.csv');
export const actasPresent = existsSync(ACTAS);
export const SHEETS = 24_532;
export const CANDIDATES = ['EG', 'NM', 'LM', 'JABE', 'JOBR', 'AE', 'CF', 'DC', 'EM', 'BERA'] as const;
export const CANDIDATE_NAMES: Record<(typeof CANDIDATES)[number], string> = {
  EG: 'Edmundo González Urrutia',
  NM: 'Nicolás Maduro Moros',
  LM: 'Luis Eduardo Martínez',
  JABE: 'Javier Bertucci',
  JOBR: 'José Brito',
  AE: 'Antonio Ecarri',
  CF: 'Claudio Fermín',
  DC: 'Daniel Ceballos',
  EM: 'Enrique Márquez',
  BERA: 'Benjamín Rausseo',
};
/** PUT /v1/election's body for 2024, with the ten candidates of the tally sheets. */
export const ELECTION_2024 = {
  name: 'Elección Presidencial 2024',
  date: '2024-07-28',
  timeZone: 'America/Caracas',
  candidates: CANDIDATES.map((code) => ({ code, name: CANDIDATE_NAMES[code] })),
};

export interface Sheet {
  centre: string;
  table: number;
  re: number;
  valid: number;
  nulls: number;
  votes: Record<string, number>;
}

/** The tally sheets: UTF-8 with a BOM, comma-separated, no quoting (see the data's README). */
export function readSheets(): Sheet[] {
  const lines = readFileSync(ACTAS, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((line) => line.length > 0);
  const header = lines[0]!.split(',');
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`${ACTAS}: no column ${name}`);
    return index;
  };
  const at = {
    centre: column('CENTRO'),
    table: column('MESA'),
    re: column('RE'),
    valid: column('VOTOS_VALIDOS'),
    nulls: column('VOTOS_NULOS'),
  };
  const candidateAt = CANDIDATES.map((code) => [code, column(code)] as const);
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    const int = (index: number) => {
      const value = Number(cells[index]);
      if (!Number.isInteger(value)) throw new Error(`${ACTAS}: not an integer in ${header[index]}: ${line}`);
      return value;
    };
    return {
      centre: cells[at.centre]!.padStart(9, '0'),
      table: int(at.table),
      re: int(at.re),
      valid: int(at.valid),
      nulls: int(at.nulls),
      votes: Object.fromEntries(candidateAt.map(([code, index]) => [code, int(index)])),
    };
  });
}

/** A deterministic id per (centre, table), laid out as a UUID v4. */
export function sheetId(centre: string, table: number): string {
  const hex = createHash('sha256').update(`ve2024:${centre}:${table}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A sheet as a results report (POST /v1/reports/batch item). */
export const toReport = (sheet: Sheet) => ({
  id: sheetId(sheet.centre, sheet.table),
  kind: 'results',
  centreCode: sheet.centre,
  table: sheet.table,
  observedAt: '2024-07-28T22:00:00Z',
  answers: {
    registeredVoters: sheet.re,
    validVotes: sheet.valid,
    nullVotes: sheet.nulls,
    votes: sheet.votes,
    citizenAudit: false,
  },
});
