/**
 * The `postgres` queue (gearmand's `Postgres`/libpq), on a `pg.Pool`.
 *
 * Table: gearmand's schema, so a user can move between gearmand and geartrain —
 *   (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, data BYTEA,
 *    when_to_run INTEGER, UNIQUE (unique_key, function_name))
 * plus two nullable columns gearmand ignores: `reducer TEXT`, `seq BIGINT`. A gearmand table is
 * upgraded in place (ALTER TABLE … ADD COLUMN). The unique constraint is required: adding an
 * existing key replaces the row (INSERT … ON CONFLICT … DO UPDATE), where gearmand 1.1 fails.
 * The table name folds to lower case, as PostgreSQL does for gearmand's unquoted name.
 *
 * Each add or remove batch is one statement (unnest of arrays), hence one transaction. Batches
 * run one at a time in call order, so a remove issued after an add of the same key applies
 * after it.
 *
 * Durability (set per session with `synchronous_commit`):
 * - `normal`: off. COMMIT returns once the transaction is committed in PostgreSQL's memory and
 *   WAL buffers: it survives the death of the job server process, and a clean PostgreSQL
 *   restart, but a crash of PostgreSQL or of the machine can lose the last ~0.6 s of commits
 *   (3 × wal_writer_delay). Never a half-applied batch.
 * - `always`: on (or the database's own setting when that is stronger, e.g. remote_apply):
 *   COMMIT returns after the WAL is flushed to disk (and to synchronous standbys if any).
 *
 * Reconnects: the pool drops broken connections and opens new ones on demand, so the first
 * batch after the database comes back succeeds. While it is down, every batch fails promptly
 * with StoreError (connect timeout `connectTimeoutMs`). A batch that fails because its pooled
 * connection turns out to be dead is retried once on a fresh one; both statements are
 * idempotent, so a commit whose acknowledgement was lost is harmless to repeat.
 */
