/**
 * A pool of task threads for map tasks: a node with N slots maps N shards in parallel on N cores.
 * Each thread runs one task at a time; tasks wait for a free thread. `threads: 0` runs tasks in
 * the calling thread (tests, tiny machines).
 */
import { Worker as Thread } from 'node:worker_threads';
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

interface Pending {
  resolve(r: MapResult): void;
  reject(e: Error): void;
  onProgress?: (done: number, total: number) => void;
}

interface Slot {
  thread: Thread;
  busy: number | null;
}

export interface RunMapOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export class TaskPool {
  readonly #node: string;
  readonly #dataDir: string;
  readonly #store: PartialStore;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #waiting: (() => void)[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: { node: string; dataDir: string; store: PartialStore; threads: number }) {
    this.#node = options.node;
    this.#dataDir = options.dataDir;
    this.#store = options.store;
    for (let i = 0; i < options.threads; i++) this.#slots.push(this.#spawn());
  }

  get threads(): number {
    return this.#slots.length;
  }

  #spawn(): Slot {
    const thread = new Thread(BOOT, { workerData: { entry: ENTRY, node: this.#node, dataDir: this.#dataDir } });
    const slot: Slot = { thread, busy: null };
    thread.on('message', (msg: FromThread) => this.#onMessage(slot, msg));
    thread.on('error', (err) => this.#onCrash(slot, err));
    thread.on('exit', (code) => {
      if (!this.#closed) this.#onCrash(slot, new TaskFailedError(`task thread exited with code ${code}`));
    });
    thread.unref();
    return slot;
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
    if (slot.busy !== null) {
      const p = this.#pending.get(slot.busy);
      this.#pending.delete(slot.busy);
      p?.reject(new TaskFailedError(`task thread failed: ${err.message}`, { cause: err }));
    }
    void slot.thread.terminate();
    if (!this.#closed) {
      this.#slots[i] = this.#spawn();
      this.#release(this.#slots[i]!);
    }
  }

  #release(slot: Slot): void {
    slot.busy = null;
    this.#waiting.shift()?.();
  }

  async #acquire(signal?: AbortSignal): Promise<Slot> {
    for (;;) {
      if (signal?.aborted) throw new AbortError('map task cancelled');
      const free = this.#slots.find((s) => s.busy === null);
      if (free) return free;
      await new Promise<void>((r) => this.#waiting.push(r));
    }
  }

  /** Run a map task on a free thread (or inline without threads). */
  async runMap(task: MapTask, jobPath: string, options: RunMapOptions = {}): Promise<MapResult> {
    if (this.#slots.length === 0) {
      const job = await importJobFile(jobPath);
      return executeMapTask(task, { node: this.#node, store: this.#store, job, jobFile: jobPath, ...options });
    }
    const slot = await this.#acquire(options.signal);
    const id = this.#nextId++;
    slot.busy = id;
    return new Promise<MapResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      const cancel = () => slot.thread.postMessage({ type: 'cancel', id } satisfies ToThread);
      options.signal?.addEventListener('abort', cancel, { once: true });
      slot.thread.postMessage({ type: 'map', id, task, jobPath } satisfies ToThread);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const [, p] of this.#pending) p.reject(new AbortError('task pool closed'));
    this.#pending.clear();
    await Promise.all(this.#slots.map((s) => s.thread.terminate()));
  }
}
