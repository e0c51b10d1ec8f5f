/**
 * Event hooks (`geartrain server --hook …`): when a job ends, a JSON event (hooks-spec.ts
 * `JobEndEvent`) goes to every hook whose functions and outcomes match, by HTTP POST or on a
 * command's stdin.
 *
 * A hook never slows the server: ending a job only appends the event to the hook's backlog (O(1));
 * deliveries run beside the job traffic, at most `concurrency` at once per hook, each attempt
 * bounded by `timeoutMs` and retried `retries` times with backoff; with `batch` > 1 one delivery
 * carries up to `batch` events, waiting up to BATCH_LINGER_MS for them. When the backlog is full, new events are dropped
 * and counted (`dropped`), so a dead or slow receiver costs a bounded amount of memory and nothing
 * else. An event may arrive twice (an answer that came after the attempt's timeout) and, with
 * `concurrency` > 1, out of order.
 */
import type { Logger } from '../logger.ts';
import { Fifo } from './fifo.ts';
import type { FunctionEntry } from './function-entry.ts';
import { commandDelivery, httpDelivery, type Delivery } from './hooks-delivery.ts';
import { functionMatcher } from './function-pattern.ts';
import type { HookConfig, HookOutcome, JobEndEvent } from './hooks-spec.ts';
import type { Job } from './job.ts';

/** Backoff before retry n (0-based): 200 ms, 400 ms, 800 ms, … up to 5 s. */
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 5000;
/** With `batch` > 1, a delivery waits this long for its batch to fill (HTTP requests cost the server ~0.1 ms each). */
const BATCH_LINGER_MS = 100;
/** At most one warning per hook this often about dropped or undeliverable events. */
const WARN_INTERVAL_MS = 10_000;

export interface HookStats {
  /** Where events go: the URL without credentials or query, or the command. */
  readonly target: string;
  /** Events waiting in the backlog. */
  readonly queued: number;
  readonly inFlight: number;
  readonly delivered: number;
  /** Attempts that were retried. */
  readonly retried: number;
  /** Events given up after their last attempt. */
  readonly failed: number;
  /** Events dropped because the backlog was full (or the server closed with them queued). */
  readonly dropped: number;
}

class Hook {
  readonly config: HookConfig;
  readonly target: string;
  readonly matches: (fn: FunctionEntry) => boolean;
  readonly #delivery: Delivery;
  readonly #logger: Logger;
  readonly #backlog = new Fifo<{ body: string; event: JobEndEvent }>();
  #queued = 0;
  /** Events in deliveries under way. */
  #inFlight = 0;
  /** Deliveries under way (at most `concurrency`). */
  #attempts = 0;
  #closed = false;
  #linger: NodeJS.Timeout | null = null;
  #lingerOver = false;
  readonly #sleeps = new Set<() => void>();
  #lastWarning = 0;
  delivered = 0;
  retried = 0;
  failed = 0;
  dropped = 0;

  constructor(config: HookConfig, logger: Logger) {
    this.config = config;
    this.#logger = logger;
    this.matches = functionMatcher(config.functions);
    if (config.url !== undefined) {
      const u = new URL(config.url);
      this.target = `${u.protocol}//${u.host}${u.pathname}`;
      this.#delivery = httpDelivery(config.url, config.timeoutMs, config.concurrency);
    } else {
      this.target = config.command!;
      this.#delivery = commandDelivery(config.command!, config.timeoutMs);
    }
  }

  /** Whether an event pushed now would be kept (else it is dropped: see `drop`). */
  get hasRoom(): boolean {
    return !this.#closed && this.#queued < this.config.backlog;
  }

