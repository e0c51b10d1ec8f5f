/**
 * Every error geartrain throws is a `GeartrainError` with a stable `code`.
 * Codes are never reused or renamed; match on `err.code`, not on messages.
 *
 * | code                   | class                  | meaning                                               |
 * |------------------------|------------------------|-------------------------------------------------------|
 * | ERR_PROTOCOL           | ProtocolError          | bytes on the wire that are not valid Gearman          |
 * | ERR_PACKET_TOO_LARGE   | PacketTooLargeError    | a packet declared more bytes than the configured cap   |
 * | ERR_CONNECTION         | ConnectionError        | could not connect, or the connection was lost         |
 * | ERR_TIMEOUT            | TimeoutError           | an operation did not finish in time                   |
 * | ERR_ABORTED            | AbortError             | the caller's AbortSignal fired                        |
 * | ERR_CLOSED             | ClosedError            | the object was closed or destroyed                    |
 * | ERR_SERVER             | ServerError            | the job server answered with an ERROR packet          |
 * | ERR_JOB_FAILED         | JobFailedError         | the job ended with WORK_FAIL                          |
 * | ERR_JOB_EXCEPTION      | JobExceptionError      | the job ended with WORK_EXCEPTION (payload attached)  |
 * | ERR_ADMIN              | AdminError             | an admin command answered `ERR …`                     |
 * | ERR_INVALID_ARGUMENT   | InvalidArgumentError   | a bad option, parameter or spec (names the field)     |
 * | ERR_STORE              | StoreError             | the persistent queue failed to store or load a job    |
 * | ERR_NO_SERVERS         | NoServersError         | no job server in the list could be reached            |
 * | ERR_TASK_FAILED        | TaskFailedError        | a map/reduce task failed after its retries            |
 * | ERR_NODE_UNAVAILABLE   | NodeUnavailableError   | a log node needed by a run is gone                    |
 * | ERR_CODE_REFUSED       | CodeRefusedError       | a node refused to run shipped code                    |
 * | ERR_LOG_FORMAT         | LogFormatError         | a LogFormat string that cannot be compiled            |
 * | ERR_OUTPUT_LIMIT       | OutputLimitError       | a peer did not read its replies (maxPendingOutput)    |
 * | ERR_DATA_CORRUPT       | DataCorruptError       | a stored or fetched partial or run is truncated       |
 * | ERR_PROCESS_FAILED     | ProcessFailedError     | a process geartrain started exited with a failure     |
 * | ERR_TASK_REFUSED       | TaskRefusedError       | a node refused a task: unsigned, expired, bad signature, or a command it may not run |
 * | ERR_NODE_NAME_TAKEN    | NodeNameTakenError     | a live node already has this name on the job servers  |
 * | ERR_CORRUPT_FILE       | CorruptFileError       | a compressed file is cut short or damaged (at offset) |
 * | ERR_INCOMPLETE         | IncompleteResultError  | a run could not read all its input (says what not)    |
 *
 * An error crosses a thread boundary (task threads) as `serializeError()` data and comes back
 * from `deserializeError()` as the same class, code and fields.
 */
export type ErrorCode =
  | 'ERR_PROTOCOL'
  | 'ERR_PACKET_TOO_LARGE'
  | 'ERR_CONNECTION'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_CLOSED'
  | 'ERR_SERVER'
  | 'ERR_JOB_FAILED'
  | 'ERR_JOB_EXCEPTION'
  | 'ERR_ADMIN'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_STORE'
  | 'ERR_NO_SERVERS'
  | 'ERR_TASK_FAILED'
  | 'ERR_NODE_UNAVAILABLE'
  | 'ERR_CODE_REFUSED'
  | 'ERR_LOG_FORMAT'
  | 'ERR_OUTPUT_LIMIT'
  | 'ERR_DATA_CORRUPT'
  | 'ERR_PROCESS_FAILED'
  | 'ERR_TASK_REFUSED'
  | 'ERR_NODE_NAME_TAKEN'
  | 'ERR_CORRUPT_FILE'
  | 'ERR_INCOMPLETE';

const kGeartrainError = Symbol.for('geartrain.error');

export class GeartrainError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  get [kGeartrainError](): true {
    return true;
  }

  /** `instanceof` keeps working across two copies of the package (undici's trick). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== GeartrainError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kGeartrainError] === true;
  }
}

export class ProtocolError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTOCOL', message, options);
  }
}

export class PacketTooLargeError extends GeartrainError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super('ERR_PACKET_TOO_LARGE', `packet of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.size = size;
    this.limit = limit;
  }
}

export class ConnectionError extends GeartrainError {
  /** `host:port` of the server concerned, when known. */
  readonly server: string | undefined;
  constructor(message: string, options?: { cause?: unknown; server?: string }) {
    super('ERR_CONNECTION', message, options);
    this.server = options?.server;
  }
}

