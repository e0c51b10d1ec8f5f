/** A run's progress as the coordinator reports it (`RunJobOptions.onProgress`, the CLI's bar). */

export interface RunProgress {
  readonly phase: 'plan' | 'map' | 'reduce' | 'merge' | 'done';
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly tasksDone: number;
  readonly tasksRunning: number;
  readonly tasksTotal: number;
  readonly retries: number;
}

/** Counts kept by the parts of a run; `emit()` hands a snapshot to the listener. */
export class ProgressTracker {
  readonly #listener: ((p: RunProgress) => void) | undefined;
  #phase: RunProgress['phase'] = 'plan';
  #bytesDone = 0;
  #bytesTotal = 0;
  #tasksDone = 0;
  #tasksRunning = 0;
  #tasksTotal = 0;
  #retries = 0;

  constructor(listener?: (p: RunProgress) => void) {
    this.#listener = listener;
  }

  /** Enter a phase (with the map phase's totals) and tell the listener. */
  phase(phase: RunProgress['phase'], totals?: { readonly bytes: number; readonly tasks: number }): void {
    this.#phase = phase;
    if (totals) {
      this.#bytesTotal = totals.bytes;
      this.#tasksTotal = totals.tasks;
    }
    this.emit();
  }

  running(delta: number): void {
    this.#tasksRunning += delta;
  }

  taskDone(): void {
    this.#tasksDone++;
  }

  bytes(delta: number): void {
    this.#bytesDone += delta;
  }

  retried(): void {
    this.#retries++;
  }

  /** Task attempts that failed and were tried again (map and reduce). */
  get retries(): number {
    return this.#retries;
  }

  snapshot(): RunProgress {
    return {
      phase: this.#phase,
      bytesDone: this.#bytesDone,
      bytesTotal: this.#bytesTotal,
      tasksDone: this.#tasksDone,
      tasksRunning: this.#tasksRunning,
      tasksTotal: this.#tasksTotal,
      retries: this.#retries,
    };
  }

  emit(): void {
    this.#listener?.(this.snapshot());
  }
}
