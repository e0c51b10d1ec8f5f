// bench:server's reference point for Node itself: the least a Gearman server written in Node can do
// for bench/loadgen.c (fg, bg and queue modes): submit, grab, complete, PRE_SLEEP/NOOP, OPTION_REQ,
// ECHO. No admin protocol, no coalescing, no priorities, no limits, no error handling: not a
// server anyone should run. Its jobs/s are the ceiling that Node's sockets and event loop leave
// on this machine; the gap between it and gearmand is Node's, the gap between it and geartrain ours.
//
//   node bench/node-floor-server.mjs [PORT]      prints `listening on 127.0.0.1:PORT`
import net from 'node:net';

const REQ = 0x00524551;
const RES = Buffer.from([0, 0x52, 0x45, 0x53]);
let queue = [];
let head = 0;
const sleepers = new Set();
const jobs = new Map();
let seq = 0;
const dirty = new Set();
let flushQueued = false;

function packet(type, ...args) {
  const bufs = args.map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(a)));
  let size = 0;
  for (let i = 0; i < bufs.length; i++) size += bufs[i].length + (i < bufs.length - 1 ? 1 : 0);
  const out = Buffer.allocUnsafe(12 + size);
  RES.copy(out, 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(size, 8);
  let o = 12;
  for (let i = 0; i < bufs.length; i++) {
    bufs[i].copy(out, o);
    o += bufs[i].length;
    if (i < bufs.length - 1) out[o++] = 0;
  }
  return out;
}

function send(c, buf) {
  c.out.push(buf);
  dirty.add(c);
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(() => {
      flushQueued = false;
      for (const d of dirty) {
        d.socket.write(d.out.length === 1 ? d.out[0] : Buffer.concat(d.out));
        d.out = [];
      }
      dirty.clear();
    });
  }
}

function split(payload, n) {
  const args = [];
  let start = 0;
  for (let i = 0; i < n - 1; i++) {
    const z = payload.indexOf(0, start);
    args.push(payload.subarray(start, z));
    start = z + 1;
  }
  args.push(payload.subarray(start));
  return args;
}

function onPacket(c, type, payload) {
  switch (type) {
    case 1: // CAN_DO
      break;
    case 4: // PRE_SLEEP
      if (head < queue.length) send(c, packet(6));
      else sleepers.add(c);
      break;
    case 7: case 21: case 33: case 18: case 32: case 34: { // SUBMIT_JOB, _HIGH, _LOW and their _BG forms
      const [fn, uniq, data] = split(payload, 3);
      const background = type === 18 || type === 32 || type === 34;
      const handle = `H:min:${++seq}`;
      const job = { handle, fn: Buffer.from(fn), uniq: Buffer.from(uniq), data: Buffer.from(data), client: background ? null : c };
      jobs.set(handle, job);
      queue.push(job);
      send(c, packet(8, handle));
      for (const w of sleepers) {
        sleepers.delete(w);
        send(w, packet(6));
        break;
      }
      break;
    }
    case 9: case 30: case 39: { // GRAB_JOB*
      const job = head < queue.length ? queue[head++] : undefined;
      if (head === queue.length) {
        queue = [];
        head = 0;
      }
      if (!job) send(c, packet(10));
      else if (type === 9) send(c, packet(11, job.handle, job.fn, job.data));
      else if (type === 30) send(c, packet(31, job.handle, job.fn, job.uniq, job.data));
      else send(c, packet(40, job.handle, job.fn, job.uniq, '', job.data));
      break;
    }
    case 13: { // WORK_COMPLETE
      const [handle, data] = split(payload, 2);
      const job = jobs.get(handle.toString());
      if (job) {
        jobs.delete(job.handle);
        if (job.client) send(job.client, packet(13, job.handle, data));
      }
      break;
    }
    case 26:
      send(c, packet(27, payload));
      break;
    case 16:
      send(c, packet(17, payload));
      break;
    default:
      break;
  }
}

const server = net.createServer({ noDelay: true }, (socket) => {
  const c = { socket, out: [], tail: null };
  const onData = (chunk) => {
    let buf = c.tail ? Buffer.concat([c.tail, chunk]) : chunk;
    c.tail = null;
    let o = 0;
    while (buf.length - o >= 12) {
      if (buf.readUInt32BE(o) !== REQ) throw new Error('magic');
      const type = buf.readUInt32BE(o + 4);
      const size = buf.readUInt32BE(o + 8);
      if (buf.length - o - 12 < size) break;
      onPacket(c, type, buf.subarray(o + 12, o + 12 + size));
      o += 12 + size;
    }
    if (o < buf.length) c.tail = Buffer.from(buf.subarray(o));
  };
  socket.on('data', onData);
  socket.on('error', () => {});
  socket.on('close', () => sleepers.delete(c));
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
