/**
 * Refusing peers cleanly, and who may run admin commands that change state.
 *
 * A refused peer is told why in its own dialect before the server closes: a binary Gearman peer
 * gets an ERROR packet, a text admin peer an `ERR CODE text` line. Both dialects speak first, so
 * the server waits (briefly) for the peer's first bytes to know which one to use. The codes are
 * the contract with clients (src/client/connection.ts `REFUSAL_CODES`): TLS_REQUIRED,
 * CERTIFICATE_REQUIRED, CERTIFICATE_INVALID, UNKNOWN_TENANT, TOO_MANY_CONNECTIONS.
 */
import { execFileSync } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import { PacketType, response } from '../protocol/index.ts';

export type RefusalCode = 'TLS_REQUIRED' | 'CERTIFICATE_REQUIRED' | 'CERTIFICATE_INVALID' | 'UNKNOWN_TENANT' | 'TOO_MANY_CONNECTIONS';

/** How long a refused peer has to send its first bytes before it is simply dropped. */
export const REFUSAL_WAIT_MS = 2_000;
/**
 * Refused peers waiting for their reason at once; past this, new ones are dropped without one.
 * Each holds a descriptor meanwhile: a sixteenth of the descriptor limit at most.
 */
export const MAX_PENDING_REFUSALS = 256;

/** Loopback admin (text) peers accepted beyond the connection limit, so an operator can look. */
export const ADMIN_RESERVE = 4;

let nofile: number | null | undefined;

/**
 * The process's open-files limit (RLIMIT_NOFILE, soft; Node raises it to the hard limit at
 * start-up), or null when unlimited or unknown. Read from /proc/self/limits, else from the shell.
 */
export function descriptorLimit(): number | null {
  if (nofile !== undefined) return nofile;
  nofile = null;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) return (nofile = m[1] === 'unlimited' ? null : Number(m[1]));
  } catch {
    // not Linux
  }
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 }).trim();
    if (/^\d+$/.test(text)) nofile = Number(text);
  } catch {
    // no shell: unknown
  }
  return nofile;
}

function pendingRefusalCap(limit = descriptorLimit()): number {
  return limit === null ? MAX_PENDING_REFUSALS : Math.max(1, Math.min(MAX_PENDING_REFUSALS, Math.ceil(limit / 16)));
}

/** Used when the limit cannot be read. */
const FALLBACK_MAX_CONNECTIONS = 100_000;

/**
 * The default `maxConnections`: the descriptor limit less what the process needs besides
 * connections — an eighth (at least 32) for files, stores, relays, hooks and Node itself, the
 * refused peers waiting for their reason, and the admin reserve — so the server refuses peers
 * with a reason instead of running out of descriptors (where new peers only get resets).
 */
export function defaultMaxConnections(limit = descriptorLimit()): number {
  if (limit === null) return FALLBACK_MAX_CONNECTIONS;
  const reserve = Math.max(32, Math.ceil(limit / 8)) + pendingRefusalCap(limit) + ADMIN_RESERVE;
  return Math.max(1, limit - reserve);
}

/** How long a refused text peer may keep the connection to read its `ERR` line. */
const TEXT_REFUSAL_LINGER_MS = 500;

let pendingRefusals = 0;

/**
 * Tell a peer why it is refused, then close. `firstChunk` is the peer's first bytes when already
 * read; otherwise they are awaited for `waitMs`. A TLS ClientHello gets no text (it could not read
 * it): the connection is just closed.
 */
export function refuseConnection(
  socket: net.Socket,
  code: RefusalCode,
  text: string,
  options: { firstChunk?: Buffer; waitMs?: number } = {},
): void {
  socket.on('error', () => {});
  const answer = (chunk: Buffer) => {
    if (chunk.length === 0 || chunk[0] === 0x16) {
      socket.destroy();
      return;
    }
    if (chunk[0] === 0) {
      socket.end(response(PacketType.ERROR, code, text));
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    // gearadmin reads until it has heard nothing for a while and reports a close in the middle as
    // a socket error instead of printing the reply: let the text peer hang up first.
    socket.write(`ERR ${code} ${text.replace(/ /g, '+')}\r\n`, 'latin1');
    socket.resume();
    setTimeout(() => socket.end(), TEXT_REFUSAL_LINGER_MS).unref();
    setTimeout(() => socket.destroy(), TEXT_REFUSAL_LINGER_MS + 1_000).unref();
  };
  if (options.firstChunk) {
    answer(options.firstChunk);
    return;
  }
  if (pendingRefusals >= pendingRefusalCap()) {
    socket.destroy();
    return;
  }
  pendingRefusals++;
  let settled = false;
  const settle = () => {
    if (settled) return false;
    settled = true;
    pendingRefusals--;
    clearTimeout(timer);
    return true;
  };
  const timer = setTimeout(() => {
    if (settle()) socket.destroy();
  }, options.waitMs ?? REFUSAL_WAIT_MS);
  timer.unref();
  socket.once('data', (chunk: Buffer) => {
    if (!settle()) return;
    socket.pause();
    answer(chunk);
  });
  socket.once('close', () => settle());
}

export function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr === '::ffff:127.0.0.1';
}

/** Compare a presented admin token with the configured one in constant time. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** What decides whether a peer may run admin commands that change state. */
export interface AdminPeer {
  readonly remoteAddress: string;
  /** Sent a correct `auth TOKEN` line. */
  readonly adminAuthorized: boolean;
  /** Authenticated by a client certificate listed in the tenants file (tenant or operator). */
  readonly certificateAuthenticated: boolean;
}

/**
 * `cancel job`, `create function`, `drop function`, `maxqueue` and `shutdown` change the server's
 * state: they are accepted from loopback, after `auth TOKEN`, or from a peer whose client
 * certificate the tenants file names (a tenant acts on its own functions only).
 */
export function mayChangeState(peer: AdminPeer): boolean {
  return peer.adminAuthorized || peer.certificateAuthenticated || isLoopback(peer.remoteAddress);
}
