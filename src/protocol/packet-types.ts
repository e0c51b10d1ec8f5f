/**
 * The Gearman binary packet table (gearmand 1.1 `libgearman/command.cc`, `protocol.h`).
 *
 * Every packet carries `argc` arguments: the first `argc - 1` end in a NUL byte, the last one
 * is the remainder of the payload with no terminator (so it may hold NULs: workloads are binary).
 */
export const enum PacketType {
  CAN_DO = 1,
  CANT_DO = 2,
  RESET_ABILITIES = 3,
  PRE_SLEEP = 4,
  UNUSED = 5,
  NOOP = 6,
  SUBMIT_JOB = 7,
  JOB_CREATED = 8,
  GRAB_JOB = 9,
  NO_JOB = 10,
  JOB_ASSIGN = 11,
  WORK_STATUS = 12,
  WORK_COMPLETE = 13,
  WORK_FAIL = 14,
  GET_STATUS = 15,
  ECHO_REQ = 16,
  ECHO_RES = 17,
  SUBMIT_JOB_BG = 18,
  ERROR = 19,
  STATUS_RES = 20,
  SUBMIT_JOB_HIGH = 21,
  SET_CLIENT_ID = 22,
  CAN_DO_TIMEOUT = 23,
  ALL_YOURS = 24,
  WORK_EXCEPTION = 25,
  OPTION_REQ = 26,
  OPTION_RES = 27,
  WORK_DATA = 28,
  WORK_WARNING = 29,
  GRAB_JOB_UNIQ = 30,
  JOB_ASSIGN_UNIQ = 31,
  SUBMIT_JOB_HIGH_BG = 32,
  SUBMIT_JOB_LOW = 33,
  SUBMIT_JOB_LOW_BG = 34,
  SUBMIT_JOB_SCHED = 35,
  SUBMIT_JOB_EPOCH = 36,
  SUBMIT_REDUCE_JOB = 37,
  SUBMIT_REDUCE_JOB_BACKGROUND = 38,
  GRAB_JOB_ALL = 39,
  JOB_ASSIGN_ALL = 40,
  GET_STATUS_UNIQUE = 41,
  STATUS_RES_UNIQUE = 42,
}

export const MIN_PACKET_TYPE = 1;
export const MAX_PACKET_TYPE = 42;

/** Who sends a packet: C client, W worker, S server; `any` for ECHO, OPTION, SET_CLIENT_ID. */
export type Sender = 'client' | 'worker' | 'server' | 'worker+server' | 'any' | 'none';

export interface PacketSpec {
  readonly type: PacketType;
  readonly name: string;
  /** Magic the packet travels with: `REQ` towards the server, `RES` from it. */
  readonly magic: 'REQ' | 'RES' | 'both';
  readonly sender: Sender;
  /** Argument names, in order; the last one is the unterminated remainder. */
  readonly args: readonly string[];
}

function spec(type: PacketType, name: string, magic: PacketSpec['magic'], sender: Sender, args: string[]): PacketSpec {
  return Object.freeze({ type, name, magic, sender, args: Object.freeze(args) });
}

const SUBMIT_ARGS = ['function', 'unique', 'data'];

