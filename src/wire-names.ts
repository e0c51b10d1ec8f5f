/**
 * The names geartrain puts on a job server: the functions nodes and coordinators register, and the
 * unique keys of map/reduce task jobs. Any Gearman tool can see them, and the job server's monitor
 * (`server/http/runs.ts`) and `geartrain top` read runs out of them, so this module imports nothing:
 * the server may not import the map/reduce layer. The payloads of these functions are in
 * `mapreduce/wire.ts`.
 *
 *   logger, logger@<node>       ingest log lines
 *   geartrain.replica@<node>    a copy of a batch another node received
 *   geartrain.catalog@<node>    the node's shards
 *   geartrain.map@<node>        a map task          unique <runId>:<mapTaskId>:<attempt>[s]
 *   geartrain.reduce[@<node>]   a reduce task       unique <runId>:<reduceTaskId>
 *   geartrain.fetch@<node>      chunks of stored partials; info, sample, cancel, drop
 *   geartrain.code@<hash>       the bundled code of an ad-hoc job (served by its coordinator)
 *   geartrain.left@<node>@<ms>[@<sig>]  no worker, ever: the notice that a node left the cluster
 *                               at <ms> (`geartrain node --leave`, `geartrain nodes forget`), signed
 *                               with the cluster secret when there is one; job servers keep
 *                               listing a function after its workers are gone
 *
 * Run ids are `r` and lower-case letters or digits; map task ids `m` and digits; reduce task ids
 * `t<tier>r<n>a<attempt>`. A trailing `s` on a map unique key marks a speculative copy.
 */

export const LOGGER_FUNCTION = 'logger';
export const REPLICA_FUNCTION_PREFIX = 'geartrain.replica@';
export const CATALOG_FUNCTION_PREFIX = 'geartrain.catalog@';
export const MAP_FUNCTION_PREFIX = 'geartrain.map@';
export const REDUCE_FUNCTION = 'geartrain.reduce';
export const FETCH_FUNCTION_PREFIX = 'geartrain.fetch@';
export const CODE_FUNCTION_PREFIX = 'geartrain.code@';
export const DEPARTURE_FUNCTION_PREFIX = 'geartrain.left@';

/** The function that sends lines to one node. */
export const loggerFunction = (node: string): string => `${LOGGER_FUNCTION}@${node}`;
/** The function a node serves for stores from other nodes. */
export const replicaFunction = (node: string): string => REPLICA_FUNCTION_PREFIX + node;
export const catalogFunction = (node: string): string => CATALOG_FUNCTION_PREFIX + node;
export const mapFunction = (node: string): string => MAP_FUNCTION_PREFIX + node;
/** `geartrain.reduce@<node>` runs on that node (its own partials); `geartrain.reduce` on any. */
export const reduceFunction = (node?: string | null): string => (node ? `${REDUCE_FUNCTION}@${node}` : REDUCE_FUNCTION);
export const fetchFunction = (node: string): string => FETCH_FUNCTION_PREFIX + node;
export const codeFunction = (hash: string): string => CODE_FUNCTION_PREFIX + hash.slice(0, 32);
/** The notice that `node` left the cluster at `at` (epoch ms), with its signature (hex) if any. */
export const departureFunction = (node: string, at: number, signature?: string): string =>
  `${DEPARTURE_FUNCTION_PREFIX}${node}@${Math.round(at)}${signature ? `@${signature}` : ''}`;

export interface DepartureNotice {
  readonly node: string;
  readonly at: number;
  readonly signature: string | null;
}

/** The node, time and signature of a departure notice, or null when `name` is not one. */
export function parseDepartureFunction(name: string): DepartureNotice | null {
  if (!name.startsWith(DEPARTURE_FUNCTION_PREFIX)) return null;
  const m = /^(.+)@(\d{1,15})(?:@([0-9a-f]{64}))?$/.exec(name.slice(DEPARTURE_FUNCTION_PREFIX.length));
  if (!m) return null;
  return { node: m[1]!, at: Number(m[2]), signature: m[3] ?? null };
}

export type TaskKind = 'map' | 'reduce';

/** The task kind and node of a function name, or null when it runs no map/reduce task. */
export function taskFunctionOf(name: string): { readonly kind: TaskKind; readonly node: string | null } | null {
  if (name.startsWith(MAP_FUNCTION_PREFIX)) return { kind: 'map', node: name.slice(MAP_FUNCTION_PREFIX.length) };
  if (name === REDUCE_FUNCTION) return { kind: 'reduce', node: null };
  if (name.startsWith(REDUCE_FUNCTION + '@')) return { kind: 'reduce', node: name.slice(REDUCE_FUNCTION.length + 1) };
  return null;
}

/** Whether jobs of this function are map/reduce tasks. */
export function isTaskFunction(name: string): boolean {
  return taskFunctionOf(name) !== null;
}

const RUN_ID = /^r[0-9a-z]+$/;
const MAP_TASK_ID = /^m\d+$/;
const REDUCE_TASK_ID = /^t\d+r\d+a\d+$/;
const ATTEMPT = /^(\d+)(s?)$/;

/** The id of reduce step `n` of tier `tier`, before an attempt is added (`t2r5`). */
export function reduceStepId(tier: number, n: number): string {
  return `t${tier}r${n}`;
}

/** The task id of one attempt of a reduce step (`t2r5a0`). */
export function reduceTaskId(stepId: string, attempt: number): string {
  return `${stepId}a${attempt}`;
}

/** What a task's unique key says. Reduce keys carry their attempt inside the task id. */
export type TaskUnique =
  | { readonly kind: 'map'; readonly runId: string; readonly taskId: string; readonly attempt: number; readonly speculative: boolean }
  | { readonly kind: 'reduce'; readonly runId: string; readonly taskId: string };

export function mapTaskUnique(runId: string, taskId: string, attempt: number, speculative = false): string {
  return `${runId}:${taskId}:${attempt}${speculative ? 's' : ''}`;
}

export function reduceTaskUnique(runId: string, taskId: string): string {
  return `${runId}:${taskId}`;
}

/** The task a unique key names, or null when it is not a map/reduce task's key. */
export function parseTaskUnique(unique: string): TaskUnique | null {
  const parts = unique.split(':');
  const [runId, taskId, attempt] = parts;
  if (runId === undefined || taskId === undefined || !RUN_ID.test(runId)) return null;
  if (parts.length === 2 && REDUCE_TASK_ID.test(taskId)) return { kind: 'reduce', runId, taskId };
  const a = parts.length === 3 && attempt !== undefined && MAP_TASK_ID.test(taskId) ? ATTEMPT.exec(attempt) : null;
  if (a) return { kind: 'map', runId, taskId, attempt: Number(a[1]), speculative: a[2] === 's' };
  return null;
}

/** The task a job is, from its function name and unique key (both must agree on the kind). */
export function taskOfJob(functionName: string, unique: string): (TaskUnique & { readonly node: string | null }) | null {
  const fn = taskFunctionOf(functionName);
  const key = fn ? parseTaskUnique(unique) : null;
  return fn && key && key.kind === fn.kind ? { ...key, node: fn.node } : null;
}
