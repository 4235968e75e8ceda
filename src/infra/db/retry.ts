// Writes that PostgreSQL rolled back because they met concurrent ones (a deadlock victim, a serialization
// failure) wrote nothing and can run again as they were: run once more, a few times, before answering.
import { setTimeout as sleep } from 'node:timers/promises';
import { isAbortedByConcurrency } from './errors.js';

/**
 * `run` again (up to `attempts` in all, after a short random pause) while it fails with an abort that concurrent
 * writes caused; `run` must be a whole transaction (or one statement outside any), so that a failed attempt left
 * nothing behind. Any other error, or the last attempt's, is thrown as it came.
 */
export async function retryAborted<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts || !isAbortedByConcurrency(error)) throw error;
      // Apart, so that the writers that met do not meet again at once.
      await sleep(Math.random() * 20 * attempt);
    }
  }
}
