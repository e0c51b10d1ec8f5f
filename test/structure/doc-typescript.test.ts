/**
 * The TypeScript blocks of the README and docs/jobs.md type-check against the sources. The README
 * test (test/multihost/readme.test.ts) runs them through tsx, which strips types without checking
 * them: a renamed option or a wrong type in a README example would otherwise still pass there.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readmeBlocks } from '../helpers/readme-blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCS = ['README.md', 'docs/jobs.md'];
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

test('every TypeScript block of the README and docs/jobs.md type-checks against the sources (and a wrong one is caught)', (t) => {
  // Inside the checkout, so `geartrain`, `geartrain/jobs` and `zod` resolve as the root tsconfig says.
  const dir = fs.mkdtempSync(path.join(ROOT, '.doc-tsc-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files = new Map<string, string>();
  for (const doc of DOCS) {
    for (const b of readmeBlocks(fs.readFileSync(path.join(ROOT, doc), 'utf8'))) {
      if (b.lang !== 'ts') continue;
      const name = `${doc.replace(/\W/g, '_')}-line-${b.line}.mts`;
      fs.writeFileSync(path.join(dir, name), b.code);
      files.set(name, `${doc} line ${b.line}`);
    }
  }
  t.true(files.size >= 4, `TypeScript blocks found: ${[...files.values()].join(', ')}`);
  // The canary proves the check reads the blocks: its error must be the only one outside them.
  fs.writeFileSync(path.join(dir, 'canary.mts'), "import { Client } from 'geartrain';\nexport const c: Client = new Client({ servers: 42 });\n");
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    // A snippet may import names it only mentions: unused locals are no error here.
    JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { noUnusedLocals: false }, include: ['*.mts'] }),
  );
  const r = spawnSync(process.execPath, [TSC, '--noEmit', '-p', dir], { encoding: 'utf8' });
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  const inBlocks = errors.filter((l) => !l.startsWith(`${path.basename(dir)}/canary.mts`) && !l.includes('canary.mts'));
  t.deepEqual(
    inBlocks.map((l) => {
      const name = /([\w.-]+\.mts)/.exec(l)?.[1] ?? '';
      return `${files.get(name) ?? name}: ${l.replace(/^.*?error /, 'error ')}`;
    }),
    [],
  );
  t.true(errors.some((l) => l.includes('canary.mts')), `tsc found the canary's wrong type: ${r.stdout}${r.stderr}`);
});
