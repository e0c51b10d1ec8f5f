/**
 * The failure detector on a FakeClock, with a probe and a listing the test answers by hand: a
 * node that went quiet is probed and, without an answer, found gone; a node the servers stop
 * listing is found gone after two listings; heartbeats keep a node from being probed; what is
 * found gone stays gone and says why. The policy here: look every 500 ms, probe after 2 s of
 * quiet, give a probe 3 s, read the listing every second.
 */
import test from 'ava';
import { FakeClock } from '../helpers/fake-clock.ts';
import { JobExceptionError, NodeUnavailableError, TimeoutError } from '../../src/errors.ts';
import { FailureDetector } from '../../src/mapreduce/failure-detector.ts';

interface Probe {
  readonly node: string;
  answer(): void;
  timeOut(): void;
  refuse(): void;
}

class Ports {
  probes: Probe[] = [];
  listed = new Set<string>(['a', 'b']);
  listingFails = false;
  probe(node: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.probes.push({
        node,
        answer: () => resolve(undefined),
        timeOut: () => reject(new TimeoutError('probe timed out')),
        refuse: () => reject(new JobExceptionError(Buffer.from('refused'))),
      });
    });
  }
  async listing(): Promise<ReadonlySet<string>> {
    if (this.listingFails) throw new Error('admin port unreachable');
    return new Set(this.listed);
  }
}

function detector() {
  const clock = new FakeClock();
  const ports = new Ports();
  const d = new FailureDetector({ probe: (node) => ports.probe(node), listed: () => ports.listing() }, { clock, policy: { tickMs: 500, quietMs: 2000, probeTimeoutMs: 3000, listingMs: 1000 } });
  return { clock, ports, d };
}

test('a node not heard from for 2 s is probed; no answer in time and it is gone, its signal aborted with why', async (t) => {
  const { clock, ports, d } = detector();
  d.watch(['a']);
  await clock.advanceAsync(1999);
  t.is(ports.probes.length, 0, 'not before 2 s of quiet');
  await clock.advanceAsync(500);
  t.deepEqual(ports.probes.map((p) => p.node), ['a']);
  await clock.advanceAsync(2000);
  t.is(ports.probes.length, 1, 'one probe at a time');
  ports.probes[0]!.timeOut();
  await clock.advanceAsync(0);
  t.true(d.lost('a').aborted);
  const why = d.lost('a').reason as NodeUnavailableError;
  t.true(why instanceof NodeUnavailableError);
  t.deepEqual(why.nodes, ['a']);
  t.regex(why.message, /^node a is gone: no word from it for 4\.5 s and no answer to a probe within 3 s/);
  t.deepEqual([...d.gone.keys()], ['a']);
  d.stop();
});

test('heartbeats (heard) keep a node from being probed; a probe answered, or refused, counts as word from it', async (t) => {
  const { clock, ports, d } = detector();
  d.watch(['a']);
  for (let i = 0; i < 10; i++) {
    await clock.advanceAsync(1000);
    d.heard('a');
  }
  t.is(ports.probes.length, 0);
  await clock.advanceAsync(2500);
  ports.probes[0]!.answer();
  await clock.advanceAsync(1000);
  t.is(ports.probes.length, 1, 'heard from by the answer');
  await clock.advanceAsync(1500);
  t.is(ports.probes.length, 2);
  ports.probes[1]!.refuse();
  await clock.advanceAsync(1000);
  t.false(d.lost('a').aborted, 'a refusal is an answer');
  d.stop();
});

test('a node missing from two listings in a row is gone; one missing listing is not enough, nor a listing that failed', async (t) => {
  const { clock, ports, d } = detector();
  d.watch(['a', 'b']);
  for (let i = 0; i < 20; i++) {
    await clock.advanceAsync(500);
    d.heard('a');
    d.heard('b');
  }
  ports.listed.delete('b');
  await clock.advanceAsync(1000);
  t.false(d.lost('b').aborted, 'one listing without it');
  ports.listed.add('b');
  await clock.advanceAsync(1000);
  ports.listed.delete('b');
  ports.listingFails = true;
  await clock.advanceAsync(3000);
  t.false(d.lost('b').aborted, 'failed listings say nothing');
  ports.listingFails = false;
  d.heard('b');
  await clock.advanceAsync(1000);
  d.heard('b');
  await clock.advanceAsync(1000);
  t.true(d.lost('b').aborted);
  t.regex((d.lost('b').reason as Error).message, /^node b is gone: its workers left the job servers/);
  t.false(d.lost('a').aborted);
  d.stop();
});

test('gone stays gone: a late heartbeat does not bring a node back within the run, and it is probed no more', async (t) => {
  const { clock, ports, d } = detector();
  d.watch(['a']);
  await clock.advanceAsync(2500);
  ports.probes[0]!.timeOut();
  await clock.advanceAsync(0);
  d.heard('a');
  await clock.advanceAsync(10_000);
  t.true(d.lost('a').aborted);
  t.is(ports.probes.length, 1);
  d.stop();
});

test('a probe that fails for another reason (the job server unreachable from here) says nothing; the node is probed again', async (t) => {
  const { clock, ports, d } = detector();
  const probe = ports.probe.bind(ports);
  let first = true;
  ports.probe = (node) => {
    if (first) {
      first = false;
      return Promise.reject(new Error('ECONNREFUSED'));
    }
    return probe(node);
  };
  d.watch(['a']);
  await clock.advanceAsync(2500);
  t.false(d.lost('a').aborted);
  await clock.advanceAsync(500);
  t.is(ports.probes.length, 1, 'probed again on the next look');
  d.stop();
});

test('stop() ends the timers: nothing is probed or listed after it', async (t) => {
  const { clock, ports, d } = detector();
  d.watch(['a']);
  d.stop();
  t.is(clock.pending, 0);
  await clock.advanceAsync(10_000);
  t.is(ports.probes.length, 0);
  t.false(d.lost('a').aborted);
});

test('declare(): a node taken as gone by its caller aborts at once, once', async (t) => {
  const { d } = detector();
  const signal = d.lost('a');
  d.declare('a', 'it did not answer its catalogue');
  d.declare('a', 'again');
  t.true(signal.aborted);
  t.is((signal.reason as Error).message, 'node a is gone: it did not answer its catalogue');
});

test('a node in this process (the one-shot embedded node) is never probed nor found gone for silence; others still are', async (t) => {
  const clock = new FakeClock();
  const ports = new Ports();
  const d = new FailureDetector(
    { probe: (node) => ports.probe(node), listed: () => ports.listing() },
    { clock, inProcess: ['a'], policy: { tickMs: 500, quietMs: 2000, probeTimeoutMs: 3000, listingMs: 1000 } },
  );
  d.watch(['a', 'b']);
  // Neither sends a heartbeat for a minute (a busy event loop starves the embedded node's).
  await clock.advanceAsync(2500);
  t.deepEqual(ports.probes.map((p) => p.node), ['b'], 'only the other node is probed');
  ports.probes[0]!.timeOut();
  await clock.advanceAsync(60_000);
  t.true(d.lost('b').aborted);
  t.false(d.lost('a').aborted, 'silence says nothing of a node in this process');
  t.deepEqual([...d.gone.keys()], ['b']);
  // The listing rule still holds for it: its connections closing is news.
  ports.listed.delete('a');
  await clock.advanceAsync(2000);
  t.true(d.lost('a').aborted);
  t.regex((d.lost('a').reason as Error).message, /its workers left the job servers/);
  d.stop();
});
