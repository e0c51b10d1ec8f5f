export { JobServer } from './job-server.ts';
export type { ServerAddress, CloseOptions } from './job-server.ts';
export { parseServerOptions, DEFAULT_HOST } from './options.ts';
export type { JobServerOptions, ResolvedServerOptions } from './options.ts';
export type { ServerCore, ServerStats } from './core.ts';
export type { JobStore, StoredJob, JobKey, FsyncMode } from './store/types.ts';
