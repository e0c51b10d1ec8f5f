import os from 'node:os';
import type tls from 'node:tls';
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';
import { DEFAULT_MAX_PACKET_SIZE } from '../protocol/index.ts';
import { systemClock, type Clock } from '../clock.ts';
import { LOG_LEVELS, silentLogger, type Logger } from '../logger.ts';
import type { JobStore } from './store/types.ts';
import { serverTlsSchema } from './tls.ts';
import { tenantsFileSchema } from './tenants.ts';
import { resultCacheSchema } from './result-cache.ts';
import { relayRuleSchema } from './relay-spec.ts';
import { hookSchema } from './hooks-spec.ts';
import { defaultMaxConnections } from './limits.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_OUTPUT_HIGH_WATER = 4 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_OUTPUT = 256 * 1024 * 1024;

/** Queue module names, with gearmand's spellings accepted as aliases. */
const QUEUE_ALIASES: Record<string, 'memory' | 'sqlite' | 'postgres' | 'redis'> = {
  memory: 'memory',
  builtin: 'memory',
  sqlite: 'sqlite',
  libsqlite3: 'sqlite',
  postgres: 'postgres',
  libpq: 'postgres',
  redis: 'redis',
};

export const queueKindSchema = z
  .string()
  .transform((v, ctx) => {
    const kind = QUEUE_ALIASES[v.toLowerCase()];
    if (!kind) {
      ctx.addIssue({ code: 'custom', message: `unknown queue '${v}' (memory, sqlite, postgres, redis)` });
      return z.NEVER;
    }
    return kind;
  });

const optionsSchema = z
  .object({
    host: z.string().min(1).default(DEFAULT_HOST),
    port: z.number().int().min(0).max(65535).default(4730),
    queue: queueKindSchema.default('memory'),
    sqliteDb: z.string().optional(),
    postgresUrl: z.string().optional(),
    redisUrl: z.string().optional(),
    queueTable: z.string().optional(),
    fsync: z.enum(['normal', 'always']).default('normal'),
    /** Attempts before a job whose workers keep vanishing is failed; 0 = unlimited. */
    jobRetries: z.number().int().min(0).default(0),
    /** gearmand 1.1 order: per function, newest CAN_DO first (instead of global priority). */
    priorityPerFunction: z.boolean().default(false),
    /** With priorityPerFunction: rotate functions after serving one (gearmand -R). */
    roundRobin: z.boolean().default(false),
    jobHandlePrefix: z.string().min(1).max(40).optional(),
    /** TCP keepalive on accepted sockets, idle seconds before probes; 0 = off. */
    keepalive: z.number().int().min(0).default(60),
    maxPacketSize: z.number().int().min(1024).max(0xffffffff).default(DEFAULT_MAX_PACKET_SIZE),
    /** NOOPs sent per new job to sleeping workers; 0 = all of them (gearmand's default). */
    workerWakeup: z.number().int().min(0).default(0),
    /** Send WORK_EXCEPTION to every client, not only those that asked (gearmand --exceptions). */
    exceptions: z.boolean().default(false),
    /** Default: the descriptor limit less a reserve (limits.ts defaultMaxConnections). */
    maxConnections: z.number().int().min(1).optional(),
    /** Default `maxqueue` of every function (queued + running jobs); 0 = unlimited (gearmand). */
    maxQueue: z.number().int().min(0).default(0),
    /** TLS on the whole listener (gearmand --ssl); PEM contents, not paths. */
    tls: serverTlsSchema.optional(),
    /** Tenants by client certificate (needs `tls` with a `ca`); see tenants.ts. */
    tenants: tenantsFileSchema.optional(),
    /** Lets non-loopback admin peers change state after an `auth TOKEN` line. */
    adminToken: z.string().min(12, 'an admin token needs at least 12 characters').regex(/^\S+$/, 'an admin token is one word').optional(),
    outputHighWater: z.number().int().min(1024).default(DEFAULT_OUTPUT_HIGH_WATER),
    maxPendingOutput: z.number().int().min(1024).default(DEFAULT_MAX_PENDING_OUTPUT),
    /** Accept `shutdown` on the admin port from loopback peers. */
    allowShutdown: z.boolean().default(true),
    /** HTTP monitor (/, /status, /metrics) and job submission (POST /FUNC); off when absent, 0 = any free port. */
    httpPort: z.number().int().min(0).max(65535).optional(),
    /** Address the HTTP port binds; default: the job server's `host`. */
    httpHost: z.string().min(1).optional(),
    /**
     * Names the HTTP port answers to besides its listen address, IP addresses and `localhost`
     * (`--http-host`): a request with another Host is refused (DNS rebinding).
     */
    httpAllowedHosts: z.array(z.string().min(1)).optional(),
    verbose: z.enum(LOG_LEVELS).default('ERROR'),
    /** Keep results of finished foreground jobs with a unique key (result-cache.ts); off when absent. */
    resultCache: resultCacheSchema.optional(),
    /** Relay jobs no local worker can do to other servers (relay.ts). */
    relay: z.array(relayRuleSchema).optional(),
    /** TLS towards the relay targets, as a Client's `tls` (CA to trust, a client certificate); plain TCP when absent. */
    relayTls: z.custom<tls.ConnectionOptions>((v) => typeof v === 'object' && v !== null, 'expected TLS connection options').optional(),
    /** Event hooks fired when jobs end (hooks.ts). */
    hooks: z.array(hookSchema).optional(),
  })
  .strict();

export type JobServerOptionsInput = z.input<typeof optionsSchema>;

export interface JobServerOptions extends JobServerOptionsInput {
  /** A queue module instance; overrides `queue`. */
  store?: JobStore;
  logger?: Logger;
  /** The clock of CAN_DO_TIMEOUT and epoch jobs (tests pass a fake one); the system clock by default. */
  clock?: Clock;
}

export interface ResolvedServerOptions extends Readonly<z.output<typeof optionsSchema>> {
  readonly jobHandlePrefix: string;
  readonly maxConnections: number;
  readonly store: JobStore | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** Validate server options; errors name the offending option. */
export function parseServerOptions(input: JobServerOptions = {}): ResolvedServerOptions {
  const { store, logger, clock, ...rest } = input;
  const parsed = optionsSchema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'options';
    throw new InvalidArgumentError(`invalid server option '${field}': ${issue.message}`, { field });
  }
  if (parsed.data.tenants && parsed.data.tls?.ca === undefined) {
    throw new InvalidArgumentError("invalid server option 'tenants': tenants are named by client certificates, which needs 'tls' with a 'ca'", { field: 'tenants' });
  }
  return Object.freeze({
    ...parsed.data,
    jobHandlePrefix: parsed.data.jobHandlePrefix ?? `H:${os.hostname()}`,
    maxConnections: parsed.data.maxConnections ?? defaultMaxConnections(),
    store,
    logger: logger ?? silentLogger,
    clock: clock ?? systemClock,
  });
}
