/**
 * A pool of task threads for map tasks: a node with N slots maps N shards in parallel on N cores.
 * Each thread runs one task at a time; tasks wait for a free thread. Threads start when a task
 * needs one and end after `idleMs` without a task, so an idle node holds no thread (each is a V8
 * isolate of 15-25 MiB, more after a task). `threads: 0` runs tasks in the calling thread (tests,
 * tiny machines).
 */
import { Worker as Thread } from 'node:worker_threads';
import { systemClock, type Clock, type ClockTimer } from '../clock.ts';
import { RUNNING_FROM_DIST } from '../dist-mode.ts';
import { AbortError, deserializeError, TaskFailedError } from '../errors.ts';
import { importJobFile } from './job-loader.ts';
import { executeMapTask } from './map-executor.ts';
import type { PartialStore } from './partial-store.ts';
import type { FromThread, ToThread } from './task-thread.ts';
import { mapResultSchema, type MapResult, type MapTask } from './wire.ts';

// From the sources, a thread needs tsx registered before it loads TypeScript (threads do not
// inherit the parent's loader); the bundle has a plain JavaScript entry.
const BOOT = RUNNING_FROM_DIST ? new URL('./task-thread.mjs', import.meta.url) : new URL('./task-thread-boot.mjs', import.meta.url);
const ENTRY = RUNNING_FROM_DIST ? '' : new URL('./task-thread.ts', import.meta.url).href;

/** How long a task thread waits for its next task before it ends. */
export const DEFAULT_THREAD_IDLE_MS = 10_000;

interface Pending {
  resolve(r: MapResult): void;
  reject(e: Error): void;
  onProgress?: (done: number, total: number) => void;
}

interface Slot {
  thread: Thread;
  busy: number | null;
  /** Ends the thread once it has been idle for `idleMs`. */
  idleTimer: ClockTimer | null;
}

export interface RunMapOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface TaskPoolOptions {
  readonly node: string;
  readonly dataDir: string;
  readonly store: PartialStore;
  /** Threads at most (map tasks at once); 0 runs tasks in the calling thread. */
  readonly threads: number;
  /** A thread without a task for this long ends (default 10 s). */
  readonly idleMs?: number;
  readonly clock?: Clock;
}

export class TaskPool {
  readonly #node: string;
  readonly #dataDir: string;
  readonly #store: PartialStore;
  readonly #max: number;
  readonly #idleMs: number;
  readonly #clock: Clock;
  /** The live threads. */
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #waiting: (() => void)[] = [];
  #nextId = 1;
  #closed = false;
  #started = 0;
  #exited = 0;

  constructor(options: TaskPoolOptions) {
    this.#node = options.node;
    this.#dataDir = options.dataDir;
    this.#store = options.store;
    this.#max = options.threads;
    this.#idleMs = options.idleMs ?? DEFAULT_THREAD_IDLE_MS;
    this.#clock = options.clock ?? systemClock;
  }

  /** Threads at most. */
  get threads(): number {
    return this.#max;
  }

  /** Threads running now (busy or waiting for a task). */
  get live(): number {
    return this.#slots.length;
  }

  /** Threads started and threads that have exited since the pool was made. */
  get stats(): { started: number; exited: number } {
    return { started: this.#started, exited: this.#exited };
  }

  #spawn(): Slot {
    const thread = new Thread(BOOT, { workerData: { entry: ENTRY, node: this.#node, dataDir: this.#dataDir } });
    const slot: Slot = { thread, busy: null, idleTimer: null };
    this.#started++;
    thread.on('message', (msg: FromThread) => this.#onMessage(slot, msg));
    thread.on('error', (err) => this.#onCrash(slot, err));
    thread.on('exit', (code) => {
      this.#exited++;
      if (!this.#closed) this.#onCrash(slot, new TaskFailedError(`task thread exited with code ${code}`));
    });
    thread.unref();
    this.#slots.push(slot);
    return slot;
  }

  /** Ends an idle thread (it is no longer a slot, so its exit is no crash). */
  #retire(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i === -1 || slot.busy !== null) return;
    this.#slots.splice(i, 1);
    void slot.thread.terminate();
  }

  #onMessage(slot: Slot, msg: FromThread): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.done, msg.total);
      return;
    }
    this.#pending.delete(msg.id);
    this.#release(slot);
    if (msg.type === 'result') p.resolve(mapResultSchema.parse(msg.result));
    else p.reject(deserializeError(msg.error));
  }

  #onCrash(slot: Slot, err: Error): void {
    const i = this.#slots.indexOf(slot);
    if (i === -1) return;
    this.#slots.splice(i, 1);
    this.#clock.clearTimeout(slot.idleTimer);
    if (slot.busy !== null) {
      const p = this.#pending.get(slot.busy);
      this.#pending.delete(slot.busy);
      p?.reject(new TaskFailedError(`task thread failed: ${err.message}`, { cause: err }));
    }
    void slot.thread.terminate();
    // A task waiting for a thread gets a new one.
    this.#waiting.shift()?.();
  }

  #release(slot: Slot): void {
    slot.busy = null;
    if (!this.#closed) {
      // Cleared when a task takes the thread (a waiting one, next).
      slot.idleTimer = this.#clock.setTimeout(() => {
        slot.idleTimer = null;
        this.#retire(slot);
      }, this.#idleMs);
      slot.idleTimer.unref();
    }
    this.#waiting.shift()?.();
  }

  /** A thread for task `id`, marked busy at once (two calls in one turn never get the same one). */
  async #acquire(id: number, signal?: AbortSignal): Promise<Slot> {
    for (;;) {
      if (signal?.aborted) throw new AbortError('map task cancelled');
      const free = this.#slots.find((s) => s.busy === null) ?? (this.#slots.length < this.#max ? this.#spawn() : undefined);
      if (free) {
        free.busy = id;
        this.#clock.clearTimeout(free.idleTimer);
        free.idleTimer = null;
        return free;
      }
      await new Promise<void>((r) => this.#waiting.push(r));
    }
  }

  /**
   * Starts threads up to the pool's size ahead of tasks (a run is being planned), so their start
   * (~100 ms of loading and compiling) overlaps the planning; unused, they end after the idle period.
   */
  warm(): void {
    while (!this.#closed && this.#slots.length < this.#max) this.#release(this.#spawn());
  }

  /** Run a map task on a free thread (or inline without threads). */
  async runMap(task: MapTask, jobPath: string, options: RunMapOptions = {}): Promise<MapResult> {
    if (this.#max === 0) {
      const job = await importJobFile(jobPath);
      return executeMapTask(task, { node: this.#node, store: this.#store, job, jobFile: jobPath, ...options });
    }
    const id = this.#nextId++;
    const slot = await this.#acquire(id, options.signal);
    return new Promise<MapResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      const cancel = () => slot.thread.postMessage({ type: 'cancel', id } satisfies ToThread);
      options.signal?.addEventListener('abort', cancel, { once: true });
      slot.thread.postMessage({ type: 'map', id, task, jobPath } satisfies ToThread);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#slots) this.#clock.clearTimeout(s.idleTimer);
    for (const [, p] of this.#pending) p.reject(new AbortError('task pool closed'));
    this.#pending.clear();
    await Promise.all(this.#slots.map((s) => s.thread.terminate()));
  }
}
