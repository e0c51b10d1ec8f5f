/**
 * The `redis` queue, on ioredis. Not gearmand's layout (one `_gear_-fn-unique` hash per job,
 * found at replay with KEYS, which blocks Redis: gearmand #59, #61, #216). Here, under a
 * configurable prefix P (default `geartrain:queue`):
 * - `P:job:<n>:<function>:<unique>` — a hash per job (n = the function name's length, so
 *   names containing `:` cannot collide), fields unique, function, priority, data, when,
 *   reducer (empty for a plain job: a function name is never empty), seq;
 * - `P:index` — a sorted set of those `<n>:<function>:<unique>` members, scored
 *   priority × 2^50 + seq, so replay walks it with ZRANGE in (priority, seq) order, page by
 *   page, without scanning the keyspace. seq must stay below 2^50.
 * Each add batch is one MULTI/EXEC. Redis applies it all or nothing when it refuses the batch
 * up front (out of memory: EXECABORT), but has no rollback: a command failing inside EXEC (only
 * possible if someone else wrote a wrong-typed key under P) leaves the others applied; add()
 * then rejects with StoreError anyway. A remove batch is one pipeline (one round trip) but not
 * a MULTI: Redis refuses every command queued in a MULTI while it is out of memory, and
 * removing finished jobs is how a full queue drains. Each job's DEL runs before its ZREM, so an
 * interrupted remove leaves at worst an index entry without a hash, which replay skips.
 *
 * Durability — what Redis can and cannot promise:
 * - `normal`: add() resolves once Redis has applied the batch in its memory. That survives
 *   the death of the job server process. Whether it survives a Redis restart is Redis's own
 *   configuration: with no persistence (this project's test machine) every job is lost; RDB
 *   snapshots lose what came after the last save; AOF with appendfsync everysec loses up to
 *   about a second.
 * - `always`: open() refuses (StoreError) unless Redis can flush each write to disk before
 *   answering: AOF on (`appendonly yes`) and either Redis ≥ 7.2, where every batch is followed
 *   by `WAITAOF 1 0` (resolves once the local AOF is fsynced), or `appendfsync always`
 *   (checked with CONFIG GET, which some hosted services refuse — then open() fails too).
 *   Replication is not waited for: a failover to a replica can still lose acknowledged jobs.
 *
 * Connection loss: commands are never queued while disconnected (`enableOfflineQueue: false`)
 * and commands in flight are failed, not resent, when the connection drops, so a batch fails
 * promptly with StoreError; ioredis reconnects in the background with a capped backoff and
 * the next batch after that succeeds.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { ClosedError, InvalidArgumentError, StoreError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import { checkKeyPrefix } from './identifiers.ts';
import { storeError } from './store-error.ts';
import type { FsyncMode, JobKey, JobStore, StoredJob, StoredPriority } from './types.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_PREFIX = 'geartrain:queue';
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 10_000;
/** priority × SEQ_SPAN + seq is exact in a double for seq < 2^50 and priority ≤ 2. */
const SEQ_SPAN = 2 ** 50;
const REPLAY_PAGE = 500;
const MAX_RECONNECT_DELAY_MS = 2000;

export interface RedisStoreOptions {
  /** `redis://[user:password@]host[:port][/db]`, `rediss://…`, or `host[:port]`. */
  readonly url?: string;
  readonly prefix?: string;
  readonly fsync?: FsyncMode;
  readonly connectTimeoutMs?: number;
  /** A command without a reply after this long fails (StoreError) instead of waiting forever. */
  readonly commandTimeoutMs?: number;
  readonly logger?: Logger;
}

export class RedisStore implements JobStore {
  readonly kind = 'redis';
  readonly url: string;
  readonly prefix: string;
  readonly fsync: FsyncMode;
  readonly #options: RedisOptions;
  readonly #logger: Logger;
  readonly #index: string;
  #redis: Redis | null = null;
  #closed = false;
  /** 'waitaof' on Redis ≥ 7.2, 'appendfsync' when appendfsync=always; null in `normal` mode. */
  #syncWith: 'waitaof' | 'appendfsync' | null = null;
  #lastError: Error | null = null;