import pg from 'pg';
import { ClosedError, StoreError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import { checkTableName, quoteIdentifier } from './identifiers.ts';
import { pgConfigFromConninfo } from './pg-conninfo.ts';
import { storedJobFromRow, type JobRow } from './rows.ts';
import { storeError } from './store-error.ts';
import type { FsyncMode, JobKey, JobStore, StoredJob } from './types.ts';

export const DEFAULT_POSTGRES_TABLE = 'queue';
export const DEFAULT_PG_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_PG_QUERY_TIMEOUT_MS = 30_000;
const REPLAY_PAGE = 500;

export interface PostgresStoreOptions {
  /** `postgres://…` URL or libpq conninfo (`host=… dbname=…`); empty: libpq defaults / PG* variables. */
  readonly connection?: string;
  readonly table?: string;
  readonly fsync?: FsyncMode;
  readonly connectTimeoutMs?: number;
  /** Client-side limit on one statement; a batch that takes longer fails with StoreError. */
  readonly queryTimeoutMs?: number;
  readonly logger?: Logger;
}

export class PostgresStore implements JobStore {
  readonly kind = 'postgres';
  readonly table: string;
  readonly fsync: FsyncMode;
  readonly #config: pg.PoolConfig;
  readonly #logger: Logger;
  readonly #sql: { add: string; remove: string; replay: string };
  #pool: pg.Pool | null = null;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: PostgresStoreOptions = {}) {
    this.table = checkTableName(options.table ?? DEFAULT_POSTGRES_TABLE).toLowerCase();
    this.fsync = options.fsync ?? 'normal';
    this.#logger = options.logger ?? silentLogger;
    const base = pgConfigFromConninfo(options.connection ?? '');
    this.#config = {
      ...base,
      connectionTimeoutMillis: options.connectTimeoutMs ?? base.connectionTimeoutMillis ?? DEFAULT_PG_CONNECT_TIMEOUT_MS,
      query_timeout: options.queryTimeoutMs ?? DEFAULT_PG_QUERY_TIMEOUT_MS,
      keepAlive: true,
      max: 2,
      idleTimeoutMillis: 0,
    };
    const t = quoteIdentifier(this.table);
    this.#sql = {
      add:
        `INSERT INTO ${t} (unique_key, function_name, priority, data, when_to_run, reducer, seq) ` +
        `SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[], $5::int[], $6::text[], $7::bigint[]) ` +
        `ON CONFLICT (unique_key, function_name) DO UPDATE SET priority = EXCLUDED.priority, data = EXCLUDED.data, ` +
        `when_to_run = EXCLUDED.when_to_run, reducer = EXCLUDED.reducer, seq = EXCLUDED.seq`,
      remove: `DELETE FROM ${t} WHERE (unique_key, function_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      // Rows gearmand wrote have no seq; they sort first, in physical order (its best guess at
      // insertion order: exact for a table that was only appended to).
      replay:
        `SELECT unique_key, function_name, priority, data, when_to_run, reducer, seq FROM ${t} ` +
        `ORDER BY priority, seq NULLS FIRST, ctid`,
    };
  }

  async open(): Promise<void> {
    if (this.#closed) throw new ClosedError('the postgres queue is closed');
    if (this.#pool) return;
    // A first session, without our settings, reads the database's own synchronous_commit and
    // prepares the table; the pool's sessions then start with the setting the mode needs.
    let serverSetting: string;
    const probe = new pg.Client(this.#config);
    probe.on('error', () => {}); // a failure surfaces through the awaited calls below
    try {
      await probe.connect();
      serverSetting = (await probe.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
      await this.#ensureTable(probe);
    } catch (err) {
      throw storeError(this.kind, `cannot open table ${this.table}`, err);
    } finally {
      await probe.end().catch(() => {});
    }
    const setting = this.fsync === 'normal' ? 'off' : serverSetting === 'off' ? 'on' : null;
    const pool = new pg.Pool(setting ? withStartupOption(this.#config, `-c synchronous_commit=${setting}`) : this.#config);
    pool.on('error', (err) => this.#logger.warn(`postgres queue: idle connection lost: ${err.message}`));
    this.#pool = pool;
  }

  async #ensureTable(client: pg.Client): Promise<void> {
    const t = quoteIdentifier(this.table);
    const { rows } = await client.query<{ attname: string }>(
      'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
      [t],
    );
    if (rows.length === 0) {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${t} (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, ` +
          `data BYTEA, when_to_run INTEGER, reducer TEXT, seq BIGINT, UNIQUE (unique_key, function_name))`,
      );
      return;
    }
    const columns = new Set(rows.map((r) => r.attname));
    const missing = ['unique_key', 'function_name', 'priority', 'data'].filter((c) => !columns.has(c));
    if (missing.length > 0) {
      throw new StoreError(`postgres: table ${this.table} is not a gearman queue table (no column ${missing.join(', ')})`);
    }
    const added = (
      [
        ['when_to_run', 'INTEGER'],
        ['reducer', 'TEXT'],
        ['seq', 'BIGINT'],
      ] as const
    ).filter(([name]) => !columns.has(name));
    if (added.length > 0) {
      await client.query(`ALTER TABLE ${t} ${added.map(([n, type]) => `ADD COLUMN IF NOT EXISTS ${n} ${type}`).join(', ')}`);
      this.#logger.info(`postgres queue: added column(s) ${added.map(([n]) => n).join(', ')} to table ${this.table}`);
    }
    const unique = await client.query<{ ok: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL
         AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
              WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) = ARRAY['function_name', 'unique_key']
         AND i.indnatts = 2) AS ok`,
      [t],
    );
    if (!unique.rows[0]?.ok) {
      throw new StoreError(
        `postgres: table ${this.table} has no unique constraint on (unique_key, function_name); ` +
          `add one with ALTER TABLE ${this.table} ADD UNIQUE (unique_key, function_name)`,
      );
    }
  }

  async *replay(): AsyncIterable<StoredJob> {
    const pool = this.#ready();
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw storeError(this.kind, `replay table ${this.table}`, err);
    }
    let broken = false;
    try {
      try {
        await client.query('BEGIN READ ONLY');
        await client.query(`DECLARE geartrain_replay NO SCROLL CURSOR FOR ${this.#sql.replay}`);
      } catch (err) {
        broken = true;
        throw storeError(this.kind, `replay table ${this.table}`, err);
      }
      for (;;) {
        let rows: JobRow[];
        try {
          rows = (await client.query<JobRow>(`FETCH ${REPLAY_PAGE} FROM geartrain_replay`)).rows;
        } catch (err) {
          broken = true;
          throw storeError(this.kind, `replay table ${this.table}`, err);
        }
        if (rows.length === 0) return;
        for (const row of rows) {
          const job = storedJobFromRow(row, this.#logger, this.kind);
          if (job) yield job;
        }
      }
    } finally {
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      client.release(broken);
    }
  }

  async add(jobs: readonly StoredJob[]): Promise<void> {
    const pool = this.#ready();
    if (jobs.length === 0) return;
    // ON CONFLICT DO UPDATE may not touch a row twice in one statement: the last one wins.
    const byKey = new Map<string, StoredJob>();
    for (const j of jobs) {
      const key = `${j.functionName}\0${j.unique}`;
      byKey.delete(key);
      byKey.set(key, j);
    }
    const rows = [...byKey.values()];
    const values = [
      rows.map((j) => j.unique),
      rows.map((j) => j.functionName),
      rows.map((j) => j.priority),
      rows.map((j) => j.data),
      rows.map((j) => j.whenToRun),
      rows.map((j) => j.reducer),
      rows.map((j) => j.seq),
    ];
    await this.#write(pool, `add ${jobs.length} job(s) to ${this.table}`, 'geartrain_queue_add', this.#sql.add, values);
  }

  async remove(keys: readonly JobKey[]): Promise<void> {
    const pool = this.#ready();
    if (keys.length === 0) return;
    const values = [keys.map((k) => k.unique), keys.map((k) => k.functionName)];
    await this.#write(pool, `remove ${keys.length} job(s) from ${this.table}`, 'geartrain_queue_remove', this.#sql.remove, values);
  }

  /** One statement at a time, in call order; one retry if the pooled connection was dead. */
  #write(pool: pg.Pool, action: string, name: string, text: string, values: unknown[]): Promise<void> {
    const run = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await pool.query({ name, text, values });
          return;
        } catch (err) {
          if (attempt === 1 && isConnectionLoss(err) && !this.#closed) {
            this.#logger.warn(`postgres queue: ${action}: ${(err as Error).message}; retrying on a new connection`);
            continue;
          }
          throw storeError(this.kind, action, err);
        }
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** The session's `synchronous_commit`, for logs and tests. */
  async durability(): Promise<string> {
    const pool = this.#ready();
    try {
      const { rows } = await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      return `synchronous_commit=${rows[0]!.synchronous_commit}`;
    } catch (err) {
      throw storeError(this.kind, 'read synchronous_commit', err);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = null;
    if (!pool) return;
    await this.#tail;
    try {
      await pool.end();
    } catch (err) {
      throw storeError(this.kind, 'close', err);
    }
  }

  #ready(): pg.Pool {
    if (this.#closed) throw new ClosedError('the postgres queue is closed');
    if (!this.#pool) throw new StoreError('postgres: the queue is not open (call open() first)');
    return this.#pool;
  }
}

/** Add a `-c name=value` server option to the startup packet, keeping any the user gave. */
function withStartupOption(config: pg.PoolConfig, option: string): pg.PoolConfig {
  if (config.connectionString) {
    // pg lets a URL's own `options` parameter override the config's, so merge it in here.
    const url = new URL(config.connectionString);
    const given = url.searchParams.get('options');
    if (given !== null) {
      url.searchParams.delete('options');
      return { ...config, connectionString: url.toString(), options: `${given} ${option}` };
    }
  }
  return { ...config, options: config.options ? `${config.options} ${option}` : option };
}

/** Errors that say the connection died, as opposed to the database refusing the statement. */
function isConnectionLoss(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return code.startsWith('08') || code === '57P01' || code === '57P02' || code === 'ECONNRESET' || code === 'EPIPE';
  }
  return err instanceof Error && /connection terminated|not queryable|connection error/i.test(err.message);
}
