/**
 * The `sqlite` queue (gearmand's `libsqlite3`), on better-sqlite3.
 *
 * Table: gearmand's schema, so either server can open the other's file —
 *   (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER,
 *    PRIMARY KEY (unique_key, function_name))
 * plus two nullable columns gearmand lacks and ignores: `reducer TEXT`, `seq INTEGER`. A table
 * created by gearmand is upgraded in place with ALTER TABLE ADD COLUMN. gearmand's replay
 * insists on these storage classes: unique_key and function_name TEXT, priority and
 * when_to_run INTEGER, data BLOB (even when empty); this module writes exactly those.
 *
 * Durability (journal_mode=WAL; every add/remove batch is one transaction):
 * - `normal`: synchronous=NORMAL. A commit is written to the WAL before add() resolves, so it
 *   survives the death of the job server process; the last commits can be lost on power loss
 *   or an OS crash.
 * - `always`: synchronous=FULL. The WAL is fsynced at every commit: survives power loss too.
 *
 * better-sqlite3 is synchronous: a batch blocks the event loop while it commits, which is also
 * what makes one batch per turn cheap. Replay streams rows with a statement iterator, so no
 * add/remove may run until the replay has finished (the server replays before serving).
 */
import Database from 'better-sqlite3';
import { ClosedError, StoreError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import { checkTableName, quoteIdentifier } from './identifiers.ts';
import { storedJobFromRow, type JobRow } from './rows.ts';
import { storeError } from './store-error.ts';
import type { FsyncMode, JobKey, JobStore, StoredJob } from './types.ts';

export const DEFAULT_SQLITE_TABLE = 'gearman_queue';
/** How long a write waits for a lock held by another connection (e.g. someone inspecting the file). */
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5000;

export interface SqliteStoreOptions {
  /** Database file; created if missing (its directory must exist). */
  readonly file: string;
  readonly table?: string;
  readonly fsync?: FsyncMode;
  readonly busyTimeoutMs?: number;
  readonly logger?: Logger;
}

const GEARMAND_COLUMNS = ['unique_key', 'function_name', 'priority', 'data'] as const;
/** Columns added to an older table, with their types (when_to_run: gearmand before epoch jobs). */
const ADDED_COLUMNS = [
  ['when_to_run', 'INTEGER'],
  ['reducer', 'TEXT'],
  ['seq', 'INTEGER'],
] as const;

interface Statements {
  readonly insert: Database.Statement;
  readonly remove: Database.Statement;
  readonly replay: Database.Statement;
  readonly addBatch: (jobs: readonly StoredJob[]) => void;
  readonly removeBatch: (keys: readonly JobKey[]) => void;
}

export class SqliteStore implements JobStore {
  readonly kind = 'sqlite';
  readonly file: string;
  readonly table: string;
  readonly fsync: FsyncMode;
  readonly #busyTimeoutMs: number;
  readonly #logger: Logger;
  #db: Database.Database | null = null;
  #stmts: Statements | null = null;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.file = options.file;
    this.table = checkTableName(options.table ?? DEFAULT_SQLITE_TABLE);
    this.fsync = options.fsync ?? 'normal';
    this.#busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS;
    this.#logger = options.logger ?? silentLogger;
  }

  async open(): Promise<void> {
    if (this.#closed) throw new ClosedError('the sqlite queue is closed');
    if (this.#db) return;
    let db: Database.Database | null = null;
    try {
      db = new Database(this.file, { timeout: this.#busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.fsync === 'always' ? 'FULL' : 'NORMAL'}`);
      this.#ensureTable(db);
      this.#stmts = this.#prepare(db);
      this.#db = db;
    } catch (err) {
      db?.close();
      throw storeError(this.kind, `cannot open table ${this.table} in ${this.file}`, err);
    }
  }

  #ensureTable(db: Database.Database): void {
    const table = quoteIdentifier(this.table);
    const columns = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name.toLowerCase()));
    if (columns.size === 0) {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, ` +
          `when_to_run INTEGER, reducer TEXT, seq INTEGER, PRIMARY KEY (unique_key, function_name))`,
      );
      return;
    }
    const missing = GEARMAND_COLUMNS.filter((c) => !columns.has(c));
    if (missing.length > 0) {
      throw new StoreError(`sqlite: table ${this.table} in ${this.file} is not a gearman queue table (no column ${missing.join(', ')})`);
    }
    const added = ADDED_COLUMNS.filter(([name]) => !columns.has(name));
    if (added.length === 0) return;
    db.transaction(() => {
      for (const [name, type] of added) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
    })();
    this.#logger.info(`sqlite queue: added column(s) ${added.map(([n]) => n).join(', ')} to table ${this.table}`);
  }

  #prepare(db: Database.Database): Statements {
    const table = quoteIdentifier(this.table);
    const insert = db.prepare(
      `INSERT OR REPLACE INTO ${table} (unique_key, function_name, priority, data, when_to_run, reducer, seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const remove = db.prepare(`DELETE FROM ${table} WHERE unique_key = ? AND function_name = ?`);
    // Rows written by gearmand have no seq: NULLs sort first, then in rowid order, which is
    // insertion order because SQLite gives a new row max(rowid)+1.
    const replay = db.prepare(
      `SELECT unique_key, function_name, priority, data, when_to_run, reducer, seq FROM ${table} ORDER BY priority, seq, rowid`,
    );
    return {
      insert,
      remove,
      replay,
      addBatch: db.transaction((jobs: readonly StoredJob[]) => {
        for (const j of jobs) insert.run(j.unique, j.functionName, j.priority, j.data, j.whenToRun, j.reducer, j.seq);
      }),
      removeBatch: db.transaction((keys: readonly JobKey[]) => {
        for (const k of keys) remove.run(k.unique, k.functionName);
      }),
    };
  }

  async *replay(): AsyncIterable<StoredJob> {
    const stmts = this.#ready();
    let rows: IterableIterator<unknown>;
    try {
      rows = stmts.replay.iterate();
    } catch (err) {
      throw storeError(this.kind, `replay table ${this.table}`, err);
    }
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = rows.next();
        } catch (err) {
          throw storeError(this.kind, `replay table ${this.table}`, err);
        }
        if (next.done) return;
        const job = storedJobFromRow(next.value as JobRow, this.#logger, this.kind);
        if (job) yield job;
      }
    } finally {
      // A consumer that stops early must not leave the statement running: it would keep the
      // connection busy and make every later add/remove fail.
      rows.return?.();
    }
  }

  async add(jobs: readonly StoredJob[]): Promise<void> {
    const stmts = this.#ready();
    if (jobs.length === 0) return;
    try {
      stmts.addBatch(jobs);
    } catch (err) {
      throw storeError(this.kind, `add ${jobs.length} job(s) to ${this.table}`, err);
    }
  }

  async remove(keys: readonly JobKey[]): Promise<void> {
    const stmts = this.#ready();
    if (keys.length === 0) return;
    try {
      stmts.removeBatch(keys);
    } catch (err) {
      throw storeError(this.kind, `remove ${keys.length} job(s) from ${this.table}`, err);
    }
  }

  /** The connection's settings, e.g. `journal_mode=wal synchronous=NORMAL`, for logs and tests. */
  async durability(): Promise<string> {
    this.#ready();
    const db = this.#db!;
    const journal = db.pragma('journal_mode', { simple: true }) as string;
    const sync = ['OFF', 'NORMAL', 'FULL', 'EXTRA'][db.pragma('synchronous', { simple: true }) as number] ?? 'unknown';
    return `journal_mode=${journal} synchronous=${sync}`;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const db = this.#db;
    this.#db = null;
    this.#stmts = null;
    if (db?.open) {
      try {
        db.close();
      } catch (err) {
        throw storeError(this.kind, `close ${this.file}`, err);
      }
    }
  }

  #ready(): Statements {
    if (this.#closed) throw new ClosedError('the sqlite queue is closed');
    if (!this.#stmts) throw new StoreError('sqlite: the queue is not open (call open() first)');
    return this.#stmts;
  }
}
