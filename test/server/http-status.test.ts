/**
 * The job server's HTTP port: `/status` and `/metrics` against a real server with real clients
 * and workers. Expected numbers come from what each test did and from gearadmin on the same
 * server, never from the code under test.
 */
import test, { type ExecutionContext } from 'ava';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Client } from '../../src/client/client.ts';
import { Worker } from '../../src/client/worker.ts';
import { JobFailedError } from '../../src/errors.ts';
import { JobServer, type JobServerOptions } from '../../src/server/index.ts';
import type { StatusJson } from '../../src/server/http/status.ts';
import { waitFor } from '../helpers/ports.ts';
import { runProcess, startGeartrain } from '../client/helpers/cli.ts';
import { gate } from '../client/helpers/gate.ts';

interface Rig {
  server: JobServer;
  gearman: string;
  http: string;
  client(clientId?: string): Client;
  worker(clientId?: string, concurrency?: number): Worker;
  status(): Promise<StatusJson>;
  gearadmin(...flags: string[]): Promise<string[][]>;
}

async function rig(t: ExecutionContext, options: JobServerOptions = {}): Promise<Rig> {
  const server = new JobServer({ port: 0, httpPort: 0, ...options });
  t.teardown(() => server.destroy());
  const { host, port } = await server.listen();
  const h = server.httpAddress()!;
  const http = `http://${h.host}:${h.port}`;
  const own = <T extends { destroy(): void }>(x: T) => (t.teardown(() => x.destroy()), x);
  return {
    server,
    gearman: `${host}:${port}`,
    http,
    client: (clientId) => own(new Client({ servers: `${host}:${port}`, ...(clientId ? { clientId } : {}) })),
    worker: (clientId, concurrency = 1) => own(new Worker({ servers: `${host}:${port}`, concurrency, ...(clientId ? { clientId } : {}) })),
    async status() {
      const res = await fetch(`${http}/status`);
      if (res.status !== 200) throw new Error(`/status answered ${res.status}`);
      t.is(res.headers.get('content-type'), 'application/json');
      return (await res.json()) as StatusJson;
    },
    async gearadmin(...flags) {
      const out = await runProcess('gearadmin', ['-h', host, '-p', String(port), ...flags]);
      if (out.code !== 0) throw new Error(`gearadmin ${flags.join(' ')}: ${out.stderr}`);
      return out.stdout
        .split('\n')
        .filter((l) => l !== '.' && l !== '')
        .map((l) => l.split('\t'));
    },
  };
}

