/**
 * Compare what the producer was promised with what the worker did:
 *
 *   node --import tsx examples/async-queue/check.ts [--accepted FILE] [--delivered FILE] [--wait S]
 *
 * Waits up to `--wait` seconds for every acknowledged job to show up in the worker's ledger,
 * then prints the counts. Exits 1 if an acknowledged job is missing or a job was carried out
 * twice.
 */
import { parseArgs } from 'node:util';
import { keyOf, readLedger } from './ledger.ts';

const { values: args } = parseArgs({
  options: {
    accepted: { type: 'string', default: 'accepted.log' },
    delivered: { type: 'string', default: 'delivered.log' },
    wait: { type: 'string', default: '30' },
  },
});

const deadline = Date.now() + Number(args.wait) * 1000;
let accepted: Set<string>;
let delivered: string[];
let missing: string[];
for (;;) {
  accepted = new Set(readLedger(args.accepted!).map(keyOf));
  delivered = readLedger(args.delivered!).map(keyOf);
  const have = new Set(delivered);
  missing = [...accepted].filter((k) => !have.has(k));
  if (missing.length === 0 || Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 250));
}
const twice = delivered.length - new Set(delivered).size;
const unacknowledged = new Set(delivered.filter((k) => !accepted.has(k))).size;

console.log(`acknowledged jobs:       ${accepted.size}`);
console.log(`carried out:             ${new Set(delivered).size}`);
console.log(`missing:                 ${missing.length}${missing.length ? ` (e.g. ${missing.slice(0, 3).join(', ')})` : ''}`);
console.log(`carried out twice:       ${twice}`);
console.log(`carried out, never acknowledged to the producer: ${unacknowledged}`);
console.log(missing.length === 0 && twice === 0 ? 'OK: every acknowledged job was carried out exactly once' : 'FAILED');
process.exitCode = missing.length === 0 && twice === 0 ? 0 : 1;
