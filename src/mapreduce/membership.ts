/**
 * Which nodes take part in a run, which must, and which are live while it runs. The map scheduler
 * and the reduce tree ask only `live(maxAgeMs)`; the run's tasks watch `lost(node)`.
 *
 * - **Expected** (expected-nodes.ts): the nodes named with `--nodes`, or else those this machine
 *   remembers for these job servers (member-store.ts) and those the servers list, less the ones
 *   that left. A run is complete only if each took part, or its shards in the time range are read
 *   from a replica.
 * - **Taking part**: the nodes the servers list with live workers (or `waitNodes` of them) that
 *   answer a probe within seconds; a node listed but silent (its host cut off, its connections
 *   half-open) is found gone before any task goes to it.
 * - **Live while the run lasts**: those listed, less those the failure detector has found gone
 *   (failure-detector.ts: the servers' listing every second, heartbeats and probes).
 */
import { systemClock, type Clock } from '../clock.ts';
import { JobExceptionError, JobFailedError, NodeUnavailableError, TimeoutError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';
import type { NodeCatalog } from '../logs/catalog.ts';
import type { ClusterListing, ClusterView } from './discovery.ts';
import { expectedNodes, type ExpectedNode } from './expected-nodes.ts';
import { FailureDetector, type DetectorPolicy } from './failure-detector.ts';
import { emptyState, recordDeparture, rememberCatalogs, type MemberState, type MemberStore } from './member-store.ts';
import { CLOCK_SKEW_MS, isSignedDeparture } from './task-auth.ts';

export interface Membership {
  /**
   * Nodes live now. An answer at most `maxAgeMs` old is reused, and callers that ask while a
   * query is under way share it; with 0 (the default) every call asks the servers.
   */
  live(maxAgeMs?: number): Promise<ReadonlySet<string>>;
}

/** What a run's tasks need to stop waiting for a node that has gone. */
export interface NodeWatch {
  /** Aborted, with a NodeUnavailableError saying why, once `node` is found gone. */
  lost(node: string): AbortSignal;
  /** A task's status or result came from `node`: it is alive now. */
  heard(node: string): void;
}

export interface ClusterMembershipOptions {
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Asks a node to answer (NodeClient#ping); TimeoutError when it did not in `timeoutMs`. */
  readonly probe: (node: string, timeoutMs: number, signal: AbortSignal) => Promise<unknown>;
  /** Where the nodes seen are remembered between runs (none: only the servers' listing). */
  readonly store?: MemberStore;
  /** The nodes the user expects (`--nodes`): exactly these, instead of the remembered ones. */
  readonly named?: readonly string[];
  /** The cluster secret: departure notices count only when signed with it. */
  readonly secret?: string;
  readonly policy?: Partial<DetectorPolicy>;
  readonly logger?: Logger;
  /**
   * Nodes running in this process (the embedded node of `geartrain analyze FILE`): taken as
   * answering and never found gone for silence, which there means a busy event loop, not a lost host.
   */
  readonly inProcess?: readonly string[];
}

/** The nodes a run starts with, and those it expects. */
export interface RunMembers {
  /** Listed live and answering: the run plans over these. */
  readonly nodes: Set<string>;
  readonly expected: ReadonlyMap<string, ExpectedNode>;
}

export class ClusterMembership implements Membership, NodeWatch {
  readonly #view: ClusterView;
  readonly #o: ClusterMembershipOptions;
  readonly #signal: AbortSignal;
  readonly #clock: Clock;
  readonly #detector: FailureDetector;
  #listing: ClusterListing | null = null;
  #shared: { answer: Promise<ReadonlySet<string>>; at: number | null } | null = null;

  constructor(view: ClusterView, options: ClusterMembershipOptions) {
    this.#view = view;
    this.#o = options;
    this.#signal = options.signal ?? new AbortController().signal;
    this.#clock = options.clock ?? systemClock;
    this.#detector = new FailureDetector(
      { probe: options.probe, listed: (signal) => view.liveNodes(AbortSignal.any([signal, this.#signal])) },
      {
        clock: this.#clock,
        logger: options.logger ?? silentLogger,
        ...(options.policy ? { policy: options.policy } : {}),
        ...(options.inProcess ? { inProcess: options.inProcess } : {}),
      },
    );
  }

  /**
   * The nodes a run starts with: `waitNodes` of them (waiting up to `timeoutMs`, then TimeoutError;
   * `onWait` hears after each poll who is there and how long is left), or those live now, less
   * those that do not answer a probe; and the nodes it expects. No node at all is an error naming
   * the servers asked (and the nodes expected).
   */
  async initial(
    waitNodes: number | undefined,
    timeoutMs: number,
    servers: readonly string[],
    onWait?: (seen: readonly string[], msLeft: number) => void,
  ): Promise<RunMembers> {
    if (waitNodes) await this.#view.waitForNodes(waitNodes, timeoutMs, this.#signal, onWait);
    const { nodes, expected, silent } = await this.survey();
    if (nodes.size === 0) {
      const names = [...expected.keys()].sort();
      throw new NodeUnavailableError(
        silent.length > 0
          ? `no geartrain node answers: ${silent.join(', ')} registered on ${servers.join(', ')} but none answered within ${this.#detector.policy.probeTimeoutMs / 1000} s`
          : `no geartrain nodes are registered on ${servers.join(', ')}${names.length > 0 ? ` (expected: ${names.join(', ')})` : ''} (start one with: geartrain node --name NAME --logs GLOB)`,
        names.length > 0 ? names : silent,
      );
    }
    this.#detector.watch(nodes);
    return { nodes, expected };
  }

  /**
   * The nodes listed live that answer a probe, those listed but silent (found gone), and the nodes
   * expected; departure notices on the servers are applied to the memory on the way.
   */
  async survey(): Promise<RunMembers & { readonly silent: readonly string[] }> {
    const listing = (this.#listing = await this.#view.listing(this.#signal));
    const state = await this.#state(listing);
    const expected = expectedNodes(state, listing.known, this.#o.named);
    const nodes = await this.#answering(listing.live);
    return { nodes, expected, silent: [...listing.live].filter((n) => !nodes.has(n)).sort() };
  }

  /** Why `node` does not take part in the run, for messages. */
  whyAbsent(node: string): string {
    const gone = this.#detector.gone.get(node);
    if (gone) return gone;
    if (this.#listing?.known.has(node)) return 'the job servers list it with no live worker (stopped, crashed, or its connections closed)';
    return 'not registered on the job servers';
  }

  /** Remembers the nodes of `catalogs` as seen now, with their shards. */
  async remember(catalogs: readonly NodeCatalog[]): Promise<void> {
    const at = this.#clock.now();
    await this.#o.store?.update((s) => rememberCatalogs(s, catalogs, at));
  }

  live(maxAgeMs = 0): Promise<ReadonlySet<string>> {
    if (maxAgeMs <= 0) return this.#liveNow();
    const shared = this.#shared;
    if (shared && (shared.at === null || this.#clock.now() - shared.at <= maxAgeMs)) return shared.answer;
    const entry: { answer: Promise<ReadonlySet<string>>; at: number | null } = { answer: this.#liveNow(), at: null };
    this.#shared = entry;
    entry.answer.then(
      () => (entry.at = this.#clock.now()),
      () => {
        if (this.#shared === entry) this.#shared = null;
      },
    );
    return entry.answer;
  }

  lost(node: string): AbortSignal {
    return this.#detector.lost(node);
  }

  heard(node: string): void {
    this.#detector.heard(node);
  }

  /** The nodes found gone during the run, each with why. */
  get gone(): ReadonlyMap<string, string> {
    return this.#detector.gone;
  }

  /** Stops watching the nodes (the run is over). */
  stop(): void {
    this.#detector.stop();
  }

  async #liveNow(): Promise<ReadonlySet<string>> {
    const listed = await this.#view.liveNodes(this.#signal);
    return new Set([...listed].filter((n) => !this.#detector.isLost(n)));
  }

  /**
   * The remembered state with the servers' departure notices applied (and stored when they changed
   * it). A notice counts when it is not dated in the future and, for a coordinator that holds the
   * cluster secret, when it is signed with it.
   */
  async #state(listing: ClusterListing): Promise<MemberState> {
    const store = this.#o.store;
    const state = store ? await store.read() : emptyState([]);
    const latest = new Map<string, number>();
    const now = this.#clock.now();
    for (const d of listing.departures) {
      if (d.at > now + CLOCK_SKEW_MS) continue;
      if (this.#o.secret && !isSignedDeparture(this.#o.secret, d.node, d.at, d.signature)) continue;
      latest.set(d.node, Math.max(latest.get(d.node) ?? 0, d.at));
    }
    const news = [...latest].filter(([node, at]) => (state.departed[node] ?? -1) < at);
    if (news.length === 0) return state;
    const apply = (s: MemberState) => {
      for (const [node, at] of news) recordDeparture(s, node, at);
    };
    if (!store) {
      apply(state);
      return state;
    }
    return store.update(apply);
  }

  /** The nodes of `listed` that answer a probe; the others are taken as gone. */
  async #answering(listed: ReadonlySet<string>): Promise<Set<string>> {
    const timeoutMs = this.#detector.policy.probeTimeoutMs;
    const answered = await Promise.all(
      [...listed].map(async (node) => {
        if (this.#detector.isInProcess(node)) return node;
        try {
          await this.#o.probe(node, timeoutMs, this.#signal);
          return node;
        } catch (err) {
          if (err instanceof JobExceptionError || err instanceof JobFailedError) return node;
          if (err instanceof TimeoutError) {
            this.#detector.declare(node, `the job servers list it, but it did not answer a probe within ${timeoutMs / 1000} s (its host down or cut off?)`);
            return null;
          }
          throw err;
        }
      }),
    );
    return new Set(answered.filter((n): n is string => n !== null));
  }
}
