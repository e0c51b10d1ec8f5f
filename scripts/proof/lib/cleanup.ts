/**
 * Empty a job server the way an operator would, over its own protocols: a worker that can do
 * every listed function takes and completes every runnable job, `cancel job` removes the rest
 * (epoch jobs not due yet), and `drop function` forgets the functions. What is left afterwards
 * is state the server keeps for no one.
 */
import { args, RawPeer, request } from './raw.ts';

const CAN_DO = 1;
const NO_JOB = 10;
const GRAB_JOB = 9;
const JOB_ASSIGN = 11;
const WORK_COMPLETE = 13;

export interface CleanupResult {
  readonly functions: number;
  readonly drained: number;
  readonly cancelled: number;
  readonly dropped: number;
  /** Listed names `drop function` cannot name (spaces, control characters, longer than an admin line). */
  readonly undroppable: number;
  /** Functions still listed by `status` afterwards. */
  readonly left: number;
}

function functionNames(status: string[]): string[] {
  return status.map((l) => l.split('\t')[0]!).filter((n) => n.length > 0);
}

/**
 * `knownNames`: the function names as the server holds them, when the caller can ask it (an
 * in-process server); the `status` listing cannot carry names with TAB, LF or NUL in them.
 */
export async function cleanServer(port: number, opts: { timeoutMs?: number; knownNames?: Iterable<string> } = {}): Promise<CleanupResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const admin = await RawPeer.connect(port, { text: true });
  try {
    const listed = functionNames(await admin.admin('status'));
    // Listed names are latin1 strings of the bytes the server wrote (UTF-8); known ones are the server's strings.
    const names = opts.knownNames ? [...opts.knownNames].map((n) => Buffer.from(n, 'utf8').toString('latin1')) : listed;
    let drained = 0;
    const drainer = await RawPeer.connect(port);
    try {
      for (const n of names) drainer.send(request(CAN_DO, Buffer.from(n, 'latin1')));
      const BATCH = 64;
      for (let empty = false; !empty; ) {
        if (Date.now() > deadline) throw new Error('cleanup: draining the queues took too long');
        for (let i = 0; i < BATCH; i++) drainer.send(request(GRAB_JOB));
        empty = true;
        for (let i = 0; i < BATCH; i++) {
          const p = await drainer.packet();
          if (p.type === JOB_ASSIGN) {
            drainer.send(request(WORK_COMPLETE, args(p.payload, 3)[0]!, ''));
            drained++;
            empty = false;
          } else if (p.type !== NO_JOB) {
            i--; // NOOP or ERROR: not an answer to a grab
          }
        }
      }
    } finally {
      drainer.close();
    }
    // Jobs left are scheduled for later (epoch) or were running on the drainer when it left.
    let cancelled = 0;
    for (const line of await admin.admin('show jobs')) {
      const handle = line.split('\t')[0]!;
      if (handle && /^\S+$/.test(handle) && (await admin.admin(`cancel job ${handle}`))[0] === 'OK') cancelled++;
    }
    let dropped = 0;
    let undroppable = 0;
    // The drainer's CAN_DOs must be gone before a drop is accepted.
    for (let i = 0; i < 100 && (await admin.admin('workers')).some((l) => / : \S/.test(l)); i++) await new Promise((r) => setTimeout(r, 20));
    for (const n of names) {
      // An admin line holds one word of at most 8 KiB (longer lines close the connection).
      if (!/^\S+$/.test(n) || n.length > 8000) {
        undroppable++;
        continue;
      }
      if ((await admin.admin(`drop function ${n}`))[0] === 'OK') dropped++;
    }
    const left = functionNames(await admin.admin('status')).length;
    return { functions: names.length, drained, cancelled, dropped, undroppable, left };
  } finally {
    admin.close();
  }
}
