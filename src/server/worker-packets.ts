import { ARG_COUNTS, PacketType, response, type BinaryFrame } from '../protocol/index.ts';
import type { Connection } from './connection.ts';
import type { ServerCore } from './core.ts';
import type { Job } from './job.ts';
import { qualify } from './tenants.ts';

/** gearmand's wording differs per packet (libgearman-server/server.cc). */
const NOT_FOUND_TEXT: Partial<Record<PacketType, string>> = {
  [PacketType.WORK_DATA]: 'Job does not exist on server',
  [PacketType.WORK_WARNING]: 'Job does not exist on server',
  [PacketType.WORK_STATUS]: 'Job given in work result not found',
  [PacketType.WORK_COMPLETE]: 'Job given in work result not found',
  [PacketType.WORK_FAIL]: 'Job given in work result not found',
  [PacketType.WORK_EXCEPTION]: 'An exception was received for a job that does not exist',
};

/** Handles packets a worker sends; returns false for packets that are not a worker's. */
export function handleWorkerPacket(core: ServerCore, conn: Connection, frame: BinaryFrame): boolean {
  switch (frame.type) {
    case PacketType.CAN_DO:
      core.addAbility(conn, qualify(conn, frame.args[0]!.toString('utf8')), 0);
      return true;
    case PacketType.CAN_DO_TIMEOUT: {
      const name = qualify(conn, frame.args[0]!.toString('utf8'));
      const raw = frame.args.length > 1 ? parseInt(frame.args[1]!.toString('latin1'), 10) : 0;
      // Milliseconds since gearmand 1.1.19 (PR #250); gearmand raises anything lower to 1000.
      // setTimeout holds at most 2^31-1 ms; Node turns anything larger into 1 ms.
      const ms = Number.isNaN(raw) || raw <= 0 ? 0 : Math.min(0x7fffffff, Math.max(1000, raw));
      core.addAbility(conn, name, ms);
      return true;
    }
    case PacketType.CANT_DO:
      core.removeAbility(conn, qualify(conn, frame.args[0]!.toString('utf8')));
      return true;
    case PacketType.RESET_ABILITIES:
      core.removeAbilities(conn);
      return true;
    case PacketType.PRE_SLEEP:
      core.preSleep(conn);
      return true;
    case PacketType.GRAB_JOB:
    case PacketType.GRAB_JOB_UNIQ:
    case PacketType.GRAB_JOB_ALL:
      core.grab(conn, frame.type);
      return true;
    case PacketType.WORK_DATA:
    case PacketType.WORK_WARNING:
    case PacketType.WORK_STATUS:
    case PacketType.WORK_COMPLETE:
    case PacketType.WORK_FAIL:
    case PacketType.WORK_EXCEPTION:
      workResult(core, conn, frame);
      return true;
    default:
      return false;
  }
}

/** The frame's bytes with `\0REQ` turned into `\0RES`: forwarded verbatim, no re-encoding. */
function asResponse(frame: BinaryFrame): Buffer {
  // Perl's Gearman::Worker drops a false last argument ("" or "0"): never pass a short packet on.
  const want = ARG_COUNTS[frame.type]!;
  if (frame.args.length < want) {
    const args: Buffer[] = [...frame.args];
    while (args.length < want) args.push(frame.type === PacketType.WORK_STATUS ? Buffer.from('0') : Buffer.alloc(0));
    return response(frame.type, ...args);
  }
  const buf = Buffer.from(frame.raw);
  buf[3] = 0x53;
  return buf;
}

function workResult(core: ServerCore, conn: Connection, frame: BinaryFrame): void {
  const handleBuf = frame.args[0]!;
  if (frame.type === PacketType.WORK_FAIL && handleBuf.length >= 64) {
    conn.send(response(PacketType.ERROR, 'ARGUMENT_TOO_LARGE', 'Job handle too large'));
    return;
  }
  const handle = handleBuf.toString('latin1');
  // Perl's Gearman::Worker (and abraxas) follow WORK_EXCEPTION with WORK_FAIL for the same job.
  // gearmand answers that second packet with ERROR, which kills the Perl worker on its next
  // GRAB_JOB; we swallow it instead.
  if (frame.type === PacketType.WORK_FAIL && conn.lastExceptionHandle === handle) {
    conn.lastExceptionHandle = null;
    return;
  }
  const job: Job | undefined = core.jobs.get(handle);
  // Only the worker that holds the job may report on it (a requeued job's old worker may not).
  if (!job || job.state !== 'running' || job.worker !== conn) {
    conn.send(response(PacketType.ERROR, 'JOB_NOT_FOUND', NOT_FOUND_TEXT[frame.type]!));
    return;
  }
  const clients = job.clients;
  switch (frame.type) {
    case PacketType.WORK_STATUS:
      job.numerator = frame.args[1]?.toString('latin1') ?? '0';
      job.denominator = frame.args[2]?.toString('latin1') ?? '0';
      if (clients.length > 0) broadcast(clients, asResponse(frame));
      return;
    case PacketType.WORK_DATA:
    case PacketType.WORK_WARNING:
      core.resultCache?.record(job, frame.type, frame.args[1] ?? Buffer.alloc(0));
      if (clients.length > 0) broadcast(clients, asResponse(frame));
      return;
    case PacketType.WORK_COMPLETE:
      if (clients.length > 0) broadcast(clients, asResponse(frame));
      core.resultCache?.store(job, frame.args[1] ?? Buffer.alloc(0));
      core.finish(job, 'complete');
      return;
    case PacketType.WORK_FAIL:
      if (clients.length > 0) broadcast(clients, asResponse(frame));
      core.finish(job, 'fail');
      return;
    case PacketType.WORK_EXCEPTION: {
      if (clients.length > 0) {
        // Clients that did not send OPTION_REQ `exceptions` get WORK_FAIL instead (gearmand).
        const everyone = core.options.exceptions;
        let exception: Buffer | null = null;
        let fail: Buffer | null = null;
        for (const c of clients) {
          if (everyone || c.exceptions) c.send((exception ??= asResponse(frame)));
          else c.send((fail ??= response(PacketType.WORK_FAIL, handleBuf)));
        }
      }
      conn.lastExceptionHandle = handle;
      core.finish(job, 'exception');
      return;
    }
  }
}

function broadcast(clients: readonly Connection[], buf: Buffer): void {
  for (let i = 0; i < clients.length; i++) clients[i]!.send(buf);
}
