// Unit tests of the pure logic: tally-sheet plausibility, conflict fields, the opening histogram, byte
// ranges, If-None-Match, EXIF wall clocks, and the batch limiter. No database, no app.
import { describe, expect, it } from 'vitest';
import { wallClockToInstant } from '../../src/features/photos/inspect.js';
import { rangeOf } from '../../src/features/photos/photos.routes.js';
import { differingFields } from '../../src/features/reports/canonical.js';
import { limiter, resultsFlags } from '../../src/features/reports/reports.service.js';
import { openingOf } from '../../src/features/summaries/summaries.service.js';
import { noneMatch } from '../../src/infra/http/conditional.js';

describe('resultsFlags', () => {
  const sheet = {
    registeredVoters: 760,
    validVotes: 500,
    nullVotes: 10,
    votes: { EG: 300, NM: 190, LM: 10 },
    citizenAudit: true,
  };

  it('flags nothing on a consistent sheet of the registered size', () => {
    expect(resultsFlags(sheet, 760)).toEqual([]);
  });
  it('flags votes that do not add up to the valid votes', () => {
    expect(resultsFlags({ ...sheet, validVotes: 501 }, 760)).toEqual(['votes_sum_mismatch']);
  });
  it('flags more ballots (valid, null and blank) than registered voters, but not exactly as many', () => {
    expect(resultsFlags({ ...sheet, blankVotes: 251 }, 760)).toEqual(['over_registered']);
    expect(resultsFlags({ ...sheet, blankVotes: 250 }, 760)).toEqual([]);
  });
  it("flags a registered count other than the registry's, and skips the check for a table the registry lacks", () => {
    expect(resultsFlags(sheet, 700)).toEqual(['registered_voters_mismatch']);
    expect(resultsFlags(sheet, null)).toEqual([]);
  });
  it('gives every reason at once, in a stable order', () => {
    const bad = { ...sheet, registeredVoters: 500, validVotes: 600, nullVotes: 5, votes: { EG: 300, NM: 200, LM: 50 } };
    expect(resultsFlags(bad, 737)).toEqual(['votes_sum_mismatch', 'over_registered', 'registered_voters_mismatch']);
  });
});

describe('differingFields', () => {
  it('finds nothing in equal contents, whatever their key order', () => {
    expect(differingFields({ a: 1, b: { c: 2, d: [1, 2] } }, { b: { d: [1, 2], c: 2 }, a: 1 })).toEqual([]);
  });
  it('names the dotted path of each difference, sorted', () => {
    const a = { notes: null, answers: { votes: { EG: 300, NM: 190 }, citizenAudit: true } };
    const b = { notes: 'x', answers: { votes: { EG: 301, NM: 190 }, citizenAudit: true } };
    expect(differingFields(a, b)).toEqual(['answers.votes.EG', 'notes']);
  });
  it('names a field present on one side only', () => {
    expect(differingFields({ a: 1 }, { a: 1, b: 2 })).toEqual(['b']);
    expect(differingFields({ a: 1, b: null }, { a: 1 })).toEqual(['b']);
  });
  it('compares arrays whole (their order matters)', () => {
    expect(differingFields({ witnesses: ['EG', 'NM'] }, { witnesses: ['NM', 'EG'] })).toEqual(['witnesses']);
  });
  it('names an object replaced by a scalar by its own path', () => {
    expect(differingFields({ location: { lat: 1, lon: 2 } }, { location: null })).toEqual(['location']);
  });
});

describe('openingOf', () => {
  it('is empty for a region without openings', () => {
    expect(openingOf(null, null, 360)).toEqual({ total: 0, onTime: 0, median: null });
    expect(openingOf([], [], 360)).toEqual({ total: 0, onTime: 0, median: null });
  });
  it('counts the centres opened, those on time (the minute included), and the median minute, in any order', () => {
    expect(openingOf([420, 360, 390], [1, 2, 1], 390)).toEqual({ total: 4, onTime: 3, median: 360 });
    expect(openingOf([390, 420, 360], [1, 1, 2], 389)).toEqual({ total: 4, onTime: 2, median: 360 });
  });
  it('takes the lower median of an even split, and skips minutes without centres', () => {
    expect(openingOf([360, 420], [1, 1], 360)).toEqual({ total: 2, onTime: 1, median: 360 });
    expect(openingOf([300, 400], [0, 3], 360)).toEqual({ total: 3, onTime: 0, median: 400 });
  });
});