/** Indexed by packet number; index 0 is empty. */
export const PACKET_SPECS: readonly (PacketSpec | undefined)[] = (() => {
  const table: (PacketSpec | undefined)[] = new Array(MAX_PACKET_TYPE + 1).fill(undefined);
  const add = (s: PacketSpec) => {
    table[s.type] = s;
  };
  add(spec(PacketType.CAN_DO, 'CAN_DO', 'REQ', 'worker', ['function']));
  add(spec(PacketType.CANT_DO, 'CANT_DO', 'REQ', 'worker', ['function']));
  add(spec(PacketType.RESET_ABILITIES, 'RESET_ABILITIES', 'REQ', 'worker', []));
  add(spec(PacketType.PRE_SLEEP, 'PRE_SLEEP', 'REQ', 'worker', []));
  // Number 5 was never assigned; gearmand answers ERROR INVALID_COMMAND. The payload is kept whole.
  add(spec(PacketType.UNUSED, 'UNUSED', 'REQ', 'none', ['data']));
  add(spec(PacketType.NOOP, 'NOOP', 'RES', 'server', []));
  add(spec(PacketType.SUBMIT_JOB, 'SUBMIT_JOB', 'REQ', 'client', SUBMIT_ARGS));
  add(spec(PacketType.JOB_CREATED, 'JOB_CREATED', 'RES', 'server', ['handle']));
  add(spec(PacketType.GRAB_JOB, 'GRAB_JOB', 'REQ', 'worker', []));
  add(spec(PacketType.NO_JOB, 'NO_JOB', 'RES', 'server', []));
  add(spec(PacketType.JOB_ASSIGN, 'JOB_ASSIGN', 'RES', 'server', ['handle', 'function', 'data']));
  add(spec(PacketType.WORK_STATUS, 'WORK_STATUS', 'both', 'worker+server', ['handle', 'numerator', 'denominator']));
  add(spec(PacketType.WORK_COMPLETE, 'WORK_COMPLETE', 'both', 'worker+server', ['handle', 'data']));
  add(spec(PacketType.WORK_FAIL, 'WORK_FAIL', 'both', 'worker+server', ['handle']));
  add(spec(PacketType.GET_STATUS, 'GET_STATUS', 'REQ', 'client', ['handle']));
  add(spec(PacketType.ECHO_REQ, 'ECHO_REQ', 'REQ', 'any', ['data']));
  add(spec(PacketType.ECHO_RES, 'ECHO_RES', 'RES', 'server', ['data']));
  add(spec(PacketType.SUBMIT_JOB_BG, 'SUBMIT_JOB_BG', 'REQ', 'client', SUBMIT_ARGS));
  add(spec(PacketType.ERROR, 'ERROR', 'RES', 'server', ['code', 'text']));
  add(spec(PacketType.STATUS_RES, 'STATUS_RES', 'RES', 'server', ['handle', 'known', 'running', 'numerator', 'denominator']));
  add(spec(PacketType.SUBMIT_JOB_HIGH, 'SUBMIT_JOB_HIGH', 'REQ', 'client', SUBMIT_ARGS));
  add(spec(PacketType.SET_CLIENT_ID, 'SET_CLIENT_ID', 'REQ', 'any', ['id']));
  add(spec(PacketType.CAN_DO_TIMEOUT, 'CAN_DO_TIMEOUT', 'REQ', 'worker', ['function', 'timeout']));
  add(spec(PacketType.ALL_YOURS, 'ALL_YOURS', 'REQ', 'worker', []));
  add(spec(PacketType.WORK_EXCEPTION, 'WORK_EXCEPTION', 'both', 'worker+server', ['handle', 'data']));
  add(spec(PacketType.OPTION_REQ, 'OPTION_REQ', 'REQ', 'any', ['option']));
  add(spec(PacketType.OPTION_RES, 'OPTION_RES', 'RES', 'server', ['option']));
  add(spec(PacketType.WORK_DATA, 'WORK_DATA', 'both', 'worker+server', ['handle', 'data']));
  add(spec(PacketType.WORK_WARNING, 'WORK_WARNING', 'both', 'worker+server', ['handle', 'data']));
  add(spec(PacketType.GRAB_JOB_UNIQ, 'GRAB_JOB_UNIQ', 'REQ', 'worker', []));
  add(spec(PacketType.JOB_ASSIGN_UNIQ, 'JOB_ASSIGN_UNIQ', 'RES', 'server', ['handle', 'function', 'unique', 'data']));
  add(spec(PacketType.SUBMIT_JOB_HIGH_BG, 'SUBMIT_JOB_HIGH_BG', 'REQ', 'client', SUBMIT_ARGS));
  add(spec(PacketType.SUBMIT_JOB_LOW, 'SUBMIT_JOB_LOW', 'REQ', 'client', SUBMIT_ARGS));
  add(spec(PacketType.SUBMIT_JOB_LOW_BG, 'SUBMIT_JOB_LOW_BG', 'REQ', 'client', SUBMIT_ARGS));
  add(
    spec(PacketType.SUBMIT_JOB_SCHED, 'SUBMIT_JOB_SCHED', 'REQ', 'client', [
      'function',
      'unique',
      'minute',
      'hour',
      'day_of_month',
      'month',
      'day_of_week',
      'data',
    ]),
  );
  add(spec(PacketType.SUBMIT_JOB_EPOCH, 'SUBMIT_JOB_EPOCH', 'REQ', 'client', ['function', 'unique', 'epoch', 'data']));
  // PROTOCOL shows three fields before DATA; libgearman (add.cc) and protocol.h send a fourth,
  // empty "aggregate" field. The decoder splits at most argc-1 NULs, so both forms arrive intact.
  add(
    spec(PacketType.SUBMIT_REDUCE_JOB, 'SUBMIT_REDUCE_JOB', 'REQ', 'client', ['function', 'unique', 'reducer', 'aggregate', 'data']),
  );
  add(
    spec(PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, 'SUBMIT_REDUCE_JOB_BACKGROUND', 'REQ', 'client', [
      'function',
      'unique',
      'reducer',
      'aggregate',
      'data',
    ]),
  );
  add(spec(PacketType.GRAB_JOB_ALL, 'GRAB_JOB_ALL', 'REQ', 'worker', []));
  add(
    spec(PacketType.JOB_ASSIGN_ALL, 'JOB_ASSIGN_ALL', 'RES', 'server', ['handle', 'function', 'unique', 'reducer', 'data']),
  );
  add(spec(PacketType.GET_STATUS_UNIQUE, 'GET_STATUS_UNIQUE', 'REQ', 'client', ['unique']));
  add(
    spec(PacketType.STATUS_RES_UNIQUE, 'STATUS_RES_UNIQUE', 'RES', 'server', [
      'unique',
      'known',
      'running',
      'numerator',
      'denominator',
      'client_count',
    ]),
  );
  return Object.freeze(table);
})();

/** Argument count per packet type, as a flat array for the decoder's hot path. */
export const ARG_COUNTS: readonly number[] = PACKET_SPECS.map((s) => (s ? s.args.length : -1));

export function packetName(type: number): string {
  return PACKET_SPECS[type]?.name ?? `UNKNOWN(${type})`;
}

/** Limits gearmand enforces (`libgearman-1.0/limits.h`). */
export const GEARMAN_MAX_UNIQUE_SIZE = 64;
export const GEARMAN_MAX_HANDLE_SIZE = 64;
export const GEARMAN_MAX_FUNCTION_SIZE = 512;

export const HEADER_SIZE = 12;
export const DEFAULT_MAX_PACKET_SIZE = 64 * 1024 * 1024;
export const DEFAULT_PORT = 4730;
