/**
 * When to re-issue a straggling map task on a replica (speculative execution, as Hadoop's
 * `mapreduce.map.speculative`). A task is a straggler once it has run longer than `factor` times
 * what its bytes should take at the median rate of the tasks that have finished, and at least
 * `minMs`. Rates (bytes per ms) rather than durations, because split tasks differ in size.
 * Pure bookkeeping: the coordinator supplies the clock and decides where the copy runs.
 */
export interface SpeculationPolicy {
  /** How many times slower than the median a task must be. */
  readonly factor: number;
  /** Never re-issue a task that has run less than this. */
  readonly minMs: number;
  /** Tasks that must have finished before any rate is trusted. */
  readonly minFinished: number;
  /** Copies in flight at once, as a share of all map tasks (at least one). */
  readonly maxShare: number;
}

export const DEFAULT_SPECULATION: SpeculationPolicy = Object.freeze({ factor: 2, minMs: 2000, minFinished: 1, maxShare: 0.1 });

export class StragglerDetector {
  readonly #policy: SpeculationPolicy;
  readonly #maxInFlight: number;
  readonly #rates: number[] = [];
  /** Median of #rates, computed again only after a task finishes (checks are many more). */
  #median: number | undefined;
  #inFlight = 0;

  constructor(totalTasks: number, policy: SpeculationPolicy = DEFAULT_SPECULATION) {
    this.#policy = policy;
    this.#maxInFlight = Math.max(1, Math.floor(totalTasks * policy.maxShare));
  }

  /** A task of `bytes` finished in `ms` (first result only; a copy's loser is not reported). */
  finished(bytes: number, ms: number): void {
    this.#rates.push(Math.max(bytes, 1) / Math.max(ms, 1));
    this.#median = undefined;
  }

  /**
   * Milliseconds after which a running task of `bytes` counts as a straggler, or undefined while
   * too few tasks have finished to say.
   */
  thresholdMs(bytes: number): number | undefined {
    if (this.#rates.length < this.#policy.minFinished) return undefined;
    this.#median ??= [...this.#rates].sort((a, b) => a - b)[Math.floor(this.#rates.length / 2)]!;
    return Math.max(this.#policy.minMs, (this.#policy.factor * Math.max(bytes, 1)) / this.#median);
  }

  /** Whether a task that started `elapsedMs` ago should get a copy now (and reserve its place). */
  shouldCopy(bytes: number, elapsedMs: number): boolean {
    if (this.#inFlight >= this.#maxInFlight) return false;
    const threshold = this.thresholdMs(bytes);
    if (threshold === undefined || elapsedMs < threshold) return false;
    this.#inFlight++;
    return true;
  }

  /** A copy ended (won, lost or failed): its place is free again. */
  copyEnded(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }
}
