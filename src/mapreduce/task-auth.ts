/**
 * Authority that travels in the task. A log node cannot see who submitted a job (on gearmand it
 * sees nothing of the client at all), so a task proves itself: whoever holds the cluster secret
 * (`GEARTRAIN_SECRET`) signs the payload of every node function it calls, and a node that has the
 * secret refuses what is unsigned, expired or signed with another secret. This is how HDFS block
 * tokens and signed URLs work: an HMAC over the whole request, its target and an expiry.
 *
 * The envelope is one text line in front of the body (the JSON task, or a batch of log lines):
 *
 *   gt-auth1 <expiresAtMs> <hmac-hex>\n<body>
 *
 * with hmac = HMAC-SHA256(secret, "gt-auth1\n<function>\n<expiresAtMs>\n" + body). The function
 * name includes `@<node>`, so a task signed for web1 is refused by web2; the body holds the run
 * and task ids, so a signature cannot be moved to another task. A captured task can be replayed
 * until it expires (default 15 minutes after it was sent): use TLS where the port is not trusted.
 *
 * The same envelope, keyed by the ingest secret (`GEARTRAIN_INGEST_SECRET`), guards `logger`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { TaskRefusedError } from '../errors.ts';
import { DEPARTURE_FUNCTION_PREFIX } from '../wire-names.ts';

export const AUTH_MAGIC = 'gt-auth1';
/** How long a signed task stays valid after it is sent. */
export const DEFAULT_TASK_TTL_MS = 15 * 60 * 1000;
/**
 * How long a signed logger batch stays valid. Long: `geartrain ship` submits background jobs that
 * wait in the job server's queue for as long as the nodes are down, and a replayed batch only
 * repeats lines (most are caught by the unique key).
 */
export const DEFAULT_INGEST_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Clocks of the coordinator and the nodes may be this far apart. */
export const CLOCK_SKEW_MS = 60 * 1000;

const HEADER = Buffer.from(`${AUTH_MAGIC} `, 'latin1');
const HEADER_LINE = /^gt-auth1 (\d{1,16}) ([0-9a-f]{64})$/;
/** Longest envelope line: magic, 16 digits, 64 hex digits and two spaces. */
const MAX_LINE = AUTH_MAGIC.length + 1 + 16 + 1 + 64;

export type Body = Buffer | string;

function mac(secret: string, fn: string, expiresAt: number, body: Body): Buffer {
  return createHmac('sha256', secret).update(`${AUTH_MAGIC}\n${fn}\n${expiresAt}\n`, 'utf8').update(body).digest();
}

/**
 * The signature of the notice that `node` left at `at` (the last part of its function name,
 * wire-names.ts `departureFunction`), hex: only holders of the cluster secret can announce that a
 * node left, to coordinators that hold it.
 */
export function departureSignature(secret: string, node: string, at: number): string {
  return mac(secret, DEPARTURE_FUNCTION_PREFIX + node, at, '').toString('hex');
}

/** Whether a departure notice carries the signature `secret` gives it. */
export function isSignedDeparture(secret: string, node: string, at: number, signature: string | null): boolean {
  if (signature === null || !/^[0-9a-f]{64}$/.test(signature)) return false;
  return timingSafeEqual(Buffer.from(departureSignature(secret, node, at), 'hex'), Buffer.from(signature, 'hex'));
}

