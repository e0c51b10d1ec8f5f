/**
 * A foreground run: `jobs` jobs whose payload is their number, spread over `clients` with at
 * most `window` in flight, each with a deadline. Every outcome is sorted: completed (and the
 * result must be the job's own number, delivered once), failed visibly (WORK_FAIL after the
 * server's retries, or another error the caller saw), or lost (no outcome by the deadline).
 */
import type { Client } from '../../../src/client/client.ts';

export interface ForegroundResult {
  /** Jobs started. */
  jobs: number;
  completed: number;
  /** WORK_FAIL: the server gave up after --job-retries. */
  failedAfterRetries: number;
  /** Other errors the caller saw (connection lost without retries left, server errors), by code. */
  readonly otherErrors: Map<string, number>;
  /** No outcome within the deadline. */
  lost: number;
  /** A result carrying another job's number. */
  misdelivered: number;
  /** A job number delivered as a result more than once. */
  deliveredTwice: number;
  ms: number;
}

export interface ForegroundOptions {
  readonly fn: string;
  /** Jobs to run; with `stopAt`, the most that may be started. */
  readonly jobs: number;
  /** Start no new job after this time (Date.now() ms): a run for a duration. */
  readonly stopAt?: number;
  readonly window: number;
  /** Per-job deadline: a job with no outcome by then counts as lost. */
  readonly deadlineMs: number;
  /** First job number (several runs can share one worker pool without mixing up). */
  readonly firstId?: number;
  readonly onSettled?: (settled: number) => void;
}

export async function runForeground(clients: readonly Client[], o: ForegroundOptions): Promise<ForegroundResult> {
  const t0 = Date.now();
  const first = o.firstId ?? 0;
  const delivered = new Uint8Array(o.jobs);
  const r: ForegroundResult = { jobs: o.jobs, completed: 0, failedAfterRetries: 0, otherErrors: new Map(), lost: 0, misdelivered: 0, deliveredTwice: 0, ms: 0 };
  let next = 0;
  let settled = 0;
  const lane = async () => {
    while (next < o.jobs && (o.stopAt === undefined || Date.now() < o.stopAt)) {
      const i = next++;
      const client = clients[i % clients.length]!;
      try {
        const result = await client.call(o.fn, String(first + i), { timeoutMs: o.deadlineMs, updates: false });
        const id = Number(result.toString('latin1')) - first;
        if (id !== i) r.misdelivered++;
        if (id >= 0 && id < o.jobs && delivered[id]! > 0) r.deliveredTwice++;
        if (id >= 0 && id < o.jobs) delivered[id] = 1;
        r.completed++;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'UNKNOWN';
        if (code === 'ERR_JOB_FAILED') r.failedAfterRetries++;
        else if (code === 'ERR_TIMEOUT') r.lost++;
        else {
          const key = `${code}: ${(err as Error).message.slice(0, 80)}`;
          r.otherErrors.set(key, (r.otherErrors.get(key) ?? 0) + 1);
        }
      }
      o.onSettled?.(++settled);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.window, o.jobs) }, lane));
  r.jobs = next;
  r.ms = Date.now() - t0;
  return r;
}

export function otherErrorCount(r: ForegroundResult): number {
  let n = 0;
  for (const v of r.otherErrors.values()) n += v;
  return n;
}
