/**
 * Refusing peers cleanly, and who may run admin commands that change state.
 *
 * A refused peer is told why in its own dialect before the server closes: a binary Gearman peer
 * gets an ERROR packet, a text admin peer an `ERR CODE text` line. Both dialects speak first, so
 * the server waits (briefly) for the peer's first bytes to know which one to use. The codes are
 * the contract with clients (src/client/connection.ts `REFUSAL_CODES`): TLS_REQUIRED,
 * CERTIFICATE_REQUIRED, CERTIFICATE_INVALID, UNKNOWN_TENANT, TOO_MANY_CONNECTIONS.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type net from 'node:net';
import { PacketType, response } from '../protocol/index.ts';

export type RefusalCode = 'TLS_REQUIRED' | 'CERTIFICATE_REQUIRED' | 'CERTIFICATE_INVALID' | 'UNKNOWN_TENANT' | 'TOO_MANY_CONNECTIONS';

/** How long a refused peer has to send its first bytes before it is simply dropped. */
export const REFUSAL_WAIT_MS = 2_000;
/** Refused peers waiting for their reason at once; past this, new ones are dropped without one. */
export const MAX_PENDING_REFUSALS = 256;

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
  if (pendingRefusals >= MAX_PENDING_REFUSALS) {
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
