import { startGearmand, type RunningServer } from './gearmand.ts';
import type { JobServerOptions } from '../../src/server/index.ts';

export type ServerKind = 'geartrain' | 'gearmand';

/**
 * The servers every parameterised suite runs against. `GT_SERVERS=gearmand` (or `geartrain`)
 * narrows it while developing; CI always runs both.
 */
export const SERVER_KINDS: readonly ServerKind[] = (process.env.GT_SERVERS ?? 'geartrain,gearmand')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is ServerKind => s === 'geartrain' || s === 'gearmand');

export interface StartOptions {
  /** gearmand `--job-retries` / geartrain `jobRetries`. */
  jobRetries?: number;
  /** gearmand `--round-robin`. */
  roundRobin?: boolean;
  /** Extra geartrain JobServer options. */
  geartrain?: Partial<JobServerOptions>;
  /** Extra gearmand command-line arguments. */
  gearmandArgs?: string[];
}

/** Start a job server of the given kind on a free loopback port. */
export async function startServer(kind: ServerKind, opts: StartOptions = {}): Promise<RunningServer> {
  if (kind === 'gearmand') {
    const args = [...(opts.gearmandArgs ?? [])];
    if (opts.jobRetries !== undefined) args.push('--job-retries', String(opts.jobRetries));
    if (opts.roundRobin) args.push('--round-robin');
    return startGearmand(args);
  }
  const { JobServer } = await import('../../src/server/index.ts');
  const server = new JobServer({
    host: '127.0.0.1',
    port: 0,
    queue: 'memory',
    ...(opts.jobRetries !== undefined ? { jobRetries: opts.jobRetries } : {}),
    ...opts.geartrain,
  });
  await server.listen();
  const { host, port } = server.address();
  return {
    host,
    port,
    address: `${host}:${port}`,
    kind: 'geartrain',
    pid: process.pid,
    async stop() {
      server.destroy();
    },
  };
}
