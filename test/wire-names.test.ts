/**
 * The names of map/reduce tasks on a job server: what the coordinator builds is what the monitor
 * and `geartrain top` parse back, and jobs that only look alike are not tasks.
 */
import test from 'ava';
import {
  departureFunction,
  isTaskFunction,
  mapFunction,
  mapTaskUnique,
  parseDepartureFunction,
  parseTaskUnique,
  reduceFunction,
  reduceStepId,
  reduceTaskId,
  reduceTaskUnique,
  taskOfJob,
} from '../src/wire-names.ts';

test('map unique keys round-trip, with the attempt and the speculative mark', (t) => {
  t.deepEqual(parseTaskUnique(mapTaskUnique('rk3x9a1b2', 'm00042', 2)), { kind: 'map', runId: 'rk3x9a1b2', taskId: 'm00042', attempt: 2, speculative: false });
  t.is(mapTaskUnique('rk3', 'm00042', 0, true), 'rk3:m00042:0s');
  t.deepEqual(parseTaskUnique('rk3:m00042:0s'), { kind: 'map', runId: 'rk3', taskId: 'm00042', attempt: 0, speculative: true });
});

test('reduce task ids are t<tier>r<n>a<attempt>, and their unique keys round-trip', (t) => {
  const id = reduceTaskId(reduceStepId(2, 5), 1);
  t.is(id, 't2r5a1');
  t.is(reduceTaskUnique('rk3', id), 'rk3:t2r5a1');
  t.deepEqual(parseTaskUnique('rk3:t2r5a1'), { kind: 'reduce', runId: 'rk3', taskId: 't2r5a1' });
});

test('keys that only look like task keys are not tasks', (t) => {
  for (const unique of ['notarun:m1:0', 'r:m1:0', 'rK3:m1:0', 'rk3:m1', 'rk3:m1:x', 'rk3:m1:0ss', 'rk3::0', 'rk3:t1r0', 'rk3:t1r0a0:0', 'rk3:x1:0', 'gt:uuid']) {
    t.is(parseTaskUnique(unique), null, unique);
  }
});

test('function names tell map from reduce, and a task needs a key of its own kind', (t) => {
  t.true(isTaskFunction(mapFunction('web1')));
  t.true(isTaskFunction(reduceFunction()));
  t.true(isTaskFunction(reduceFunction('web1')));
  t.false(isTaskFunction('geartrain.fetch@web1'));
  t.false(isTaskFunction('geartrain.reducer'));
  t.deepEqual(taskOfJob('geartrain.map@web1', 'rk3:m00001:0s'), { kind: 'map', runId: 'rk3', taskId: 'm00001', attempt: 0, speculative: true, node: 'web1' });
  t.deepEqual(taskOfJob('geartrain.reduce', 'rk3:t1r0a0'), { kind: 'reduce', runId: 'rk3', taskId: 't1r0a0', node: null });
  t.is(taskOfJob('geartrain.reduce@web1', 'rk3:m00001:0'), null, 'a map key on a reduce function');
  t.is(taskOfJob('other_fn', 'rk3:m00001:0'), null);
});

test('departure notices round-trip: geartrain.left@<node>@<ms>, with a signature when there is a secret; other names are not notices', (t) => {
  t.is(departureFunction('web2', 1_790_000_000_000), 'geartrain.left@web2@1790000000000');
  t.deepEqual(parseDepartureFunction('geartrain.left@web2@1790000000000'), { node: 'web2', at: 1_790_000_000_000, signature: null });
  const sig = 'ab'.repeat(32);
  t.deepEqual(parseDepartureFunction(departureFunction('web-2.dc1', 5, sig)), { node: 'web-2.dc1', at: 5, signature: sig });
  t.is(parseDepartureFunction('geartrain.left@web2'), null);
  t.is(parseDepartureFunction('geartrain.map@web2'), null);
  t.is(parseDepartureFunction('geartrain.left@@5'), null);
});