/** Run a full garbage collection in this process (the server's), without --expose-gc. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

test('/status: functions, workers, clients, counters and memory of a live server', async (t) => {
  const r = await rig(t);
  const slow = gate();
  await r.worker('status-echo').register('st_echo', (job) => job.payload).start();
  await r.worker('status-slow').register('st_slow', async () => {
    await slow.opened;
    return 'late';
  }).start();
  const client = r.client('status-client');
  for (let i = 0; i < 5; i++) t.is((await client.call('st_echo', `p${i}`)).toString(), `p${i}`);
  for (const priority of ['high', 'high', 'normal', 'low', 'low', 'low'] as const) await client.submitBackground('st_queued', 'x', { priority });
  const slowJob = client.submit('st_slow', 'wait');
  await waitFor(async () => (await r.status()).functions.find((f) => f.name === 'st_slow')?.running === 1, 'st_slow running');

  const s = await r.status();
  const fn = (name: string) => s.functions.find((f) => f.name === name)!;
  t.deepEqual(fn('st_queued').queued, { high: 2, normal: 1, low: 3, total: 6 });
  t.is(fn('st_queued').running, 0);
  t.is(fn('st_queued').workers, 0);
  t.true(fn('st_queued').oldestQueuedMs! >= 0);
  t.is(fn('st_slow').running, 1);
  t.is(fn('st_slow').workers, 1);
  t.is(fn('st_echo').completed, 5);
  t.is(fn('st_echo').oldestQueuedMs, null);
  t.deepEqual(
    s.functions.map((f) => f.name),
    ['st_echo', 'st_queued', 'st_slow'],
  );

  // gearadmin's view of the same server: total = queued + scheduled + running, same workers.
  for (const [name, total, running, workers] of await r.gearadmin('--status')) {
    const f = fn(name!);
    t.is(f.queued.total + f.scheduled + f.running, Number(total), `total of ${name}`);
    t.is(f.running, Number(running), `running of ${name}`);
    t.is(f.workers, Number(workers), `workers of ${name}`);
  }
  for (const [name, high, normal, low] of await r.gearadmin('--priority-status')) {
    t.deepEqual([fn(name!).queued.high, fn(name!).queued.normal, fn(name!).queued.low], [Number(high), Number(normal), Number(low)]);
  }

  const echo = s.workers.find((w) => w.clientId === 'status-echo')!;
  t.deepEqual(echo.functions, ['st_echo']);
  t.is(echo.running, 0);
  t.is(echo.address, '127.0.0.1');
  const busy = s.workers.find((w) => w.clientId === 'status-slow')!;
  t.is(busy.running, 1);
  t.is(s.workers.length, 2);
  const me = s.clients.find((c) => c.clientId === 'status-client')!;
  t.is(me.waiting, 1, 'the client waits for the slow job');
  // gearadmin --workers lists every connection (its own too, which has closed by now).
  const listed = (await r.gearadmin('--workers')).map((cols) => cols[0]!.split(' ')[2]);
  for (const w of s.workers) t.true(listed.includes(w.clientId));

  t.deepEqual(s.counters, { submitted: 12, completed: 5, failed: 0, exceptions: 0, requeued: 0, connectionsAccepted: s.counters.connectionsAccepted, httpSubmitted: 0 });
  t.true(s.counters.connectionsAccepted >= 3);
  t.like(s.totals, { functions: 3, jobs: 7, queued: 6, scheduled: 0, running: 1, workers: 2 });
  t.is(s.server.address!.port, r.server.address().port);
  t.is(s.server.pid, process.pid);
  t.is(s.server.queue, 'memory');
  t.true(s.memory.rss > 0 && s.memory.heapUsed > 0 && s.memory.heapUsed <= s.memory.heapTotal);

  // Throughput is sampled once a second: the five calls and the twelve submissions show up
  // within a few seconds (a sample may fall between the calls and the later submissions).
  const later = await waitFor(async () => {
    const x = await r.status();
    return x.throughput.completedLastMinute === 5 && x.throughput.submittedLastMinute === 12 ? x : undefined;
  }, 'five completions and twelve submissions in the last minute');
  t.is(later.throughput.completed.reduce((a, b) => a + b, 0), 5);
  t.is(later.throughput.submitted.reduce((a, b) => a + b, 0), 12);
  t.is(later.functions.find((f) => f.name === 'st_echo')!.completedLastMinute, 5);

  slow.open();
  t.is((await slowJob.result).toString(), 'late');
  const after = await waitFor(async () => {
    const x = await r.status();
    return x.functions.find((f) => f.name === 'st_slow')!.running === 0 ? x : undefined;
  }, 'slow job done');
  t.is(after.counters.completed, 6);
  t.is(after.clients.find((c) => c.clientId === 'status-client')!.waiting, 0);
});

test('/status: heap in use after the last garbage collection', async (t) => {
  const r = await rig(t);
  const before = await r.status();
  const majors = before.memory.gcCounts.major ?? 0;
  collectGarbage();
  const s = await waitFor(async () => {
    const x = await r.status();
    return (x.memory.gcCounts.major ?? 0) > majors ? x : undefined;
  }, 'a major GC to be observed');
  const m = s.memory;
  t.is(m.lastGcKind !== null, true);
  t.true(m.heapUsedAfterLastGc! > 0);
  t.true(m.heapUsedAfterLastMajorGc! > 0);
  t.true(m.heapUsedAfterLastMajorGc! <= m.heapSizeLimit);
  t.true(m.lastGcAt! >= before.server.now);
  t.true(m.gcPauseSeconds > 0);
});

test('/status: map/reduce runs from task unique keys, with WORK_STATUS progress of running tasks', async (t) => {
  const r = await rig(t);
  const release = gate();
  const mapper = async (job: { payload: Buffer }, ctx: { sendStatus(n: number, d: number): Promise<void> }) => {
    const [done, total] = job.payload.toString().split('/').map(Number);
    await ctx.sendStatus(done!, total!);
    await release.opened;
    return '{}';
  };
  await r.worker('node-web1', 4).register('geartrain.map@web1', mapper).register('geartrain.map@web2', mapper).start();
  const client = r.client();
  const run = 'rtest0run1';
  const tasks = [
    client.submit('geartrain.map@web1', '25/100', { unique: `${run}:m00000:0` }),
    client.submit('geartrain.map@web2', '10/40', { unique: `${run}:m00001:0` }),
  ];
  // No reduce worker: this one waits in the queue.
  const reduce = client.submit('geartrain.reduce', '{}', { unique: `${run}:t1r0a0` });
  // Jobs that only look similar are not tasks of a run.
  await client.submitBackground('geartrain.map@web1', 'x', { unique: 'notarun:m1:0' });
  await client.submitBackground('other_fn', 'x', { unique: `${run}:m00002:0` });

  const s = await waitFor(async () => {
    const x = await r.status();
    const found = x.runs.find((ru) => ru.runId === run);
    return found && found.bytesTotal === 140 ? found : undefined;
  }, 'run progress');
  t.deepEqual(s.nodes, ['web1', 'web2']);
  t.true(s.active);
  t.deepEqual(s.map, { queued: 0, running: 2, done: 0, failed: 0 });
  t.deepEqual(s.reduce, { queued: 1, running: 0, done: 0, failed: 0 });
  t.is(s.bytesDone, 35);
  t.is(s.progress, 35 / 140);
  t.deepEqual(
    s.running.map((x) => [x.taskId, x.kind, x.node, x.numerator, x.denominator]),
    [
      ['m00000', 'map', 'web1', 25, 100],
      ['m00001', 'map', 'web2', 10, 40],
    ],
  );
  t.is((await r.status()).runs.length, 1, 'look-alike jobs are not runs');

  release.open();
  await Promise.all(tasks.map((j) => j.result));
  const done = (await r.status()).runs.find((ru) => ru.runId === run)!;
  t.deepEqual(done.map, { queued: 0, running: 0, done: 2, failed: 0 });
  t.deepEqual(done.reduce, { queued: 1, running: 0, done: 0, failed: 0 });
  t.is(done.progress, null, 'no running task, no progress figure');
  t.true(done.active);

  // Tasks too short to be seen queued or running are counted when they end; failures apart.
  await r.worker('node-any', 2)
    .register('geartrain.reduce', (job) => {
      if (job.payload.toString() === 'bad') throw new JobFailedError();
      return '{}';
    })
    .start();
  await reduce.result;
  await t.throwsAsync(client.call('geartrain.reduce', 'bad', { unique: `${run}:t1r1a0` }), { code: 'ERR_JOB_FAILED' });
  await client.call('geartrain.reduce', '{}', { unique: `${run}:t2r0a0` });
  const fin = (await r.status()).runs.find((ru) => ru.runId === run)!;
  t.deepEqual(fin.reduce, { queued: 0, running: 0, done: 2, failed: 1 });
  t.false(fin.active);
  t.deepEqual(fin.nodes, ['web1', 'web2']);
});

/**
 * A strict reader of the Prometheus text format 0.0.4: every sample belongs to the family whose
 * `# TYPE` came last, families are contiguous and appear once, names and labels are well formed.
 */
