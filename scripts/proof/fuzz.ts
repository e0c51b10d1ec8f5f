/**
 * npm run fuzz — the job server under seeded garbage for FUZZ_SECONDS (default 60).
 *
 * The server runs in this process (so its heap can be read after a forced GC); a child process
 * (fuzz-driver.ts) sends the cases over FUZZ_LANES connections at a time: valid frames of every
 * packet type, mutated ones (sizes, NULs, truncation, declared lengths up to 4 GiB), worker and
 * client sessions, admin lines, random bytes, over-long admin lines, a TLS ClientHello on the
 * plain port, stalled frames and peers that never read. Meanwhile a well-formed peer asks for
 * ECHO on its own connection; every answer must come within FUZZ_ECHO_DEADLINE_MS (default 1000).
 *
 * Afterwards the server is emptied over its own protocols (drain, cancel, drop: lib/cleanup.ts)
 * and its heap, after a forced GC, must be within 10% of where it started (measured after a
 * short warm-up run with another seed, so code compiled on first use is not counted as growth),
 * the Buffers it holds outside the heap within 16 MiB, and its RSS may not grow by more than
 * FUZZ_RSS_CAP_MIB (default 256 MiB). RSS is the coarse check: glibc's per-thread malloc arenas
 * keep 30–180 MiB after this traffic with neither heap nor Buffers grown (23 MiB with
 * MALLOC_ARENA_MAX=1), so leaks of our own show in the first two.
 *
 * Env: FUZZ_SEED (default 1), FUZZ_SECONDS (60), FUZZ_WARMUP_SECONDS (5), FUZZ_LANES (64),
 *      FUZZ_ECHO_DEADLINE_MS (1000), FUZZ_RSS_CAP_MIB (256).
 */
import { JobServer } from '../../src/server/index.ts';
import { cleanServer, type CleanupResult } from './lib/cleanup.ts';
import { EchoProbe } from './lib/echo-probe.ts';
import { stateViolations } from './lib/invariants.ts';
import { heapAfterGc, PeakRss, rss } from './lib/memory.ts';
import { forkHelper, waitUntil } from './lib/procs.ts';
import { RawPeer } from './lib/raw.ts';
import { envInt, Proof } from './lib/report.ts';
import { count, mib, ms } from './lib/stats.ts';
import type { DriverRun, DriverStats } from './fuzz-driver.ts';

const SEED = envInt('FUZZ_SEED', 1);
const SECONDS = envInt('FUZZ_SECONDS', 60, 1);
const WARMUP_SECONDS = envInt('FUZZ_WARMUP_SECONDS', 5);
const LANES = envInt('FUZZ_LANES', 64, 1);
const ECHO_DEADLINE_MS = envInt('FUZZ_ECHO_DEADLINE_MS', 1000, 1);
const RSS_CAP = envInt('FUZZ_RSS_CAP_MIB', 256, 1) * 1048576;
const BUFFERS_CAP = 16 * 1048576;
const HEAP_TOLERANCE = 0.1;

const proof = new Proof('fuzz');
proof.watchdog((WARMUP_SECONDS + SECONDS + 240) * 1000);

async function drive(port: number, seed: number, seconds: number): Promise<DriverStats> {
  const driver = forkHelper<DriverRun, DriverStats>('fuzz-driver.ts');
  driver.send({ type: 'run', port, seed, seconds, lanes: LANES });
  const stats = await driver.next((m): m is DriverStats => m.type === 'done', (seconds + 60) * 1000);
  const exit = await driver.exited;
  if (exit.code !== 0) throw new Error(`fuzz driver exited with ${exit.code ?? exit.signal}: ${driver.stderr()}`);
  return stats;
}

