/**
 * A private place in each persistent store for one test (SQLite file, PostgreSQL table, Redis key
 * prefix), the `geartrain server` flags that point at it, and an independent view of its rows:
 * read with the sqlite3 CLI, a plain pg client, or plain Redis commands, never through the
 * store module under test.
 */
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { cleanRedisPrefix, PG_URL, pgAdmin, REDIS_URL, run, tempDir, uniqueName } from '../../store/helpers.ts';

export type StoreKind = 'sqlite' | 'postgres' | 'redis';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres', 'redis'];

export interface Place {
  readonly kind: StoreKind;
  /** `-q … --queue-table …` and the store's location, for `geartrain server`. */
  readonly args: readonly string[];
  /** Unique keys of the rows stored now, sorted. */
  storedUniques(): Promise<string[]>;
}

export interface PlaceOptions {
  /** PostgreSQL URL to give the server (e.g. through a proxy); rows are still read directly. */
  postgresUrl?: string;
  /** Redis URL for both the server and the reads (e.g. a private redis-server). */
  redisUrl?: string;
}

export async function makePlace(t: ExecutionContext, kind: StoreKind, opts: PlaceOptions = {}): Promise<Place> {
  switch (kind) {
    case 'sqlite': {
      const file = path.join(tempDir(t), 'queue.sqlite');
      const table = uniqueName('dur');
      return {
        kind,
        args: ['-q', 'sqlite', '--sqlite-db', file, '--queue-table', table],
        async storedUniques() {
          const out = run('sqlite3', ['-batch', '-noheader', file, `SELECT unique_key FROM "${table}"`]);
          return out.split('\n').filter((l) => l !== '').sort();
        },
      };
    }
    case 'postgres': {
      const table = uniqueName('dur');
      const admin = await pgAdmin(t, table); // drops the table at the end
      return {
        kind,
        args: ['-q', 'postgres', '--postgres-url', opts.postgresUrl ?? PG_URL, '--queue-table', table],
        async storedUniques() {
          const exists = await admin.query('SELECT to_regclass($1) AS t', [`"${table}"`]);
          if (exists.rows[0].t === null) return [];
          const { rows } = await admin.query<{ unique_key: string }>(`SELECT unique_key FROM "${table}"`);
          return rows.map((r) => r.unique_key).sort();
        },
      };
    }
    case 'redis': {
      const url = opts.redisUrl ?? REDIS_URL;
      const prefix = uniqueName('dur');
      if (!opts.redisUrl) cleanRedisPrefix(t, prefix);
      return {
        kind,
        args: ['-q', 'redis', '--redis-url', url, '--queue-table', prefix],
        async storedUniques() {
          const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
          try {
            await redis.connect();
            // Layout (src/server/store/redis.ts): a sorted index of members, one hash per job.
            const members = await redis.zrange(`${prefix}:index`, '0', '-1');
            const uniques: string[] = [];
            for (const m of members) {
              const unique = await redis.hget(`${prefix}:job:${m}`, 'unique');
              if (unique !== null) uniques.push(unique);
            }
            return uniques.sort();
          } finally {
            redis.disconnect();
          }
        },
      };
    }
  }
}