function parsePrometheus(text: string): Map<string, { type: string; help: string; samples: { labels: Record<string, string>; value: number }[] }> {
  const families = new Map<string, { type: string; help: string; samples: { labels: Record<string, string>; value: number }[] }>();
  let current: string | null = null;
  const helps = new Map<string, string>();
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/))) {
      helps.set(m[1]!, m[2]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\'));
      continue;
    }
    if ((m = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/))) {
      if (families.has(m[1]!)) throw new Error(`family ${m[1]} declared twice`);
      if (!helps.has(m[1]!)) throw new Error(`family ${m[1]} has no HELP before its TYPE`);
      families.set(m[1]!, { type: m[2]!, help: helps.get(m[1]!)!, samples: [] });
      current = m[1]!;
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${line}`);
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/);
    if (!m) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    const [, name, , labelText, valueText] = m;
    if (name !== current) throw new Error(`sample ${name} outside its family (current: ${current})`);
    const labels: Record<string, string> = {};
    if (labelText) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
      let pos = 0;
      while (pos < labelText.length) {
        re.lastIndex = pos;
        const lm = re.exec(labelText);
        if (!lm) throw new Error(`bad labels: ${labelText}`);
        labels[lm[1]!] = lm[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
    }
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`bad value ${valueText}`);
    const fam = families.get(current!)!;
    const key = JSON.stringify(Object.entries(labels).sort());
    if (fam.samples.some((x) => JSON.stringify(Object.entries(x.labels).sort()) === key)) throw new Error(`duplicate series ${name}${key}`);
    if (fam.type === 'counter' && !name!.endsWith('_total')) throw new Error(`counter ${name} does not end in _total`);
    fam.samples.push({ labels, value });
  }
  return families;
}

test('/metrics parses as Prometheus text and its counters match what was done', async (t) => {
  const r = await rig(t);
  await r.worker('metrics-worker', 2)
    .register('mx_ok', () => 'ok')
    .register('mx_fail', () => {
      throw new JobFailedError();
    })
    .register('mx_boom', () => {
      throw new Error('boom');
    })
    .start();
  const client = r.client();
  for (let i = 0; i < 4; i++) await client.call('mx_ok', String(i));
  for (let i = 0; i < 2; i++) await t.throwsAsync(client.call('mx_fail', String(i)), { code: 'ERR_JOB_FAILED' });
  await t.throwsAsync(client.call('mx_boom', 'x'), { code: 'ERR_JOB_EXCEPTION' });
  for (let i = 0; i < 3; i++) await client.submitBackground('mx_queued', String(i), { priority: 'low' });
  const odd = 'we"ird\\fn\nname';
  await client.submitBackground(odd, 'x');

  const res = await fetch(`${r.http}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await res.text());
  const value = (name: string, labels: Record<string, string> = {}) => {
    const fam = families.get(name);
    if (!fam) throw new Error(`no metric ${name}`);
    const s = fam.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
    if (!s) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
    return s.value;
  };
  t.is(families.get('geartrain_jobs_submitted_total')!.type, 'counter');
  t.is(value('geartrain_jobs_submitted_total'), 4 + 2 + 1 + 3 + 1);
  t.is(value('geartrain_jobs_completed_total'), 4);
  t.is(value('geartrain_jobs_failed_total'), 2);
  t.is(value('geartrain_jobs_exceptions_total'), 1);
  t.is(value('geartrain_jobs_requeued_total'), 0);
  t.is(value('geartrain_function_completed_total', { function: 'mx_ok' }), 4);
  t.is(value('geartrain_function_failed_total', { function: 'mx_fail' }), 2);
  t.is(value('geartrain_function_failed_total', { function: 'mx_boom' }), 1);
  t.is(value('geartrain_function_queued_jobs', { function: 'mx_queued', priority: 'low' }), 3);
  t.is(value('geartrain_function_queued_jobs', { function: 'mx_queued', priority: 'high' }), 0);
  t.is(value('geartrain_function_workers', { function: 'mx_ok' }), 1);
  t.is(value('geartrain_function_queued_jobs', { function: odd, priority: 'normal' }), 1, 'label values are escaped and read back');
  t.is(value('geartrain_connections', { kind: 'worker' }), 1);
  t.is(value('geartrain_jobs'), 4);
  t.true(value('process_resident_memory_bytes') > 0);
  t.is(families.get('geartrain_function_oldest_queued_seconds')!.type, 'gauge');
  // The figures agree with gearadmin's.
  for (const [name, total, running, workers] of await r.gearadmin('--status')) {
    if (!name!.startsWith('mx_')) continue; // the odd name's newline splits its listing line
    const queued = ['high', 'normal', 'low'].reduce((s, p) => s + value('geartrain_function_queued_jobs', { function: name!, priority: p }), 0);
    t.is(queued + value('geartrain_function_running_jobs', { function: name! }), Number(total));
    t.is(value('geartrain_function_running_jobs', { function: name! }), Number(running));
    t.is(value('geartrain_function_workers', { function: name! }), Number(workers));
  }
});