  constructor(options: RedisStoreOptions = {}) {
    this.url = normalizeRedisUrl(options.url ?? DEFAULT_REDIS_URL);
    this.prefix = checkKeyPrefix(options.prefix ?? DEFAULT_REDIS_PREFIX);
    this.fsync = options.fsync ?? 'normal';
    this.#logger = options.logger ?? silentLogger;
    this.#index = `${this.prefix}:index`;
    this.#options = {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      protocol: 2,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    };
  }

  async open(): Promise<void> {
    if (this.#closed) throw new ClosedError('the redis queue is closed');
    if (this.#redis) return;
    const redis = new Redis(this.url, this.#options);
    redis.on('error', (err: Error) => {
      if (this.#lastError?.message !== err.message) this.#logger.warn(`redis queue: ${err.message}`);
      this.#lastError = err;
    });
    redis.on('ready', () => (this.#lastError = null));
    try {
      try {
        await redis.connect();
      } catch (err) {
        throw this.#lastError ?? err;
      }
      if (this.fsync === 'always') this.#syncWith = await this.#checkPersistence(redis);
    } catch (err) {
      redis.disconnect();
      throw storeError(this.kind, `cannot open ${this.url}`, err);
    }
    this.#redis = redis;
  }

  async #checkPersistence(redis: Redis): Promise<'waitaof' | 'appendfsync'> {
    const info = await redis.info();
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    if (field('aof_enabled') !== '1') {
      throw new StoreError(
        `redis: fsync 'always' needs the append-only file, but ${this.url} runs with appendonly no ` +
          `(rdb only or no persistence): acknowledged jobs would not survive a Redis restart`,
      );
    }
    const [major = 0, minor = 0] = (field('redis_version') ?? '0').split('.').map(Number);
    if (major > 7 || (major === 7 && minor >= 2)) return 'waitaof';
    let appendfsync: string | undefined;
    try {
      appendfsync = ((await redis.config('GET', 'appendfsync')) as string[])[1];
    } catch (err) {
      throw new StoreError(`redis: fsync 'always' cannot check appendfsync on Redis ${field('redis_version')}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (appendfsync !== 'always') {
      throw new StoreError(
        `redis: fsync 'always' on Redis ${field('redis_version')} (no WAITAOF) needs appendfsync always, but it is ${appendfsync}`,
      );
    }
    return 'appendfsync';
  }

  async *replay(): AsyncIterable<StoredJob> {
    const redis = this.#ready();
    for (let start = 0; ; start += REPLAY_PAGE) {
      let page: Array<Record<string, Buffer>>;
      try {
        const members = await redis.zrange(this.#index, String(start), String(start + REPLAY_PAGE - 1));
        if (members.length === 0) return;
        const pipeline = redis.pipeline();
        for (const m of members) pipeline.hgetallBuffer(this.#jobKey(m));
        page = checkReplies(await pipeline.exec()) as Array<Record<string, Buffer>>;
      } catch (err) {
        throw storeError(this.kind, `replay ${this.#index}`, err);
      }
      for (const fields of page) {
        const job = this.#fromHash(fields);
        if (job) yield job;
      }
    }
  }

  async add(jobs: readonly StoredJob[]): Promise<void> {
    const redis = this.#ready();
    if (jobs.length === 0) return;
    const action = `add ${jobs.length} job(s) under ${this.prefix}`;
    const badSeq = jobs.find((j) => !Number.isSafeInteger(j.seq) || j.seq < 0 || j.seq >= SEQ_SPAN);
    if (badSeq) throw new StoreError(`redis: ${action}: seq ${badSeq.seq} out of range (0 to 2^50)`);
    const tx = redis.multi();
    for (const j of jobs) {
      const member = memberOf(j);
      // Every field is written, so a replaced job leaves nothing of the old one behind.
      tx.hset(
        this.#jobKey(member),
        'unique', j.unique,
        'function', j.functionName,
        'priority', String(j.priority),
        'data', j.data,
        'when', String(j.whenToRun),
        'reducer', j.reducer ?? '',
        'seq', String(j.seq),
      );
      tx.zadd(this.#index, j.priority * SEQ_SPAN + j.seq, member);
    }
    try {
      checkReplies(await exec(tx));
      if (this.#syncWith === 'waitaof') await this.#waitAof(redis);
    } catch (err) {
      throw storeError(this.kind, action, err);
    }
  }

  async #waitAof(redis: Redis): Promise<void> {
    const timeout = this.#options.commandTimeout ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    const [local] = (await redis.call('WAITAOF', '1', '0', String(Math.max(1, timeout - 100)))) as [number, number];
    if (local < 1) throw new StoreError('WAITAOF: the local append-only file was not fsynced in time');
  }

  async remove(keys: readonly JobKey[]): Promise<void> {
    const redis = this.#ready();
    if (keys.length === 0) return;
    const pipeline = redis.pipeline();
    for (const k of keys) {
      const member = memberOf(k);
      pipeline.del(this.#jobKey(member)).zrem(this.#index, member);
    }
    try {
      checkReplies(await pipeline.exec());
    } catch (err) {
      throw storeError(this.kind, `remove ${keys.length} job(s) under ${this.prefix}`, err);
    }
  }

  /** What a successful add() means here, for logs and tests. */
  async durability(): Promise<string> {
    this.#ready();
    if (this.#syncWith === 'waitaof') return 'aof fsynced per batch (WAITAOF)';
    if (this.#syncWith === 'appendfsync') return 'aof fsynced per batch (appendfsync always)';
    return 'in Redis memory; persistence as configured on the Redis server';
  }

  async close(): Promise<void> {
    this.#closed = true;
    const redis = this.#redis;
    this.#redis = null;
    if (!redis) return;
    try {
      if (redis.status === 'ready') await redis.quit();
    } catch {
      // Already gone; disconnect below stops reconnecting either way.
    }
    redis.disconnect();
  }

  #jobKey(member: string): string {
    return `${this.prefix}:job:${member}`;
  }

  #fromHash(h: Record<string, Buffer>): StoredJob | null {
    if (!h.function || !h.unique) return null; // index entry whose hash is gone
    let priority = Number(h.priority?.toString());
    if (!(priority === 0 || priority === 1 || priority === 2)) {
      this.#logger.warn(`redis queue: job ${h.function.toString()}/${h.unique.toString()} has priority ${String(h.priority)}; replaying it as NORMAL`);
      priority = 1;
    }
    return {
      unique: h.unique.toString('utf8'),
      functionName: h.function.toString('utf8'),
      priority: priority as StoredPriority,
      data: h.data ?? Buffer.alloc(0),
      whenToRun: Number(h.when?.toString() ?? 0),
      reducer: h.reducer && h.reducer.length > 0 ? h.reducer.toString('utf8') : null,
      seq: Number(h.seq?.toString() ?? 0),
    };
  }

  #ready(): Redis {
    if (this.#closed) throw new ClosedError('the redis queue is closed');
    if (!this.#redis) throw new StoreError('redis: the queue is not open (call open() first)');
    return this.#redis;
  }
}

function memberOf(k: JobKey): string {
  return `${k.functionName.length}:${k.functionName}:${k.unique}`;
}

/**
 * EXEC of a transaction Redis refused while queueing it (e.g. OOM) fails with a bare
 * "EXECABORT Transaction discarded because of previous errors"; put the first of those errors,
 * the actual reason, into the message.
 */
async function exec(tx: ReturnType<Redis['multi']>): Promise<Array<[Error | null, unknown]> | null> {
  try {
    return await tx.exec();
  } catch (err) {
    const previous = (err as { previousErrors?: Error[] }).previousErrors?.[0];
    if (previous && err instanceof Error) throw new Error(`${err.message} ${previous.message}`, { cause: err });
    throw err;
  }
}

/** MULTI/EXEC and pipelines report per-command errors in their replies instead of rejecting. */
function checkReplies(replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (replies === null) throw new StoreError('transaction discarded');
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
  return replies.map(([, value]) => value);
}

/** gearmand's `--redis-server` takes a host name; accept `host[:port]` as well as URLs. */
function normalizeRedisUrl(url: string): string {
  if (/^rediss?:\/\//i.test(url)) return url;
  if (/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(url) || /^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(url)) return `redis://${url}`;
  throw new InvalidArgumentError(`invalid redisUrl '${url}': expected redis://host:port or host[:port]`, { field: 'redisUrl' });
}
