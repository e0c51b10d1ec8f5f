/**
 * Shared set-up for the black-box conformance suite: every test runs once per server kind
 * (SERVER_KINDS), against a server of its own, through raw sockets only.
 *
 * Reference behaviour is gearmand 1.1.20 as observed on this machine (Debian `gearmand`), and
 * gearmand-notes.md §9. Where geartrain departs on purpose (DESIGN.md "Where geartrain departs"),
 * a test says what it expects of each kind.
 */
import test, { type ExecutionContext } from 'ava';
import { SERVER_KINDS, startServer, type ServerKind, type StartOptions } from '../helpers/servers.ts';
import type { RunningServer } from '../helpers/gearmand.ts';
import { RawClient, type Packet, describePacket } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/ports.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';

export { T, RawClient, type Packet, describePacket, SERVER_KINDS, type ServerKind };

/** gearmand: `H:<uname nodename>:<n>`; geartrain keeps the shape. */
export const HANDLE_RE = /^H:[^:]+:\d+$/;

export interface Harness {
  readonly kind: ServerKind;
  readonly server: RunningServer;
  /** A new raw connection, closed in teardown. */
  connect(): Promise<RawClient>;
  /** Send an admin line on a connection kept for admin use; returns the exact reply text. */
  admin(line: string, opts?: { eol?: string }): Promise<string>;
}

export async function setup(t: ExecutionContext, kind: ServerKind, opts: StartOptions = {}): Promise<Harness> {
  const server = await startServer(kind, opts);
  const open: RawClient[] = [];
  // Registered first, so it runs after the clients' teardown (ava runs teardowns in reverse).
  t.teardown(() => server.stop());
  t.teardown(async () => {
    await Promise.all(open.map((c) => c.close()));
  });
  const connect = async () => {
    const c = await RawClient.connect(server.port, server.host);
    open.push(c);
    return c;
  };
  let adminConn: RawClient | null = null;
  return {
    kind,
    server,
    connect,
    async admin(line, o) {
      adminConn ??= await connect();
      return adminConn.admin(line, o);
    },
  };
}

type Body = (t: ExecutionContext, h: Harness) => Promise<void>;

/**
 * Declare one conformance test per server kind, titled `<kind>: <title>`. `opts` may depend on
 * the kind (e.g. a geartrain option whose gearmand counterpart is a flag).
 */
export function conformance(title: string, body: Body, opts?: StartOptions | ((kind: ServerKind) => StartOptions)): void {
  conformanceOf(SERVER_KINDS, title, body, opts);
}

/**
 * As conformance(), for some server kinds only: a behaviour whose geartrain side is tested on a
 * fake clock elsewhere keeps its real-time run against gearmand here.
 */
export function conformanceOf(kinds: readonly ServerKind[], title: string, body: Body, opts?: StartOptions | ((kind: ServerKind) => StartOptions)): void {
  for (const kind of kinds.filter((k) => SERVER_KINDS.includes(k))) {
    test(`${kind}: ${title}`, async (t) => {
      const h = await setup(t, kind, typeof opts === 'function' ? opts(kind) : opts);
      await body(t, h);
    });
  }
}

/** Send a submit packet and return the handle from its JOB_CREATED. */
export async function submit(
  c: RawClient,
  fn: string,
  unique: string,
  data: Buffer | string,
  type: T = T.SUBMIT_JOB,
): Promise<string> {
  c.send(type, fn, unique, data);
  const p = await c.next(T.JOB_CREATED);
  return p.text[0]!;
}

/** Assert the next packet is ERROR with this code (and text, when given). */
export async function expectError(t: ExecutionContext, c: RawClient, code: string, text?: string): Promise<void> {
  const p = await c.next();
  t.is(p.type, T.ERROR, `expected ERROR ${code}, got ${describePacket(p)}`);
  t.is(p.text[0], code);
  if (text !== undefined) t.is(p.text[1], text);
}

/** A worker connection that has registered `fns` with CAN_DO. */
export async function worker(h: Harness, ...fns: string[]): Promise<RawClient> {
  const w = await h.connect();
  for (const f of fns) w.send(T.CAN_DO, f);
  return w;
}

/**
 * Wait until the server has handled everything this connection sent so far: packets of one
 * connection are handled in order, so the ECHO_RES comes after their effects.
 */
export async function sync(c: RawClient): Promise<void> {
  c.send(T.ECHO_REQ, 'sync');
  await c.next(T.ECHO_RES);
}

/** GRAB_JOB_UNIQ (or the given grab type) and return the reply. */
export async function grab(w: RawClient, type: T = T.GRAB_JOB_UNIQ): Promise<Packet> {
  w.send(type);
  return w.next();
}

export interface StatusRow {
  total: number;
  running: number;
  workers: number;
}

/** `status` parsed with a plain tab split: function → counts. Checks the listing's shape too. */
export async function status(h: Harness): Promise<Map<string, StatusRow>> {
  const text = await h.admin('status');
  const rows = new Map<string, StatusRow>();
  if (!text.endsWith('.\n')) throw new Error(`status reply does not end with ".\\n": ${JSON.stringify(text)}`);
  for (const line of text.slice(0, -2).split('\n').filter((l) => l !== '')) {
    const cols = line.split('\t');
    if (cols.length !== 4 || !cols.slice(1).every((c) => /^\d+$/.test(c))) throw new Error(`bad status line ${JSON.stringify(line)}`);
    rows.set(cols[0]!, { total: Number(cols[1]), running: Number(cols[2]), workers: Number(cols[3]) });
  }
  return rows;
}

/** `show jobs` parsed: handle → [retries, ignore, persisted]. */
export async function showJobs(h: Harness): Promise<Map<string, [number, number, number]>> {
  const text = await h.admin('show jobs');
  if (!text.endsWith('.\n')) throw new Error(`show jobs reply does not end with ".\\n": ${JSON.stringify(text)}`);
  const rows = new Map<string, [number, number, number]>();
  for (const line of text.slice(0, -2).split('\n').filter((l) => l !== '')) {
    const cols = line.split('\t');
    if (cols.length !== 4) throw new Error(`bad show jobs line ${JSON.stringify(line)}`);
    rows.set(cols[0]!, [Number(cols[1]), Number(cols[2]), Number(cols[3])]);
  }
  return rows;
}

/** Poll `check` until it holds (deadline, never a blind sleep). */
export function eventually<V>(check: () => V | Promise<V>, what: string, timeoutMs = 5000): Promise<NonNullable<V>> {
  return waitFor(check, what, timeoutMs, 15);
}

/** The GET_STATUS reply for `handle`, as its five text fields. */
export async function getStatus(c: RawClient, handle: string): Promise<string[]> {
  c.send(T.GET_STATUS, handle);
  return (await c.next(T.STATUS_RES)).text;
}
