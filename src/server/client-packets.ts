import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { GEARMAN_MAX_UNIQUE_SIZE, PacketType, response, type BinaryFrame } from '../protocol/index.ts';
import type { Connection } from './connection.ts';
import type { ServerCore } from './core.ts';
import { generatedStoreKey, Priority, type Job } from './job.ts';
import { qualify, visible } from './tenants.ts';
import { answerFromCache } from './result-cache.ts';

const SET_CLIENT_ID_MAX = 127;

interface SubmitKind {
  priority: Priority;
  background: boolean;
  epoch: boolean;
  reduce: boolean;
}

const SUBMIT_KINDS: Partial<Record<PacketType, SubmitKind>> = {
  [PacketType.SUBMIT_JOB]: { priority: Priority.NORMAL, background: false, epoch: false, reduce: false },
  [PacketType.SUBMIT_JOB_BG]: { priority: Priority.NORMAL, background: true, epoch: false, reduce: false },
  [PacketType.SUBMIT_JOB_HIGH]: { priority: Priority.HIGH, background: false, epoch: false, reduce: false },
  [PacketType.SUBMIT_JOB_HIGH_BG]: { priority: Priority.HIGH, background: true, epoch: false, reduce: false },
  [PacketType.SUBMIT_JOB_LOW]: { priority: Priority.LOW, background: false, epoch: false, reduce: false },
  [PacketType.SUBMIT_JOB_LOW_BG]: { priority: Priority.LOW, background: true, epoch: false, reduce: false },
  // gearmand treats an epoch job as a NORMAL background job carrying its time.
  [PacketType.SUBMIT_JOB_EPOCH]: { priority: Priority.NORMAL, background: true, epoch: true, reduce: false },
  [PacketType.SUBMIT_REDUCE_JOB]: { priority: Priority.NORMAL, background: false, epoch: false, reduce: true },
  [PacketType.SUBMIT_REDUCE_JOB_BACKGROUND]: { priority: Priority.NORMAL, background: true, epoch: false, reduce: true },
};

/**
 * A unique key's bytes as workers see them: the server has always read keys as UTF-8, so
 * invalid sequences become U+FFFD, and two keys that read the same are the same key.
 */
function uniqueBytesOf(buf: Buffer): Buffer {
  for (let i = 0; i < buf.length; i++) if (buf[i]! >= 0x80) return isUtf8(buf) ? buf : Buffer.from(buf.toString('utf8'), 'utf8');
  return buf;
}

function error(conn: Connection, code: string, text: string): void {
  conn.send(response(PacketType.ERROR, code, text));
}

/** Handles packets a client sends; returns false for packets that are not a client's. */
export function handleClientPacket(core: ServerCore, conn: Connection, frame: BinaryFrame): boolean {
  const kind = SUBMIT_KINDS[frame.type];
  if (kind) {
    submit(core, conn, frame, kind);
    return true;
  }
  switch (frame.type) {
    case PacketType.GET_STATUS:
      getStatus(core, conn, frame);
      return true;
    case PacketType.GET_STATUS_UNIQUE:
      getStatusUnique(core, conn, frame);
      return true;
    case PacketType.OPTION_REQ: {
      const option = frame.args[0]!.toString('latin1');
      if (option.toLowerCase() === 'exceptions') {
        conn.exceptions = true;
        conn.send(response(PacketType.OPTION_RES, frame.args[0]!));
      } else {
        error(conn, 'UNKNOWN_OPTION', 'Server does not recognize given option');
      }
      return true;
    }
    case PacketType.SET_CLIENT_ID: {
      const id = frame.args[0]!.toString('utf8').slice(0, SET_CLIENT_ID_MAX);
      conn.clientId = id.length > 0 ? id : '-';
      return true;
    }
    case PacketType.ECHO_REQ: {
      // Reply with the request's own bytes, magic and type patched: no re-encoding.
      const reply = Buffer.from(frame.raw);
      reply[3] = 0x53; // 'S' of \0RES
      reply.writeUInt32BE(PacketType.ECHO_RES, 4);
      conn.send(reply);
      return true;
    }
    default:
      return false;
  }
}

