/**
 * The default rendering of a result (jobs without `render`): every shape a finalize may return
 * prints as text and tables, never as nothing.
 */
import test from 'ava';
import { resultTables } from '../../src/report/result-tables.ts';
import { textTable } from '../../src/report/table.ts';

test('a count map is a key/value table, largest first and ties by key; a scalar is a line of text', (t) => {
  t.deepEqual(resultTables({ '4xx': 3, '2xx': 10, '3xx': 3 }), {
    tables: [{ columns: ['key', 'value'], units: [undefined, 'count'], rows: [['2xx', 10], ['3xx', 3], ['4xx', 3]] }],
  });
  t.deepEqual(resultTables(42), { text: '42' });
  t.deepEqual(resultTables('done'), { text: 'done' });
  t.deepEqual(resultTables({}), { text: '{}' });
});

test('arrays of scalars and of flat objects are tables; nested values print under their key, deeper ones as JSON', (t) => {
  const view = resultTables({
    total: 7,
    label: 'x',
    rows: [{ path: '/', hits: 5 }, { path: '/a', hits: 2, extra: true }],
    tags: ['a', 'b'],
    deep: { inner: { deeper: { deepest: [1, { a: [2] }] } } },
  });
  t.deepEqual(view.tables![0], { columns: ['key', 'value'], rows: [['total', 7], ['label', 'x']] });
  t.deepEqual(view.tables![1], { title: 'rows', columns: ['path', 'hits', 'extra'], rows: [['/', 5, ''], ['/a', 2, 'true']] });
  t.deepEqual(view.tables![2], { title: 'tags', columns: ['value'], rows: [['a'], ['b']] });
  t.is(view.text, `deep.inner.deeper: ${JSON.stringify({ deepest: [1, { a: [2] }] }, null, 2)}`);
  t.regex(textTable(view.tables![1]!), /^rows\npath +hits +extra\n/);
});
