/**
 * Requests to geartrain nodes, as Gearman jobs: map and reduce tasks, catalogues, node info, key
 * samples, chunks of stored partials, cancel and drop. Everything a coordinator sends to a node,
 * and every chunk a reducer reads from another node, is encoded here by the wire.ts encoders and
 * leaves through `#send`, the one place a request goes out to a node, signed there with the
 * cluster secret when there is one (task-auth.ts).
 */
import type { Client } from '../client/index.ts';
import { parseNodeCatalog, type CatalogRequest, type NodeCatalog } from '../logs/catalog.ts';
import { catalogFunction, fetchFunction, mapFunction, reduceFunction } from '../wire-names.ts';
import type { Sealer } from './task-auth.ts';
import { callTask } from './task-runner.ts';
import {
  encodeCatalogRequest,
  encodeFetchRequest,
  encodeMapTask,
  encodeReduceTask,
  mapResultSchema,
  nodeInfoSchema,
  parseWire,
  pingResultSchema,
  reduceResultSchema,
  sampleResultSchema,
  taskNoticeSchema,
  type FetchRequest,
  type MapResult,
  type MapTask,
  type NodeInfo,
  type ReduceResult,
  type ReduceTask,
} from './wire.ts';

export interface RequestOptions {
  readonly signal?: AbortSignal;
  /** Fail when no answer came in this long (default: wait). */
  readonly timeoutMs?: number;
}

export interface TaskOptions {
  /** The job's unique key (src/wire-names.ts). */
  readonly unique: string;
  /** The task fails when neither progress nor its result arrives for this long. */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** WORK_STATUS of the task: bytes done, bytes total (re-sent every second as a heartbeat). */
  readonly onStatus?: (done: number, total: number) => void;
  /** The node the task runs on, once it has started there (a task sent to any node). */
  readonly onNode?: (node: string) => void;
}

export type SampleRequest = Omit<Extract<FetchRequest, { op: 'sample' }>, 'op'>;

type Sending =
  | { readonly task: false; readonly signal?: AbortSignal; readonly timeoutMs?: number }
  | ({ readonly task: true } & TaskOptions);

export class NodeClient {
  readonly #client: Client;
  readonly #seal: Sealer;

  /**
   * `seal` signs every request (task-auth.ts `sealerFor`; `unsealed` without a secret): nodes
   * that have the cluster secret take nothing unsigned.
   */
  constructor(client: Client, seal: Sealer) {
    this.#client = client;
    this.#seal = seal;
  }

  /** The node's shards. */
  async catalog(node: string, request: CatalogRequest, options: RequestOptions = {}): Promise<NodeCatalog> {
    return parseNodeCatalog(await this.#send(catalogFunction(node), encodeCatalogRequest(request), { task: false, ...options }));
  }

  /** Slots, permissions, version and log zone of the node. */
  async info(node: string, options: RequestOptions = {}): Promise<NodeInfo> {
    return parseWire(nodeInfoSchema, await this.#send(fetchFunction(node), encodeFetchRequest({ op: 'info' }), { task: false, ...options }), 'node info');
  }

  /** Whether the node answers at all: its name, at once (a liveness probe). */
  async ping(node: string, options: RequestOptions = {}): Promise<string> {
    return parseWire(pingResultSchema, await this.#send(fetchFunction(node), encodeFetchRequest({ op: 'ping' }), { task: false, ...options }), 'ping').node;
  }

  /** Keys of a sorted job for lines at random offsets of the node's shards. */
  async sample(node: string, request: SampleRequest, options: RequestOptions = {}): Promise<Buffer[]> {
    const data = await this.#send(fetchFunction(node), encodeFetchRequest({ op: 'sample', ...request }), { task: false, ...options });
    return parseWire(sampleResultSchema, data, 'sample').keys.map((k) => Buffer.from(k, 'hex'));
  }

  /** `length` bytes at `offset` of a partial the node stores under `key` (fewer at its end). */
  chunk(node: string, key: string, offset: number, length: number, options: RequestOptions = {}): Promise<Buffer> {
    return this.#send(fetchFunction(node), encodeFetchRequest({ op: 'get', key, offset, length }), { task: false, ...options });
  }

  /** Abort a run's tasks on the node; with `taskId`, only that task. */
  async cancel(node: string, runId: string, taskId?: string, options: RequestOptions = {}): Promise<void> {
    await this.#send(fetchFunction(node), encodeFetchRequest({ op: 'cancel', runId, ...(taskId !== undefined ? { taskId } : {}) }), { task: false, ...options });
  }

  /** Delete what the node stores for a run. */
  async drop(node: string, runId: string, options: RequestOptions = {}): Promise<void> {
    await this.#send(fetchFunction(node), encodeFetchRequest({ op: 'drop', runId }), { task: false, ...options });
  }

  /** Run a map task on the node that holds its shards. */
  async map(node: string, task: MapTask, options: TaskOptions): Promise<MapResult> {
    return parseWire(mapResultSchema, await this.#send(mapFunction(node), encodeMapTask(task), { task: true, ...options }), 'map result');
  }

  /** Run a reduce task on `node`, or on any node when null. */
  async reduce(node: string | null, task: ReduceTask, options: TaskOptions): Promise<ReduceResult> {
    return parseWire(reduceResultSchema, await this.#send(reduceFunction(node), encodeReduceTask(task), { task: true, ...options }), 'reduce result');
  }

  /**
   * Tasks are foreground jobs watched for progress; other requests jump the queues. Each request
   * is signed anew, so a retry gets a fresh expiry.
   */
  #send(fn: string, body: string, how: Sending): Promise<Buffer> {
    const payload = this.#seal(fn, body);
    if (how.task) {
      return callTask(this.#client, {
        fn,
        payload,
        unique: how.unique,
        idleTimeoutMs: how.idleTimeoutMs,
        ...(how.signal ? { signal: how.signal } : {}),
        ...(how.onStatus ? { onStatus: how.onStatus } : {}),
        ...(how.onNode ? { onData: noticeReader(how.onNode) } : {}),
      });
    }
    return this.#client.call(fn, payload, {
      priority: 'high',
      ...(how.timeoutMs !== undefined ? { timeoutMs: how.timeoutMs } : {}),
      ...(how.signal ? { signal: how.signal } : {}),
    });
  }
}

/** Reads a task's notice (its first WORK_DATA: the node it runs on); other data is ignored. */
function noticeReader(onNode: (node: string) => void): (data: Buffer) => void {
  let told = false;
  return (data) => {
    if (told) return;
    try {
      onNode(parseWire(taskNoticeSchema, data, 'task notice').node);
      told = true;
    } catch {
      // not a notice (a node of an older version sends none)
    }
  };
}