function submit(core: ServerCore, conn: Connection, frame: BinaryFrame, kind: SubmitKind): void {
  const args = frame.args;
  const minArgs = kind.epoch ? 4 : kind.reduce ? 4 : 3;
  if (args.length < minArgs) {
    error(conn, 'INVALID_PACKET', 'Packet has too few arguments');
    return;
  }
  const fnName = qualify(conn, args[0]!.toString('utf8'));
  const uniqueBuf = args[1]!;
  if (uniqueBuf.length > GEARMAN_MAX_UNIQUE_SIZE) {
    error(conn, 'ARGUMENT_TOO_LARGE', 'Unique value too large');
    return;
  }
  const unique = uniqueBytesOf(uniqueBuf);
  let whenToRun = 0;
  let reducer: string | null = null;
  let data: Buffer;
  if (kind.epoch) {
    // strtoll semantics, as gearmand: leading digits count, text parses as 0 ("now"), and a
    // value that overflows drops the connection.
    const when = parseInt(args[2]!.toString('latin1'), 10);
    if (when > Number.MAX_SAFE_INTEGER || when < -Number.MAX_SAFE_INTEGER) {
      conn.destroy();
      return;
    }
    whenToRun = Number.isNaN(when) ? 0 : Math.max(0, when);
    data = args[3]!;
  } else if (kind.reduce) {
    reducer = args[2]!.toString('utf8');
    // libgearman sends an empty aggregate field before the data; the PROTOCOL text has none.
    data = args.length >= 5 ? args[4]! : args[3]!;
  } else {
    data = args[2]!;
  }

  if (core.relay) {
    const loop = core.relay.loopRefusal(conn);
    if (loop !== null) {
      error(conn, 'RELAY_LOOP', loop);
      return;
    }
  }
  const fn = core.fn(fnName);
  if (unique.length > 0) {
    const existing = core.jobs.coalescing(fn, unique, data);
    if (existing) {
      if (!kind.background) core.addClient(existing, conn);
      conn.send(response(PacketType.JOB_CREATED, existing.handle));
      return;
    }
    if (!kind.background && core.resultCache) {
      const hit = core.resultCache.lookup(fn, unique.toString('utf8'), data);
      if (hit) {
        answerFromCache(conn, core.newHandle(), hit);
        return;
      }
    }
  }

  const max = fn.maxQueue[kind.priority];
  if (max > 0 && fn.total >= max) {
    error(conn, 'QUEUE_ERROR', 'Job queue is full');
    return;
  }
  const tenant = fn.owner;
  if (tenant !== null) {
    // The tenants file's limits are ceilings the tenant's own `maxqueue` cannot lift.
    const cap = tenant.limits.maxQueue;
    if (cap > 0 && fn.total >= cap) {
      error(conn, 'QUEUE_ERROR', 'Job queue is full');
      return;
    }
    if (tenant.limits.maxJobs > 0 && tenant.jobs >= tenant.limits.maxJobs) {
      error(conn, 'QUEUE_ERROR', 'Tenant job limit reached');
      return;
    }
  }

  const persist = kind.background && core.persistent;
  const job = core.createJob({
    fn,
    unique,
    storeKey: generatedStoreKey(unique, data, kind.background, randomUUID),
    // The job table copies the bytes: the frame is a view into a socket chunk.
    data,
    priority: kind.priority,
    background: kind.background,
    whenToRun,
    reducer,
  });
  if (!kind.background) core.addClient(job, conn);
  core.relay?.noteOrigin(job, conn);

  if (!persist) {
    conn.send(response(PacketType.JOB_CREATED, job.handle));
    core.admit(job);
    return;
  }

  // Durable path: JOB_CREATED only after the row is committed; the job runs only after that too,
  // so a finished job's DELETE can never overtake its INSERT.
  job.state = 'storing';
  fn.waiting++;
  const slot = conn.reserve();
  core.persist(job).then(
    () => {
      if (job.state !== 'storing') return;
      fn.waiting--;
      job.persisted = true;
      conn.fill(slot, response(PacketType.JOB_CREATED, job.handle));
      core.admit(job);
    },
    (err: Error) => {
      conn.fill(slot, response(PacketType.ERROR, 'QUEUE_ERROR', err.message));
      if (job.state === 'storing') {
        // Anyone who coalesced onto it meanwhile learns it failed.
        const fail = response(PacketType.WORK_FAIL, job.handle);
        for (const c of job.clients) c.send(fail);
        core.dropWaiting(job);
      }
    },
  );
}

function getStatus(core: ServerCore, conn: Connection, frame: BinaryFrame): void {
  const handle = frame.args[0]!;
  const job = core.jobs.get(handle.toString('latin1'));
  // Another tenant's job is as unknown as one that never existed.
  if (!job || job.state === 'storing' || !visible(conn, job.fn)) {
    conn.send(response(PacketType.STATUS_RES, handle, '0', '0', '0', '0'));
    return;
  }
  conn.send(
    response(PacketType.STATUS_RES, handle, '1', job.state === 'running' ? '1' : '0', job.numerator, job.denominator),
  );
}

function getStatusUnique(core: ServerCore, conn: Connection, frame: BinaryFrame): void {
  const uniqueBuf = frame.args[0]!;
  const unique = uniqueBytesOf(uniqueBuf);
  let found: Job | undefined;
  if (unique.length > 0) {
    for (const fn of core.functions.values()) {
      if (!visible(conn, fn)) continue;
      const job = core.jobs.withUnique(fn, unique);
      if (job && job.state !== 'done' && job.state !== 'storing') {
        found = job;
        break;
      }
    }
  }
  if (!found) {
    conn.send(response(PacketType.STATUS_RES_UNIQUE, uniqueBuf, '0', '0', '0', '0', '0'));
    return;
  }
  conn.send(
    response(
      PacketType.STATUS_RES_UNIQUE,
      uniqueBuf,
      '1',
      found.state === 'running' ? '1' : '0',
      found.numerator,
      found.denominator,
      String(found.clients.length),
    ),
  );
}
