// Bundles the library, the CLI, the task thread and the built-in jobs into dist/ with esbuild, so
// commands start without compiling TypeScript, `import … from 'geartrain'` works in plain Node,
// and both run without tsx's per-function wrappers. bin/geartrain.js uses dist/ while it is newer
// than every source file, and the sources through tsx otherwise.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Native and heavy packages stay in node_modules; pure-JS ones (zod…) are bundled, so a command
  // starts by reading a few files instead of hundreds (zod alone opens ~80 at import time).
  external: ['better-sqlite3', 'pg', 'pg-native', 'ioredis', 'esbuild', 'playwright-core', 'tsx'],
  define: { __GEARTRAIN_DIST__: 'true' },
  // Some dependencies need `require` inside an ES module bundle.
  banner: { js: "import { createRequire as __gtCreateRequire } from 'node:module'; const require = __gtCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  sourcemap: 'linked',
  outExtension: { '.js': '.mjs' },
};

/** Build everything into `dist` (emptied first); returns the number of built-in jobs. */
export async function buildDist(dist = path.join(root, 'dist')) {
  fs.rmSync(dist, { recursive: true, force: true });
  const jobs = fs.readdirSync(path.join(root, 'jobs')).filter((f) => /^[a-z][a-z0-9-]*\.ts$/.test(f));
  await Promise.all([
    // The library leaves its dependencies to node_modules: an app or a job file that imports zod
    // too then bundles or loads one copy of it, not two.
    build({ ...common, packages: 'external', entryPoints: { index: path.join(root, 'src/index.ts') }, outdir: dist }),
    // The job kit (`geartrain/jobs`) carries its few dependencies (zod for the result schemas), so
    // a task thread that loads a built-in job opens two files, not a hundred.
    build({ ...common, entryPoints: { jobs: path.join(root, 'src/job-kit.ts') }, outdir: dist }),
    build({ ...common, entryPoints: { geartrain: path.join(root, 'src/cli/main.ts') }, outdir: dist }),
    build({ ...common, entryPoints: { 'task-thread': path.join(root, 'src/mapreduce/task-thread.ts') }, outdir: dist }),
    // Built-in jobs import only the public package: `geartrain/jobs` stays an import, which Node
    // resolves through package.json's exports (a package may import itself by name) to dist/jobs.mjs.
    build({
      ...common,
      entryPoints: Object.fromEntries(jobs.map((f) => [f.slice(0, -3), path.join(root, 'jobs', f)])),
      outdir: path.join(dist, 'jobs'),
      plugins: [{ name: 'job-kit-external', setup: (b) => b.onResolve({ filter: /^geartrain\/jobs$/ }, (a) => ({ path: a.path, external: true })) }],
    }),
  ]);
  fs.writeFileSync(path.join(dist, 'BUILT'), `${new Date().toISOString()}\n`);
  return jobs.length;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const jobs = await buildDist();
  console.log(`built dist/ (library, job kit, cli, task thread, ${jobs} jobs)`);
}
