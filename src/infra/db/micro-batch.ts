// Group commit for single-item writes: items of concurrent callers, gathered while earlier statements are in
// flight, are written together by one statement. When that statement fails, each item is written alone, so
// that one bad item never fails the others (a failed statement wrote nothing: the retry is safe).

export interface MicroBatchOptions<I, O> {
  /** Writes `items` (1 to maxItems of them) and answers one output per item, in their order. */
  write(items: I[]): Promise<O[]>;
  maxItems: number;
  /** Statements in flight at once; items arriving meanwhile wait for the next free one. */
  maxInFlight: number;
  /** Whether items of a failed statement are worth writing alone (not when the database is down); default yes. */
  retryAlone?(error: unknown): boolean;
}

interface Entry<I, O> {
  item: I;
  resolve(output: O): void;
  reject(error: unknown): void;
}

/** A function that writes one item, sharing the statement with the items of other callers waiting at the same time. */
export function microBatch<I, O>(options: MicroBatchOptions<I, O>): (item: I) => Promise<O> {
  const pending: Entry<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;

  async function settle(entries: Entry<I, O>[]): Promise<void> {
    try {
      const outputs = await options.write(entries.map((entry) => entry.item));
      entries.forEach((entry, index) => entry.resolve(outputs[index]!));
    } catch (error) {
      if (entries.length === 1 || options.retryAlone?.(error) === false)
        return entries.forEach((entry) => entry.reject(error));
      await Promise.all(entries.map((entry) => settle([entry])));
    }
  }

  function flush(): void {
    scheduled = false;
    while (inFlight < options.maxInFlight && pending.length > 0) {
      inFlight += 1;
      void settle(pending.splice(0, options.maxItems)).finally(() => {
        inFlight -= 1;
        if (pending.length > 0) schedule();
      });
    }
  }

  // setImmediate: the callers whose requests were read in the same turn of the event loop share the first statement.
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      schedule();
    });
}
