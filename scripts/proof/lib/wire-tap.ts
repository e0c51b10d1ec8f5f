/**
 * A socket factory for `Client` (its `connect` option) that also reads what the server sends on
 * each connection, parsed by hand, and counts the terminal packets (WORK_COMPLETE, WORK_FAIL,
 * WORK_EXCEPTION) per job handle. A handle with two of them on one connection is a result
 * delivered twice on the wire, whatever the library then does with it.
 */
import net from 'node:net';

const TERMINAL = new Set([13, 14, 25]);

export class WireTap {
  /** Terminal packets seen. */
  terminals = 0;
  /** Terminal packets for a handle that had one already on the same connection. */
  duplicates = 0;
  connections = 0;
  /** Sockets still open, so a test can cut one (a network failure under the client). */
  readonly open = new Set<net.Socket>();

  readonly factory = (server: { host: string; port: number }): net.Socket => {
    const socket = net.connect({ host: server.host, port: server.port });
    this.connections++;
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    const seen = new Set<string>();
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let off = 0;
      while (buf.length - off >= 12) {
        const size = buf.readUInt32BE(off + 8);
        if (buf.length - off < 12 + size) break;
        const type = buf.readUInt32BE(off + 4);
        if (TERMINAL.has(type)) {
          const payload = buf.subarray(off + 12, off + 12 + size);
          const nul = payload.indexOf(0);
          const handle = payload.toString('latin1', 0, nul === -1 ? payload.length : nul);
          this.terminals++;
          if (seen.has(handle)) this.duplicates++;
          else seen.add(handle);
        }
        off += 12 + size;
      }
      buf = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    });
    return socket;
  };

  /** Destroy one open connection at random; returns whether there was one. */
  cutOne(): boolean {
    const list = [...this.open];
    if (list.length === 0) return false;
    list[Math.floor(Math.random() * list.length)]!.destroy();
    return true;
  }
}
