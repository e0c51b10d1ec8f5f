/**
 * Why analyze's sketches are hand-written (src/sketches): cost per added value of ours against the
 * npm libraries the project started from, on the same data. analyze adds three HLL values and one
 * size per record, so at 300k records/s per core these costs decide the job's speed.
 */
import { createRequire } from 'node:module';
import { hash53, HyperLogLog, TDigest } from '../src/sketches/index.ts';
import { table } from './lib.ts';

const require = createRequire(import.meta.url);
const HLL = require('hyperloglog-lite') as { (n: number): { add(h: number[]): void }; hash(s: string): number[] };
const { TDigest: LibTDigest } = require('tdigest') as { TDigest: new () => { push(x: number): void } };

const N = 500_000;
const keys = Array.from({ length: N }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} Mozilla/5.0 (${i % 13})`);
const sizes = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : i % 5 === 0 ? 512 : (i * 7919) % 300_000));

function ns(f: () => void): number {
  f(); // warm up
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / N;
}

const rows = [
  ['HLL add (hash + register), p=14', ns(() => { const h = new HyperLogLog({ p: 14, exactLimit: 0 }); for (const k of keys) h.add(hash53(k)); }), ns(() => { const h = HLL(14); for (const k of keys) h.add(HLL.hash(k)); })],
  ['t-digest add', ns(() => { const d = new TDigest(); for (const s of sizes) d.add(s); }), ns(() => { const d = new LibTDigest(); for (const s of sizes) d.push(s); })],
];
console.log(table(['operation', 'ours ns/value', 'library ns/value', 'library / ours'], rows.map(([op, a, b]) => [op as string, (a as number).toFixed(0), (b as number).toFixed(0), `${((b as number) / (a as number)).toFixed(1)}×`])));
