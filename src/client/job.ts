/**
 * `Job`: the handle `client.submit()` returns. `await job.created` gives the server's job handle,
 * `await job.result` the WORK_COMPLETE payload, and `for await (const u of job)` the updates the
 * worker sends (data, warnings, status) in order, ending when the job ends (throwing its error).
 */
import { InvalidArgumentError } from '../errors.ts';
import { quiet } from './deadline.ts';

export type JobUpdate =
  | { readonly type: 'data'; readonly data: Buffer }
  | { readonly type: 'warning'; readonly data: Buffer }
  | { readonly type: 'status'; readonly numerator: number; readonly denominator: number };

export type Priority = 'high' | 'normal' | 'low';

/** GET_STATUS answer. `known: false` also means "finished" (gearmand cannot tell the two apart). */
export interface JobStatus {
  readonly handle: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** `host:port` of the server that answered. */
  readonly server: string;
}

/** GET_STATUS_UNIQUE answer. */
export interface UniqueJobStatus {
  readonly unique: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** Foreground clients waiting for the job. */
  readonly clientCount: number;
  readonly server: string;
}

/** How the client drives a Job; not part of the public API. */
export interface JobControl {
  created(handle: string, server: string): void;
  update(update: JobUpdate): void;
  complete(data: Buffer): void;
  fail(error: Error): void;
  readonly settled: boolean;
}

export interface JobInit {
  readonly function: string;
  readonly unique: string;
  readonly background: boolean;
  readonly priority: Priority;
  /** Keep updates for iteration (default); false drops them (the caller only wants the result). */
  readonly keepUpdates: boolean;
  readonly getStatus: (job: Job) => Promise<JobStatus>;
}

export class Job implements AsyncIterable<JobUpdate> {
  readonly function: string;
  /** The unique key sent (a generated UUID for background jobs submitted without one). */
  readonly unique: string;
  readonly background: boolean;
  readonly priority: Priority;
  /** Resolves with the job handle once the server accepted the job (JOB_CREATED). */
  readonly created: Promise<string>;
  /**
   * Resolves with the WORK_COMPLETE payload. Rejects with JobFailedError (WORK_FAIL),
   * JobExceptionError (WORK_EXCEPTION), ConnectionError, TimeoutError, AbortError or ServerError.
   * For a background job it resolves with an empty Buffer once the server has accepted the job.
   */
  readonly result: Promise<Buffer>;
  #handle: string | undefined;
  #server: string | undefined;
  #updates: JobUpdate[] = [];
  #wake: (() => void) | undefined;
  #iterating = false;
  /** The reader stopped early: updates are no longer kept. */
  #discard = false;
  #settled = false;
  #error: Error | undefined;
  readonly #keepUpdates: boolean;
  readonly #getStatus: (job: Job) => Promise<JobStatus>;

  /** @internal Jobs are made by `Client.submit()`; `attach` receives the control interface. */
  constructor(init: JobInit, attach: (control: JobControl) => void) {
    this.function = init.function;
    this.unique = init.unique;
    this.background = init.background;
    this.priority = init.priority;
    this.#keepUpdates = init.keepUpdates;
    this.#getStatus = init.getStatus;
    let resolveCreated!: (h: string) => void;
    let rejectCreated!: (e: Error) => void;
    let resolveResult!: (b: Buffer) => void;
    let rejectResult!: (e: Error) => void;
    this.created = quiet(new Promise<string>((res, rej) => ((resolveCreated = res), (rejectCreated = rej))));
    this.result = quiet(new Promise<Buffer>((res, rej) => ((resolveResult = res), (rejectResult = rej))));
    const job = this;
    const settle = (error: Error | undefined) => {
      job.#settled = true;
      job.#error = error;
      job.#wake?.();
    };
    attach({
      created(handle, server) {
        if (job.#settled) return;
        const first = job.#handle === undefined;
        job.#handle = handle;
        job.#server = server;
        if (first) resolveCreated(handle);
        if (job.background) {
          settle(undefined);
          resolveResult(Buffer.alloc(0));
        }
      },
      update(update) {
        if (job.#settled || !job.#keepUpdates || job.#discard) return;
        job.#updates.push(update);
        job.#wake?.();
      },
      complete(data) {
        if (job.#settled) return;
        settle(undefined);
        resolveResult(data);
      },
      fail(error) {
        if (job.#settled) return;
        if (job.#handle === undefined) rejectCreated(error);
        settle(error);
        rejectResult(error);
      },
      get settled() {
        return job.#settled;
      },
    });
  }

  /** The job handle, once created (it changes if the job was resubmitted after a lost connection). */
  get handle(): string | undefined {
    return this.#handle;
  }

  /** `host:port` of the server holding the job, once created. */
  get server(): string | undefined {
    return this.#server;
  }

  /** Ask the job's server for its status (GET_STATUS). */
  status(): Promise<JobStatus> {
    return this.#getStatus(this);
  }

  /** Updates in arrival order; ends when the job completes and throws when it fails. One reader only. */
  [Symbol.asyncIterator](): AsyncIterator<JobUpdate> {
    if (this.#iterating) throw new InvalidArgumentError('a Job can be iterated only once', { field: 'job' });
    if (!this.#keepUpdates) throw new InvalidArgumentError('this job was submitted with updates: false', { field: 'updates' });
    this.#iterating = true;
    return {
      next: async (): Promise<IteratorResult<JobUpdate>> => {
        for (;;) {
          const u = this.#updates.shift();
          if (u) return { done: false, value: u };
          if (this.#settled) {
            if (this.#error) throw this.#error;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
        }
      },
      return: async () => {
        this.#discard = true;
        this.#updates = [];
        return { done: true, value: undefined };
      },
    };
  }
}
