/**
 * Memory readings of this process: heap used after a forced full GC (with or without
 * `--expose-gc`), RSS, and a sampler for peak RSS.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gcFn: (() => void) | undefined;

/** `global.gc`, exposing it at runtime when the process was started without `--expose-gc`. */
export function gcFunction(): () => void {
  if (gcFn) return gcFn;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return (gcFn = g);
  v8.setFlagsFromString('--expose-gc');
  gcFn = vm.runInNewContext('gc') as () => void;
  return gcFn;
}

/** Heap used after full collections (repeated: weak callbacks and finalizers free more each round). */
export async function heapAfterGc(rounds = 4): Promise<number> {
  const gc = gcFunction();
  for (let i = 0; i < rounds; i++) {
    gc();
    // Let finalizers and socket close callbacks run between rounds.
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

export function rss(): number {
  return process.memoryUsage.rss();
}

/** Samples RSS every `intervalMs` (unref'd timer) and keeps the peak. */
export class PeakRss {
  #peak = rss();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 200) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): number {
    const now = rss();
    if (now > this.#peak) this.#peak = now;
    return now;
  }

  get peak(): number {
    this.sample();
    return this.#peak;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
