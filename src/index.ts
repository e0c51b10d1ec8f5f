/** geartrain's public API, by name. */
export { Client, Worker, AdminClient, Job } from './client/index.ts';
export type { SubmitOptions, JobUpdate, JobStatus, WorkerJob, JobContext, Handler, ClientOptions, WorkerOptions } from './client/index.ts';
export { JobServer } from './server/index.ts';
export type { JobServerOptions } from './server/index.ts';
export { runJob } from './mapreduce/coordinator.ts';
export type { RunJobOptions, RunReport, RunProgress } from './mapreduce/coordinator.ts';
export { defineJob } from './mapreduce/job-definition.ts';
export type { SummaryJob, SortedJob, KeyedJob, JobFamily, MapContext, RenderedResult, Table } from './mapreduce/job-definition.ts';
export { startLogNode } from './mapreduce/log-node.ts';
export { compileLogFormat, writeLog, generateLog } from './logs/index.ts';
export { renderReport } from './report/index.ts';
export { GeartrainError, ProtocolError, PacketTooLargeError, ConnectionError, TimeoutError, AbortError, ClosedError, ServerError, JobFailedError, JobExceptionError, AdminError, InvalidArgumentError, StoreError, NoServersError, TaskFailedError, NodeUnavailableError, CodeRefusedError, LogFormatError, OutputLimitError, DataCorruptError, ProcessFailedError } from './errors.ts';
export type { ErrorCode } from './errors.ts';
