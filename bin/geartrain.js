#!/usr/bin/env node
// Runs the bundled CLI from dist/ when it is up to date (npm install builds it) or the package is
// installed, else the TypeScript sources through tsx, so a clone works without a build step and
// edits take effect.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestSource(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (/\.(ts|mjs|js|json)$/.test(e.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** An installed package (under node_modules) runs its dist/: npm does not keep the files' times. */
const installed = root.split(path.sep).includes('node_modules');

function distIsFresh() {
  if (process.env.GEARTRAIN_SOURCE === '1') return false;
  try {
    const built = fs.statSync(path.join(root, 'dist', 'BUILT')).mtimeMs;
    return installed || (built >= newestSource(path.join(root, 'src')) && built >= newestSource(path.join(root, 'jobs')));
  } catch {
    return false;
  }
}

let main;
if (distIsFresh()) {
  ({ main } = await import('../dist/geartrain.mjs'));
} else {
  const { register } = await import('tsx/esm/api');
  // The package's tsconfig maps `geartrain/jobs` (what the built-in jobs import) to its source,
  // whatever the working directory.
  register({ tsconfig: path.join(root, 'tsconfig.json') });
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
