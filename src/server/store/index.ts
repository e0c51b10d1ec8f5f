/**
 * Queue modules and the factory the job server uses to pick one from its options.
 *
 * What an acknowledged job (add() resolved, JOB_CREATED sent) survives, per store and mode:
 *
 * | queue    | fsync `normal` (default)                               | fsync `always`                                  |
 * |----------|--------------------------------------------------------|-------------------------------------------------|
 * | memory   | nothing: lost with the job server process              | same (nothing is stored)                        |
 * | sqlite   | WAL, synchronous=NORMAL: job server death; not power loss | synchronous=FULL: power loss too             |
 * | postgres | synchronous_commit=off: job server death, clean PG restart; a PG or OS crash may lose the last ~0.6 s | synchronous_commit=on: PG crash, power loss |
 * | redis    | job server death; Redis restart only as Redis persists (none on a cache-only Redis) | AOF fsynced before the ack (WAITAOF, or appendfsync always); open() fails if Redis cannot |
 *
 * Module headers (sqlite.ts, postgres.ts, redis.ts) give the details and the table layouts.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { checkKeyPrefix, checkTableName } from './identifiers.ts';
import { MemoryStore } from './memory.ts';
import { DEFAULT_POSTGRES_TABLE, PostgresStore, type PostgresStoreOptions } from './postgres.ts';
import { DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_URL, RedisStore, type RedisStoreOptions } from './redis.ts';
import { DEFAULT_SQLITE_TABLE, SqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import type { FsyncMode, JobKey, JobStore, StoredJob } from './types.ts';

export type QueueKind = 'memory' | 'sqlite' | 'postgres' | 'redis';

/** Queue names, case-insensitive, with gearmand's spellings (`builtin`, `libsqlite3`, `Postgres`, `libpq`). */
const QUEUE_ALIASES: Readonly<Record<string, QueueKind>> = {
  memory: 'memory',
  builtin: 'memory',
  sqlite: 'sqlite',
  sqlite3: 'sqlite',
  libsqlite3: 'sqlite',
  postgres: 'postgres',
  postgresql: 'postgres',
  libpq: 'postgres',
  redis: 'redis',
};

const queueKindSchema = z.string().transform((v, ctx) => {
  const kind = QUEUE_ALIASES[v.toLowerCase()];
  if (!kind) {
    ctx.addIssue({ code: 'custom', message: `unknown queue '${v}' (memory, sqlite, postgres, redis)` });
    return z.NEVER;
  }
  return kind;
});

const storeOptionsSchema = z
  .strictObject({
    queue: queueKindSchema,
    /** SQLite database file; required for `sqlite` (the server chooses it, e.g. in its data dir). */
    sqliteDb: z.string().min(1).optional(),
    /** `postgres://` URL or libpq conninfo (gearmand's `--libpq-conninfo`); default: libpq defaults. */
    postgresUrl: z.string().optional(),
    /** `redis://host:port` or `host[:port]`; default redis://127.0.0.1:6379. */
    redisUrl: z.string().min(1).optional(),
    /** Table name (sqlite: gearman_queue, postgres: queue), or the Redis key prefix (geartrain:queue). */
    table: z.string().min(1).optional(),
    fsync: z.enum(['normal', 'always']).default('normal'),
  })
  .superRefine((o, ctx) => {
    if (o.queue === 'sqlite' && !o.sqliteDb) {
      ctx.addIssue({ code: 'custom', path: ['sqliteDb'], message: 'required for the sqlite queue (the database file)' });
    }
    if (o.table !== undefined) {
      try {
        if (o.queue === 'redis') checkKeyPrefix(o.table);
        else checkTableName(o.table);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['table'], message: (err as Error).message });
      }
    }
  });

export type StoreOptionsInput = z.input<typeof storeOptionsSchema>;
export type StoreOptions = Readonly<z.output<typeof storeOptionsSchema>>;

/** Validate queue options; an error names the offending field (InvalidArgumentError.field). */
export function parseStoreOptions(input: unknown): StoreOptions {
  const parsed = storeOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const field = issue.keys[0]!;
      throw new InvalidArgumentError(`unknown queue option '${field}'`, { field });
    }
    const field = issue.path.join('.') || 'queue options';
    throw new InvalidArgumentError(`invalid queue option '${field}': ${issue.message}`, { field });
  }
  return Object.freeze(parsed.data);
}

/** Build (not open) the store the options describe. Throws InvalidArgumentError on bad options. */
export function createStore(input: StoreOptionsInput, deps: { logger?: Logger } = {}): JobStore {
  const o = parseStoreOptions(input);
  const common = { fsync: o.fsync, ...(deps.logger ? { logger: deps.logger } : {}) };
  switch (o.queue) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite':
      return new SqliteStore({ ...common, file: o.sqliteDb!, table: o.table ?? DEFAULT_SQLITE_TABLE });
    case 'postgres':
      return new PostgresStore({ ...common, connection: o.postgresUrl ?? '', table: o.table ?? DEFAULT_POSTGRES_TABLE });
    case 'redis':
      return new RedisStore({ ...common, url: o.redisUrl ?? DEFAULT_REDIS_URL, prefix: o.table ?? DEFAULT_REDIS_PREFIX });
  }
}

export {
  DEFAULT_POSTGRES_TABLE,
  DEFAULT_REDIS_PREFIX,
  DEFAULT_REDIS_URL,
  DEFAULT_SQLITE_TABLE,
  MemoryStore,
  PostgresStore,
  RedisStore,
  SqliteStore,
};
export type { FsyncMode, JobKey, JobStore, PostgresStoreOptions, RedisStoreOptions, SqliteStoreOptions, StoredJob };