proof.run(async () => {
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory', allowShutdown: false });
  const { port } = await server.listen();
  proof.log(`server on 127.0.0.1:${port}; seed ${SEED}, ${SECONDS} s, ${LANES} lanes; warm-up ${WARMUP_SECONDS} s`);

  if (WARMUP_SECONDS > 0) {
    await drive(port, SEED + 0x5eed, WARMUP_SECONDS);
    await waitUntil(() => server.core.connections.size === 0, 'warm-up connections to close', 30_000);
    await cleanServer(port, { knownNames: server.core.functions.keys() });
  }
  const heapStart = await heapAfterGc();
  const rssStart = rss();
  const memStart = process.memoryUsage();
  const peak = new PeakRss(100);

  const probe = new EchoProbe(port, { intervalMs: 10, deadlineMs: ECHO_DEADLINE_MS });
  await probe.start();
  const fuzzStart = Date.now();
  const timeline: [string, string, string][] = [];
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    timeline.push([`${Math.round((Date.now() - fuzzStart) / 1000)} s`, mib(m.rss), mib(m.heapUsed)]);
  }, 10_000);
  const stats = await drive(port, SEED, SECONDS);
  clearInterval(sampler);
  const echo = await probe.stop();
  peak.stop();

  await waitUntil(() => server.core.connections.size === 0, 'fuzz connections to close', 30_000);
  const violations = stateViolations(server.core);
  const jobsLeft = server.core.jobs.size;
  const cleanup: CleanupResult = await cleanServer(port, { knownNames: server.core.functions.keys() });
  const connectionsLeft = await waitUntil(() => server.core.connections.size === 0, 'cleanup connections to close', 10_000).then(
    () => 0,
    () => server.core.connections.size,
  );
  const epochEntries = server.core.scheduledCount;
  const heapEnd = await heapAfterGc();
  const rssEnd = rss();
  const memEnd = process.memoryUsage();

  // Still serving: a fresh peer is answered.
  const after = await RawPeer.connect(port, { text: true });
  const version = (await after.admin('version'))[0] ?? '';
  after.close();

  const [p50, p99] = echo.latency.percentiles([50, 99]);
  proof.table('fuzz: traffic', ['measure', 'value'], [
    ['seed', SEED],
    ['duration', `${(stats.elapsedMs / 1000).toFixed(1)} s`],
    ['cases', count(stats.cases)],
    ['cases/s', count(Math.round(stats.cases / (stats.elapsedMs / 1000)))],
    ['connections', count(stats.connections)],
    ['  closed by the server', count(stats.closedByServer)],
    ['  connect errors', count(stats.connectErrors)],
    ['bytes sent', mib(stats.bytesSent)],
    ['bytes received', mib(stats.bytesReceived)],
    ['job handles learned', count(stats.handlesLearned)],
    ...Object.entries(stats.byKind).map(([k, n]): [string, string] => [`  case ${k}`, count(n)]),
  ]);
  proof.table('fuzz: ECHO from a well-formed peer during the run', ['measure', 'value'], [
    ['sent', count(echo.sent)],
    ['answered', count(echo.answered)],
    ['p50', ms(p50!)],
    ['p99', ms(p99!)],
    ['max', ms(echo.latency.max)],
    [`later than ${ECHO_DEADLINE_MS} ms`, echo.late],
  ]);
  proof.table('fuzz: memory of the server process', ['measure', 'value'], [
    ['heap used at start (after GC)', mib(heapStart)],
    ['heap used after cleanup (after GC)', mib(heapEnd)],
    ['heap change', `${(((heapEnd - heapStart) / heapStart) * 100).toFixed(1)}%`],
    ['RSS at start', mib(rssStart)],
    ['RSS peak', mib(peak.peak)],
    ['RSS after', mib(rssEnd)],
    ['V8 heap committed at start / after', `${mib(memStart.heapTotal)} / ${mib(memEnd.heapTotal)}`],
    ['Buffers (ArrayBuffers) at start / after, after GC', `${mib(memStart.arrayBuffers)} / ${mib(memEnd.arrayBuffers)}`],
    ['jobs left by the fuzzer', count(jobsLeft)],
    ['cleanup: functions / drained / cancelled / dropped', `${cleanup.functions} / ${cleanup.drained} / ${cleanup.cancelled} / ${cleanup.dropped}`],
    ['functions admin cannot name (left as they are)', count(cleanup.undroppable)],
    ['epoch scheduler entries after cleanup', count(epochEntries)],
  ]);

  proof.table('fuzz: server process during the run (no forced GC)', ['time', 'RSS', 'heap used'], timeline);

  proof.check('server never crashed and still answers a new peer', version.startsWith('OK '), `version: ${JSON.stringify(version)}`);
  proof.check('fuzz driver ran for the whole time', stats.elapsedMs >= SECONDS * 1000, `${stats.elapsedMs} ms, ${count(stats.cases)} cases`);
  proof.check('the ECHO peer was never disconnected', !echo.disconnected && echo.mismatched === 0, `disconnected=${echo.disconnected}, mismatched=${echo.mismatched}`);
  proof.check(`every ECHO answered within ${ECHO_DEADLINE_MS} ms`, echo.late === 0 && echo.answered === echo.sent, `${echo.answered}/${echo.sent} answered, ${echo.late} late, max ${ms(echo.latency.max)}`);
  proof.check('every connection closed after the run', connectionsLeft === 0, `${connectionsLeft} open`);
  proof.check('server counters agree with its job table after the run', violations.length === 0, violations.length === 0 ? 'consistent' : violations.join('; '));
  proof.check('no job kept for no one after cleanup', server.core.jobs.size === 0 && epochEntries === 0, `${server.core.jobs.size} jobs, ${epochEntries} epoch entries`);
  proof.check(
    `heap after cleanup within ${HEAP_TOLERANCE * 100}% of start`,
    heapEnd <= heapStart * (1 + HEAP_TOLERANCE),
    `${mib(heapStart)} -> ${mib(heapEnd)}`,
  );
  proof.check(
    `Buffers outside the heap after cleanup within ${mib(BUFFERS_CAP)} of start`,
    memEnd.arrayBuffers - memStart.arrayBuffers <= BUFFERS_CAP,
    `${mib(memStart.arrayBuffers)} -> ${mib(memEnd.arrayBuffers)}`,
  );
  proof.check(`RSS growth at most ${mib(RSS_CAP)}`, rssEnd - rssStart <= RSS_CAP, `${mib(rssStart)} -> ${mib(rssEnd)} (peak ${mib(peak.peak)})`);
  server.destroy();
});
