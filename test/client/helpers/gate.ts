/** A promise opened by hand: handlers wait on it so a test controls when jobs finish. */
export interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

/** Resolves once `n` calls to `arrive()` happened. */
export function counter(n: number): { arrive(): void; readonly reached: Promise<void>; readonly count: number } {
  let count = 0;
  let done!: () => void;
  const reached = new Promise<void>((r) => (done = r));
  if (n <= 0) done();
  return {
    arrive() {
      count++;
      if (count === n) done();
    },
    reached,
    get count() {
      return count;
    },
  };
}
