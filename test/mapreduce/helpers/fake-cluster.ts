/**
 * Stand-ins for the ports of the map scheduler and the reduce tree: a transport whose task copies
 * the test finishes or fails by hand, and a membership whose live nodes the test sets. No job
 * server, no nodes; time is a FakeClock.
 */
import type { NodeCatalog } from '../../../src/logs/catalog.ts';
import type { MapCopy, MapTransport } from '../../../src/mapreduce/map-scheduler.ts';
import type { Membership } from '../../../src/mapreduce/membership.ts';
import type { PlannedTask } from '../../../src/mapreduce/planner.ts';
import type { ReduceStep, ReduceTransport } from '../../../src/mapreduce/reduce-tree.ts';
import type { MapResult, ReduceResult, Ref } from '../../../src/mapreduce/wire.ts';

export class FakeMembership implements Membership {
  nodes: Set<string>;
  constructor(nodes: readonly string[]) {
    this.nodes = new Set(nodes);
  }
  async live(): Promise<ReadonlySet<string>> {
    return new Set(this.nodes);
  }
}

export function plannedTask(taskId: string, holders: readonly string[], bytes = 1000): PlannedTask {
  return { taskId, node: holders[0]!, holders, bytes, shards: [{ id: `${taskId}-shard`, path: `/logs/${taskId}.log`, start: 0, end: bytes, format: 'combined', gzip: false }] };
}

export function ref(node: string, key: string): Ref {
  return { node, key, size: 1, records: 0 };
}

/** Let promise callbacks run (a few macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

export interface MapCall {
  readonly node: string;
  readonly taskId: string;
  readonly copy: MapCopy;
  readonly signal: AbortSignal;
  /** Finish this copy with an output stored on its node (and more fields of the result, as `damaged`). */
  finish(more?: Partial<MapResult>): void;
  fail(message?: string): void;
  progress(done: number): void;
  readonly ended: boolean;
}

export class FakeMaps implements MapTransport {
  readonly calls: MapCall[] = [];
  readonly cancelled: string[] = [];

  runMap(node: string, task: PlannedTask, copy: MapCopy, options: { signal: AbortSignal; onProgress: (done: number) => void }): Promise<MapResult> {
    return new Promise((resolve, reject) => {
      let ended = false;
      const end = () => {
        const was = ended;
        ended = true;
        return !was;
      };
      options.signal.addEventListener('abort', () => end() && reject(options.signal.reason), { once: true });
      this.calls.push({
        node,
        taskId: task.taskId,
        copy,
        signal: options.signal,
        finish: (more = {}) => end() && resolve({ refs: [ref(node, `${task.taskId}@${node}`)], counters: { maps: 1 }, stats: null, bytes: task.bytes, lines: 0, ...more }),
        fail: (message = 'task failed') => end() && reject(new Error(message)),
        progress: (done) => options.onProgress(done),
        get ended() {
          return ended;
        },
      });
    });
  }

  cancelMap(node: string, task: PlannedTask): void {
    this.cancelled.push(`${node}:${task.taskId}`);
  }

  /** Copies not yet finished, failed or aborted. */
  running(node?: string): MapCall[] {
    return this.calls.filter((c) => !c.ended && (node === undefined || c.node === node));
  }

  /** The running copy of a task on a node. */
  copy(taskId: string, node: string): MapCall {
    const c = this.running(node).find((x) => x.taskId === taskId);
    if (!c) throw new Error(`no running copy of ${taskId} on ${node}; calls: ${this.calls.map((x) => `${x.taskId}@${x.node}`).join(' ')}`);
    return c;
  }
}

export interface ReduceCall {
  readonly step: ReduceStep;
  readonly attempt: number;
  /** Finish with an output stored on `node`. */
  finish(node: string, counters?: Record<string, number>): void;
  fail(message?: string): void;
  readonly ended: boolean;
}

export class FakeReduces implements ReduceTransport {
  readonly calls: ReduceCall[] = [];

  runReduce(step: ReduceStep, attempt: number, signal: AbortSignal): Promise<ReduceResult> {
    return new Promise((resolve, reject) => {
      let ended = false;
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      this.calls.push({
        step,
        attempt,
        finish: (node, counters = {}) => {
          ended = true;
          resolve({ ref: ref(node, `${step.id}a${attempt}`), counters });
        },
        fail: (message = 'reduce failed') => {
          ended = true;
          reject(new Error(message));
        },
        get ended() {
          return ended;
        },
      });
    });
  }

  running(): ReduceCall[] {
    return this.calls.filter((c) => !c.ended);
  }
}

/** A node's catalogue of plain files, each with an exact time span (epoch ms) and a size (default 100). */
export function testCatalog(node: string, shards: readonly { id: string; path: string; first: number; last: number; size?: number }[] = []): NodeCatalog {
  return {
    version: 1,
    node,
    time: 0,
    ingestFormat: 'combined',
    replicas: 1,
    shards: shards.map((s) => ({
      id: s.id,
      kind: 'file',
      path: s.path,
      source: s.path,
      format: 'combined',
      formatName: 'combined',
      gzip: false,
      size: s.size ?? 100,
      scannedBytes: s.size ?? 100,
      lines: 1,
      complete: true,
      firstTime: s.first,
      lastTime: s.last,
      timeExact: true,
      timeToleranceMs: 0,
      growing: false,
      mtimeMs: 0,
    })),
    scan: { bytesScanned: 0, filesScanned: 0, cacheHits: 0, pendingBytes: 0 },
  };
}
