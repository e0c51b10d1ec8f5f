/**
 * The signed envelope of node tasks (src/mapreduce/task-auth.ts), checked against an HMAC computed
 * here with node:crypto from the documented layout, not with the module's own signer.
 */
import { createHmac } from 'node:crypto';
import test from 'ava';
import { sealTask, sealerFor, TaskGuard, ingestSealer, isSignatureRefusal } from '../../src/mapreduce/task-auth.ts';

const SECRET = 'cluster-secret-0123456789';
const FN = 'geartrain.map@web1';
const BODY = '{"v":1,"kind":"map","runId":"r1","taskId":"t1"}';
const NOW = 1_700_000_000_000;

function byHand(fn: string, expiresAt: number, body: string, secret = SECRET): Buffer {
  const mac = createHmac('sha256', secret).update(`gt-auth1\n${fn}\n${expiresAt}\n${body}`).digest('hex');
  return Buffer.from(`gt-auth1 ${expiresAt} ${mac}\n${body}`);
}

const guard = (secret: string | null = SECRET) => new TaskGuard({ node: 'web1', secret: secret ?? undefined, now: () => NOW });
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error('expected a refusal');
};

test('the envelope is one line "gt-auth1 <expiresAtMs> <hmac-hex>" over "gt-auth1\\n<function>\\n<expiresAtMs>\\n" + body', (t) => {
  t.deepEqual(sealTask(FN, BODY, SECRET, NOW + 900_000), byHand(FN, NOW + 900_000, BODY));
  t.deepEqual(guard().open(FN, byHand(FN, NOW + 1000, BODY)).toString(), BODY);
  const sealed = sealerFor(SECRET, { ttlMs: 5000, now: () => NOW })(FN, BODY);
  t.deepEqual(sealed, byHand(FN, NOW + 5000, BODY));
});

test('an unsigned payload is refused by a node with a secret, naming GEARTRAIN_SECRET', (t) => {
  const err = refusal(() => guard().open(FN, Buffer.from(BODY)));
  t.is(err.code, 'ERR_TASK_REFUSED');
  t.is(err.message, 'node web1 takes only tasks signed with the cluster secret (GEARTRAIN_SECRET); this one is unsigned');
  t.true(isSignatureRefusal(err.message));
});

test('a tampered body, another function (node) or another secret is refused as a bad signature; the secret never appears', (t) => {
  const good = byHand(FN, NOW + 1000, BODY);
  const tampered = Buffer.from(good.toString().replace('"t1"', '"t2"'));
  for (const [fn, payload] of [
    [FN, tampered],
    ['geartrain.map@web2', good],
    [FN, byHand(FN, NOW + 1000, BODY, 'another-secret-0123456789')],
  ] as const) {
    const err = refusal(() => guard().open(fn, payload));
    t.is(err.code, 'ERR_TASK_REFUSED');
    t.regex(err.message, /does not match this node's secret: another GEARTRAIN_SECRET, or the task was altered/);
    t.false(err.message.includes(SECRET));
  }
});

test('an expired task is refused saying how long ago; within the clock skew it is still taken', (t) => {
  t.regex(refusal(() => guard().open(FN, byHand(FN, NOW - 72_000, BODY))).message, /expired 72 s ago/);
  t.is(guard().open(FN, byHand(FN, NOW - 30_000, BODY)).toString(), BODY);
});

test('a malformed envelope is refused; a node without a secret takes bodies as they are and strips a valid envelope', (t) => {
  t.regex(refusal(() => guard().open(FN, Buffer.from(`gt-auth1 12 zz\n${BODY}`))).message, /malformed/);
  t.is(guard(null).open(FN, Buffer.from(BODY)).toString(), BODY);
  t.is(guard(null).open(FN, byHand(FN, NOW - 10 * 86_400_000, BODY)).toString(), BODY);
});

test('the ingest sealer signs logger functions only, with the ingest words in refusals', (t) => {
  const seal = ingestSealer('ingest-secret-0123456789', { now: () => NOW });
  t.is(seal('rev', 'x'), 'x');
  const lines = Buffer.from('a line\n');
  const ingest = new TaskGuard({ node: 'web1', secret: 'ingest-secret-0123456789', kind: 'ingest', now: () => NOW });
  t.deepEqual(ingest.open('logger', Buffer.from(seal('logger', lines))), lines);
  t.regex(refusal(() => ingest.open('logger', lines)).message, /^node web1 takes only log lines signed with the ingest secret \(GEARTRAIN_INGEST_SECRET\); this batch is unsigned$/);
});
