/** Public API of the client layer: Client, Worker, AdminClient and their types. */
export { Client, uniqueHash } from './client.ts';
export type { Payload, SubmitOptions, StatusOptions } from './client.ts';
export { Job } from './job.ts';
export type { JobUpdate, JobStatus, UniqueJobStatus, Priority } from './job.ts';
export { Worker } from './worker.ts';
export type { RegisterOptions, JobDone } from './worker.ts';
export type { WorkerJob, JobContext, Handler, HandlerResult, JobOutcome } from './worker-job.ts';
export { AdminClient } from './admin-client.ts';
export type { FunctionStatus, JobInfo, PriorityStatus, WorkerInfo } from './admin-client.ts';
export type { StatusEvent } from './status.ts';
export { isRefusal, refusalCodeOf, REFUSAL_CODES } from './tls-errors.ts';
export { parseServerAddress, parseServerList, DEFAULT_SERVER } from './server-address.ts';
export type { ServerAddress } from './server-address.ts';
export {
  parseClientOptions,
  parseWorkerOptions,
  parseAdminOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_RECONNECT_DELAY_MS,
  DEFAULT_MAX_RECONNECT_DELAY_MS,
  DEFAULT_RECONNECT_JITTER,
  DEFAULT_MAX_RECONNECT_ATTEMPTS,
  DEFAULT_CONNECT_ATTEMPTS,
  DEFAULT_CONCURRENCY,
  DEFAULT_ADMIN_TIMEOUT_MS,
} from './options.ts';
export type { ClientOptions, WorkerOptions, AdminClientOptions, CallOptions, Logger, SocketFactory } from './options.ts';
