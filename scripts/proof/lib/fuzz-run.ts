/**
 * The fuzz loop: `lanes` connections at a time to a server, each sending seeded cases from
 * lib/fuzz-cases.ts until the time or case budget is spent. Used by the fuzz driver process and
 * by the fast smoke test.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Decoder, type Frame } from '../../../src/protocol/decoder.ts';
import { CASE_KINDS, nextCase, Rng, type CaseKind, type FuzzContext } from './fuzz-cases.ts';

export interface FuzzRunOptions {
  readonly port: number;
  readonly seed: number;
  /** Stop after this long (seconds), or after `maxCases` cases, whichever comes first. */
  readonly seconds: number;
  readonly maxCases?: number;
  readonly lanes: number;
}

export interface FuzzStats {
  cases: number;
  byKind: Record<CaseKind, number>;
  connections: number;
  /** Connections the server closed (it refused the bytes): expected for bad input. */
  closedByServer: number;
  connectErrors: number;
  bytesSent: number;
  bytesReceived: number;
  handlesLearned: number;
  elapsedMs: number;
}

const JOB_HANDLE_TYPES = new Set([8, 11, 31, 40]);
const MAX_HANDLES = 2048;

/** The first bytes a real TLS client sends: captured from node:tls against a local listener. */
async function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        resolve(Buffer.from(d));
        s.destroy();
        srv.close();
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'gearman.example', rejectUnauthorized: false });
      c.on('error', () => {});
      c.setTimeout(2000, () => {
        c.destroy();
        reject(new Error('no ClientHello captured'));
      });
    });
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timed out'));
    }, 5000);
    s.once('connect', () => {
      clearTimeout(timer);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runFuzz(cmd: FuzzRunOptions): Promise<FuzzStats> {
  const started = Date.now();
  const end = started + cmd.seconds * 1000;
  const maxCases = cmd.maxCases ?? Infinity;
  const more = () => Date.now() < end && stats.cases < maxCases;
  const handles: string[] = [];
  const ctx: { handles: string[]; tlsHello: Buffer; nowSeconds: number } = { handles, tlsHello: await captureClientHello(), nowSeconds: Math.floor(Date.now() / 1000) };
  const byKind = Object.fromEntries(CASE_KINDS.map((k) => [k, 0])) as Record<CaseKind, number>;
  const stats: FuzzStats = { cases: 0, byKind, connections: 0, closedByServer: 0, connectErrors: 0, bytesSent: 0, bytesReceived: 0, handlesLearned: 0, elapsedMs: 0 };

  const learn = (frame: Frame) => {
    if (frame.kind !== 'packet' || !JOB_HANDLE_TYPES.has(frame.type)) return;
    const h = frame.args[0]?.toString('latin1');
    if (!h) return;
    handles.push(h);
    stats.handlesLearned++;
    if (handles.length > MAX_HANDLES) handles.splice(0, handles.length - MAX_HANDLES / 2);
  };

  const lane = async (index: number) => {
    // Each lane has its own stream of cases: the run replays from the seed (up to the handles the server hands out).
    const rng = new Rng((cmd.seed * 1000 + index) >>> 0);
    while (more()) {
      let socket: net.Socket;
      try {
        socket = await connect(cmd.port);
      } catch {
        stats.connectErrors++;
        await sleep(50);
        continue;
      }
      stats.connections++;
      let closed = false;
      let weClosed = false;
      const decoder = new Decoder(learn, { allowAdmin: true, maxPacketSize: 128 * 1024 * 1024 });
      let parse = true;
      socket.on('data', (chunk: Buffer) => {
        stats.bytesReceived += chunk.length;
        if (!parse) return;
        try {
          decoder.push(chunk);
        } catch {
          parse = false;
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        closed = true;
        if (!weClosed) stats.closedByServer++;
      });
      const casesHere = rng.range(1, 30);
      for (let i = 0; i < casesHere && !closed && more(); i++) {
        // Counted before the first await, so lanes together never exceed maxCases.
        stats.cases++;
        ctx.nowSeconds = Math.floor(Date.now() / 1000);
        const c = nextCase(rng, ctx as FuzzContext);
        if (c.noRead) socket.pause();
        for (const w of c.writes) {
          if (closed) break;
          socket.write(w);
          stats.bytesSent += w.length;
          if (c.writes.length > 1) await new Promise((r) => setImmediate(r));
        }
        stats.byKind[c.kind]++;
        if (c.after === 'close') break;
        if (c.after === 'hold') {
          await sleep(Math.max(0, Math.min(c.holdMs, end - Date.now())));
          break;
        }
        // Let replies come back now and then, so handles are learned and output drains.
        if (rng.chance(0.3)) await sleep(1);
        else await new Promise((r) => setImmediate(r));
      }
      weClosed = !closed;
      socket.destroy();
    }
  };
  await Promise.all(Array.from({ length: cmd.lanes }, (_, i) => lane(i)));
  stats.elapsedMs = Date.now() - started;
  return stats;
}