export class TimeoutError extends GeartrainError {
  constructor(message = 'operation timed out', options?: { cause?: unknown }) {
    super('ERR_TIMEOUT', message, options);
  }
}

export class AbortError extends GeartrainError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

export class ClosedError extends GeartrainError {
  constructor(message = 'closed', options?: { cause?: unknown }) {
    super('ERR_CLOSED', message, options);
  }
}

/** The server sent an ERROR packet; `serverCode` is gearmand's code, e.g. `QUEUE_ERROR`. */
export class ServerError extends GeartrainError {
  readonly serverCode: string;
  constructor(serverCode: string, text: string, options?: { cause?: unknown }) {
    super('ERR_SERVER', `${serverCode}: ${text}`, options);
    this.serverCode = serverCode;
  }
}

export class JobFailedError extends GeartrainError {
  readonly handle: string | undefined;
  constructor(message = 'job failed', options?: { cause?: unknown; handle?: string }) {
    super('ERR_JOB_FAILED', message, options);
    this.handle = options?.handle;
  }
}

export class JobExceptionError extends GeartrainError {
  readonly handle: string | undefined;
  readonly payload: Buffer;
  constructor(payload: Buffer, options?: { cause?: unknown; handle?: string }) {
    super('ERR_JOB_EXCEPTION', `job raised an exception: ${payload.toString('utf8')}`, options);
    this.payload = payload;
    this.handle = options?.handle;
  }
}

export class AdminError extends GeartrainError {
  readonly reply: string;
  constructor(reply: string, options?: { cause?: unknown }) {
    super('ERR_ADMIN', reply, options);
    this.reply = reply;
  }
}

export class InvalidArgumentError extends GeartrainError {
  /** The option, flag or field at fault. */
  readonly field: string | undefined;
  constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super('ERR_INVALID_ARGUMENT', message, options);
    this.field = options?.field;
  }
}

export class StoreError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE', message, options);
  }
}

export class NoServersError extends GeartrainError {
  readonly servers: readonly string[];
  constructor(servers: readonly string[], options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('ERR_NO_SERVERS', `cannot reach any job server (${servers.join(', ')})${detail}`, options);
    this.servers = servers;
  }
}

export class TaskFailedError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TASK_FAILED', message, options);
  }
}

export class NodeUnavailableError extends GeartrainError {
  readonly nodes: readonly string[];
  constructor(message: string, nodes: readonly string[], options?: { cause?: unknown }) {
    super('ERR_NODE_UNAVAILABLE', message, options);
    this.nodes = nodes;
  }
}

export class CodeRefusedError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CODE_REFUSED', message, options);
  }
}

export class LogFormatError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LOG_FORMAT', message, options);
  }
}

/** The server cut off a peer whose unsent output passed `maxPendingOutput` (it never reads). */
export class OutputLimitError extends GeartrainError {
  readonly pendingBytes: number;
  constructor(pendingBytes: number, options?: { cause?: unknown }) {
    super('ERR_OUTPUT_LIMIT', `peer does not read: ${pendingBytes} bytes of output pending (maxPendingOutput)`, options);
    this.pendingBytes = pendingBytes;
  }
}

/** A partial or sorted run ended before the size its reference or its framing promised. */
export class DataCorruptError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DATA_CORRUPT', message, options);
  }
}

/** A process geartrain started (the demo's server, nodes and shipper) exited with a failure. */
export class ProcessFailedError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROCESS_FAILED', message, options);
  }
}

/**
 * A log node refused a task or request: it is unsigned, expired or signed with another secret
 * (src/mapreduce/task-auth.ts), or it asks for something the node was not started to allow
 * (a shell command without --allow-exec). The message says which, never the secret.
 */
export class TaskRefusedError extends GeartrainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TASK_REFUSED', message, options);
  }
}

export class NodeNameTakenError extends GeartrainError {
  readonly node: string;
  /** The job server that lists the other node, `host:port`. */
  readonly server: string;
  /** The other node's addresses as that server sees them. */
  readonly peers: readonly string[];
  constructor(message: string, node: string, server: string, peers: readonly string[]) {
    super('ERR_NODE_NAME_TAKEN', message);
    this.node = node;
    this.server = server;
    this.peers = peers;
  }
}

/** Where a compressed file stops being readable, and why (`truncated`: cut short; `corrupt`: bad data). */
export interface FileDamage {
  readonly kind: 'truncated' | 'corrupt';
  /** Bytes of the file consumed by the decompressor when it stopped. */
  readonly offset: number;
  /** Decompressed bytes read before it. */
  readonly bytesRead: number;
  /** The decompressor's words (`unexpected end of file`). */
  readonly detail: string;
}

