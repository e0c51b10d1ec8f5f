/**
 * Noticing, while a run is live, that a node it uses has gone: within seconds, not at the end of a
 * task timeout. Two signals, because nodes go in two ways:
 *
 * - **The process ends** (kill -9, a crash, a clean stop): the job servers see its connections
 *   close and stop listing its workers. The detector reads the servers' listing every
 *   `listingMs`; a watched node missing from two listings in a row is gone (one listing could
 *   fall in the moment a node re-dials its server).
 * - **The host is cut off** (no FIN, no RST: the connections stay half-open and the job servers
 *   keep listing its workers for minutes). Every running task sends WORK_STATUS at least once a
 *   second (node-runtime.ts), and each answer from a node counts (`heard`). A watched node not
 *   heard from for `quietMs` is probed (`ping` through the job server); no answer within
 *   `probeTimeoutMs` and it is gone.
 *
 * A node running in this very process (`inProcess`: the embedded node of `geartrain analyze FILE`)
 * is never probed for silence: it cannot be cut off from the coordinator, nor die without it, and
 * its heartbeats come from the same event loop as the detector's timers, so a loop kept busy (a
 * loaded machine, a large merge) would starve them and "find" it gone. The listing rule still
 * applies to it (its connections to the job server closing is news).
 *
 * A node found gone stays gone for the rest of the run: `lost(node)` is aborted (its reason a
 * NodeUnavailableError saying why), so what waits on the node stops at once. Every timer is on a
 * `Clock`, so the rules are tested on a fake one (test/mapreduce/failure-detector.test.ts).
 */
