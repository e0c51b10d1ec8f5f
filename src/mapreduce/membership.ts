/**
 * Which nodes take part in a run: the nodes it starts with, and which are live while it runs. The
 * map scheduler and the reduce tree ask only this port; today a node is live while some job server
 * counts a worker for its `geartrain.map@<node>` (discovery.ts).
 */
import { systemClock, type Clock } from '../clock.ts';
import { NodeUnavailableError } from '../errors.ts';
import type { ClusterView } from './discovery.ts';

export interface Membership {
  /**
   * Nodes live now. An answer at most `maxAgeMs` old is reused, and callers that ask while a
   * query is under way share it; with 0 (the default) every call asks the servers.
   */
  live(maxAgeMs?: number): Promise<ReadonlySet<string>>;
}

export interface ClusterMembershipOptions {
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
}

export class ClusterMembership implements Membership {
  readonly #view: ClusterView;
  readonly #signal: AbortSignal | undefined;
  readonly #clock: Clock;
  #shared: { answer: Promise<ReadonlySet<string>>; at: number | null } | null = null;

  constructor(view: ClusterView, options: ClusterMembershipOptions = {}) {
    this.#view = view;
    this.#signal = options.signal;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The nodes a run starts with: `waitNodes` of them (waiting up to `timeoutMs`, then TimeoutError;
   * `onWait` hears after each poll who is there and how long is left), or those live now; none is
   * an error naming the servers asked.
   */
  async initial(
    waitNodes: number | undefined,
    timeoutMs: number,
    servers: readonly string[],
    onWait?: (seen: readonly string[], msLeft: number) => void,
  ): Promise<Set<string>> {
    const nodes = waitNodes ? await this.#view.waitForNodes(waitNodes, timeoutMs, this.#signal, onWait) : await this.#view.liveNodes(0, this.#signal);
    if (nodes.size === 0) {
      throw new NodeUnavailableError(`no geartrain nodes are registered on ${servers.join(', ')} (start one with: geartrain node --name NAME --logs GLOB)`, []);
    }
    return nodes;
  }

  live(maxAgeMs = 0): Promise<ReadonlySet<string>> {
    if (maxAgeMs <= 0) return this.#view.liveNodes(0, this.#signal);
    const shared = this.#shared;
    if (shared && (shared.at === null || this.#clock.now() - shared.at <= maxAgeMs)) return shared.answer;
    const entry: { answer: Promise<ReadonlySet<string>>; at: number | null } = { answer: this.#view.liveNodes(0, this.#signal), at: null };
    this.#shared = entry;
    entry.answer.then(
      () => (entry.at = this.#clock.now()),
      () => {
        if (this.#shared === entry) this.#shared = null;
      },
    );
    return entry.answer;
  }
}