/** `truncated gzip: unexpected end of file at byte 300000; 2885216 bytes read before it`. */
export function describeDamage(d: FileDamage): string {
  return `${d.kind} gzip: ${d.detail} at byte ${d.offset}; ${d.bytesRead} bytes read before it`;
}

export class CorruptFileError extends GeartrainError {
  readonly file: string;
  readonly damage: FileDamage;
  constructor(file: string, damage: FileDamage, options?: { cause?: unknown }) {
    super('ERR_CORRUPT_FILE', `${file}: ${describeDamage(damage)}`, options);
    this.file = file;
    this.damage = damage;
  }
}

/** A run that did not read all of its input, and was not allowed to finish without it. */
export class IncompleteResultError extends GeartrainError {
  /** What was not read (in full), with why. */
  readonly missing: readonly { readonly node: string; readonly path: string; readonly reason?: string }[];
  constructor(message: string, missing: IncompleteResultError['missing']) {
    super('ERR_INCOMPLETE', message);
    this.missing = missing;
  }
}

/** Each code's class, for deserializeError(). */
const CLASSES: Readonly<Record<ErrorCode, abstract new (...args: never[]) => GeartrainError>> = {
  ERR_PROTOCOL: ProtocolError,
  ERR_PACKET_TOO_LARGE: PacketTooLargeError,
  ERR_CONNECTION: ConnectionError,
  ERR_TIMEOUT: TimeoutError,
  ERR_ABORTED: AbortError,
  ERR_CLOSED: ClosedError,
  ERR_SERVER: ServerError,
  ERR_JOB_FAILED: JobFailedError,
  ERR_JOB_EXCEPTION: JobExceptionError,
  ERR_ADMIN: AdminError,
  ERR_INVALID_ARGUMENT: InvalidArgumentError,
  ERR_STORE: StoreError,
  ERR_NO_SERVERS: NoServersError,
  ERR_TASK_FAILED: TaskFailedError,
  ERR_NODE_UNAVAILABLE: NodeUnavailableError,
  ERR_CODE_REFUSED: CodeRefusedError,
  ERR_LOG_FORMAT: LogFormatError,
  ERR_OUTPUT_LIMIT: OutputLimitError,
  ERR_DATA_CORRUPT: DataCorruptError,
  ERR_PROCESS_FAILED: ProcessFailedError,
  ERR_TASK_REFUSED: TaskRefusedError,
  ERR_NODE_NAME_TAKEN: NodeNameTakenError,
  ERR_CORRUPT_FILE: CorruptFileError,
  ERR_INCOMPLETE: IncompleteResultError,
};

/**
 * An error as structured-clone data (what `postMessage` carries): name, message, stack, the
 * geartrain code and the class's own fields (`field`, `nodes`, `payload`, …), and its cause.
 */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
  readonly fields?: Readonly<Record<string, unknown>>;
  readonly cause?: SerializedError;
}

/**
 * Values a structured clone copies as they are: what error fields are made of (CorruptFileError's
 * `damage` and IncompleteResultError's `missing` are records of them).
 */
function isPlainData(value: unknown): boolean {
  if (value === null || value === undefined || value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.every(isPlainData);
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    return (proto === Object.prototype || proto === null) && Object.values(value).every(isPlainData);
  }
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(err)) if (key !== 'name' && key !== 'code' && key !== 'cause' && isPlainData(value)) fields[key] = value;
  const code = (err as { code?: unknown }).code;
  return {
    name: err.name,
    message: err.message,
    ...(err.stack !== undefined ? { stack: err.stack } : {}),
    ...(typeof code === 'string' ? { code } : {}),
    ...(Object.keys(fields).length > 0 ? { fields } : {}),
    ...(err.cause !== undefined && depth < 4 ? { cause: serializeError(err.cause, depth + 1) } : {}),
  };
}

/**
 * The error serializeError() described: a geartrain error comes back as its own class (so
 * `instanceof` and `code` hold) with its fields; any other error as an Error with its name and
 * code. Buffers that the structured clone turned into Uint8Arrays are Buffers again.
 */
export function deserializeError(e: SerializedError): Error {
  const cls = e.code !== undefined && Object.hasOwn(CLASSES, e.code) ? CLASSES[e.code as ErrorCode] : undefined;
  const options = e.cause !== undefined ? { cause: deserializeError(e.cause) } : undefined;
  // Reflect.construct makes a real Error with the class's prototype without calling its
  // constructor, whose arguments (size and limit, payload, …) are not what was serialized.
  const err: Error = cls ? Reflect.construct(Error, [e.message, options], cls) : new Error(e.message, options);
  const own = err as unknown as Record<string, unknown>;
  own.name = e.name;
  if (e.code !== undefined) own.code = e.code;
  for (const [key, value] of Object.entries(e.fields ?? {})) {
    own[key] = value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
  }
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}
