/**
 * Small modules with one concern: no source file of src/ or jobs/ grows past 600 lines, so a
 * newcomer can read any one of them whole (issue 16).
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LIMIT = 600;

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

test(`no source file in src/ or jobs/ is over ${LIMIT} lines`, (t) => {
  const files = [...sources('src'), ...sources('jobs')];
  t.true(files.length > 50, 'the walk found the sources');
  const long = files
    .map((f) => ({ f, lines: readFileSync(path.join(ROOT, f), 'utf8').split('\n').length - 1 }))
    .filter((x) => x.lines > LIMIT)
    .map((x) => `${x.f}: ${x.lines} lines`);
  t.deepEqual(long, []);
});
