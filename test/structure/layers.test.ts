/**
 * The layering of docs/DESIGN.md: every import of src/ and jobs/ is allowed by the "may import"
 * column of DESIGN's layer table, which this test reads (the table is the one source of truth).
 * A row that names packages (`geartrain/jobs`, `zod`) limits its unit's package imports to them.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A unit of the layer table: a folder (`server/store/`), a file at the top of src/ (`index.ts`), or `jobs/`. */
interface LayerRule {
  readonly unit: string;
  /** Units it may import; 'everything' when the table says so. */
  readonly mayImport: readonly string[] | 'everything';
  /** The only packages it may import (besides `node:` modules), when the row names any. */
  readonly packages?: readonly string[];
}

/** A name in the "may import" column is a unit (a folder or a .ts file), else a package. */
const isUnitName = (name: string) => name.endsWith('/') || name.endsWith('.ts');

/** The table under "## Layers (src/)" of the design document. */
function parseLayerTable(design: string): LayerRule[] {
  const start = design.indexOf('## Layers (src/)');
  if (start < 0) throw new Error('docs/DESIGN.md has no "## Layers (src/)" section');
  const section = design.slice(start, design.indexOf('\n## ', start + 1));
  const rules: LayerRule[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split(' | ').map((c) => c.replace(/^\|\s*|\s*\|$/g, '').trim());
    const unit = /`([^`]+)`/.exec(cells[0] ?? '')?.[1];
    const allowed = cells[cells.length - 1] ?? '';
    if (unit === undefined || cells.length < 3) throw new Error(`cannot read the layer table row: ${line}`);
    if (allowed === 'everything') rules.push({ unit, mayImport: 'everything' });
    else if (allowed === 'nothing') rules.push({ unit, mayImport: [] });
    else {
      const names = [...allowed.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      const packages = names.filter((n) => !isUnitName(n));
      rules.push({ unit, mayImport: names.filter(isUnitName), ...(packages.length > 0 ? { packages } : {}) });
    }
  }
  return rules;
}

/** Shared files at the top of src/ (errors.ts, logger.ts, …): importable by all, importing no folder. */
const SHARED = 'shared files at the top of src/';

/** The unit a file (relative to the repository) belongs to, or undefined outside src/ and jobs/. */
function unitOf(file: string, rules: readonly LayerRule[]): string | undefined {
  const rel = file.split(path.sep).join('/');
  if (rel.startsWith('jobs/')) return 'jobs/';
  if (!rel.startsWith('src/')) return undefined;
  const inSrc = rel.slice('src/'.length);
  if (!inSrc.includes('/')) return rules.some((r) => r.unit === inSrc) ? inSrc : SHARED;
  const folders = rules.map((r) => r.unit).filter((u) => u.endsWith('/') && u !== 'jobs/' && inSrc.startsWith(u));
  return folders.sort((a, b) => b.length - a.length)[0] ?? `${inSrc.split('/')[0]}/ (not in the table)`;
}

const IMPORT_PATTERNS = [
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?[\w$*{},\s]+?\s+from\s*['"]([^'"]+)['"]/g,
  /(?:^|[\s;])import\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** The module specifiers a source file imports (static, type-only, re-exports and literal dynamic imports). */
function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return IMPORT_PATTERNS.flatMap((re) => [...code.matchAll(re)].map((m) => m[1]!));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(?:ts|mts|mjs|js)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly from: string;
  readonly to: string;
}

/** The imports of `files` (path → source) that the rules do not allow. */
function violations(files: ReadonlyMap<string, string>, rules: readonly LayerRule[]): Violation[] {
  const byUnit = new Map(rules.map((r) => [r.unit, r]));
  const out: Violation[] = [];
  for (const [file, source] of files) {
    const from = unitOf(file, rules)!;
    for (const specifier of importsOf(source)) {
      if (!specifier.startsWith('.')) {
        // node: built-ins, and npm packages unless the unit's row names the only ones it may use
        const packages = byUnit.get(from)?.packages;
        if (packages && !specifier.startsWith('node:') && !packages.includes(specifier)) out.push({ file, specifier, from, to: `the package ${specifier}` });
        continue;
      }
      const to = unitOf(path.join(path.dirname(file), specifier), rules) ?? `${specifier} (outside src/ and jobs/)`;
      if (to === from || to === SHARED) continue;
      const allowed = from === SHARED ? [] : (byUnit.get(from)?.mayImport ?? []);
      if (allowed === 'everything' || allowed.includes(to)) continue;
      out.push({ file, specifier, from, to });
    }
  }
  return out;
}

const rules = parseLayerTable(readFileSync(path.join(ROOT, 'docs/DESIGN.md'), 'utf8'));
const files = new Map([...sourceFiles('src'), ...sourceFiles('jobs')].map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));

test('DESIGN.md has a layer table row for every folder of src/ and for jobs/', (t) => {
  const units = new Set(rules.map((r) => r.unit));
  const folders = new Set([...files.keys()].map((f) => unitOf(f, rules)!).filter((u) => u !== SHARED));
  t.deepEqual([...folders].filter((u) => !units.has(u)), []);
  for (const rule of rules) {
    if (rule.mayImport === 'everything') continue;
    t.deepEqual(rule.mayImport.filter((u) => !units.has(u)), [], `the row of ${rule.unit} names units the table does not have`);
  }
});

test('every import in src/ and jobs/ is allowed by the "may import" column of DESIGN.md', (t) => {
  const found = violations(files, rules).map((v) => `${v.file}: '${v.specifier}' (${v.from} may not import ${v.to})`);
  t.deepEqual(found, []);
});

test('the check sees every kind of import and reports a layer crossing', (t) => {
  const probe = new Map([
    [
      'src/sketches/probe.ts',
      [
        "import { a } from '../logs/index.ts';",
        "import type {\n  B,\n  C,\n} from '../weblog/index.ts';",
        "export { d } from '../client/index.ts';",
        "import '../server/index.ts';",
        "const e = await import('../report/index.ts');",
        "// import { f } from '../cli/main.ts';",
        "import { g } from '../errors.ts';",
        "import { h } from './hash.ts';",
        "import { z } from 'zod';",
      ].join('\n'),
    ],
    ['src/errors.ts', "import { i } from './logs/index.ts';"],
    [
      'jobs/probe.ts',
      [
        "import { z } from 'zod';",
        "import { defineJob } from 'geartrain/jobs';",
        "import fs from 'node:fs';",
        "import { topK } from '../src/sketches/index.ts';",
        "import { Client } from 'geartrain';",
        "import Redis from 'ioredis';",
      ].join('\n'),
    ],
  ]);
  const found = violations(probe, rules).map((v) => `${v.from} → ${v.to}`);
  const expected = [
    'sketches/ → logs/',
    'sketches/ → weblog/',
    'sketches/ → client/',
    'sketches/ → server/',
    'sketches/ → report/',
    `${SHARED} → logs/`,
    'jobs/ → sketches/',
    'jobs/ → the package geartrain',
    'jobs/ → the package ioredis',
  ];
  t.deepEqual(found.sort(), expected.sort());
});

test('`geartrain/jobs` is the job kit: package.json exports it (types src/job-kit.ts, code dist/jobs.mjs) and tsconfig maps it for the sources', (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { types: string; default: string }> };
  t.is(pkg.name, 'geartrain');
  t.deepEqual(pkg.exports['./jobs'], { types: './src/job-kit.ts', default: './dist/jobs.mjs' });
  const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } };
  t.deepEqual(tsconfig.compilerOptions.paths['geartrain/jobs'], ['./src/job-kit.ts']);
  t.deepEqual(tsconfig.compilerOptions.paths.geartrain, ['./src/index.ts']);
  t.true(rules.some((r) => r.unit === 'job-kit.ts'), 'the kit has its row in the layer table');
});