/** The signed payload for `fn`. */
export function sealTask(fn: string, body: Body, secret: string, expiresAt: number): Buffer {
  const line = Buffer.from(`${AUTH_MAGIC} ${expiresAt} ${mac(secret, fn, expiresAt, body).toString('hex')}\n`, 'latin1');
  return Buffer.concat([line, typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

interface Envelope {
  readonly expiresAt: number;
  readonly hmac: Buffer;
  readonly body: Buffer;
}

/** The envelope of a payload, 'malformed' for a payload that starts like one but is not, or null. */
function parseEnvelope(payload: Buffer): Envelope | 'malformed' | null {
  if (payload.length < HEADER.length || !payload.subarray(0, HEADER.length).equals(HEADER)) return null;
  const nl = payload.indexOf(10, HEADER.length);
  if (nl < 0 || nl > MAX_LINE) return 'malformed';
  const m = HEADER_LINE.exec(payload.toString('latin1', 0, nl));
  if (!m) return 'malformed';
  return { expiresAt: Number(m[1]), hmac: Buffer.from(m[2]!, 'hex'), body: payload.subarray(nl + 1) };
}

/** A signer that does nothing without a secret (the body goes out as it is). */
export type Sealer = (fn: string, body: Body) => Body;

export const unsealed: Sealer = (_fn, body) => body;

/** Signs with `secret` when there is one; each call signs anew, valid for `ttlMs` from now. */
export function sealerFor(secret: string | undefined, options: { ttlMs?: number; now?: () => number } = {}): Sealer {
  if (!secret) return unsealed;
  const ttl = options.ttlMs ?? DEFAULT_TASK_TTL_MS;
  const now = options.now ?? Date.now;
  return (fn, body) => sealTask(fn, body, secret, now() + ttl);
}

/** `logger` and `logger@<node>`: the functions the ingest secret guards. */
export function isLoggerFunction(fn: string): boolean {
  return fn === 'logger' || fn.startsWith('logger@');
}

/**
 * For clients that send log lines (`geartrain ship`, `geartrain job`): signs payloads of logger
 * functions with the ingest secret (GEARTRAIN_INGEST_SECRET), when one is set; other functions'
 * payloads go out as they are.
 */
export function ingestSealer(secret: string | undefined, options: { now?: () => number } = {}): Sealer {
  if (!secret) return unsealed;
  const seal = sealerFor(secret, { ttlMs: DEFAULT_INGEST_TTL_MS, ...options });
  return (fn, body) => (isLoggerFunction(fn) ? seal(fn, body) : body);
}

export interface TaskGuardOptions {
  /** The node's name, for messages. */
  readonly node: string;
  /** No secret: nothing is required, an envelope is just removed. */
  readonly secret: string | undefined;
  /** Which secret: the cluster's (tasks, requests, replicas) or the ingest one (`logger`). */
  readonly kind?: 'cluster' | 'ingest';
  readonly skewMs?: number;
  readonly now?: () => number;
}

const WORDS = {
  cluster: { what: 'tasks', one: 'this one', secret: 'the cluster secret', variable: 'GEARTRAIN_SECRET' },
  ingest: { what: 'log lines', one: 'this batch', secret: 'the ingest secret', variable: 'GEARTRAIN_INGEST_SECRET' },
} as const;

/** Refusals start this way, so a coordinator can tell them from other task failures. */
const REFUSAL = /^node \S+ (takes only (tasks|log lines) signed with|refused a signed (task|batch))/;

/** Whether an error message (or a WORK_EXCEPTION text) is a node's refusal of a task's signature. */
export function isSignatureRefusal(message: string): boolean {
  return REFUSAL.test(message);
}

/**
 * The node side: `open(fn, payload)` returns the body of a payload that may run here, or throws
 * TaskRefusedError saying why (unsigned, expired, bad signature). Comparison is in constant time.
 */
export class TaskGuard {
  readonly #o: TaskGuardOptions;
  readonly #words: (typeof WORDS)[keyof typeof WORDS];

  constructor(options: TaskGuardOptions) {
    this.#o = options;
    this.#words = WORDS[options.kind ?? 'cluster'];
  }

  /** The node requires signatures. */
  get required(): boolean {
    return !!this.#o.secret;
  }

  open(fn: string, payload: Buffer): Buffer {
    const env = parseEnvelope(payload);
    const { secret, node } = this.#o;
    const w = this.#words;
    if (!secret) {
      // A signer with a secret talking to a node without one: the body is all that counts.
      return env && env !== 'malformed' ? env.body : payload;
    }
    const noun = w.what === 'tasks' ? 'task' : 'batch';
    if (env === null) throw new TaskRefusedError(`node ${node} takes only ${w.what} signed with ${w.secret} (${w.variable}); ${w.one} is unsigned`);
    if (env === 'malformed') throw new TaskRefusedError(`node ${node} refused a signed ${noun} for ${fn}: its '${AUTH_MAGIC}' line is malformed`);
    const expected = mac(secret, fn, env.expiresAt, env.body);
    if (!timingSafeEqual(expected, env.hmac)) {
      throw new TaskRefusedError(
        `node ${node} refused a signed ${noun} for ${fn}: its signature does not match this node's secret: another ${w.variable}, or the ${noun} was altered`,
      );
    }
    const late = (this.#o.now ?? Date.now)() - env.expiresAt;
    if (late > (this.#o.skewMs ?? CLOCK_SKEW_MS)) {
      throw new TaskRefusedError(
        `node ${node} refused a signed ${noun} for ${fn}: it expired ${Math.round(late / 1000)} s ago (are the clocks of the sender and this node apart?)`,
      );
    }
    return env.body;
  }
}
