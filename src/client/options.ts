/**
 * Options of `Client`, `Worker` and `AdminClient`: defaults, validation (zod) and the resolved,
 * frozen shapes the classes work with. Every error names the key at fault.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { z } from 'zod';
import { systemClock, type Clock } from '../clock.ts';
import { InvalidArgumentError } from '../errors.ts';
import { DEFAULT_MAX_PACKET_SIZE } from '../protocol/packet-types.ts';
import { parseServerAddress, parseServerList, type ServerAddress } from './server-address.ts';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** TCP keepalive probe delay; the kernel notices a dead peer some time after this. */
export const DEFAULT_KEEPALIVE_MS = 10_000;
/** Send ECHO_REQ after this long without hearing from the server (0 disables). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;
/** Drop the connection when a heartbeat ECHO is not answered within this. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;
export const DEFAULT_RECONNECT_DELAY_MS = 100;
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 10_000;
/** Each backoff delay is scaled by a random factor in [1 - jitter, 1 + jitter]. */
export const DEFAULT_RECONNECT_JITTER = 0.5;
/** Consecutive failed dials after which a server is left alone until it is needed (-1: never give up). */
export const DEFAULT_MAX_RECONNECT_ATTEMPTS = -1;
/** Dial rounds over the server list a call makes before it fails with NoServersError. */
export const DEFAULT_CONNECT_ATTEMPTS = 3;
export const DEFAULT_CONCURRENCY = 1;
/** How long an admin command may take. */
export const DEFAULT_ADMIN_TIMEOUT_MS = 10_000;

/** Optional logging sink; geartrain never writes to the console itself. */
export interface Logger {
  debug?(message: string, meta?: Record<string, unknown>): void;
  info?(message: string, meta?: Record<string, unknown>): void;
  warn?(message: string, meta?: Record<string, unknown>): void;
  error?(message: string, meta?: Record<string, unknown>): void;
}

/** Opens the byte stream to a server (a port to inject; defaults to `net.connect`/`tls.connect`). */
export type SocketFactory = (server: ServerAddress) => net.Socket;

/** What every connection needs, resolved. */
export interface ConnectionSettings {
  readonly connectTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly maxPacketSize: number;
  readonly tls: tls.ConnectionOptions | undefined;
  readonly connect: SocketFactory | undefined;
  /** Timeouts, heartbeats and reconnect backoff run on this clock. */
  readonly clock: Clock;
}

export interface ReconnectSettings {
  readonly reconnectDelayMs: number;
  readonly maxReconnectDelayMs: number;
  readonly reconnectJitter: number;
  readonly maxReconnectAttempts: number;
  readonly connectAttempts: number;
}

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { message: `expected a function (${what})` });
const ms = z.number().int().min(0).max(2 ** 31 - 1);
const loggerSchema = z.custom<Logger>((v) => typeof v === 'object' && v !== null, { message: 'expected a logger object' });
const tlsSchema = z.union([z.boolean(), z.custom<tls.ConnectionOptions>((v) => typeof v === 'object' && v !== null)]);
const clockSchema = z.custom<Clock>((v) => typeof v === 'object' && v !== null && typeof (v as Clock).now === 'function' && typeof (v as Clock).setTimeout === 'function', {
  message: 'expected a Clock (src/clock.ts)',
});

const connectionShape = {
  servers: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  connectTimeoutMs: ms.min(1).optional(),
  keepAliveMs: ms.optional(),
  heartbeatIntervalMs: ms.optional(),
  heartbeatTimeoutMs: ms.min(1).optional(),
  maxPacketSize: z.number().int().min(1024).max(2 ** 32 - 1).optional(),
  tls: tlsSchema.optional(),
  connect: fn<SocketFactory>('socket factory').optional(),
  reconnectDelayMs: ms.optional(),
  maxReconnectDelayMs: ms.optional(),
  reconnectJitter: z.number().min(0).max(1).optional(),
  maxReconnectAttempts: z.number().int().min(-1).optional(),
  connectAttempts: z.number().int().min(1).optional(),
  clientId: z.string().min(1).max(127).optional(),
  logger: loggerSchema.optional(),
  /** Time for timeouts, heartbeats and backoff (tests pass a fake one); the system clock by default. */
  clock: clockSchema.optional(),
};

const clientSchema = z.strictObject({
  ...connectionShape,
  /** Ask every server for WORK_EXCEPTION (OPTION_REQ `exceptions`); otherwise exceptions arrive as failures. */
  exceptions: z.boolean().optional(),
  /** Default per-call timeout (ms) for calls that wait; none by default. */
  timeoutMs: ms.min(1).optional(),
  /** Times a foreground job is resubmitted when its connection is lost (default 0). */
  retry: z.number().int().min(0).max(100).optional(),
});

const workerSchema = z.strictObject({
  ...connectionShape,
  /** Jobs run at once over all servers; the worker never holds more. */
  concurrency: z.number().int().min(1).max(10_000).optional(),
  /** What a thrown error becomes: WORK_EXCEPTION (with the message) or WORK_FAIL. */
  onError: z.enum(['exception', 'fail']).optional(),
});

const adminSchema = z.strictObject({
  server: z.string().optional(),
  /** Sent as `auth TOKEN` on each new connection: unlocks state-changing commands from afar. */
  adminToken: z.string().min(1).regex(/^\S+$/, 'an admin token is one word').optional(),
  connectTimeoutMs: ms.min(1).optional(),
  timeoutMs: ms.min(1).optional(),
  tls: tlsSchema.optional(),
  connect: fn<SocketFactory>('socket factory').optional(),
});