import { systemClock, type Clock, type ClockTimer } from '../clock.ts';
import { JobExceptionError, JobFailedError, NodeUnavailableError, TimeoutError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';

export interface DetectorPolicy {
  /** How often quiet nodes are looked for. */
  readonly tickMs: number;
  /** A watched node not heard from for this long is probed (tasks beat every second). */
  readonly quietMs: number;
  /** A probe not answered within this means the node is gone. */
  readonly probeTimeoutMs: number;
  /** How often the job servers' listing of live workers is read. */
  readonly listingMs: number;
}

/**
 * A node that goes quiet is gone within quietMs + tickMs + probeTimeoutMs = 4.25 s; one whose
 * process ends, within two listings (1-2 s).
 */
const DEFAULT_DETECTOR_POLICY: DetectorPolicy = Object.freeze({ tickMs: 250, quietMs: 1500, probeTimeoutMs: 2500, listingMs: 1000 });

export interface DetectorPorts {
  /**
   * Asks `node` to answer (NodeClient#ping). Rejects with TimeoutError when it did not within
   * `timeoutMs`; a refusal or a failure from the node is an answer.
   */
  probe(node: string, timeoutMs: number, signal: AbortSignal): Promise<unknown>;
  /** The nodes the job servers list with live workers now. */
  listed(signal: AbortSignal): Promise<ReadonlySet<string>>;
}

export interface DetectorOptions {
  readonly clock?: Clock;
  readonly policy?: Partial<DetectorPolicy>;
  readonly logger?: Logger;
  /** Nodes running in this process: silence never makes them gone (see the header). */
  readonly inProcess?: Iterable<string>;
}

interface Watched {
  heardAt: number;
  probing: boolean;
  /** Consecutive listings that did not list the node. */
  unlisted: number;
  readonly gone: AbortController;
}

export class FailureDetector {
  readonly #ports: DetectorPorts;
  readonly #clock: Clock;
  readonly #policy: DetectorPolicy;
  readonly #logger: Logger;
  readonly #nodes = new Map<string, Watched>();
  readonly #inProcess: ReadonlySet<string>;
  readonly #stop = new AbortController();
  #timers: ClockTimer[] = [];
  #listing = false;

  constructor(ports: DetectorPorts, options: DetectorOptions = {}) {
    this.#ports = ports;
    this.#clock = options.clock ?? systemClock;
    this.#policy = { ...DEFAULT_DETECTOR_POLICY, ...options.policy };
    this.#logger = options.logger ?? silentLogger;
    this.#inProcess = new Set(options.inProcess ?? []);
  }

  /** Whether `node` runs in this process (never probed for silence). */
  isInProcess(node: string): boolean {
    return this.#inProcess.has(node);
  }

  get policy(): DetectorPolicy {
    return this.#policy;
  }

  /** Starts watching `nodes` (as heard from now); nodes already watched keep their state. */
  watch(nodes: Iterable<string>): void {
    for (const node of nodes) this.#entry(node);
    if (this.#timers.length === 0 && !this.#stop.signal.aborted) {
      this.#timers = [
        this.#clock.setInterval(() => this.#tick(), this.#policy.tickMs).unref(),
        this.#clock.setInterval(() => void this.#readListing(), this.#policy.listingMs).unref(),
      ];
    }
  }

  /** Something came from `node` (a task's status or result, an answer): it is alive now. */
  heard(node: string): void {
    const w = this.#nodes.get(node);
    if (w && !w.gone.signal.aborted) w.heardAt = this.#clock.now();
  }

  /** Aborted, with a NodeUnavailableError saying why, once `node` is found gone; watches `node` from now on. */
  lost(node: string): AbortSignal {
    return this.#entry(node).gone.signal;
  }

  isLost(node: string): boolean {
    return this.#nodes.get(node)?.gone.signal.aborted ?? false;
  }

  /** The nodes found gone so far, each with why. */
  get gone(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const [node, w] of this.#nodes) if (w.gone.signal.aborted) out.set(node, (w.gone.signal.reason as Error).message);
    return out;
  }

  /** Takes `node` as gone now (a planning request that timed out, say). */
  declare(node: string, why: string): void {
    const w = this.#entry(node);
    if (w.gone.signal.aborted) return;
    this.#logger.warn(`node ${node} is gone: ${why}`);
    w.gone.abort(new NodeUnavailableError(`node ${node} is gone: ${why}`, [node]));
  }

  /** Stops the timers and any probe in flight. Idempotent. */
  stop(): void {
    this.#stop.abort();
    for (const t of this.#timers) this.#clock.clearInterval(t);
    this.#timers = [];
  }

  #entry(node: string): Watched {
    let w = this.#nodes.get(node);
    if (!w) {
      w = { heardAt: this.#clock.now(), probing: false, unlisted: 0, gone: new AbortController() };
      this.#nodes.set(node, w);
    }
    return w;
  }

  #tick(): void {
    const now = this.#clock.now();
    for (const [node, w] of this.#nodes) {
      if (w.gone.signal.aborted || w.probing || now - w.heardAt < this.#policy.quietMs || this.#inProcess.has(node)) continue;
      void this.#probe(node, w);
    }
  }

  async #probe(node: string, w: Watched): Promise<void> {
    w.probing = true;
    try {
      await this.#ports.probe(node, this.#policy.probeTimeoutMs, this.#stop.signal);
      this.heard(node);
    } catch (err) {
      if (this.#stop.signal.aborted) return;
      if (err instanceof JobExceptionError || err instanceof JobFailedError) this.heard(node);
      else if (err instanceof TimeoutError) {
        const quiet = this.#clock.now() - w.heardAt;
        this.declare(node, `no word from it for ${seconds(quiet)} s and no answer to a probe within ${seconds(this.#policy.probeTimeoutMs)} s (its host down or cut off?)`);
      }
      // Anything else (the job server unreachable from here) says nothing about the node.
    } finally {
      w.probing = false;
    }
  }

  async #readListing(): Promise<void> {
    if (this.#listing) return;
    this.#listing = true;
    try {
      const listed = await this.#ports.listed(this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      for (const [node, w] of this.#nodes) {
        if (w.gone.signal.aborted) continue;
        w.unlisted = listed.has(node) ? 0 : w.unlisted + 1;
        if (w.unlisted >= 2) this.declare(node, 'its workers left the job servers (the process ended, or its connections closed)');
      }
    } catch {
      // The servers did not answer: no news of the nodes.
    } finally {
      this.#listing = false;
    }
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1).replace(/\.0$/, '');
}
