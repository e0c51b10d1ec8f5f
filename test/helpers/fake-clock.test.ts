import test from 'ava';
import { FakeClock } from './fake-clock.ts';

test('FakeClock runs due timers in time order, ties in creation order, with now() at each timer', (t) => {
  const clock = new FakeClock(1000);
  const seen: string[] = [];
  clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
  clock.setTimeout(() => seen.push(`c@${clock.now()}`), 20);
  const never = clock.setTimeout(() => seen.push('never'), 15);
  clock.clearTimeout(never);
  clock.advance(19);
  t.deepEqual(seen, ['a@1010']);
  clock.advance(1);
  t.deepEqual(seen, ['a@1010', 'b@1020', 'c@1020']);
  t.is(clock.now(), 1020);
  t.is(clock.pending, 0);
});

test('FakeClock intervals repeat until cleared; a timer set by a timer runs in the same advance when due', (t) => {
  const clock = new FakeClock(0);
  let ticks = 0;
  const iv = clock.setInterval(() => ticks++, 100);
  let chained = -1;
  clock.setTimeout(() => clock.setTimeout(() => (chained = clock.now()), 50), 100);
  clock.advance(350);
  t.is(ticks, 3);
  t.is(chained, 150);
  clock.clearInterval(iv);
  clock.advance(1000);
  t.is(ticks, 3);
});

test('FakeClock.advanceAsync lets promise callbacks scheduled by a timer run before the next one', async (t) => {
  const clock = new FakeClock(0);
  const order: string[] = [];
  clock.setTimeout(() => void Promise.resolve().then(() => order.push('then')), 10);
  clock.setTimeout(() => order.push('second'), 20);
  await clock.advanceAsync(30);
  t.deepEqual(order, ['then', 'second']);
});
