#!/usr/bin/env node
// npm run bench — every benchmark in turn, each beside its reference tool (gearmand, libgearman,
// GNU grep, GoAccess) in the same run. `npm run bench -- server parse` runs only those.
// Each one is its own `npm run bench:NAME`; a failed one is reported and the rest still run.
import { spawnSync } from 'node:child_process';

const ALL = ['server', 'client', 'queue', 'queue-store', 'parse', 'analyze-local', 'analyze', 'analyze-scale', 'mr', 'sketches', 'result-cache', 'hooks'];
const chosen = process.argv.slice(2);
const unknown = chosen.filter((n) => !ALL.includes(n));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; one of ${ALL.join(', ')}`);
  process.exit(2);
}
const failed = [];
for (const name of chosen.length > 0 ? chosen : ALL) {
  console.log(`\n=== bench:${name}`);
  const started = Date.now();
  const run = spawnSync('npm', ['run', '-s', `bench:${name}`], { stdio: 'inherit' });
  if (run.status !== 0) failed.push(name);
  console.log(`=== bench:${name} ${run.status === 0 ? 'done' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
if (failed.length > 0) {
  console.error(`bench: ${failed.length} failed: ${failed.join(', ')}`);
  process.exit(1);
}
