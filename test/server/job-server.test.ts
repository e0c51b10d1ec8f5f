import test from 'ava';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { JobServer, type JobStore } from '../../src/server/index.ts';
import { PacketType, request, Decoder, type Frame } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/ports.ts';

/** A raw peer: send request packets, collect decoded frames. */
async function peer(port: number) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const frames: Frame[] = [];
  const dec = new Decoder((f) => frames.push(f));
  sock.on('data', (d) => dec.push(d));
  return {
    sock,
    frames,
    send: (type: PacketType, ...args: (string | Buffer)[]) => sock.write(request(type, ...args)),
    next: (type: PacketType) =>
      waitFor(() => {
        const i = frames.findIndex((f) => f.kind === 'packet' && f.type === type);
        return i === -1 ? undefined : (frames.splice(i, 1)[0] as Extract<Frame, { kind: 'packet' }>);
      }, `packet ${type}`),
  };
}

test('listens on port 0 and reports the port it got', async (t) => {
  const server = new JobServer({ port: 0 });
  t.teardown(() => server.destroy());
  const addr = await server.listen();
  t.true(addr.port > 0);
  t.deepEqual(server.address(), addr);
});

test('rejects invalid options, naming the option', (t) => {
  const err = t.throws(() => new JobServer({ port: 70000 }));
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  t.regex(err!.message, /port/);
  const err2 = t.throws(() => new JobServer({ queue: 'mysql' }));
  t.regex(err2!.message, /queue/);
});

test('close() waits for a running job to finish, and refuses new assignments meanwhile', async (t) => {
  const server = new JobServer({ port: 0 });
  const { port } = await server.listen();
  t.teardown(() => server.destroy());
  const client = await peer(port);
  const worker = await peer(port);
  worker.send(PacketType.CAN_DO, 'slow');
  client.send(PacketType.SUBMIT_JOB, 'slow', '', 'a');
  client.send(PacketType.SUBMIT_JOB, 'slow', '', 'b');
  await client.next(PacketType.JOB_CREATED);
  worker.send(PacketType.GRAB_JOB);
  const assign = await worker.next(PacketType.JOB_ASSIGN);
  let closed = false;
  const closing = server.close().then(() => (closed = true));
  worker.send(PacketType.GRAB_JOB);
  await worker.next(PacketType.NO_JOB);
  t.false(closed, 'close() must wait for the running job');
  worker.send(PacketType.WORK_COMPLETE, assign.args[0]!, 'done');
  const complete = await client.next(PacketType.WORK_COMPLETE);
  t.is(complete.args[1]!.toString(), 'done');
  await closing;
  t.true(closed);
});

test('core.whenIdle() resolves when the last running job ends, and rejects with ERR_ABORTED when its signal fires first', async (t) => {
  const server = new JobServer({ port: 0 });
  const { port } = await server.listen();
  t.teardown(() => server.destroy());
  await server.core.whenIdle();
  const client = await peer(port);
  const worker = await peer(port);
  worker.send(PacketType.CAN_DO, 'slow');
  client.send(PacketType.SUBMIT_JOB, 'slow', '', 'a');
  client.send(PacketType.SUBMIT_JOB, 'slow', '', 'b');
  await client.next(PacketType.JOB_CREATED);
  await client.next(PacketType.JOB_CREATED);
  worker.send(PacketType.GRAB_JOB);
  const first = await worker.next(PacketType.JOB_ASSIGN);
  worker.send(PacketType.GRAB_JOB);
  const second = await worker.next(PacketType.JOB_ASSIGN);

  const gaveUp = new AbortController();
  const abandoned = server.core.whenIdle(gaveUp.signal);
  gaveUp.abort();
  await t.throwsAsync(abandoned, { code: 'ERR_ABORTED' });

  let idle = false;
  const waiting = server.core.whenIdle().then(() => (idle = true));
  worker.send(PacketType.WORK_COMPLETE, first.args[0]!, 'one');
  await client.next(PacketType.WORK_COMPLETE);
  t.false(idle, 'one job still runs');
  worker.send(PacketType.WORK_FAIL, second.args[0]!);
  await client.next(PacketType.WORK_FAIL);
  await waiting;
  t.is(server.core.runningCount, 0);
});

test('a persistent queue of 200,000 stored jobs replays, and new handles number above them', async (t) => {
  const n = 200_000;
  const top = Date.now() * 100 + 5 * n;
  const stored: JobStore = {
    kind: 'test',
    open: async () => {},
    async *replay() {
      for (let i = 0; i < n; i++) yield { unique: `u${i}`, functionName: 'many', priority: 1, data: Buffer.from('x'), whenToRun: 0, reducer: null, seq: top - i };
    },
    add: async () => {},
    remove: async () => {},
    close: async () => {},
  };
  const server = new JobServer({ port: 0, store: stored });
  const { port } = await server.listen();
  t.teardown(() => server.destroy());
  t.is(server.core.jobs.size, n);
  t.is(server.core.functions.get('many')?.queuedTotal, n);
  const client = await peer(port);
  client.send(PacketType.SUBMIT_JOB_BG, 'many', 'new', 'y');
  const created = await client.next(PacketType.JOB_CREATED);
  t.is(created.args[0]!.toString(), `${server.options.jobHandlePrefix}:${top + 1}`);
});

test('destroy() drops every connection at once', async (t) => {
  const server = new JobServer({ port: 0 });
  const { port } = await server.listen();
  const client = await peer(port);
  const ended = new Promise((r) => client.sock.once('close', r));
  server.destroy();
  await ended;
  t.pass();
});

test('`geartrain server -p 0` prints its ready line and stops on SIGTERM', async (t) => {
  const child = spawn(process.execPath, ['bin/geartrain.js', 'server', '-q', 'memory', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const line = await waitFor(() => /listening on 127\.0\.0\.1:(\d+)\n/.exec(out), 'ready line', 20_000);
  const c = await peer(Number(line[1]));
  c.send(PacketType.ECHO_REQ, 'ping');
  t.is((await c.next(PacketType.ECHO_RES)).args[0]!.toString(), 'ping');
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  t.is(await exit, 0);
});
