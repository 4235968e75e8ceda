// A cap on how many of one kind of costly request (exports, recounts) a process serves at once: beyond it the
// request is refused at once with 503 SERVICE_OVERLOADED and Retry-After, before it costs anything, so that
// dashboards and analysts never queue up work that observers' writes would wait behind.
import { AppError } from '../errors.js';

export interface ConcurrencyCap {
  /** Takes a place, or throws SERVICE_OVERLOADED when all `max` are taken; call the returned function (once or more) to give it back. */
  enter(): () => void;
  /** Places taken now. */
  readonly active: number;
}

export function concurrencyCap(what: string, max: number, retryAfterSeconds = 5): ConcurrencyCap {
  let active = 0;
  return {
    enter() {
      if (active >= max) {
        throw new AppError(
          'SERVICE_OVERLOADED',
          `${max} ${what} are running on this server, the most it runs at once; retry after ${retryAfterSeconds} s`,
          {
            headers: { 'retry-after': String(retryAfterSeconds) },
          },
        );
      }
      active += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        active -= 1;
      };
    },
    get active() {
      return active;
    },
  };
}