export type ClientOptions = z.input<typeof clientSchema>;
export type WorkerOptions = z.input<typeof workerSchema>;
export type AdminClientOptions = z.input<typeof adminSchema>;

/** Names from other Gearman libraries, refused with the name to use instead. */
const RENAMED: Record<string, string> = {
  host: 'servers',
  port: 'servers',
  server: 'servers',
  timeout: 'timeoutMs',
  connectTimeout: 'connectTimeoutMs',
  maxJobs: 'concurrency',
  keepAlive: 'keepAliveMs',
  reconnect: 'reconnectDelayMs / maxReconnectAttempts',
  id: 'clientId',
  loadBalancing: 'servers (jobs are spread by unique key, then round-robin)',
};

function validate<S extends z.ZodType>(schema: S, input: unknown, component: string, renamed: Record<string, string>): z.output<S> {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new InvalidArgumentError(`${component} options must be an object`, { field: 'options' });
  }
  const given = (input ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    const instead = renamed[key];
    if (instead !== undefined && !(key in (schema as unknown as z.ZodObject).shape)) {
      throw new InvalidArgumentError(`${component} option '${key}' is not supported; use '${instead}'`, { field: key });
    }
  }
  const result = schema.safeParse(given);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field =
      issue.code === 'unrecognized_keys' ? String(issue.keys[0]) : issue.path.length > 0 ? issue.path.join('.') : 'options';
    const what = issue.code === 'unrecognized_keys' ? 'unknown option' : issue.message;
    throw new InvalidArgumentError(`${component} option '${field}': ${what}`, { field });
  }
  return result.data;
}

type ConnInput = { [K in keyof typeof connectionShape]?: z.output<(typeof connectionShape)[K]> };

function connectionSettings(o: ConnInput): ConnectionSettings {
  return Object.freeze({
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAliveMs: o.keepAliveMs ?? DEFAULT_KEEPALIVE_MS,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
    maxPacketSize: o.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
    tls: o.tls === true ? {} : o.tls === false ? undefined : o.tls,
    connect: o.connect,
    clock: o.clock ?? systemClock,
  });
}

function reconnectSettings(o: ConnInput): ReconnectSettings {
  const reconnectDelayMs = o.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS;
  const maxReconnectDelayMs = o.maxReconnectDelayMs ?? Math.max(DEFAULT_MAX_RECONNECT_DELAY_MS, reconnectDelayMs);
  if (maxReconnectDelayMs < reconnectDelayMs) {
    throw new InvalidArgumentError(`option 'maxReconnectDelayMs' must be >= 'reconnectDelayMs'`, { field: 'maxReconnectDelayMs' });
  }
  return Object.freeze({
    reconnectDelayMs,
    maxReconnectDelayMs,
    reconnectJitter: o.reconnectJitter ?? DEFAULT_RECONNECT_JITTER,
    maxReconnectAttempts: o.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS,
    connectAttempts: o.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS,
  });
}

export interface ResolvedClientOptions {
  readonly servers: readonly ServerAddress[];
  readonly connection: ConnectionSettings;
  readonly reconnect: ReconnectSettings;
  readonly clientId: string | undefined;
  readonly logger: Logger | undefined;
  readonly exceptions: boolean;
  readonly timeoutMs: number | undefined;
  readonly retry: number;
}

export function parseClientOptions(input?: ClientOptions): ResolvedClientOptions {
  const o = validate(clientSchema, input, 'Client', RENAMED);
  return Object.freeze({
    servers: Object.freeze(parseServerList(o.servers)),
    connection: connectionSettings(o),
    reconnect: reconnectSettings(o),
    clientId: o.clientId,
    logger: o.logger,
    exceptions: o.exceptions ?? true,
    timeoutMs: o.timeoutMs,
    retry: o.retry ?? 0,
  });
}

export interface ResolvedWorkerOptions {
  readonly servers: readonly ServerAddress[];
  readonly connection: ConnectionSettings;
  readonly reconnect: ReconnectSettings;
  readonly clientId: string | undefined;
  readonly logger: Logger | undefined;
  readonly concurrency: number;
  readonly onError: 'exception' | 'fail';
}

export function parseWorkerOptions(input?: WorkerOptions): ResolvedWorkerOptions {
  const o = validate(workerSchema, input, 'Worker', RENAMED);
  return Object.freeze({
    servers: Object.freeze(parseServerList(o.servers)),
    connection: connectionSettings(o),
    reconnect: reconnectSettings(o),
    clientId: o.clientId,
    logger: o.logger,
    concurrency: o.concurrency ?? DEFAULT_CONCURRENCY,
    onError: o.onError ?? 'exception',
  });
}

export interface ResolvedAdminOptions {
  readonly server: ServerAddress;
  readonly adminToken: string | undefined;
  readonly connection: ConnectionSettings;
  readonly timeoutMs: number;
}

export function parseAdminOptions(input?: AdminClientOptions): ResolvedAdminOptions {
  const o = validate(adminSchema, input, 'AdminClient', { host: 'server', port: 'server', servers: 'server', timeout: 'timeoutMs' });
  return Object.freeze({
    server: parseServerAddress(o.server ?? '127.0.0.1', 'server'),
    adminToken: o.adminToken,
    connection: connectionSettings({ ...o, heartbeatIntervalMs: 0 }),
    timeoutMs: o.timeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS,
  });
}

/** Per-call options shared by everything that waits. */
export interface CallOptions {
  /** Abort the call; it rejects with AbortError (`ERR_ABORTED`). */
  readonly signal?: AbortSignal;
  /** Give up after this many ms; the call rejects with TimeoutError (`ERR_TIMEOUT`). */
  readonly timeoutMs?: number;
}
