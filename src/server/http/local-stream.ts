/**
 * Two cross-wired in-memory streams that look enough like a connected `net.Socket` for the job
 * server's `Connection` on one end and the client library's on the other. The HTTP gateway's own
 * Gearman client talks to the server through such a pair: every submission goes through the
 * real decoder and packet handlers (priority, unique, background exactly as over TCP), without
 * depending on the listen address or on TLS of the public port.
 */
import { Duplex } from 'node:stream';
import type net from 'node:net';

/** Address both ends report: the peer is this very process. */
const LOCAL_ADDRESS = '127.0.0.1';

class LocalEnd extends Duplex {
  peer: LocalEnd | null = null;
  readonly remoteAddress = LOCAL_ADDRESS;
  readonly remotePort = 0;
  readonly remoteFamily = 'IPv4';

  constructor() {
    // allowHalfOpen false: an end that reads EOF ends its own side too, as a net.Socket does.
    super({ allowHalfOpen: false });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed) {
      callback(Object.assign(new Error('local stream closed'), { code: 'EPIPE' }));
      return;
    }
    // The copy keeps a writer's later reuse of its buffer from changing bytes not yet read.
    peer.push(Buffer.from(chunk));
    callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.peer?.push(null);
    callback();
  }

  override _read(): void {
    // Data is pushed by the peer's writes.
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = null;
    if (peer && !peer.destroyed) peer.destroy();
    callback(err);
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

/**
 * A connected pair: `client` emits 'connect' on the next tick (the client library waits for it),
 * or 'error' (ECONNREFUSED) if the server end was destroyed by then; `server` is ready at once.
 */
export function localStreamPair(): { client: net.Socket; server: net.Socket } {
  const a = new LocalEnd();
  const b = new LocalEnd();
  a.peer = b;
  b.peer = a;
  process.nextTick(() => {
    if (!a.destroyed) a.emit('connect');
    else if (a.listenerCount('error') > 0) {
      // The server refused the stream (it is not listening): fail like a refused TCP connect.
      a.emit('error', Object.assign(new Error('in-process connection refused'), { code: 'ECONNREFUSED' }));
    }
  });
  return { client: a as unknown as net.Socket, server: b as unknown as net.Socket };
}