test('/status and /metrics carry the result cache counters; extras that are off are null', async (t) => {
  const off = await (await rig(t)).status();
  t.deepEqual({ resultCache: off.resultCache, hooks: off.hooks, relay: off.relay }, { resultCache: null, hooks: null, relay: null });

  const r = await rig(t, { resultCache: { maxBytes: 1 << 20, functions: ['cached'] } });
  let runs = 0;
  await r.worker().register('cached', (job) => `done ${job.payload.toString()} ${++runs}`).start();
  const client = r.client();
  // Two keys: each misses once, then three more submits of the first key hit.
  for (const unique of ['k1', 'k2', 'k1', 'k1', 'k1']) await client.call('cached', 'x', { unique });
  t.is(runs, 2, 'the worker ran once per key');
  const s = await r.status();
  t.like(s.resultCache, { hits: 3, misses: 2, stores: 2, evictions: 0 });
  const families = parsePrometheus(await (await fetch(`${r.http}/metrics`)).text());
  const samples = families.get('geartrain_result_cache_lookups_total')!.samples;
  t.deepEqual(Object.fromEntries(samples.map((x) => [x.labels.result, x.value])), { hit: 3, miss: 2 });
  t.is(families.get('geartrain_result_cache_stores_total')!.samples[0]!.value, 2);
});

