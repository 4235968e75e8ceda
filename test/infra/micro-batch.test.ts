// Group commit: callers waiting at the same time share one write; a failed write is retried item by item.
import { describe, expect, it } from 'vitest';
import { microBatch } from '../../src/infra/db/micro-batch.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('microBatch', () => {
  it('writes the items of concurrent callers in one write, and answers each its own output', async () => {
    const writes: number[][] = [];
    const write = microBatch({
      maxItems: 100,
      maxInFlight: 1,
      write: async (items: number[]) => (writes.push(items), items.map((item) => item * 10)),
    });
    expect(await Promise.all([1, 2, 3].map(write))).toEqual([10, 20, 30]);
    expect(writes).toEqual([[1, 2, 3]]);
  });

  it('gathers the items arriving while the writes in flight run, up to maxItems per write', async () => {
    const writes: number[][] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const write = microBatch({
      maxItems: 2,
      maxInFlight: 1,
      write: async (items: number[]) => {
        writes.push(items);
        if (writes.length === 1) await held;
        return items;
      },
    });
    const first = write(0);
    await tick();
    const later = [1, 2, 3].map(write);
    await tick();
    expect(writes).toEqual([[0]]);
    release();
    expect(await Promise.all([first, ...later])).toEqual([0, 1, 2, 3]);
    expect(writes).toEqual([[0], [1, 2], [3]]);
  });

  it('writes each item alone when their shared write fails: one bad item fails only its caller', async () => {
    const writes: number[][] = [];
    const write = microBatch({
      maxItems: 100,
      maxInFlight: 1,
      write: async (items: number[]) => {
        writes.push(items);
        if (items.includes(2)) throw new Error('bad item 2');
        return items;
      },
    });
    const answers = await Promise.allSettled([1, 2, 3].map(write));
    expect(
      answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : (answer.reason as Error).message)),
    ).toEqual([1, 'bad item 2', 3]);
    expect(writes).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('does not retry alone what retryAlone refuses (the database is down): every caller gets the error', async () => {
    let writes = 0;
    const write = microBatch({
      maxItems: 100,
      maxInFlight: 1,
      retryAlone: () => false,
      write: async () => {
        writes += 1;
        throw new Error('down');
      },
    });
    const answers = await Promise.allSettled([1, 2, 3].map(write));
    expect(answers.map((answer) => answer.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(writes).toBe(1);
  });
});
