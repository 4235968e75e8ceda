// The canonical form of a report's content — what its sha256 covers and what a retry must match:
// JSON with sorted keys, times in UTC ISO with milliseconds, absent optional fields as null.
import { createHash } from 'node:crypto';

export interface ReportContent {
  kind: string;
  centreCode: string;
  table: number | null;
  observedAt: string;
  answers: Record<string, unknown>;
  notes: string | null;
  location: { lat: number; lon: number; accuracy: number | null } | null;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export const canonicalJson = (content: ReportContent): string => JSON.stringify(sortKeys(content));
export const contentHash = (content: ReportContent): string =>
  createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex');

/** Dotted paths where two contents differ (`answers.votes.EG`, `observedAt`), for REPORT_CONFLICT. */
export function differingFields(a: unknown, b: unknown, path = ''): string[] {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    Boolean(value) && typeof value === 'object' && !Array.isArray(value);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((key) => differingFields(a[key], b[key], path ? `${path}.${key}` : key));
  }
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b)) ? [] : [path];
}