test('the HTTP port is off unless asked for, binds the job host by default, httpHost moves it', async (t) => {
  const off = new JobServer({ port: 0 });
  t.teardown(() => off.destroy());
  await off.listen();
  t.is(off.httpAddress(), null);
  t.is(off.monitor, null);

  const def = new JobServer({ port: 0, host: '127.0.0.1', httpPort: 0 });
  t.teardown(() => def.destroy());
  await def.listen();
  t.is(def.httpAddress()!.host, '127.0.0.1');

  const moved = new JobServer({ port: 0, host: '127.0.0.1', httpPort: 0, httpHost: '127.0.0.2' });
  t.teardown(() => moved.destroy());
  await moved.listen();
  const a = moved.httpAddress()!;
  t.is(a.host, '127.0.0.2');
  t.is((await fetch(`http://127.0.0.2:${a.port}/status`)).status, 200);

  const err = t.throws(() => new JobServer({ httpPort: -1 }));
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  t.regex(err!.message, /httpPort/);
});

test('the HTTP port in use makes listen() fail and leaves nothing listening', async (t) => {
  const first = new JobServer({ port: 0, httpPort: 0 });
  t.teardown(() => first.destroy());
  await first.listen();
  const taken = first.httpAddress()!.port;
  const second = new JobServer({ port: 0, httpPort: taken });
  t.teardown(() => second.destroy());
  const err = await t.throwsAsync(second.listen());
  t.is((err as NodeJS.ErrnoException).code, 'EADDRINUSE');
  t.false(second.listening);
});

test('geartrain server --http-port 0 --http-listen prints the HTTP address and serves /status', async (t) => {
  const child = startGeartrain(t, ['server', '-p', '0', '-q', 'memory', '--http-port', '0', '--http-listen', '127.0.0.2']);
  const [, gearmanPort, httpUrl] = await waitFor(
    () => child.output().stdout.match(/^listening on 127\.0\.0\.1:(\d+)\nhttp on (http:\/\/127\.0\.0\.2:\d+\/)\n/),
    'the listening lines',
  );
  const s = (await (await fetch(`${httpUrl}status`)).json()) as StatusJson;
  t.is(s.server.address!.port, Number(gearmanPort));
  t.is(s.server.pid, child.pid!);
  const page = await fetch(httpUrl!);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type')!, /^text\/html/);
});

test('close() stops the HTTP port too', async (t) => {
  const r = await rig(t);
  t.is((await fetch(`${r.http}/status`)).status, 200);
  await r.server.close();
  await t.throwsAsync(fetch(`${r.http}/status`));
});