describe('rangeOf', () => {
  const unsatisfiable = (header: string, size: number) => {
    try {
      rangeOf(header, size);
    } catch (error) {
      return {
        code: (error as { code?: string }).code,
        headers: (error as { extra?: { headers?: object } }).extra?.headers,
      };
    }
    return undefined;
  };

  it('answers no range without a header, or for several ranges (the whole file is sent)', () => {
    expect(rangeOf(undefined, 100)).toBeUndefined();
    expect(rangeOf('bytes=0-1,5-6', 100)).toBeUndefined();
  });
  it('reads start-end, start- and -suffix, clamped to the file', () => {
    expect(rangeOf('bytes=10-19', 100)).toEqual({ start: 10, end: 19 });
    expect(rangeOf('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(rangeOf('bytes=90-200', 100)).toEqual({ start: 90, end: 99 });
    expect(rangeOf('bytes=-5', 100)).toEqual({ start: 95, end: 99 });
    expect(rangeOf('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
    expect(rangeOf(' bytes=0-0 ', 100)).toEqual({ start: 0, end: 0 });
  });
  it('refuses a range outside the file or malformed with RANGE_NOT_SATISFIABLE and the size', () => {
    for (const header of ['bytes=100-', 'bytes=20-10', 'bytes=-', 'items=1-2', 'bytes=a-b']) {
      expect(unsatisfiable(header, 100), header).toEqual({
        code: 'RANGE_NOT_SATISFIABLE',
        headers: { 'content-range': 'bytes */100' },
      });
    }
  });
});

describe('noneMatch', () => {
  it('matches nothing without a header, everything with *', () => {
    expect(noneMatch(undefined, '"a"')).toBe(false);
    expect(noneMatch('', '"a"')).toBe(false);
    expect(noneMatch(' * ', '"a"')).toBe(true);
  });
  it('compares weakly: W/ prefixes on either side are ignored', () => {
    expect(noneMatch('"a"', '"a"')).toBe(true);
    expect(noneMatch('W/"a"', '"a"')).toBe(true);
    expect(noneMatch('"a"', 'W/"a"')).toBe(true);
  });
  it('matches any tag of a list, and no other tag', () => {
    expect(noneMatch('"b", W/"a" ,"c"', '"a"')).toBe(true);
    expect(noneMatch('"b", "c"', '"a"')).toBe(false);
    expect(noneMatch('"ab"', '"a"')).toBe(false);
  });
});

describe('wallClockToInstant', () => {
  const wall = (text: string) => new Date(`${text}Z`); // EXIF fields, read as if UTC

  it('reads the wall clock in the time zone of the election', () => {
    expect(wallClockToInstant(wall('2024-07-28T18:40:00'), 'America/Caracas', null).toISOString()).toBe(
      '2024-07-28T22:40:00.000Z',
    );
  });
  it('follows daylight saving time of the zone', () => {
    expect(wallClockToInstant(wall('2024-07-28T18:40:00'), 'Europe/Madrid', null).toISOString()).toBe(
      '2024-07-28T16:40:00.000Z',
    );
    expect(wallClockToInstant(wall('2024-01-15T12:00:00'), 'Europe/Madrid', null).toISOString()).toBe(
      '2024-01-15T11:00:00.000Z',
    );
  });
  it("prefers the photo's own offset to the zone", () => {
    expect(wallClockToInstant(wall('2024-07-28T18:40:00'), 'America/Caracas', '+02:00').toISOString()).toBe(
      '2024-07-28T16:40:00.000Z',
    );
    expect(wallClockToInstant(wall('2024-07-28T18:40:00'), null, '-04:30').toISOString()).toBe(
      '2024-07-28T23:10:00.000Z',
    );
  });
  it('ignores a malformed offset, and keeps the wall clock as UTC without zone or offset', () => {
    expect(wallClockToInstant(wall('2024-07-28T18:40:00'), 'America/Caracas', 'Z').toISOString()).toBe(
      '2024-07-28T22:40:00.000Z',
    );
    expect(wallClockToInstant(wall('2024-07-28T18:40:00'), null, null).toISOString()).toBe('2024-07-28T18:40:00.000Z');
  });
});

describe('the batch limiter', () => {
  /** A work that runs until released; records when it ran. */
  function gate() {
    let release!: () => void;
    let fail!: (error: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      release = resolve;
      fail = reject;
    });
    return { done, release, fail };
  }
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('runs at most n works at once, the others in the order they came, and answers each its own result', async () => {
    const run = limiter(2);
    const gates = Array.from({ length: 5 }, gate);
    const started: number[] = [];
    let active = 0;
    let most = 0;
    const results = gates.map((g, i) =>
      run(async () => {
        started.push(i);
        active += 1;
        most = Math.max(most, active);
        await g.done;
        active -= 1;
        return i * 10;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.release();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.release();
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30, 40]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it('frees the slot of a work that fails, and passes its error on', async () => {
    const run = limiter(1);
    const first = gate();
    const failing = run(() => first.done);
    const next = run(async () => 'next');
    first.fail(new Error('boom'));
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
    await expect(run(async () => 'again')).resolves.toBe('again');
  });
});