  drop(): void {
    if (this.#closed) return;
    this.dropped++;
    this.#warn(`hook ${this.target}: backlog of ${this.config.backlog} events is full; dropped ${this.dropped} so far`);
  }

  push(body: string, event: JobEndEvent): void {
    if (!this.hasRoom) {
      this.drop();
      return;
    }
    this.#backlog.push({ body, event });
    this.#queued++;
    this.#pump();
  }

  stats(): HookStats {
    return { target: this.target, queued: this.#queued, inFlight: this.#inFlight, delivered: this.delivered, retried: this.retried, failed: this.failed, dropped: this.dropped };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dropped += this.#queued;
    this.#queued = 0;
    this.#backlog.clear();
    if (this.#linger) clearTimeout(this.#linger);
    for (const wake of [...this.#sleeps]) wake();
    this.#delivery.close();
  }

  #pump(): void {
    while (!this.#closed && this.#attempts < this.config.concurrency && this.#queued > 0) {
      if (this.config.batch > 1 && this.#queued < this.config.batch && !this.#lingerOver) {
        this.#linger ??= setTimeout(() => {
          this.#linger = null;
          this.#lingerOver = true;
          this.#pump();
          this.#lingerOver = false;
        }, BATCH_LINGER_MS);
        return;
      }
      const n = Math.min(this.config.batch, this.#queued);
      const items = Array.from({ length: n }, () => this.#backlog.shift()!);
      this.#queued -= n;
      this.#inFlight += n;
      this.#attempts++;
      const body = this.config.batch === 1 ? items[0]!.body : this.config.url !== undefined ? `[${items.map((i) => i.body).join(',')}]` : items.map((i) => i.body).join('\n');
      void this.#deliver(body, items.length === 1 ? items[0]!.event : null, items).finally(() => {
        this.#inFlight -= n;
        this.#attempts--;
        this.#pump();
      });
    }
  }

  async #deliver(body: string, event: JobEndEvent | null, items: readonly { event: JobEndEvent }[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.#delivery.send(body, event);
      if (r.ok) {
        this.delivered += items.length;
        return;
      }
      if (this.#closed) return;
      if (!r.retryable || attempt >= this.config.retries) {
        this.failed += items.length;
        const what = items.length === 1 ? `event for job ${items[0]!.event.handle}` : `${items.length} events`;
        this.#warn(`hook ${this.target}: ${what} not delivered: ${r.reason}`);
        return;
      }
      this.retried++;
      await this.#sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt));
      if (this.#closed) return;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleeps.add(wake);
    });
  }

  #warn(message: string): void {
    const now = Date.now();
    if (now - this.#lastWarning < WARN_INTERVAL_MS) return;
    this.#lastWarning = now;
    this.#logger.warn(message);
  }
}

/** The hooks of one server. */
export class HookDispatcher {
  readonly #hooks: Hook[];
  readonly #serverId: string;

  constructor(configs: readonly HookConfig[], serverId: string, logger: Logger) {
    this.#hooks = configs.map((c) => new Hook(c, logger));
    this.#serverId = serverId;
  }

  /** A job ended: queue its event for every matching hook. Never waits. */
  jobEnded(job: Job, status: HookOutcome, reason?: string): void {
    let event: JobEndEvent | undefined;
    let body: string | undefined;
    for (const hook of this.#hooks) {
      if (!hook.config.on.includes(status) || !hook.matches(job.fn)) continue;
      // A full backlog costs a counter, not an event built for nothing.
      if (!hook.hasRoom) {
        hook.drop();
        continue;
      }
      event ??= eventOf(job, status, reason, this.#serverId);
      body ??= JSON.stringify(event);
      hook.push(body, event);
    }
  }

  stats(): HookStats[] {
    return this.#hooks.map((h) => h.stats());
  }

  /** Events queued or being delivered, over all hooks. */
  get pending(): number {
    let n = 0;
    for (const h of this.#hooks) {
      const s = h.stats();
      n += s.queued + s.inFlight;
    }
    return n;
  }

  /** Wait until every event is delivered or given up, until `deadline` (ms since the epoch) at most. */
  async drain(deadline: number, signal?: AbortSignal): Promise<void> {
    while (this.pending > 0 && Date.now() < deadline && !signal?.aborted) await new Promise((r) => setTimeout(r, 20));
  }

  /** Stop delivering: attempts in flight are aborted, queued events are dropped (and counted). */
  close(): void {
    for (const h of this.#hooks) h.close();
  }
}

function eventOf(job: Job, status: HookOutcome, reason: string | undefined, server: string): JobEndEvent {
  return {
    event: 'job.end',
    server,
    handle: job.handle,
    function: job.fn.name,
    tenant: job.fn.owner?.name ?? null,
    unique: job.unique,
    status,
    background: job.background,
    ...(reason !== undefined ? { reason } : {}),
    submitted: new Date(job.createdAt).toISOString(),
    started: job.startedAt > 0 ? new Date(job.startedAt).toISOString() : null,
    ended: new Date().toISOString(),
    retries: job.retries,
  };
}
